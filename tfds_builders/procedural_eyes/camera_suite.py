"""Suite cameras: more target looks for the gaze experiment, each imaging the simulator's scenes.

Why: one target camera (camera.py) is one data point. A refiner, or a setting tuned on it,
may have learned that camera rather than domain adaptation. Each suite camera is another
plausible sensor: a mostly deterministic look plus per-image randomness (noise realisations,
small parameter jitter). They take the simulator's stored uint8 images (procedural_eyes/
simulator), so any labeled simulator scene is re-imaged cheaply, without re-rendering. Only
appearance changes: the labels of a scene are untouched.

  webcam    low-resolution webcam: ~3x coarser pixels, mild blur, bilinear upsampling back
            (the eye-patch normalisation), lifted midtones, strong JPEG (quality 15-35)
  lowlight  dim scene: few photo-electrons, so strong signal-dependent shot noise plus read
            noise, a dark underexposed frame with a raised black level and a gamma curve
  defocus   out-of-focus lens: a disk-shaped blur of radius ~2.2 px, radial vignetting, veiling
            glare (lower contrast), a dim exposure and mild sensor noise

Every camera has a `fixed()` variant: each per-image parameter at the middle of its range and
the noise off, so one scene gives one image. That is the best a deterministic refiner R(x)
could produce (benchmarks/refiner_ceiling.py --camera NAME measures it).

A camera is a `SuiteCamera(name, description, ranges, process)`; `register_camera` adds one,
and the gaze experiment's --camera flag and the ceiling benchmark then accept its name.
Deterministic given the numpy Generator.
"""
from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
from scipy import ndimage

from tfds_builders.procedural_eyes.camera import _bilinear_matrix, _box_matrix, _gaussian_matrix, _jpeg

# process(scene float (n, H, W) in [0, 1], per-image parameters {name: (n,)}, noise rng or None
# for no noise) -> float image in [0, 1] or uint8, (n, H, W).
Process = Callable[[np.ndarray, Mapping[str, np.ndarray], "np.random.Generator | None"], np.ndarray]


