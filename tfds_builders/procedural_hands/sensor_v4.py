"""The v4 depth sensor: sensor_v3 plus a band of flying pixels around the silhouette.

Why a fourth sensor: v3's fattening costs the quick pose estimator 1.3-1.6x in mean error, but a
patch critic tells v3 images from clean renders only 73-77 % of the time (unpaired, the
sampler's own spread of finger widths hides a thicker finger), and a refiner learns only what
its discriminator can see: the v3 experiment's refiner changed its images by 0.67 grey levels
(docs/results/hands/README.md). A structured-light sensor's matching window that straddles the
silhouette does not only spread the near surface (v3's fattening): in the window's outer part
the match mixes the hand's dots with the far background's and returns depths between the two,
the "flying pixels" a Kinect leaves around every object. The genuine NYU frame's defects sit
at the silhouette too (docs/results/hands/sensor_vs_nyu.md). v4 models the band as background
pixels within `halo_px` render pixels of the (fattened) hand reading the nearest hand depth
plus `halo_offset_mm`: a grey rim just behind the hand that no clean render has. It is a
deterministic function of the clean depth, so a refiner R(x) can draw it, and it is visible: a
critic screen put it at 85-94 % (v3 72-74 %), docs/results/hands/v4_critic_screen.json.

Simplification: a constant offset, not a ramp towards the background (a ramp up to +150 mm was
less visible, 80-83 %: its outer part leaves the encoded depth range and reads as background).

Steps: 1. fattening (sensor_v3); 2. the halo (here); 3.-7. sensor_v2 on the result (mixed
readings at discontinuities, grazing dropouts, projector shadow, ragged outline, small noise,
disparity quantisation). Only the readings change, never the labels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from tfds_builders.procedural_hands import render
from tfds_builders.procedural_hands.sensor_v2 import DEFAULT_SENSOR_V2_CONFIG, SensorV2Config, apply_sensor_v2
from tfds_builders.procedural_hands.sensor_v3 import disk_footprint, fatten_foreground


@dataclass(frozen=True)
class SensorV4Config:
    """v3's fattening, the halo's constants (render pixels, mm) and the v2 sensor applied after."""

    fattening_px: int = 3
    fattening_threshold_mm: float = 10.0
    halo_px: int = 3  # width of the flying-pixel band outside the fattened silhouette
    halo_offset_mm: float = 100.0  # the band reads the nearest hand depth this much farther
    v2: SensorV2Config = field(default_factory=lambda: DEFAULT_SENSOR_V2_CONFIG)


DEFAULT_SENSOR_V4_CONFIG = SensorV4Config()


def flying_pixel_halo(depth_mm: np.ndarray, radius_px: int, offset_mm: float) -> np.ndarray:
    """Background pixels within `radius_px` of a surface read that nearest surface's depth +
    `offset_mm`; surface pixels are unchanged. (n, H, W) mm with inf = no surface -> the same."""
    if radius_px < 0:
        raise ValueError(f"flying_pixel_halo: radius_px must be >= 0, got {radius_px}")
    depth = depth_mm.astype(np.float32, copy=True)
    if radius_px == 0:
        return depth
    surface = np.isfinite(depth)
    nearest = ndimage.minimum_filter(depth, footprint=disk_footprint(radius_px))
    band = ~surface & np.isfinite(nearest)
    return np.where(band, nearest + np.float32(offset_mm), depth).astype(np.float32)


def apply_sensor_v4(depth_mm: np.ndarray, mm_per_px: np.ndarray, rng: np.random.Generator,
                    cfg: SensorV4Config = DEFAULT_SENSOR_V4_CONFIG) -> np.ndarray:
    """Clean depth (n, H, W) in mm (inf = background) -> what the v4 sensor reads (inf = none)."""
    fattened = fatten_foreground(depth_mm, cfg.fattening_px, cfg.fattening_threshold_mm)
    return apply_sensor_v2(flying_pixel_halo(fattened, cfg.halo_px, cfg.halo_offset_mm), mm_per_px, rng, cfg.v2)


def sensor_images(batch: render.RenderedBatch, rng: np.random.Generator,
                  render_cfg: render.HandRenderConfig = render.DEFAULT_RENDER_CONFIG,
                  cfg: SensorV4Config = DEFAULT_SENSOR_V4_CONFIG) -> np.ndarray:
    """The v4 sensor domain's stored images: (n, size, size, 1) uint8, encoded around the
    clean render's centre c (as `sensor_v2.sensor_images`)."""
    mm_per_px = batch.geometry.crop_mm / render_cfg.render_size
    depth = apply_sensor_v4(batch.depth_mm, mm_per_px, rng, cfg)
    return render.stored_images(depth, batch, render_cfg)
