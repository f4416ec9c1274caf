"""The v2 camera: what a real camera adds to a lit render, and nothing a simulator already has.

Why: in the v2 pair the simulator (`lit_render.py`) randomises lighting per image, as
UnityEyes does, so the camera differs from it only by what a simulator lacks: the appearance
of real materials and of a real sensor. Mostly a fixed look; per image only small parameter
jitter and noise realisations:

1. materials: skin scatters light under its surface (its shading is softened: blended with a
   blurred copy of itself), has pores and blotches (a low-frequency mottling and a fine grain,
   multiplicative, on skin only), and the white of a real eye is not white: the sclera
   darkens towards the eye corners (blood vessels, shade of the lids);
2. optics: Gaussian blur;
3. sensor: area sampling on a ~2.5x coarser pixel grid, shot noise plus read noise there;
4. tone: a webcam tone curve (lifted midtones) into a compressed output range;
5. the eye-patch normalisation upsamples back to 35 x 55 (bilinear), and the frame is a JPEG.

`fixed(cfg)` is the same camera with every parameter at the middle of its range and the noise
and texture off: one scene, one image, the best a deterministic refiner R(x) could produce.
Only appearance changes: labels are the scene's. Deterministic given the numpy Generator.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from tfds_builders.procedural_eyes.camera import _bilinear_matrix, _box_matrix, _gaussian_matrix, _jpeg, _mottle


@dataclass(frozen=True)
class SensorCameraConfig:
    """Ranges (uniform) of the v2 camera's parameters; intensities in [0, 1]."""

    skin_scattering: tuple[float, float] = (0.45, 0.55)  # weight of the blurred skin shading
    scattering_sigma_px: float = 2.0
    mottle_grid: tuple[int, int] = (5, 7)  # the mottling's control grid (rows, cols)
    mottle_amplitude: tuple[float, float] = (0.05, 0.07)
    grain_amplitude: tuple[float, float] = (0.03, 0.05)
    sclera_corner_shade: tuple[float, float] = (0.25, 0.35)  # sclera darkening at the corners
    blur_sigma_px: tuple[float, float] = (0.85, 1.0)
    downsample_factor: tuple[float, float] = (2.4, 2.6)
    shot_noise: tuple[float, float] = (0.0015, 0.0025)  # variance per unit intensity
    read_noise: tuple[float, float] = (0.008, 0.012)  # standard deviation
    gamma: tuple[float, float] = (0.62, 0.70)
    black_level: tuple[float, float] = (0.09, 0.11)
    white_level: tuple[float, float] = (0.84, 0.88)
    jpeg_quality: tuple[int, int] = (25, 35)  # inclusive


DEFAULT_SENSOR_CAMERA = SensorCameraConfig()
# Random draws that are noise realisations rather than look: off in the fixed camera.
_NOISE_FIELDS = ("mottle_amplitude", "grain_amplitude", "shot_noise", "read_noise")


def fixed(cfg: SensorCameraConfig = DEFAULT_SENSOR_CAMERA) -> SensorCameraConfig:
    """Every (lo, hi) range at its midpoint, texture and sensor noise off: no randomness."""
    mid = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.name == "mottle_grid" or not (isinstance(value, tuple) and len(value) == 2):
            continue
        if f.name in _NOISE_FIELDS:
            mid[f.name] = (0.0, 0.0)
            continue
        centre = (value[0] + value[1]) / 2
        centre = round(centre) if isinstance(value[0], int) else centre
        mid[f.name] = (centre, centre)
    return dataclasses.replace(cfg, **mid)


def is_fixed(cfg: SensorCameraConfig) -> bool:
    """True when the camera draws nothing that varies: every range is a single value, no noise."""
    ranges = [getattr(cfg, f.name) for f in dataclasses.fields(cfg)
              if f.name != "mottle_grid" and isinstance(getattr(cfg, f.name), tuple)]
    return all(lo == hi for lo, hi in ranges) and all(getattr(cfg, f) == (0.0, 0.0) for f in _NOISE_FIELDS)


def _draw(rng: np.random.Generator, bounds: tuple[float, float], n: int) -> np.ndarray:
    """(n, 1, 1) uniform draws; a collapsed range draws nothing (the fixed camera needs no rng)."""
    if bounds[0] == bounds[1]:
        return np.full((n, 1, 1), bounds[0], np.float32)
    return rng.uniform(bounds[0], bounds[1], n).astype(np.float32)[:, None, None]


