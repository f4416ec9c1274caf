"""The v3 depth sensor: sensor_v2 plus the matching window's foreground fattening.

Why a third sensor: sensor_v2 matches a genuine NYU frame's defect statistics, but its
defects are a pixel or two wide, below what the quick pose estimator (64 x 64 input) resolves:
an estimator trained on clean renders lost only 1.07x in mean error on it
(docs/results/hands/README.md), so no refiner could show a gain there. A structured-light
sensor (NYU's Kinect) finds depth by matching a window of its projected dot pattern (about
9 x 9 camera pixels); where the window straddles an edge, the nearer surface's dots dominate
the match and the near surface's depth spreads into the farther one, about half a window
wide ("foreground fattening", the edge-adhesion effect of block matching). Fingers grow, gaps
between fingers close and a finger in front of the palm bloats over it. That changes the
hand's shape at the scale the estimator sees, and it is a deterministic function of the
clean depth, so a refiner R(x) can learn it (the gaze lesson: docs/results/README.md).

Simplification: the spread is a fixed number of render pixels (the NYU builder's crops are
resampled to one size, so the window's size in crop pixels varies with the hand's distance;
half a 9-pixel Kinect window is 3.5 render pixels on average over the simulator's distances and
crops, 2.5 to 4.7 for 80 % of hands; v3 uses 3).
A distance-dependent width would be per-image variation the refiner cannot see in the image.

Steps: 1. fattening (here); 2.-6. sensor_v2 on the fattened depth (mixed readings at
discontinuities, grazing dropouts, projector shadow, ragged outline, small noise, disparity
quantisation). Only the readings change, never the labels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from tfds_builders.procedural_hands import render
from tfds_builders.procedural_hands.sensor_v2 import DEFAULT_SENSOR_V2_CONFIG, SensorV2Config, apply_sensor_v2


@dataclass(frozen=True)
class SensorV3Config:
    """The fattening's constants (render pixels, mm) and the v2 sensor applied after it."""

    fattening_px: int = 3  # radius of the disk over which a nearer surface spreads
    fattening_threshold_mm: float = 10.0  # a surface this much nearer takes the pixel over
    v2: SensorV2Config = field(default_factory=lambda: DEFAULT_SENSOR_V2_CONFIG)


DEFAULT_SENSOR_V3_CONFIG = SensorV3Config()


def disk_footprint(radius: int) -> np.ndarray:
    """A disk of `radius` pixels as an ndimage footprint for (n, H, W) batches."""
    y, x = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    return (x * x + y * y <= radius * radius)[None]  # (1, k, k): per image, never across the batch


def fatten_foreground(depth_mm: np.ndarray, radius_px: int, threshold_mm: float) -> np.ndarray:
    """Each pixel reads the nearest surface within `radius_px` when that surface is more than
    `threshold_mm` nearer (or the pixel is background): the near side of every edge grows by
    the radius. (n, H, W) mm with inf = no surface -> the same."""
    if radius_px < 0:
        raise ValueError(f"fatten_foreground: radius_px must be >= 0, got {radius_px}")
    depth = depth_mm.astype(np.float32, copy=True)
    if radius_px == 0:
        return depth
    nearest = ndimage.minimum_filter(depth, footprint=disk_footprint(radius_px))
    with np.errstate(invalid="ignore"):  # inf - inf on background far from the hand
        spread = (depth - nearest > threshold_mm) | (~np.isfinite(depth) & np.isfinite(nearest))
    return np.where(spread, nearest, depth)


def apply_sensor_v3(depth_mm: np.ndarray, mm_per_px: np.ndarray, rng: np.random.Generator,
                    cfg: SensorV3Config = DEFAULT_SENSOR_V3_CONFIG) -> np.ndarray:
    """Clean depth (n, H, W) in mm (inf = background) -> what the v3 sensor reads (inf = none)."""
    fattened = fatten_foreground(depth_mm, cfg.fattening_px, cfg.fattening_threshold_mm)
    return apply_sensor_v2(fattened, mm_per_px, rng, cfg.v2)


def sensor_images(batch: render.RenderedBatch, rng: np.random.Generator,
                  render_cfg: render.HandRenderConfig = render.DEFAULT_RENDER_CONFIG,
                  cfg: SensorV3Config = DEFAULT_SENSOR_V3_CONFIG) -> np.ndarray:
    """The v3 sensor domain's stored images: (n, size, size, 1) uint8, encoded around the
    clean render's centre c (as `sensor_v2.sensor_images`)."""
    mm_per_px = batch.geometry.crop_mm / render_cfg.render_size
    depth = apply_sensor_v3(batch.depth_mm, mm_per_px, rng, cfg)
    return render.stored_images(depth, batch, render_cfg)
