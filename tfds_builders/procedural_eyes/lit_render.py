"""The v2 simulator: the same eyes as `render.py`, lit per image the way UnityEyes lights them.

Why: a UnityEyes render is not flatly lit. Its JSON records, per image, a skybox (an
environment map: texture, exposure, rotation), an ambient intensity, a directional light's
rotation and intensity, and a skin and iris texture. The v1 simulator (`render.render`) lights
every eye from the camera's direction and leaves all of that variability to the target
camera, where a deterministic refiner cannot reach it (docs/results/README.md, "Why short").
This simulator draws it per image:

  key light    a directional light: direction (tilt from the camera axis 0-65 degrees, any
               azimuth) and intensity; Lambert shading of the skin relief and of the eyeball,
               a specular sheen on the skin, and a corneal glint that sits where the light's
               reflection on the cornea is;
  environment  an ambient level with a vertical gradient (a skybox brighter above or below)
               and an exposure;
  shadows      the upper lid shades the eyeball more, and further, when the light comes from
               above;
  skin relief  the lids bulge over the eyeball and the brow ridge stands above the crease, by
               amounts drawn per image (the relief the light shades);
  materials    skin tone (albedo), sclera and iris albedo, glint strength, skin shininess.

Geometry and labels are `render.sample_params` / `render.labels`: the lighting draws from its
own random stream, so it never changes a label (tested). Deterministic given the Generators.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tfds_builders.procedural_eyes import render


@dataclass(frozen=True)
class LightingConfig:
    """Ranges (uniform) of the per-image lighting and material parameters; intensities in [0, 1]."""

    light_tilt_deg: tuple[float, float] = (0.0, 65.0)  # key light's angle from the camera axis
    light_azimuth_deg: tuple[float, float] = (0.0, 360.0)  # its direction in the image plane
    light_intensity: tuple[float, float] = (0.35, 1.2)
    ambient: tuple[float, float] = (0.15, 0.6)
    sky_gradient: tuple[float, float] = (-0.35, 0.35)  # ambient from above (+) or below (-)
    exposure: tuple[float, float] = (0.7, 1.3)
    skin_albedo: tuple[float, float] = (0.25, 0.85)  # skin tone
    sclera_albedo: tuple[float, float] = (0.65, 0.95)
    iris_albedo: tuple[float, float] = (0.08, 0.55)  # dark brown to light blue, in grey
    glint: tuple[float, float] = (0.6, 1.0)  # corneal reflection, relative to a full-scale light
    skin_specular: tuple[float, float] = (0.0, 0.15)
    lid_bulge: tuple[float, float] = (0.5, 1.1)  # height of the lids over the eyeball, in R
    brow_height: tuple[float, float] = (0.4, 1.0)  # brow ridge above the crease, in R


DEFAULT_LIGHTING_CONFIG = LightingConfig()


def sample_lighting(rng: np.random.Generator, n: int,
                    cfg: LightingConfig = DEFAULT_LIGHTING_CONFIG) -> dict[str, np.ndarray]:
    """Draw the lighting and materials of `n` images; every array has shape (n,)."""
    if n <= 0:
        raise ValueError(f"lit_render.sample_lighting: n must be positive, got {n}")
    u = lambda b: rng.uniform(b[0], b[1], size=n).astype(np.float32)  # noqa: E731 - local shorthand
    lighting = {
        "tilt": np.deg2rad(u(cfg.light_tilt_deg)),
        "azimuth": np.deg2rad(u(cfg.light_azimuth_deg)),
        "intensity": u(cfg.light_intensity),
        "ambient": u(cfg.ambient),
        "sky": u(cfg.sky_gradient),
        "exposure": u(cfg.exposure),
        "skin": u(cfg.skin_albedo),
        "sclera": u(cfg.sclera_albedo),
        "iris": u(cfg.iris_albedo),
        "glint": u(cfg.glint),
        "skin_specular": u(cfg.skin_specular),
        "lid_bulge": u(cfg.lid_bulge),
        "brow": u(cfg.brow_height),
    }
    return {k: v.astype(np.float32) for k, v in lighting.items()}


def _normals(height: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit normals (x right, y down, z towards the camera) of the surface z = height(x, y)."""
    hy, hx = np.gradient(height, axis=(1, 2))
    norm = np.sqrt(hx * hx + hy * hy + 1.0)
    return -hx / norm, -hy / norm, 1.0 / norm


