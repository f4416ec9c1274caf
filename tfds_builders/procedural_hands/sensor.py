"""The target imaging process: what turns a clean depth render into a "depth sensor" frame.

This is v1 (configs `sensor`, `sensor_labeled`), kept unchanged with its finding: most of its
defects are random draws independent of the hand, which a deterministic refiner cannot draw,
and a genuine NYU frame has far fewer (README.md, "How `sensor` differs from a real NYU
frame"). `sensor_v2.py` is the sensor whose defects follow the geometry.

Why: SimGAN's hand experiment refines NYU's synthetic depth renders toward its Kinect frames
using unlabeled real frames. To test that without NYU, the target domain here is the same
distribution of hands (same geometry, same labels) seen through a structured-light depth
sensor, which differs from a renderer the way a Kinect does:

1. optics: depth discontinuities are slightly blurred (normalised blur over the hand);
2. ragged outline: the silhouette gains and loses pixels along a smooth random field;
3. flying pixels: pixels at discontinuities read a depth between the near surface and what
   lies behind it (the other finger, or the wall behind the hand);
4. noise: per-pixel Gaussian noise plus a low-frequency wobble;
5. quantisation: disparity is an integer, so the depth step grows as q * z^2 (Kinect-like);
6. missing pixels: the projector's shadow beside near edges (always on the same side, the
   projector sits beside the camera), smooth blobs of lost signal, isolated dropouts, and
   dropouts on grazing surfaces where little light comes back. Missing pixels are stored as
   background, as NYU's crops store depth 0.

Only the depth readings change: the geometry and therefore every label are untouched.
Deterministic given the numpy Generator. Works in millimetres at the render resolution;
inf means "no reading".
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, special

from tfds_builders.procedural_hands import render


@dataclass(frozen=True)
class SensorConfig:
    """Ranges (uniform, drawn per image) of the sensor parameters; depths in mm, sizes in
    render pixels (see `render.HandRenderConfig.render_size`)."""

    edge_threshold_mm: float = 10.0  # a neighbour this much farther makes a depth discontinuity
    edge_blur_sigma_px: float = 0.8
    edge_blur_weight: tuple[float, float] = (0.3, 0.9)
    outline_noise: tuple[float, float] = (0.10, 0.28)  # amplitude of the outline's random field
    outline_noise_sigma_px: float = 1.0
    flying_prob: tuple[float, float] = (0.2, 0.5)  # chance a discontinuity pixel reads a mix
    wall_gap_mm: tuple[float, float] = (150.0, 700.0)  # wall distance behind the hand centre
    noise_mm: tuple[float, float] = (1.0, 3.0)  # per-pixel standard deviation
    wobble_mm: tuple[float, float] = (0.5, 2.5)  # low-frequency noise amplitude
    wobble_cell_px: float = 16.0  # the wobble's grid spacing
    disparity_step: float = 2.85e-6  # q in 1/mm: depth step = q * z^2 (1.4 mm at 700 mm)
    shadow_px: tuple[int, int] = (1, 2)  # projector shadow width (inclusive), right of near edges
    hole_fraction: tuple[float, float] = (0.0, 0.03)  # fraction of the image in smooth blobs
    hole_sigma_px: float = 2.0
    dropout_prob: tuple[float, float] = (0.001, 0.008)  # isolated missing pixels
    grazing_slope: float = 3.0  # |dz/dx| (mm per mm) above which light returns weakly
    grazing_dropout: float = 0.4  # dropout probability on the steepest surfaces


DEFAULT_SENSOR_CONFIG = SensorConfig()


_CROSS = ndimage.generate_binary_structure(2, 1)[None]  # 4-neighbourhood (and the pixel itself)
_TRUNCATE = 2.5  # Gaussian kernels cut at 2.5 sigma: smooth enough for noise fields, and fast


def _per_image(rng: np.random.Generator, bounds: tuple[float, float], n: int) -> np.ndarray:
    return rng.uniform(bounds[0], bounds[1], size=(n, 1, 1)).astype(np.float32)


def _blur(images: np.ndarray, sigma_px: float) -> np.ndarray:
    return ndimage.gaussian_filter(images, (0, sigma_px, sigma_px), truncate=_TRUNCATE)


def _smooth_field(rng: np.random.Generator, shape: tuple[int, ...], sigma_px: float) -> np.ndarray:
    """Gaussian-smoothed white noise, rescaled to zero mean and unit variance per image."""
    field = _blur(rng.standard_normal(shape, dtype=np.float32), sigma_px)
    field -= field.mean(axis=(1, 2), keepdims=True)
    field /= field.std(axis=(1, 2), keepdims=True) + 1e-6
    return field


def _low_frequency_field(rng: np.random.Generator, shape: tuple[int, ...], cell_px: float) -> np.ndarray:
    """Unit-variance noise that varies over ~cell_px pixels: a coarse random grid, bilinearly
    interpolated (two small matrix products; much cheaper than a wide Gaussian filter)."""
    n, h, w = shape

    def interpolation(size: int) -> np.ndarray:
        cells = int(np.ceil(size / cell_px)) + 1
        pos = np.linspace(0.0, cells - 1.0, size)
        lower = np.minimum(np.floor(pos).astype(int), cells - 2)
        frac = (pos - lower).astype(np.float32)
        weights = np.zeros((size, cells), np.float32)
        weights[np.arange(size), lower] = 1 - frac
        weights[np.arange(size), lower + 1] = frac
        return weights

    rows, cols = interpolation(h), interpolation(w)
    coarse = rng.standard_normal((n, rows.shape[1], cols.shape[1]), dtype=np.float32)
    field = rows @ coarse @ cols.T
    field -= field.mean(axis=(1, 2), keepdims=True)
    field /= field.std(axis=(1, 2), keepdims=True) + 1e-6
    return field


def apply_sensor(depth_mm: np.ndarray, camera_distance_mm: np.ndarray, mm_per_px: np.ndarray,
                 rng: np.random.Generator, cfg: SensorConfig = DEFAULT_SENSOR_CONFIG) -> np.ndarray:
    """Clean depth (n, H, W) in mm (inf = background) -> what the sensor reads (inf = missing).

    camera_distance_mm (n,) places the wall behind the hand and sets the quantisation step;
    mm_per_px (n,) converts image slopes to surface slopes for the grazing-angle dropouts.
    """
    n, h, w = depth_mm.shape
    shape = depth_mm.shape
    uniform = lambda: rng.random(shape, dtype=np.float32)  # noqa: E731 - one draw per pixel
    depth = depth_mm.astype(np.float32, copy=True)
    hand = np.isfinite(depth)
    dist = np.asarray(camera_distance_mm, np.float32).reshape(n, 1, 1)

    # 1. Optics: blur depth across discontinuities, within the hand only (normalised).
    filled = np.where(hand, depth, np.float32(0))
    weight = _blur(hand.astype(np.float32), cfg.edge_blur_sigma_px)
    blurred = _blur(filled, cfg.edge_blur_sigma_px) / np.maximum(weight, 1e-6)
    with np.errstate(invalid="ignore"):  # inf - inf between background pixels
        jump = np.maximum(ndimage.maximum_filter(depth, footprint=_CROSS) - depth,
                          depth - ndimage.minimum_filter(depth, footprint=_CROSS))
    edge = hand & (jump > cfg.edge_threshold_mm)
    mix = _per_image(rng, cfg.edge_blur_weight, n)
    depth = np.where(edge, (1 - mix) * depth + mix * blurred, depth)

    # 2. Ragged outline: threshold the blurred mask plus a smooth random field, near the outline.
    outline = weight + _per_image(rng, cfg.outline_noise, n) * _smooth_field(rng, shape, cfg.outline_noise_sigma_px)
    band = (weight > 0.02) & (weight < 0.98)  # only pixels near the outline may flip
    ragged = np.where(band, outline > 0.5, hand)
    nearest = ndimage.minimum_filter(depth, size=(1, 3, 3))  # depth for grown pixels
    depth = np.where(ragged, np.where(hand, depth, nearest), np.float32(np.inf))
    hand = np.isfinite(depth)

    # 3. Flying pixels: at a discontinuity, read a mix of this surface and the one behind it
    #    (the farthest neighbour, or the wall behind the hand).
    wall = dist + _per_image(rng, cfg.wall_gap_mm, n)
    behind = ndimage.maximum_filter(np.where(hand, depth, wall), footprint=_CROSS)
    near = ndimage.minimum_filter(depth, footprint=_CROSS)
    t = uniform()
    fly = uniform() < _per_image(rng, cfg.flying_prob, n)
    inner = hand & fly & (behind - depth > cfg.edge_threshold_mm)
    outer = ~hand & fly & np.isfinite(near) & (t < 0.5)
    with np.errstate(invalid="ignore"):
        depth = np.where(inner, depth + t * t * (behind - depth), depth)
        depth = np.where(outer, wall + 2 * t * (near - wall), depth)
    hand = np.isfinite(depth)

    # Surface slope (before noise): steep, grazing surfaces return little light (step 6).
    with np.errstate(invalid="ignore"):
        gy, gx = np.gradient(np.where(hand, depth, np.float32(np.nan)), axis=(1, 2))
    slope = np.sqrt(gx * gx + gy * gy) / np.asarray(mm_per_px, np.float32).reshape(n, 1, 1)

    # 4. Noise and 5. quantisation of disparity (step q * z^2).
    noise = _per_image(rng, cfg.noise_mm, n) * rng.standard_normal(shape, dtype=np.float32)
    wobble = _per_image(rng, cfg.wobble_mm, n) * _low_frequency_field(rng, shape, cfg.wobble_cell_px)
    q = np.float32(cfg.disparity_step)
    with np.errstate(invalid="ignore", divide="ignore"):
        depth = depth + noise + wobble
        depth = 1 / (q * np.round(1 / (q * depth)))

    # 6. Missing pixels: projector shadow, blobs, isolated and grazing-angle dropouts.
    missing = np.zeros(shape, dtype=bool)
    width = rng.integers(cfg.shadow_px[0], cfg.shadow_px[1] + 1, size=(n, 1, 1))
    for k in range(1, cfg.shadow_px[1] + 1):
        left = np.full(shape, np.inf, dtype=np.float32)
        left[:, :, k:] = depth[:, :, :-k]
        missing |= (k <= width) & (left < depth - cfg.edge_threshold_mm)
    blobs = _smooth_field(rng, shape, cfg.hole_sigma_px)
    fraction = _per_image(rng, cfg.hole_fraction, n)  # of a unit Gaussian field's upper tail
    missing |= blobs > special.ndtri(1.0 - fraction)
    missing |= uniform() < _per_image(rng, cfg.dropout_prob, n)
    p_graze = cfg.grazing_dropout * np.clip((slope - cfg.grazing_slope) / cfg.grazing_slope, 0.0, 1.0)
    missing |= uniform() < np.nan_to_num(p_graze)
    return np.where(missing, np.float32(np.inf), depth).astype(np.float32)


def sensor_images(batch: render.RenderedBatch, rng: np.random.Generator,
                  render_cfg: render.HandRenderConfig = render.DEFAULT_RENDER_CONFIG,
                  cfg: SensorConfig = DEFAULT_SENSOR_CONFIG) -> np.ndarray:
    """The sensor domain's stored images: (n, size, size, 1) uint8, encoded around the same
    centre c as the clean render (the NYU builder also centres real frames on the synthetic
    hand), so clean and sensor images of one hand share their depth scale."""
    mm_per_px = batch.geometry.crop_mm / render_cfg.render_size
    depth = apply_sensor(batch.depth_mm, batch.params["camera_distance"], mm_per_px, rng, cfg)
    return render.stored_images(depth, batch, render_cfg)
