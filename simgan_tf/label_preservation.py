"""Does refinement keep the label? Measure the pupil centre before and after.

The paper reports that refinement moves the pupil centre by 1.1 +- 0.8 px (55 px wide eyes).
Here the pupil centre is found automatically by a dark-blob fit, the same on synthetic and
refined versions of one image, and the displacement between the two fits is reported.

Why a dark-blob fit and not a learned landmark regressor: a regressor trained on synthetic
images meets refined images out of its training distribution, so its error would mix
appearance change with real displacement. The blob fit has no training distribution; its
accuracy is checked against the simulator's `pupil_center` labels (see the tests), and when
those labels are given only images whose synthetic fit agrees with them are measured (an
eyelid covering the pupil makes any fit meaningless).

Why a median and a jump share beside the mean: a fit that locks onto another dark region (a
lid shadow, a dark spot the refiner painted) moves by 5-20 px, so a few such images dominate the
mean; the median says how far a typical pupil moved, the jump share how often the fit left it.

Pixel convention (the renderer's): pixel (row i, column j) has its centre at (x=j, y=i).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class PupilFitConfig:
    """Settings of the dark-blob pupil fit, in pixels of a 35 x 55 eye image."""

    smooth_sigma_px: float = 1.0  # denoise before searching the darkest point (camera noise ~1 px)
    background_sigma_px: float = 7.0  # subtract this blur: removes illumination gradients, keeps blobs
    border_px: int = 4  # ignore the frame border (dark corners from side light / vignetting)
    window_radius_px: int = 5  # ~ the iris radius (0.45-0.52 x an eyeball radius of 10.5-13 px)
    level: float = 0.5  # threshold between the darkest value (pupil) and the window median (iris)
    iterations: int = 2  # re-centre the window on the centroid this many times
    max_fit_error_px: float = 1.5  # with labels: measure only images whose synthetic fit is this close


# A displacement beyond this is the fit leaving the pupil (its radius is ~5 px), not a shifted pupil.
JUMP_PX = 3.0


def displacement_summary(displacements_px: Any, jump_px: float = JUMP_PX) -> dict[str, float]:
    """mean, std (over images), median and `jumps_pct` (% of images moved more than `jump_px`)."""
    d = np.asarray(displacements_px, dtype=np.float64).ravel()
    if not d.size:
        return {"mean": float("nan"), "std": float("nan"), "median": float("nan"), "jumps_pct": float("nan")}
    return {"mean": float(d.mean()), "std": float(d.std()), "median": float(np.median(d)),
            "jumps_pct": float(100.0 * np.mean(d > jump_px))}


def _to_unit_gray(images: Any) -> np.ndarray:
    """uint8 0..255 or float -1..1, (n, H, W[, C]) -> float64 (n, H, W) in [0, 1]."""
    arr = np.asarray(images)
    if arr.ndim not in (3, 4):
        raise ValueError(f"pupil_centers: expected images shaped (n, H, W[, C]), got {arr.shape}")
    if arr.dtype == np.uint8:
        unit = arr.astype(np.float64) / 255.0
    else:
        unit = (np.clip(arr.astype(np.float64), -1.0, 1.0) + 1.0) / 2.0
    return unit.mean(axis=-1) if unit.ndim == 4 else unit


def pupil_centers(images: Any, cfg: PupilFitConfig = PupilFitConfig()) -> np.ndarray:
    """(n, 2) pupil centres (x, y) in pixels: intensity-weighted centroid of the darkest blob.

    1. Remove the illumination (subtract a wide blur: a difference of Gaussians, the classic
       blob detector), then take the darkest point away from the border.
    2. In a window around it, weight each pixel by how far it lies below a threshold halfway
       (`level`) between the darkest value and the window median (the iris), and take the
       weighted centroid; repeat around the new centre.
    """
    gray = _to_unit_gray(images)
    n, h, w = gray.shape
    blur = lambda s: ndimage.gaussian_filter(gray, sigma=(0, s, s), mode="nearest")  # noqa: E731
    gray = gray - blur(cfg.background_sigma_px)
    smooth = ndimage.gaussian_filter(gray, sigma=(0, cfg.smooth_sigma_px, cfg.smooth_sigma_px), mode="nearest")
    b = cfg.border_px
    if h <= 2 * b or w <= 2 * b:
        raise ValueError(f"pupil_centers: {h} x {w} images are too small for a {b}-pixel border")
    inner = smooth[:, b : h - b, b : w - b].reshape(n, -1)
    flat = np.argmin(inner, axis=1)
    cy = (flat // (w - 2 * b) + b).astype(np.float64)
    cx = (flat % (w - 2 * b) + b).astype(np.float64)
    ys, xs = np.mgrid[0:h, 0:w]
    r = cfg.window_radius_px
    out = np.empty((n, 2), dtype=np.float64)
    for i in range(n):
        x0, y0 = cx[i], cy[i]
        for _ in range(max(1, cfg.iterations)):
            mask = (xs - x0) ** 2 + (ys - y0) ** 2 <= r * r
            values = smooth[i][mask]
            darkest, median = values.min(), np.median(values)
            threshold = darkest + cfg.level * (median - darkest)
            weights = np.clip(threshold - gray[i][mask], 0.0, None)
            if weights.sum() <= 0:  # flat window: keep the darkest point
                break
            x0 = float(np.sum(weights * xs[mask]) / weights.sum())
            y0 = float(np.sum(weights * ys[mask]) / weights.sum())
        out[i] = (x0, y0)
    return out


def measured_mask(synthetic_centers: Any, true_centers: Any, cfg: PupilFitConfig = PupilFitConfig()) -> np.ndarray:
    """Images whose synthetic fit lands within `cfg.max_fit_error_px` of the simulator's pupil:
    only there does a fit on the refined image measure the refiner rather than the fit."""
    synthetic_centers = np.asarray(synthetic_centers, dtype=np.float64)
    true_centers = np.asarray(true_centers, dtype=np.float64)
    if true_centers.shape != synthetic_centers.shape:
        raise ValueError(f"pupil_displacement: true_centers shape {true_centers.shape}, expected {synthetic_centers.shape}")
    return np.linalg.norm(synthetic_centers - true_centers, axis=1) <= cfg.max_fit_error_px


def pupil_displacement(
    synthetic: Any,
    refined: Any,
    true_centers: Any | None = None,
    cfg: PupilFitConfig = PupilFitConfig(),
) -> dict[str, Any]:
    """Pupil-centre displacement between synthetic images and their refined versions.

    Returns `displacements_px` (numpy, one per measured image), `mean`, `std`, `median`,
    `jumps_pct` (see `displacement_summary`), `num_images`, `num_measured` and, with
    `true_centers` (n, 2) given, `fit_error_px`: the blob fit's mean error on the synthetic
    images (how far to trust the measurement).
    """
    synthetic_c = pupil_centers(synthetic, cfg)
    refined_c = pupil_centers(refined, cfg)
    if synthetic_c.shape != refined_c.shape:
        raise ValueError(
            f"pupil_displacement: {len(synthetic_c)} synthetic vs {len(refined_c)} refined images; "
            "expected the refined versions of the same images"
        )
    keep = np.ones(len(synthetic_c), dtype=bool)
    result: dict[str, Any] = {"num_images": int(len(synthetic_c))}
    if true_centers is not None:
        keep = measured_mask(synthetic_c, true_centers, cfg)
        fit_error = np.linalg.norm(synthetic_c - np.asarray(true_centers, dtype=np.float64), axis=1)
        result["fit_error_px"] = float(np.mean(fit_error[keep])) if keep.any() else float("nan")
    displacement = np.linalg.norm(refined_c - synthetic_c, axis=1)[keep]
    result.update(displacements_px=displacement, num_measured=int(keep.sum()), **displacement_summary(displacement))
    return result


__all__ = ["JUMP_PX", "PupilFitConfig", "displacement_summary", "measured_mask", "pupil_centers", "pupil_displacement"]
