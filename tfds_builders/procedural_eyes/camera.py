"""The target imaging process: what turns a clean render into a "real camera" eye image.

Why: SimGAN's claim is that a refiner trained on *unlabeled* real images closes the gap
between a simulator and a camera. To test that claim without MPIIGaze, the target domain here
is the same distribution of eyes (same geometry, same labels) seen through a different
imaging process, the way MPIIGaze's webcam crops differ from UnityEyes renders:

1. skin texture: low-frequency mottling and fine grain on skin only;
2. illumination: a gradient in a random direction, sometimes a strong side light, then an
   auto-exposure that aims the mean level at mid-grey but occasionally fails (very dark or
   blown out);
3. optics: Gaussian blur;
4. sensor: fewer pixels (area downsampling by ~2x), signal-dependent shot noise plus read
   noise at that resolution;
5. tone: a gamma curve and a compressed output range (lower contrast, raised black level);
6. the eye-patch normalisation upsamples back to 35 x 55 (bilinear), and the frame is stored
   as a JPEG of random quality.

Only appearance changes: the geometry parameters and therefore every label are untouched.
Deterministic given the numpy Generator.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage


@dataclass(frozen=True)
class CameraConfig:
    """Ranges (uniform unless stated) of the imaging-process parameters; intensities in [0, 1]."""

    mottle_grid: tuple[int, int] = (5, 7)  # low-frequency texture control points (rows, cols)
    mottle_amplitude: tuple[float, float] = (0.03, 0.08)
    grain_amplitude: tuple[float, float] = (0.01, 0.03)
    gradient_strength: tuple[float, float] = (0.10, 0.45)  # relative gain change, edge to edge
    side_light_prob: float = 0.3
    side_light_strength: tuple[float, float] = (0.4, 0.9)  # log-gain across the image
    auto_exposure_mean: tuple[float, float] = (0.35, 0.50)  # mean scene level the camera aims for
    exposure_log_sigma: float = 0.15  # auto-exposure error
    dark_prob: float = 0.08
    dark_gain: tuple[float, float] = (0.25, 0.45)
    bright_prob: float = 0.08
    bright_gain: tuple[float, float] = (1.7, 2.4)
    blur_sigma_px: tuple[float, float] = (0.3, 0.8)
    downsample_factor: tuple[float, float] = (1.5, 2.1)
    shot_noise: tuple[float, float] = (0.0005, 0.003)  # variance per unit intensity
    read_noise: tuple[float, float] = (0.004, 0.015)  # standard deviation
    gamma: tuple[float, float] = (0.75, 1.35)
    black_level: tuple[float, float] = (0.02, 0.12)
    white_level: tuple[float, float] = (0.80, 0.98)
    jpeg_quality: tuple[int, int] = (30, 70)  # inclusive


DEFAULT_CAMERA_CONFIG = CameraConfig()


def _mottle(rng: np.random.Generator, n: int, h: int, w: int, cfg: CameraConfig) -> np.ndarray:
    """(n, h, w) smooth zero-mean noise: bilinear upsampling of a coarse random grid."""
    gh, gw = cfg.mottle_grid
    coarse = rng.standard_normal((n, gh, gw)).astype(np.float32)
    up_rows = _bilinear_matrix(h, np.full(1, gh, np.float32), gh)
    up_cols = _bilinear_matrix(w, np.full(1, gw, np.float32), gw)
    return up_rows @ coarse @ up_cols.transpose(0, 2, 1)


def illuminate(scene: np.ndarray, rng: np.random.Generator, cfg: CameraConfig) -> np.ndarray:
    """Light the scene: a random light field, then auto-exposure with occasional failures."""
    n, h, w = scene.shape
    yy = np.linspace(-1.0, 1.0, h, dtype=np.float32)[None, :, None]
    xx = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, None, :]
    theta = rng.uniform(0, 2 * np.pi, n).astype(np.float32)[:, None, None]
    ramp = np.cos(theta) * xx + np.sin(theta) * yy  # in [-sqrt 2, sqrt 2]
    strength = rng.uniform(*cfg.gradient_strength, n).astype(np.float32)[:, None, None]
    gain = 1.0 + 0.5 * strength * ramp
    side = (rng.uniform(size=n) < cfg.side_light_prob)[:, None, None]
    side_dir = rng.choice(np.array([-1.0, 1.0], np.float32), n)[:, None, None]
    side_k = rng.uniform(*cfg.side_light_strength, n).astype(np.float32)[:, None, None]
    gain = gain * np.where(side, np.exp(side_k * side_dir * xx), 1.0)
    lit = scene * gain
    target = rng.uniform(*cfg.auto_exposure_mean, n)
    exposure = target / np.maximum(lit.mean(axis=(1, 2)), 1e-3) * np.exp(rng.normal(0.0, cfg.exposure_log_sigma, n))
    draw = rng.uniform(size=n)
    dark = draw < cfg.dark_prob
    bright = (draw >= cfg.dark_prob) & (draw < cfg.dark_prob + cfg.bright_prob)
    exposure = np.where(dark, exposure * rng.uniform(*cfg.dark_gain, n), exposure)
    exposure = np.where(bright, exposure * rng.uniform(*cfg.bright_gain, n), exposure)
    return lit * exposure.astype(np.float32)[:, None, None]


def _gaussian_matrix(size: int, sigma: np.ndarray) -> np.ndarray:
    """(n, size, size) row-normalised Gaussian blur matrices, one sigma per image."""
    idx = np.arange(size, dtype=np.float32)
    weights = np.exp(-((idx[None, :, None] - idx[None, None, :]) ** 2) / (2.0 * sigma[:, None, None] ** 2))
    return weights / weights.sum(axis=2, keepdims=True)


def _box_matrix(size: int, small: np.ndarray, max_small: int) -> np.ndarray:
    """(n, max_small, size) area-averaging matrices from `size` pixels to `small` (per image).

    Output pixel k averages the input interval [k s, (k + 1) s), s = size / small; rows
    k >= small are zero (unused).
    """
    scale = (size / small)[:, None, None]
    k = np.arange(max_small, dtype=np.float32)[None, :, None]
    j = np.arange(size, dtype=np.float32)[None, None, :]
    overlap = np.clip(np.minimum((k + 1) * scale, j + 1) - np.maximum(k * scale, j), 0.0, None)
    return np.where(k < small[:, None, None], overlap / scale, 0.0).astype(np.float32)


def _bilinear_matrix(size: int, small: np.ndarray, max_small: int) -> np.ndarray:
    """(n, size, max_small) bilinear upsampling matrices (half-pixel centres, edge clamped)."""
    src = (np.arange(size, dtype=np.float32)[None, :] + 0.5) * (small[:, None] / size) - 0.5
    src = np.clip(src, 0.0, (small - 1)[:, None])
    i0 = np.floor(src)
    i1 = np.minimum(i0 + 1, (small - 1)[:, None])
    frac = src - i0
    k = np.arange(max_small, dtype=np.float32)[None, None, :]
    return ((k == i0[..., None]) * (1.0 - frac[..., None]) + (k == i1[..., None]) * frac[..., None]).astype(np.float32)


def _sensor(scene: np.ndarray, rng: np.random.Generator, cfg: CameraConfig) -> np.ndarray:
    """Blur, sample on a coarser pixel grid, add Poisson-Gaussian noise, resample back.

    Every step is linear per image, so it is written as batched matrix products:
    small = (D_h G_h) scene (D_w G_w)^T, raw = U_h noisy U_w^T, with per-image blur G,
    area downsampling D and bilinear upsampling U.
    """
    n, h, w = scene.shape
    sigma = rng.uniform(*cfg.blur_sigma_px, n).astype(np.float32)
    factor = rng.uniform(*cfg.downsample_factor, n)
    small_h = np.maximum(2, np.round(h / factor)).astype(np.float32)
    small_w = np.maximum(2, np.round(w / factor)).astype(np.float32)
    max_h, max_w = int(small_h.max()), int(small_w.max())
    rows = _box_matrix(h, small_h, max_h) @ _gaussian_matrix(h, sigma)
    cols = _box_matrix(w, small_w, max_w) @ _gaussian_matrix(w, sigma)
    small = rows @ scene @ cols.transpose(0, 2, 1)
    shot = rng.uniform(*cfg.shot_noise, n).astype(np.float32)[:, None, None]
    read = rng.uniform(*cfg.read_noise, n).astype(np.float32)[:, None, None]
    noise = rng.standard_normal(small.shape).astype(np.float32)
    noisy = small + np.sqrt(shot * np.clip(small, 0.0, None) + read ** 2) * noise
    return _bilinear_matrix(h, small_h, max_h) @ noisy @ _bilinear_matrix(w, small_w, max_w).transpose(0, 2, 1)


def _jpeg(image_u8: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image_u8, mode="L").save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as decoded:
        return np.asarray(decoded)


def apply_camera(
    images: np.ndarray,
    skin: np.ndarray,
    rng: np.random.Generator,
    cfg: CameraConfig = DEFAULT_CAMERA_CONFIG,
) -> np.ndarray:
    """Clean renders float (n, H, W) in [0, 1] + skin coverage -> camera images uint8 (n, H, W, 1)."""
    if images.ndim != 3 or skin.shape != images.shape:
        raise ValueError(
            f"camera.apply_camera: expected images (n, H, W) and skin of the same shape, "
            f"got {images.shape} and {skin.shape}"
        )
    n, h, w = images.shape
    # 1. Skin texture, on skin only.
    mottle = rng.uniform(*cfg.mottle_amplitude, n).astype(np.float32)[:, None, None] * _mottle(rng, n, h, w, cfg)
    grain = rng.uniform(*cfg.grain_amplitude, n).astype(np.float32)[:, None, None] * ndimage.gaussian_filter(
        rng.standard_normal((n, h, w)).astype(np.float32), (0, 0.7, 0.7)
    )
    scene = images * (1.0 + (mottle + grain) * skin)
    # 2. Illumination and exposure.
    scene = illuminate(scene, rng, cfg)
    # 3.-4. Optics and sensor (each image has its own blur and pixel pitch).
    raw = _sensor(scene.astype(np.float32), rng, cfg)
    # 5. Tone curve and output range.
    gamma = rng.uniform(*cfg.gamma, n).astype(np.float32)[:, None, None]
    lo = rng.uniform(*cfg.black_level, n).astype(np.float32)[:, None, None]
    hi = rng.uniform(*cfg.white_level, n).astype(np.float32)[:, None, None]
    toned = lo + (hi - lo) * np.clip(raw, 0.0, 1.0) ** gamma
    quantized = np.round(np.clip(toned, 0.0, 1.0) * 255.0).astype(np.uint8)
    # 6. JPEG storage.
    quality = rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1, n)
    return np.stack([_jpeg(quantized[i], quality[i]) for i in range(n)])[..., None]


__all__ = ["CameraConfig", "DEFAULT_CAMERA_CONFIG", "apply_camera", "illuminate"]