@dataclass(frozen=True, eq=False)
class SuiteCamera:
    """A named imaging process: per-image parameters drawn uniformly from `ranges`, then `process`."""

    name: str
    description: str
    ranges: Mapping[str, tuple[float, float]]
    process: Process
    is_fixed: bool = False  # parameters at mid-range, no noise: no randomness at all

    def draw(self, n: int, rng: np.random.Generator | None) -> dict[str, np.ndarray]:
        """(n,) values of every parameter, in the order of `ranges` (so the stream is stable)."""
        if self.is_fixed:
            return {k: np.full(n, (lo + hi) / 2, np.float32) for k, (lo, hi) in self.ranges.items()}
        return {k: rng.uniform(lo, hi, n).astype(np.float32) for k, (lo, hi) in self.ranges.items()}

    def apply(self, images: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """uint8 simulator images (n, H, W, 1) -> uint8 camera images of the same shape."""
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 1:
            raise ValueError(f"camera {self.name!r}: expected uint8 images (n, H, W, 1), "
                             f"got {images.dtype} {images.shape}")
        if rng is None and not self.is_fixed:
            raise ValueError(f"camera {self.name!r} draws random numbers: pass a numpy Generator")
        scene = images[..., 0].astype(np.float32) / 255.0
        out = self.process(scene, self.draw(len(scene), rng), None if self.is_fixed else rng)
        if out.dtype != np.uint8:
            out = np.round(np.clip(out, 0.0, 1.0) * 255.0).astype(np.uint8)
        return out[..., None]

    def fixed(self) -> "SuiteCamera":
        """The deterministic variant: every parameter at the middle of its range, no noise."""
        if self.is_fixed:
            return self
        return dataclasses.replace(self, name=f"{self.name}_fixed", is_fixed=True,
                                   description=f"{self.description} (fixed: mid-range parameters, no noise)")

    def parameters(self) -> dict[str, list[float]]:
        """The parameter ranges as JSON-ready lists (a fixed camera: [mid, mid])."""
        if self.is_fixed:
            return {k: [(lo + hi) / 2] * 2 for k, (lo, hi) in self.ranges.items()}
        return {k: [lo, hi] for k, (lo, hi) in self.ranges.items()}


# ---------------------------------------------------------------------------------------
# Shared steps (intensities in [0, 1]).
def _read_noise(x: np.ndarray, rng: np.random.Generator | None, shot: np.ndarray, read: np.ndarray) -> np.ndarray:
    """Poisson-Gaussian sensor noise (Gaussian approximation); nothing without an rng."""
    if rng is None:
        return x
    sd = np.sqrt(shot[:, None, None] * np.clip(x, 0.0, None) + read[:, None, None] ** 2)
    return x + sd * rng.standard_normal(x.shape).astype(np.float32)


def _tone(x: np.ndarray, black: np.ndarray, white: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """Gamma curve and output range [black, white] (per image)."""
    b, w, g = black[:, None, None], white[:, None, None], gamma[:, None, None]
    return b + (w - b) * np.clip(x, 0.0, 1.0) ** g


def _jpeg_batch(x: np.ndarray, quality: np.ndarray) -> np.ndarray:
    u8 = np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)
    return np.stack([_jpeg(u8[i], int(round(float(quality[i])))) for i in range(len(u8))])


# ---------------------------------------------------------------------------------------
def _webcam(x: np.ndarray, p: Mapping[str, np.ndarray], rng: np.random.Generator | None) -> np.ndarray:
    """Blur, area-sample on a ~3x coarser grid, sensor noise there, bilinear back up, tone, JPEG."""
    n, h, w = x.shape
    small_h = np.maximum(2, np.round(h / p["downsample"])).astype(np.float32)
    small_w = np.maximum(2, np.round(w / p["downsample"])).astype(np.float32)
    max_h, max_w = int(small_h.max()), int(small_w.max())
    rows = _box_matrix(h, small_h, max_h) @ _gaussian_matrix(h, p["blur_sigma"])
    cols = _box_matrix(w, small_w, max_w) @ _gaussian_matrix(w, p["blur_sigma"])
    small = _read_noise(rows @ x @ cols.transpose(0, 2, 1), rng, p["shot_noise"], p["read_noise"])
    up = _bilinear_matrix(h, small_h, max_h) @ small @ _bilinear_matrix(w, small_w, max_w).transpose(0, 2, 1)
    toned = _tone(up * p["gain"][:, None, None], p["black_level"], p["white_level"], p["gamma"])
    return _jpeg_batch(toned, p["jpeg_quality"])


def _lowlight(x: np.ndarray, p: Mapping[str, np.ndarray], rng: np.random.Generator | None) -> np.ndarray:
    """Few photo-electrons: Poisson shot + read noise in electrons, mild in-camera denoising
    blur, then a dark exposure with a raised black level and a gamma curve."""
    full = p["full_well_e"][:, None, None]  # electrons at a scene level of 1 during this exposure
    electrons = x * full
    if rng is not None:
        electrons = rng.poisson(electrons).astype(np.float32)
        electrons += p["read_noise_e"][:, None, None] * rng.standard_normal(x.shape).astype(np.float32)
    raw = electrons / full
    raw = ndimage.gaussian_filter(raw, (0, 0.5, 0.5), mode="nearest")  # in-camera noise reduction
    return _tone(raw * p["exposure"][:, None, None], p["black_level"], p["white_level"], p["gamma"])


def _disk_kernel(radius: float) -> np.ndarray:
    """Anti-aliased disk (pillbox) point-spread function of `radius` px, summing to 1."""
    r = int(np.ceil(radius + 0.5))
    sub = (np.arange(-r * 4 - 2, r * 4 + 2) + 0.5) / 4.0  # 4x supersampled offsets
    sub = sub[np.abs(sub) < r + 0.5]
    yy, xx = np.meshgrid(sub, sub, indexing="ij")
    inside = (xx ** 2 + yy ** 2 <= radius ** 2).astype(np.float32)
    k = inside.reshape(2 * r + 1, 4, 2 * r + 1, 4).sum(axis=(1, 3))
    if k.sum() == 0:  # a disk smaller than one sub-sample: the lens is in focus, a single pixel
        k[r, r] = 1.0
    return k / k.sum()


def _defocus(x: np.ndarray, p: Mapping[str, np.ndarray], rng: np.random.Generator | None) -> np.ndarray:
    """Disk blur (defocus), veiling glare (contrast towards the mean), radial vignetting
    around a slightly off-centre optical axis, a dim exposure, mild sensor noise, black level."""
    n, h, w = x.shape
    blurred = np.stack([ndimage.convolve(x[i], _disk_kernel(float(p["blur_radius"][i])), mode="nearest")
                        for i in range(n)])
    c = p["glare"][:, None, None]
    glared = (1.0 - c) * blurred + c * blurred.mean(axis=(1, 2), keepdims=True)
    yy = np.linspace(-1.0, 1.0, h, dtype=np.float32)[None, :, None] * (h / w)
    xx = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, None, :]
    r2 = (xx - p["centre_x"][:, None, None]) ** 2 + (yy - p["centre_y"][:, None, None]) ** 2
    vignetted = glared * (1.0 - p["vignetting"][:, None, None] * r2 / (1.0 + (h / w) ** 2))
    noisy = _read_noise(vignetted * p["exposure"][:, None, None], rng, p["shot_noise"], p["read_noise"])
    ones = np.ones(n, np.float32)
    return _tone(noisy, p["black_level"], ones, ones)


WEBCAM = SuiteCamera(
    "webcam",
    "low-resolution webcam: blur, ~3x coarser pixels, upsampled back, lifted midtones, strong JPEG",
    {
        "downsample": (2.7, 3.3),  # 35 x 55 -> ~12 x 18 sensor pixels
        "blur_sigma": (0.5, 0.9),  # px at 35 x 55, before sampling
        "shot_noise": (0.0005, 0.0015),
        "read_noise": (0.005, 0.012),
        "gain": (0.95, 1.10),  # auto exposure, slightly bright
        "gamma": (0.65, 0.80),  # lifted midtones (webcam tone curve)
        "black_level": (0.08, 0.14),
        "white_level": (0.88, 0.96),
        "jpeg_quality": (15, 35),
    },
    _webcam,
)

