"""The v2 depth sensor: NYU-like defects that follow the geometry, so a refiner can draw them.

Why a second sensor: the v1 sensor (`sensor.py`, configs `sensor` / `sensor_labeled`) riddles
the hand with holes, blobs and dropouts drawn independently of the scene, and its noise is
large. A genuine NYU Kinect frame (tfds_builders/procedural_hands/README.md, "How `sensor`
differs from a real NYU frame") has a smooth interior and its few defects at the silhouette.
A refiner is a deterministic function of the clean render: it can learn defects that depend
on the geometry it sees, not per-image random draws that do not (the gaze lesson,
docs/results/README.md). So v2 makes every large defect a function of the clean depth, as a
structured-light sensor's are, and keeps only small randomness:

1. mixed readings at depth discontinuities inside the hand: a fixed blend with the depth
   blurred across the edge (the sensor's matching window straddles the edge);
2. grazing-angle dropouts: no reading where the surface turns away from the camera
   (|dz/dxy| above `grazing_slope`, measured on the clean surface; one-sided differences
   reach the silhouette's outermost pixels, where capsule surfaces are steepest);
3. the projector's shadow: a pixel is missing when a nearer surface to its left blocks the
   projector, over the width that geometry gives (baseline x depth gap / occluder depth);
   NYU's Kinect frames show the shadow on the right of near objects;
4. a slightly ragged outline: the silhouette flips where the blurred mask plus a small
   smooth random field crosses 1/2 (per image, but confined to the outline and small);
5. small noise: per-pixel Gaussian plus a blotchy low-frequency field (the matching window's
   correlated error), then disparity quantisation (step q * z^2).

Deterministic given the numpy Generator; only the readings change, never the labels. Works in
millimetres at the render resolution; inf means "no reading". `SensorV2Config` holds the
numbers; README.md has the measurements they were set against.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from tfds_builders.procedural_hands import render
from tfds_builders.procedural_hands.sensor import (
    _CROSS,
    _blur,
    _low_frequency_field,
    _per_image,
    _smooth_field,
)


@dataclass(frozen=True)
class SensorV2Config:
    """Sensor constants and the (uniform, per image) ranges of its small random parts; depths
    in mm, sizes in render pixels (`render.HandRenderConfig.render_size`)."""

    edge_threshold_mm: float = 10.0  # a neighbour this much farther makes a depth discontinuity
    edge_blur_sigma_px: float = 0.8
    edge_mix: float = 0.5  # weight of the blurred depth at a discontinuity (fixed)
    grazing_slope: float = 5.0  # no reading where |dz/dxy| (mm per mm) exceeds this (79 degrees)
    max_surface_slope: float = 8.0  # steeper steps between neighbours are discontinuities
    baseline_mm: float = 75.0  # projector-camera baseline (Kinect): sets the shadow's width
    max_shadow_px: int = 6  # longest shadow considered (render pixels)
    outline_noise: tuple[float, float] = (0.04, 0.10)  # amplitude of the outline's random field
    outline_noise_sigma_px: float = 0.8
    noise_mm: tuple[float, float] = (0.2, 0.5)  # per-pixel standard deviation
    blotch_mm: tuple[float, float] = (0.5, 1.5)  # low-frequency (matching-window) error
    blotch_cell_px: float = 4.0
    disparity_step: float = 2.85e-6  # q in 1/mm: depth step = q * z^2 (1.6 mm at 750 mm)


DEFAULT_SENSOR_V2_CONFIG = SensorV2Config()


def _surface_slope(depth: np.ndarray, mm_per_px: np.ndarray, max_slope: float) -> np.ndarray:
    """|dz/dxy| (mm per mm) of the hand's surface; inf-free, 0 where nothing is known.

    Per axis the mean of the forward and backward differences that stay on the hand (one-sided
    at the silhouette and at discontinuities, where a central difference would be undefined);
    a step steeper than `max_slope` is a discontinuity, not a slope, and is left out.
    """
    px = np.asarray(mm_per_px, np.float32).reshape(-1, 1, 1)
    step = np.float32(max_slope) * px
    finite = np.isfinite(depth)
    filled = np.where(finite, depth, np.float32(0))
    slope2 = np.zeros(depth.shape, np.float32)
    for axis in (1, 2):
        lo = tuple(slice(None, -1) if a == axis else slice(None) for a in range(3))
        hi = tuple(slice(1, None) if a == axis else slice(None) for a in range(3))
        diff = filled[hi] - filled[lo]  # between each pixel and the next along `axis`
        # A pair counts if both are on the hand and the step is a slope, not a discontinuity.
        ok = finite[hi] & finite[lo] & (np.abs(diff) < np.broadcast_to(step, diff.shape))
        diff = np.where(ok, diff, np.float32(0))
        total = np.zeros(depth.shape, np.float32)
        count = np.zeros(depth.shape, np.float32)
        total[lo] += diff  # forward difference of the pixel before
        total[hi] += diff  # backward difference of the pixel after
        count[lo] += ok
        count[hi] += ok
        grad = total / np.maximum(count, 1)
        slope2 += grad * grad
    return np.sqrt(slope2) / px


def apply_sensor_v2(depth_mm: np.ndarray, mm_per_px: np.ndarray, rng: np.random.Generator,
                    cfg: SensorV2Config = DEFAULT_SENSOR_V2_CONFIG) -> np.ndarray:
    """Clean depth (n, H, W) in mm (inf = background) -> what the v2 sensor reads (inf = none).

    mm_per_px (n,) converts image steps to surface slopes and shadow widths to pixels.
    """
    n = depth_mm.shape[0]
    shape = depth_mm.shape
    depth = depth_mm.astype(np.float32, copy=True)
    hand = np.isfinite(depth)
    px = np.asarray(mm_per_px, np.float32).reshape(n, 1, 1)
    slope = _surface_slope(depth, px, cfg.max_surface_slope)  # of the clean surface, before anything moves

    # 1. Mixed readings at discontinuities inside the hand (a fixed blend, no randomness).
    filled = np.where(hand, depth, np.float32(0))
    weight = _blur(hand.astype(np.float32), cfg.edge_blur_sigma_px)
    blurred = _blur(filled, cfg.edge_blur_sigma_px) / np.maximum(weight, 1e-6)
    with np.errstate(invalid="ignore"):  # inf - inf between background pixels
        jump = np.maximum(ndimage.maximum_filter(depth, footprint=_CROSS) - depth,
                          depth - ndimage.minimum_filter(depth, footprint=_CROSS))
    inner_edge = hand & (jump > cfg.edge_threshold_mm) & np.isfinite(jump)
    depth = np.where(inner_edge, (1 - cfg.edge_mix) * depth + cfg.edge_mix * blurred, depth)

    # 2. Grazing angles: no reading where the clean surface is steep.
    missing = hand & (slope > cfg.grazing_slope)

    # 3. Projector shadow: a nearer surface j pixels to the left hides this one if the shadow
    #    it casts here, baseline * (z - z_near) / z_near mm wide, covers j pixels.
    for j in range(1, cfg.max_shadow_px + 1):
        left = np.full(shape, np.inf, dtype=np.float32)
        left[:, :, j:] = depth_mm[:, :, :-j]
        with np.errstate(invalid="ignore"):
            gap = depth_mm - left
            width_px = cfg.baseline_mm * gap / (left * px)
        missing |= hand & (gap > cfg.edge_threshold_mm) & (width_px >= j)

    # 4. A slightly ragged outline (small, per image, only where the blurred mask is mid-way).
    outline = weight + _per_image(rng, cfg.outline_noise, n) * _smooth_field(rng, shape, cfg.outline_noise_sigma_px)
    band = (weight > 0.02) & (weight < 0.98)
    ragged = np.where(band, outline > 0.5, hand)
    nearest = ndimage.minimum_filter(depth, size=(1, 3, 3))  # depth for grown pixels
    depth = np.where(ragged, np.where(hand, depth, nearest), np.float32(np.inf))

    # 5. Small noise, blotches and disparity quantisation.
    noise = _per_image(rng, cfg.noise_mm, n) * rng.standard_normal(shape, dtype=np.float32)
    blotch = _per_image(rng, cfg.blotch_mm, n) * _low_frequency_field(rng, shape, cfg.blotch_cell_px)
    q = np.float32(cfg.disparity_step)
    with np.errstate(invalid="ignore", divide="ignore"):
        depth = depth + noise + blotch
        depth = 1 / (q * np.round(1 / (q * depth)))
    return np.where(missing, np.float32(np.inf), depth).astype(np.float32)


def sensor_images(batch: render.RenderedBatch, rng: np.random.Generator,
                  render_cfg: render.HandRenderConfig = render.DEFAULT_RENDER_CONFIG,
                  cfg: SensorV2Config = DEFAULT_SENSOR_V2_CONFIG) -> np.ndarray:
    """The v2 sensor domain's stored images: (n, size, size, 1) uint8, encoded around the
    clean render's centre c (as `sensor.sensor_images`)."""
    mm_per_px = batch.geometry.crop_mm / render_cfg.render_size
    depth = apply_sensor_v2(batch.depth_mm, mm_per_px, rng, cfg)
    return render.stored_images(depth, batch, render_cfg)
