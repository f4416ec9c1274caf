"""Export settings: calibration and parity set sizes, parity tolerances, warm-up batches.

Kept in one frozen dataclass so no tolerance is scattered through the export code.
"""
from __future__ import annotations

from dataclasses import dataclass

FLAVOURS: tuple[str, ...] = ("float32", "float16", "dynamic_int8", "int8")
FLOAT_FLAVOURS: tuple[str, ...] = ("float32", "float16")
# Flavours of a uint16 (depth) run: uint16 in and out through a Cast in the graph, float
# activations. Full-integer int8 cannot keep 16-bit depth (see UINT16_UNSUPPORTED).
UINT16_FLAVOURS: tuple[str, ...] = ("float32", "float16", "dynamic_int8")
UINT16_UNSUPPORTED = {
    "int8": (
        "full-integer int8 cannot keep uint16 depth: the TFLite converter's inference_input_type and "
        "inference_output_type must be float32, int8, uint8 or int16 (not uint16), and its activations are "
        "8-bit, so the 65536 depth levels would be quantised to 256"
    ),
}


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

    # None: every flavour the run's image dtype supports (FLAVOURS for uint8 runs,
    # UINT16_FLAVOURS for uint16 depth runs; see `flavours_for`).
    flavours: tuple[str, ...] | None = None
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

    def flavours_for(self, dtype: str) -> tuple[str, ...]:
        """The flavours to convert for a run storing `dtype` images; ValueError naming why
        when one of the requested flavours cannot serve that dtype."""
        supported = UINT16_FLAVOURS if dtype == "uint16" else FLAVOURS
        if self.flavours is None:
            return supported
        refused = [f for f in self.flavours if f not in supported]
        if refused:
            reasons = "; ".join(UINT16_UNSUPPORTED.get(f, f) for f in refused)
            raise ValueError(
                f"TFLite flavours {refused} cannot serve this {dtype} run ({reasons}); expected some of "
                f"{list(supported)}"
            )
        return tuple(self.flavours)

    def __post_init__(self) -> None:
        unknown = [f for f in (self.flavours or ()) if f not in FLAVOURS]
        if unknown:
            raise ValueError(f"unknown TFLite flavours {unknown}; expected some of {list(FLAVOURS)}")
        if self.representative_count < 1 or self.parity_count < 1:
            raise ValueError(
                f"representative_count ({self.representative_count}) and parity_count "
                f"({self.parity_count}) must be >= 1"
            )
