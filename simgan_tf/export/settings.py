"""Export settings: calibration and parity set sizes, parity tolerances, warm-up batches.

Kept in one frozen dataclass so no tolerance is scattered through the export code.
"""
from __future__ import annotations

from dataclasses import dataclass

FLAVOURS: tuple[str, ...] = ("float32", "float16", "dynamic_int8", "int8")
FLOAT_FLAVOURS: tuple[str, ...] = ("float32", "float16")


@dataclass(frozen=True)
class ExportConfig:
    """How an export is calibrated and checked.

    Float flavours are judged by the max absolute difference to the Keras refiner in the
    model range [-1, 1] and fail the export above their tolerance: float32 must match to
    1e-4 (what float32 rounding allows for this network); float16 weights alone round at
    ~5e-4 relative, so its tolerance is 1e-2. int8 flavours (dynamic-range and
    full-integer) are judged by PSNR of their uint8 output against the Keras refiner's
    uint8 output; below the goal the export warns but does not fail (quantization quality
    depends on the trained weights, not on the export being wrong).
    """

    flavours: tuple[str, ...] = FLAVOURS
    representative_count: int = 200  # calibration images for full-integer int8
    parity_count: int = 64  # held-out images every artefact is checked on
    saved_model_max_abs_diff: float = 1e-4
    float32_max_abs_diff: float = 1e-4
    float16_max_abs_diff: float = 1e-2
    int8_psnr_goal_db: float = 35.0
    # One warm-up record per signature and batch size: TF Serving replays them at load.
    warmup_batch_sizes: tuple[int, ...] = (1, 16)

    def tolerance(self, flavour: str) -> float | None:
        """Max abs diff a float flavour may have (None: judged by PSNR instead)."""
        return {"float32": self.float32_max_abs_diff, "float16": self.float16_max_abs_diff}.get(flavour)

    def __post_init__(self) -> None:
        unknown = [f for f in self.flavours if f not in FLAVOURS]
        if unknown:
            raise ValueError(f"unknown TFLite flavours {unknown}; expected some of {list(FLAVOURS)}")
        if self.representative_count < 1 or self.parity_count < 1:
            raise ValueError(
                f"representative_count ({self.representative_count}) and parity_count "
                f"({self.parity_count}) must be >= 1"
            )