def render_lit(
    params: dict[str, np.ndarray],
    lighting: dict[str, np.ndarray],
    cfg: render.EyeRenderConfig = render.DEFAULT_RENDER_CONFIG,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Render a batch of eyes under their own lighting.

    Returns (images, maps): float32 (n, H, W) intensities in [0, 1], and per-pixel material
    maps for the camera (`camera_v2`): "skin" (1 outside the eye opening), "sclera" (the
    visible white of the eye) and "corner" (0 at the middle of the opening, 1 at its corners).
    """
    g = render.scene_geometry(params, cfg)
    p, X, Y, R = g["p"], g["X"], g["Y"], g["R"]
    light = {k: v[:, None, None] for k, v in lighting.items()}
    n, H, W = len(params["R"]), cfg.height, cfg.width
    full = (n, H, W)

    # Key light (x right, y down, z towards the camera) and the half vector with the view axis.
    tilt, azimuth = light["tilt"], light["azimuth"]
    lx, ly, lz = np.sin(tilt) * np.cos(azimuth), np.sin(tilt) * np.sin(azimuth), np.cos(tilt)
    half = np.sqrt(lx * lx + ly * ly + (lz + 1.0) ** 2)
    hx, hy, hz = lx / half, ly / half, (lz + 1.0) / half
    intensity, ambient = light["intensity"], light["ambient"]

    def shade(nx, ny, nz):
        """Ambient from a skybox brighter above or below, plus the key light's Lambert term."""
        return ambient * (1.0 - light["sky"] * ny) + intensity * np.clip(nx * lx + ny * ly + nz * lz, 0.0, None)

    # Mean light on a surface facing the camera: dividing by it is the camera's metering, the
    # exposure is what is left of UnityEyes' skybox exposure.
    gain = light["exposure"] / (ambient + intensity * np.cos(tilt))

    # --- Skin relief: the lids bulge over the eyeball, the brow ridge stands above the crease.
    dx, dy = X - p["cx"], Y - p["cy"]
    bulge = light["lid_bulge"] * R * np.exp(-0.5 * ((dx / (1.5 * R)) ** 2 + (dy / (1.1 * R)) ** 2))
    brow_y = p["cy"] - (p["open_up"] + p["crease_gap"] + 0.3) * R  # just above the crease
    brow = light["brow"] * R / (1.0 + np.exp((Y - brow_y) / (0.35 * R)))
    snx, sny, snz = _normals(np.broadcast_to(bulge + brow, full))
    u, v, t, a, h_up, in_up = g["u"], g["v"], g["t"], g["a"], g["h_up"], g["in_up"]
    crease_v = -(h_up + p["crease_gap"] * R) * (1.0 - (np.clip(u / (1.3 * a), -1.0, 1.0)) ** 2)
    crease_on = np.clip(1.3 * a - np.abs(u), 0.0, 1.0)
    skin_albedo = light["skin"] * (1.0 - p["crease"] * crease_on * np.exp(-(((v - crease_v) / 1.3) ** 2)))
    lash_on = np.clip(a - np.abs(u), 0.0, 1.0) * (1.0 - 0.6 * np.abs(t))
    skin_albedo = skin_albedo * (1.0 - p["lash"] * np.exp(-np.abs(in_up) / 1.1) * lash_on)
    sheen = light["skin_specular"] * intensity * np.clip(snx * hx + sny * hy + snz * hz, 0.0, None) ** 12
    skin = gain * (skin_albedo * shade(snx, sny, snz) + sheen)

    # --- Eyeball: albedo (sclera, iris, pupil, caruncle) shaded by the sphere normal.
    q = g["q"]
    streaks = 1.0 + 0.08 * np.sin(p["iris_streaks"] * g["angle"] + p["iris_phase"])
    limbus = 1.0 - p["limbus"] * np.clip((q - 0.7) / 0.3, 0.0, 1.0) ** 2
    albedo = light["sclera"] + (light["iris"] * streaks * limbus - light["sclera"]) * g["iris_cover"]
    albedo = albedo + (p["pupil"] - albedo) * g["pupil_cover"]
    albedo = albedo + (p["caruncle"] - albedo) * g["caruncle_cover"]
    ex, ey, nz = g["ex"], g["ey"], g["nz"]
    eye = gain * albedo * shade(ex, ey, nz)
    # The upper lid shades the eyeball below its margin, darker and further when lit from above.
    above = np.clip(-ly, 0.0, None)
    shadow = np.clip(p["lid_shadow"] * (0.7 + 1.2 * above), 0.0, 0.85)
    eye = eye * (1.0 - shadow * np.exp(-np.clip(in_up, 0.0, None) / (1.5 * (1.0 + 1.5 * above))))
    # Corneal glint: the key light's reflection on the cornea (a sphere of radius ~0.55 R whose
    # centre sits 0.45 R along the gaze), where its normal is the half vector.
    gcx = p["cx"] + 0.45 * R * g["gx"] + 0.55 * R * hx
    gcy = p["cy"] + 0.45 * R * g["gy"] + 0.55 * R * hy
    glint_w = np.exp(-((X - gcx) ** 2 + (Y - gcy) ** 2) / (2.0 * p["glint_sigma"] ** 2))
    glint_level = np.clip(light["glint"] * (0.4 + 0.6 * intensity) * light["exposure"], 0.0, 1.0)
    eye = eye + (np.maximum(glint_level, eye) - eye) * glint_w * (1.0 - g["caruncle_cover"])

    opening = g["opening"]
    image = skin + (eye - skin) * opening
    maps = {
        "skin": (1.0 - opening).astype(np.float32),
        "sclera": np.broadcast_to(opening * (1.0 - g["iris_cover"]) * (1.0 - g["caruncle_cover"]), full)
        .astype(np.float32),
        "corner": np.broadcast_to(t * t, full).astype(np.float32),
    }
    return np.clip(image, 0.0, 1.0).astype(np.float32), maps


def render_lit_batch(
    geometry_rng: np.random.Generator,
    lighting_rng: np.random.Generator,
    n: int,
    cfg: render.EyeRenderConfig = render.DEFAULT_RENDER_CONFIG,
    lighting_cfg: LightingConfig = DEFAULT_LIGHTING_CONFIG,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Sample geometry and lighting from their own streams, render and label `n` eyes."""
    params = render.sample_params(geometry_rng, n, cfg)
    images, maps = render_lit(params, sample_lighting(lighting_rng, n, lighting_cfg), cfg)
    return images, maps, render.labels(params, cfg)


__all__ = ["LightingConfig", "DEFAULT_LIGHTING_CONFIG", "sample_lighting", "render_lit", "render_lit_batch"]