LOWLIGHT = SuiteCamera(
    "lowlight",
    "low-light sensor: few photo-electrons (strong shot + read noise), dark frame, raised black level, gamma",
    {
        "full_well_e": (25.0, 45.0),  # photo-electrons at scene level 1
        "read_noise_e": (2.0, 4.0),
        "exposure": (0.30, 0.45),  # underexposed
        "black_level": (0.07, 0.12),
        "white_level": (0.85, 0.95),
        "gamma": (0.80, 0.95),
    },
    _lowlight,
)

DEFOCUS = SuiteCamera(
    "defocus",
    "defocused lens: disk blur of radius ~2.2 px, veiling glare (lower contrast), vignetting, dim exposure, mild noise",
    {
        "blur_radius": (1.8, 2.6),  # px
        "glare": (0.40, 0.55),  # fraction of light spread evenly over the frame
        "vignetting": (0.55, 0.75),  # light lost at the corners
        "centre_x": (-0.15, 0.15),  # optical axis offset, in half-widths
        "centre_y": (-0.10, 0.10),
        "shot_noise": (0.0001, 0.0004),
        "read_noise": (0.002, 0.006),
        "exposure": (0.55, 0.75),  # the frame comes out dim (light lost in the soft, vignetted image)
        "black_level": (0.03, 0.07),
    },
    _defocus,
)

# name -> camera; the gaze experiment's --camera choices are "embedded" plus these names.
CAMERAS: dict[str, SuiteCamera] = {c.name: c for c in (WEBCAM, LOWLIGHT, DEFOCUS)}


def register_camera(camera: SuiteCamera) -> SuiteCamera:
    """Add (or replace) a suite camera by name; returns it."""
    if camera.name in ("embedded", "embedded_v2") or camera.is_fixed:  # the embedded pairs' --camera names
        raise ValueError(f"camera name {camera.name!r} is reserved")
    CAMERAS[camera.name] = camera
    return camera


def get_camera(name: str) -> SuiteCamera:
    if name not in CAMERAS:
        raise ValueError(f"unknown camera {name!r}: expected 'embedded' or one of {sorted(CAMERAS)}")
    return CAMERAS[name]


# Simulator splits a suite camera images; each scene of each split has its own random stream.
SPLIT_STREAMS = {"train": 0, "test": 1}


def scene_rng(camera_name: str, split: str, index: int) -> np.random.Generator:
    """The random stream of simulator[split] scene `index` under camera `camera_name`."""
    key = zlib.crc32(camera_name.encode())  # stable across runs, unlike hash()
    return np.random.default_rng([key, SPLIT_STREAMS[split], index])


def image_scenes(camera: SuiteCamera, images: np.ndarray, split: str, first_index: int) -> np.ndarray:
    """Scenes first_index, first_index + 1, ... of simulator[split] (in the order they are
    read) imaged by `camera`. Each scene draws from its own stream, so its image is the same
    whichever range, batch or preset it is loaded in. A fixed camera draws nothing."""
    if camera.is_fixed:
        return camera.apply(images)
    if len(images) == 0:
        return np.asarray(images).copy()
    return np.concatenate([camera.apply(images[i:i + 1], scene_rng(camera.name, split, first_index + i))
                           for i in range(len(images))])


def save_grid(out: str, name: str, columns: int = 8, seed: int = 999) -> None:
    """Simulator / camera / fixed-camera rows of the same eyes (one simulator render batch)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tfds_builders.procedural_eyes.procedural_eyes_dataset_builder import render_domain_batch

    cam = get_camera(name)
    sim, _ = render_domain_batch(seed, 0, "simulator")
    sim = sim[:columns]
    rows = (("simulator", sim), (name, cam.apply(sim, np.random.default_rng(seed))), ("fixed", cam.fixed().apply(sim)))
    fig, axes = plt.subplots(len(rows), columns, figsize=(1.1 * columns, 0.85 * len(rows)))
    for r, (label, images) in enumerate(rows):
        for col in range(columns):
            ax = axes[r, col]
            ax.imshow(images[col, :, :, 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(label, fontsize=7)
    fig.suptitle(f"camera '{name}': same eyes per column", fontsize=8)
    fig.tight_layout(pad=0.3)
    fig.savefig(out, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Draw a sample grid of one suite camera: simulator / camera / fixed.")
    parser.add_argument("--camera", required=True, choices=sorted(CAMERAS))
    parser.add_argument("--out", required=True)
    parser.add_argument("--columns", type=int, default=8)
    args = parser.parse_args(argv)
    save_grid(args.out, args.camera, args.columns)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()


__all__ = ["CAMERAS", "SuiteCamera", "get_camera", "image_scenes", "register_camera", "scene_rng"]
