"""Parity figures: how far an exported artefact is from the Keras refiner it came from.

Float artefacts are compared in the model range [-1, 1] (max abs difference); quantized
ones by PSNR (peak 255) of the uint8 images a user actually gets, since that is what a
refined training set is made of; for a uint16 (depth) run, of its uint16 images (peak 65535).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from simgan_tf.export.saved_model import ExportError

PEAK = 255.0


class ParityError(ExportError):
    """An exported artefact differs from the Keras refiner by more than its tolerance."""


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def psnr_db(a: np.ndarray, b: np.ndarray, peak: float = PEAK) -> float | None:
    """Peak signal-to-noise ratio in dB; None when the images are identical (infinite PSNR)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return None if mse == 0.0 else float(10.0 * np.log10(peak**2 / mse))


def figures(
    reference_float: np.ndarray,
    reference_uint8: np.ndarray,
    candidate_float: np.ndarray,
    candidate_uint8: np.ndarray,
    dtype: str = "uint8",
) -> dict[str, Any]:
    """max abs diff in [-1, 1], max abs diff in pixel levels, and PSNR of the pixel images.

    The pixel images are of the run's `dtype`: uint8 ("max_abs_diff_uint8", peak 255), or
    uint16 depth ("max_abs_diff_uint16", peak 65535).
    """
    peak = float(np.iinfo(np.dtype(dtype)).max)
    return {
        "max_abs_diff": max_abs_diff(reference_float, candidate_float),
        f"max_abs_diff_{np.dtype(dtype).name}": int(round(max_abs_diff(reference_uint8, candidate_uint8))),
        "psnr_db": psnr_db(reference_uint8, candidate_uint8, peak),
    }


def level_diff(result: dict[str, Any]) -> tuple[str, int]:
    """("uint8" / "uint16", max abs diff in that dtype's levels) of a `figures` result."""
    for dtype in ("uint8", "uint16"):
        if f"max_abs_diff_{dtype}" in result:
            return dtype, result[f"max_abs_diff_{dtype}"]
    raise KeyError("no max_abs_diff_uint8 / max_abs_diff_uint16 in the parity figures")


def judge(
    artefact: str,
    measured: dict[str, Any],
    *,
    tolerance: float | None = None,
    psnr_goal_db: float | None = None,
) -> dict[str, Any]:
    """Add the threshold and verdict to `measured`. `passed` is False only when a float
    tolerance is exceeded (the export must then fail); `meets_goal` reports the PSNR goal."""
    result = dict(measured)
    if tolerance is not None:
        result["tolerance"] = tolerance
        result["passed"] = measured["max_abs_diff"] <= tolerance
    else:
        result["passed"] = True
    if psnr_goal_db is not None:
        psnr = measured["psnr_db"]
        result["psnr_goal_db"] = psnr_goal_db
        result["meets_goal"] = psnr is None or psnr >= psnr_goal_db
    result["artefact"] = artefact
    return result


def failures(results: dict[str, dict[str, Any]]) -> list[str]:
    """One line per artefact whose float tolerance was exceeded."""
    return [
        f"{name}: max abs diff {r['max_abs_diff']:.3g} > tolerance {r['tolerance']:.3g}"
        for name, r in results.items()
        if not r["passed"]
    ]