def apply_sensor_camera(
    images: np.ndarray,
    maps: dict[str, np.ndarray],
    rng: np.random.Generator | None,
    cfg: SensorCameraConfig = DEFAULT_SENSOR_CAMERA,
) -> np.ndarray:
    """Lit renders float (n, H, W) in [0, 1] + their material maps -> camera images uint8 (n, H, W, 1).

    `maps` are `lit_render.render_lit`'s: "skin", "sclera", "corner". `rng` may be None only
    for a fixed camera (`fixed(cfg)`).
    """
    if images.ndim != 3 or any(maps[k].shape != images.shape for k in ("skin", "sclera", "corner")):
        raise ValueError(
            f"camera_v2.apply_sensor_camera: expected images (n, H, W) and skin, sclera, corner maps of the "
            f"same shape, got {images.shape} and {({k: v.shape for k, v in maps.items()})}"
        )
    if rng is None and not is_fixed(cfg):
        raise ValueError("camera_v2.apply_sensor_camera: this camera draws random numbers; pass a numpy Generator")
    n, h, w = images.shape
    skin = maps["skin"]
    # 1. Materials: subsurface scattering softens skin shading; pores and blotches on skin; the
    #    sclera darkens towards the corners.
    scatter = _draw(rng, cfg.skin_scattering, n)
    soft = ndimage.gaussian_filter(images, (0, cfg.scattering_sigma_px, cfg.scattering_sigma_px), mode="nearest")
    scene = images + scatter * skin * (soft - images)
    mottle_amp = _draw(rng, cfg.mottle_amplitude, n)
    grain_amp = _draw(rng, cfg.grain_amplitude, n)
    if mottle_amp.any() or grain_amp.any():
        mottle = mottle_amp * _mottle(rng, n, h, w, cfg)
        grain = grain_amp * ndimage.gaussian_filter(rng.standard_normal((n, h, w)).astype(np.float32), (0, 0.7, 0.7))
        scene = scene * (1.0 + (mottle + grain) * skin)
    scene = scene * (1.0 - _draw(rng, cfg.sclera_corner_shade, n) * maps["sclera"] * maps["corner"])
    # 2.-3. Optics and sensor: blur, a coarser pixel grid, Poisson-Gaussian noise, back up.
    sigma = _draw(rng, cfg.blur_sigma_px, n)[:, 0, 0]
    factor = _draw(rng, cfg.downsample_factor, n)[:, 0, 0]
    small_h = np.maximum(2, np.round(h / factor)).astype(np.float32)
    small_w = np.maximum(2, np.round(w / factor)).astype(np.float32)
    max_h, max_w = int(small_h.max()), int(small_w.max())
    rows = _box_matrix(h, small_h, max_h) @ _gaussian_matrix(h, sigma)
    cols = _box_matrix(w, small_w, max_w) @ _gaussian_matrix(w, sigma)
    small = rows @ scene.astype(np.float32) @ cols.transpose(0, 2, 1)
    shot, read = _draw(rng, cfg.shot_noise, n), _draw(rng, cfg.read_noise, n)
    if shot.any() or read.any():
        noise = rng.standard_normal(small.shape).astype(np.float32)
        small = small + np.sqrt(shot * np.clip(small, 0.0, None) + read ** 2) * noise
    raw = _bilinear_matrix(h, small_h, max_h) @ small @ _bilinear_matrix(w, small_w, max_w).transpose(0, 2, 1)
    # 4. Tone curve and output range.
    gamma, lo, hi = _draw(rng, cfg.gamma, n), _draw(rng, cfg.black_level, n), _draw(rng, cfg.white_level, n)
    toned = lo + (hi - lo) * np.clip(raw, 0.0, 1.0) ** gamma
    quantized = np.round(np.clip(toned, 0.0, 1.0) * 255.0).astype(np.uint8)
    # 5. JPEG storage.
    if cfg.jpeg_quality[0] == cfg.jpeg_quality[1]:
        quality = np.full(n, cfg.jpeg_quality[0])
    else:
        quality = rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1, n)
    return np.stack([_jpeg(quantized[i], quality[i]) for i in range(n)])[..., None]


__all__ = ["SensorCameraConfig", "DEFAULT_SENSOR_CAMERA", "apply_sensor_camera", "fixed", "is_fixed"]
