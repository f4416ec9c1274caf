"""Evaluation metrics of the gaze and hand experiments (the paper's Table 2, Figures 7 and 9).

Gaze: the percentage of test images whose angular gaze error is within 7 degrees, the mean
angular error, and a cumulative curve of the percentage within d degrees. Hands: the
percentage of joints within d pixels of the 224 x 224 crop (PCK), and the same cumulative
curve over pixels. Plain numpy: the inputs are small arrays of predictions, and the results
go into JSON.
"""
from __future__ import annotations

from typing import Any

import numpy as np

# The paper's gaze accuracy threshold ("% of images within 7 degrees").
PAPER_GAZE_THRESHOLD_DEG = 7.0
# The paper's hand threshold: % of joints within 5 pixels of the 224 x 224 crop (Sec. 4.3).
PAPER_HAND_THRESHOLD_PX = 5.0


def angular_error_deg(pred: Any, true: Any) -> np.ndarray:
    """Angle in degrees between predicted and true 3-D gaze vectors, shape (...,).

    Both are normalised first: the estimator regresses the vector with an L2 loss and its
    outputs are not unit length.
    """
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    if pred.shape != true.shape or pred.shape[-1:] != (3,):
        raise ValueError(
            f"angular_error_deg: pred and true must both have shape (..., 3), got {pred.shape} and {true.shape}"
        )
    pred_norm = np.linalg.norm(pred, axis=-1)
    true_norm = np.linalg.norm(true, axis=-1)
    if np.any(pred_norm == 0) or np.any(true_norm == 0):
        raise ValueError("angular_error_deg: a gaze vector has zero length; its direction is undefined")
    cos = np.sum(pred * true, axis=-1) / (pred_norm * true_norm)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def percent_within(errors: Any, degrees: float) -> float:
    """Percentage (0-100) of errors that are <= `degrees`."""
    errors = np.asarray(errors, dtype=np.float64).ravel()
    if errors.size == 0:
        raise ValueError("percent_within: got no errors; expected at least one")
    return float(100.0 * np.mean(errors <= degrees))


def cumulative_error_curve(errors: Any, max_deg: float, num: int) -> tuple[np.ndarray, np.ndarray]:
    """(thresholds, percents): `num` thresholds evenly spaced in [0, max_deg] and the
    percentage of errors <= each: the paper's Figure 7 curve (gaze, degrees) and Figure 9
    curve (hand joints, pixels). The errors may be in any unit; `max_deg` is in the same one
    (the name is historical)."""
    if num < 2 or max_deg <= 0:
        raise ValueError(f"cumulative_error_curve: need num >= 2 and max_deg > 0, got num={num}, max_deg={max_deg}")
    errors = np.sort(np.asarray(errors, dtype=np.float64).ravel())
    if errors.size == 0:
        raise ValueError("cumulative_error_curve: got no errors; expected at least one")
    thresholds = np.linspace(0.0, max_deg, num)
    counts = np.searchsorted(errors, thresholds, side="right")
    return thresholds, 100.0 * counts / errors.size


def joint_errors_px(pred_uv: Any, true_uv: Any, scale: float = 1.0) -> np.ndarray:
    """Euclidean distance between predicted and true joints, (..., J, 2) -> (..., J), times `scale`.

    `scale` converts to the pixels errors are reported in, e.g. 224 / 64 for joints predicted
    on 64 x 64 images and reported in the paper's 224 x 224 crop.
    """
    pred = np.asarray(pred_uv, dtype=np.float64)
    true = np.asarray(true_uv, dtype=np.float64)
    if pred.shape != true.shape or pred.shape[-1:] != (2,):
        raise ValueError(
            f"joint_errors_px: pred_uv and true_uv must both have shape (..., 2), got {pred.shape} and {true.shape}"
        )
    if not scale > 0:
        raise ValueError(f"joint_errors_px: scale must be > 0, got {scale}")
    return np.linalg.norm(pred - true, axis=-1) * float(scale)


def pck_percent(errors_px: Any, threshold_px: float) -> float:
    """Percentage (0-100) of joints whose error is <= `threshold_px` (the paper's hand metric)."""
    errors = np.asarray(errors_px, dtype=np.float64).ravel()
    if errors.size == 0:
        raise ValueError("pck_percent: got no errors; expected at least one")
    if not threshold_px >= 0:
        raise ValueError(f"pck_percent: threshold_px must be >= 0, got {threshold_px}")
    return float(100.0 * np.mean(errors <= threshold_px))


__all__ = [
    "PAPER_GAZE_THRESHOLD_DEG",
    "PAPER_HAND_THRESHOLD_PX",
    "angular_error_deg",
    "percent_within",
    "cumulative_error_curve",
    "joint_errors_px",
    "pck_percent",
]
