"""The simulator: a vectorised numpy renderer of UnityEyes-like grayscale eye images.

Why procedural: the project needs an embedded, download-free stand-in for UnityEyes whose
labels are exact by construction. Every image is rendered from a handful of geometric and
photometric parameters (`sample_params`), and the labels (gaze vector, pupil centre, eyelid
landmarks) are computed from the same parameters, so pixels and labels cannot disagree.

Geometry (orthographic camera looking along +z, MPIIGaze camera convention, see
`tfds_builders.gaze_geometry`): an eyeball of radius R centred at (cx, cy); the iris is a disc of
radius r_i on the sphere whose normal is the gaze vector g, so its centre projects to
(cx, cy) + sqrt(R^2 - r_i^2) * (g_x, g_y) and its outline is an ellipse foreshortened by
|g_z| along (g_x, g_y). The pupil is a concentric ellipse. Eyelids are curves between two
eye corners; the upper lid follows vertical gaze as real lids do.

Pixel convention: pixel (row i, column j) has its centre at image coordinates (x=j, y=i),
origin top-left. All edges are anti-aliased with approximate signed distances (coverage =
clamp(0.5 - distance, 0, 1)), so sub-pixel geometry changes the image smoothly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tfds_builders.gaze_geometry import pitch_yaw_to_vector


@dataclass(frozen=True)
class EyeRenderConfig:
    """Ranges of the sampled scene parameters (uniform unless stated); sizes in pixels."""

    height: int = 35
    width: int = 55
    pitch_deg: tuple[float, float] = (-25.0, 25.0)
    yaw_deg: tuple[float, float] = (-35.0, 35.0)
    center_jitter_px: tuple[float, float] = (3.0, 2.0)  # +- x, +- y around the image centre
    eyeball_radius_px: tuple[float, float] = (10.5, 13.0)  # the "eye scale" nuisance
    iris_ratio: tuple[float, float] = (0.45, 0.52)  # r_iris / R (anatomy: ~0.49)
    pupil_ratio: tuple[float, float] = (0.30, 0.50)  # r_pupil / r_iris (dilation)
    fissure_half_width: tuple[float, float] = (1.2, 1.35)  # corner-to-corner / 2, in R
    fissure_tilt_deg: tuple[float, float] = (-6.0, 6.0)
    upper_openness: tuple[float, float] = (0.45, 0.75)  # upper lid height over the corner line, in R
    lower_openness: tuple[float, float] = (0.25, 0.40)
    upper_lid_pitch_gain: float = 0.55  # upper lid rises/falls by this * sin(pitch) * R
    lower_lid_pitch_gain: float = 0.20
    skin: tuple[float, float] = (0.45, 0.80)  # brightness in [0, 1]
    sclera: tuple[float, float] = (0.72, 0.95)
    iris: tuple[float, float] = (0.18, 0.45)
    pupil: tuple[float, float] = (0.02, 0.07)
    glint: tuple[float, float] = (0.92, 1.0)
    glint_sigma_px: tuple[float, float] = (0.45, 0.7)
    glint_offset: tuple[tuple[float, float], tuple[float, float]] = ((-0.25, 0.25), (-0.25, 0.05))  # x, y in R
    lash_strength: tuple[float, float] = (0.25, 0.55)
    fissure_offset: tuple[tuple[float, float], tuple[float, float]] = ((-0.08, 0.08), (-0.05, 0.15))  # x, y in R
    lid_skew: tuple[float, float] = (-0.2, 0.2)  # asymmetry of the upper-lid arch
    crease_gap: tuple[float, float] = (0.35, 0.65)  # lid crease height above the upper lid, in R
    crease_strength: tuple[float, float] = (0.04, 0.14)
    lid_shadow: tuple[float, float] = (0.15, 0.35)
    limbus_darkening: tuple[float, float] = (0.2, 0.45)
    iris_streaks: tuple[int, int] = (9, 18)  # radial iris texture frequency [low, high)
    caruncle: tuple[float, float] = (0.45, 0.70)
    num_lid_landmarks: int = 16  # 9 upper-lid points (corner to corner) + 7 lower-lid points


DEFAULT_RENDER_CONFIG = EyeRenderConfig()


def _uniform(rng: np.random.Generator, bounds: tuple[float, float], n: int) -> np.ndarray:
    return rng.uniform(bounds[0], bounds[1], size=n).astype(np.float32)


def sample_params(rng: np.random.Generator, n: int, cfg: EyeRenderConfig = DEFAULT_RENDER_CONFIG) -> dict[str, np.ndarray]:
    """Draw the scene parameters of `n` eyes; every array has shape (n,)."""
    if n <= 0:
        raise ValueError(f"render.sample_params: n must be positive, got {n}")
    u = lambda b: _uniform(rng, b, n)  # noqa: E731 - local shorthand
    p = {
        "pitch": np.deg2rad(u(cfg.pitch_deg)),
        "yaw": np.deg2rad(u(cfg.yaw_deg)),
        "cx": (cfg.width - 1) / 2 + u((-cfg.center_jitter_px[0], cfg.center_jitter_px[0])),
        "cy": (cfg.height - 1) / 2 + u((-cfg.center_jitter_px[1], cfg.center_jitter_px[1])),
        "R": u(cfg.eyeball_radius_px),
        "iris_ratio": u(cfg.iris_ratio),
        "pupil_ratio": u(cfg.pupil_ratio),
        "half_width": u(cfg.fissure_half_width),
        "tilt": np.deg2rad(u(cfg.fissure_tilt_deg)),
        "fissure_dx": u(cfg.fissure_offset[0]),
        "fissure_dy": u(cfg.fissure_offset[1]),
        "open_up": u(cfg.upper_openness),
        "open_low": u(cfg.lower_openness),
        "lid_skew": u(cfg.lid_skew),
        "skin": u(cfg.skin),
        "sclera": u(cfg.sclera),
        "iris": u(cfg.iris),
        "pupil": u(cfg.pupil),
        "glint": u(cfg.glint),
        "glint_sigma": u(cfg.glint_sigma_px),
        "glint_dx": u(cfg.glint_offset[0]),
        "glint_dy": u(cfg.glint_offset[1]),
        "lash": u(cfg.lash_strength),
        "crease_gap": u(cfg.crease_gap),
        "crease": u(cfg.crease_strength),
        "lid_shadow": u(cfg.lid_shadow),
        "limbus": u(cfg.limbus_darkening),
        "iris_streaks": rng.integers(cfg.iris_streaks[0], cfg.iris_streaks[1], size=n).astype(np.float32),
        "iris_phase": u((0.0, 2 * np.pi)),
        "caruncle": u(cfg.caruncle),
    }
    return {k: v.astype(np.float32) for k, v in p.items()}


def _smooth_cover(signed_dist_inside: np.ndarray) -> np.ndarray:
    """Pixel coverage from a signed distance (positive inside), 1-pixel anti-aliasing ramp."""
    return np.clip(signed_dist_inside + 0.5, 0.0, 1.0)


def _lid_curves(t: np.ndarray, p: dict[str, np.ndarray], cfg: EyeRenderConfig) -> tuple[np.ndarray, ...]:
    """Upper/lower lid offsets v(t) from the corner line and their slopes dv/dt.

    t in [-1, 1] runs corner to corner; v grows downwards (image y). Upper lid:
    v = -h_up (1 - t^2)(1 + s t) (a skewed arch); lower lid: v = h_low (1 - t^2).
    """
    R = p["R"]
    h_up = R * np.clip(p["open_up"] + cfg.upper_lid_pitch_gain * np.sin(p["pitch"]), 0.08, 1.1)
    h_low = R * np.clip(p["open_low"] - cfg.lower_lid_pitch_gain * np.sin(p["pitch"]), 0.08, 0.6)
    s = p["lid_skew"]
    shape = 1.0 - t * t
    v_up = -h_up * shape * (1.0 + s * t)
    dv_up = -h_up * (-2.0 * t * (1.0 + s * t) + shape * s)
    v_low = h_low * shape
    dv_low = h_low * (-2.0 * t)
    return v_up, dv_up, v_low, dv_low, h_up


def _expand(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Reshape (n,) parameters to (n, 1, 1) so they broadcast against (n, H, W) images."""
    return {k: v[:, None, None] for k, v in p.items()}


def _fissure_frame(p: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """Centre, axes and half-width of the eye opening (works for (n,) or broadcast params)."""
    R = p["R"]
    xm = p["cx"] + p["fissure_dx"] * R
    ym = p["cy"] + p["fissure_dy"] * R
    a = p["half_width"] * R
    return xm, ym, np.cos(p["tilt"]), np.sin(p["tilt"]), a


def eyelid_landmarks(params: dict[str, np.ndarray], cfg: EyeRenderConfig = DEFAULT_RENDER_CONFIG) -> np.ndarray:
    """(n, K, 2) eyelid margin points (x, y) in pixels, in contour order.

    Points 0..8: the upper lid from the left corner (0) to the right corner (8); points
    9..15: the lower lid from right to left, corners excluded (UnityEyes' interior margin
    has 16 points too).
    """
    n_up = (cfg.num_lid_landmarks + 2) // 2  # 9 including both corners
    n_low = cfg.num_lid_landmarks - n_up  # 7 interior points
    p = {k: v[:, None] for k, v in params.items()}
    t_up = np.linspace(-1.0, 1.0, n_up, dtype=np.float32)[None, :]
    t_low = np.linspace(1.0, -1.0, n_low + 2, dtype=np.float32)[1:-1][None, :]
    v_up, _, _, _, _ = _lid_curves(t_up, p, cfg)
    _, _, v_low, _, _ = _lid_curves(t_low, p, cfg)
    xm, ym, cos_t, sin_t, a = _fissure_frame(p)
    t = np.concatenate([np.broadcast_to(t_up, v_up.shape), np.broadcast_to(t_low, v_low.shape)], axis=1)
    v = np.concatenate([v_up, v_low], axis=1)
    u = t * a
    x = xm + u * cos_t - v * sin_t
    y = ym + u * sin_t + v * cos_t
    return np.stack([x, y], axis=-1).astype(np.float32)


def labels(params: dict[str, np.ndarray], cfg: EyeRenderConfig = DEFAULT_RENDER_CONFIG) -> dict[str, np.ndarray]:
    """Ground truth implied by the parameters: the label features of the dataset."""
    pitch_yaw = np.stack([params["pitch"], params["yaw"]], axis=-1).astype(np.float32)
    gaze = pitch_yaw_to_vector(pitch_yaw).astype(np.float32)
    R = params["R"]
    d = R * np.sqrt(1.0 - params["iris_ratio"] ** 2)  # eyeball centre -> iris plane
    pupil = np.stack([params["cx"] + d * gaze[:, 0], params["cy"] + d * gaze[:, 1]], axis=-1)
    return {
        "gaze": gaze,
        "pitch_yaw": pitch_yaw,
        "pupil_center": pupil.astype(np.float32),
        "eyelid_landmarks": eyelid_landmarks(params, cfg),
    }


def scene_geometry(params: dict[str, np.ndarray], cfg: EyeRenderConfig = DEFAULT_RENDER_CONFIG) -> dict[str, np.ndarray]:
    """Per-pixel geometry of a batch of eyes, shared by the simulators (`render` and
    `lit_render.render_lit`): coverages, coordinates and normals, each (n, H, W) or
    broadcastable to it, plus the broadcast parameters under "p"."""
    p = _expand(params)
    H, W = cfg.height, cfg.width
    X = np.arange(W, dtype=np.float32)[None, None, :]
    Y = np.arange(H, dtype=np.float32)[None, :, None]
    R = p["R"]

    # --- Eye opening (palpebral fissure), in the tilted corner-line frame (u, v).
    xm, ym, cos_t, sin_t, a = _fissure_frame(p)
    dx, dy = X - xm, Y - ym
    u = dx * cos_t + dy * sin_t
    v = -dx * sin_t + dy * cos_t
    t = np.clip(u / a, -1.0, 1.0)
    v_up, dv_up, v_low, dv_low, h_up = _lid_curves(t, p, cfg)
    # Vertical distance to each lid, corrected by the curve slope to approximate the normal one.
    in_up = (v - v_up) / np.sqrt(1.0 + (dv_up / a) ** 2)
    in_low = (v_low - v) / np.sqrt(1.0 + (dv_low / a) ** 2)
    in_corner = a - np.abs(u)
    opening = _smooth_cover(in_up) * _smooth_cover(in_low) * _smooth_cover(in_corner)

    # --- Eyeball: sphere normal, iris and pupil ellipses.
    ex, ey = (X - p["cx"]) / R, (Y - p["cy"]) / R
    nz = np.sqrt(np.clip(1.0 - ex * ex - ey * ey, 0.0, 1.0))

    gaze = pitch_yaw_to_vector(np.stack([params["pitch"], params["yaw"]], axis=-1)).astype(np.float32)
    gx, gy, gz = (gaze[:, i][:, None, None] for i in range(3))
    r_iris = R * p["iris_ratio"]
    d = R * np.sqrt(1.0 - p["iris_ratio"] ** 2)
    icx, icy = p["cx"] + d * gx, p["cy"] + d * gy
    gxy = np.sqrt(gx * gx + gy * gy)
    safe = gxy > 1e-6
    e1x = np.where(safe, gx / np.maximum(gxy, 1e-6), 1.0)  # foreshortened axis
    e1y = np.where(safe, gy / np.maximum(gxy, 1e-6), 0.0)
    px, py = X - icx, Y - icy
    s1 = (px * e1x + py * e1y) / (r_iris * np.abs(gz))
    s2 = (-px * e1y + py * e1x) / r_iris
    q = np.sqrt(s1 * s1 + s2 * s2)  # 1 on the limbus
    grad_q = np.sqrt((s1 / (r_iris * np.abs(gz))) ** 2 + (s2 / r_iris) ** 2) / np.maximum(q, 1e-6)
    grad_q = np.maximum(grad_q, 1e-6)
    iris_cover = _smooth_cover((1.0 - q) / grad_q)
    pr = p["pupil_ratio"]  # pupil: same ellipse scaled by pr, so q / pr == 1 on its edge
    pupil_cover = _smooth_cover((pr - q) / grad_q)
    angle = np.arctan2(s2, s1)

    # Caruncle: the pinkish mound in the inner corner (image right), seen through the opening.
    car_u = (u - 0.88 * a) / (0.2 * a)
    car_v = v / (0.35 * R)
    caruncle_cover = _smooth_cover((1.0 - np.sqrt(car_u ** 2 + car_v ** 2)) * 0.2 * a)
    return {
        "p": p, "X": X, "Y": Y, "R": R, "xm": xm, "ym": ym, "a": a, "u": u, "v": v, "t": t, "h_up": h_up,
        "in_up": in_up, "opening": opening, "ex": ex, "ey": ey, "nz": nz, "gx": gx, "gy": gy, "q": q,
        "iris_cover": iris_cover, "pupil_cover": pupil_cover, "angle": angle, "caruncle_cover": caruncle_cover,
    }


def render(
    params: dict[str, np.ndarray], cfg: EyeRenderConfig = DEFAULT_RENDER_CONFIG, *, with_glint: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Render a batch of eyes.

    `with_glint=False` leaves out the corneal reflection, which can sit on the pupil and
    hide part of it (tests use this to measure the pupil alone).

    Returns (images, skin): float32 (n, H, W) intensities in [0, 1], and the (n, H, W)
    coverage of skin (1 outside the eye opening), which the camera process needs to put
    texture on skin only.
    """
    g = scene_geometry(params, cfg)
    p, X, Y, R = g["p"], g["X"], g["Y"], g["R"]
    H, W = cfg.height, cfg.width
    u, v, t, a, xm, h_up, in_up = g["u"], g["v"], g["t"], g["a"], g["xm"], g["h_up"], g["in_up"]
    opening, nz, gx, gy, q = g["opening"], g["nz"], g["gx"], g["gy"], g["q"]

    # --- Eyeball: shaded sclera (sphere normal z), iris and pupil ellipses, corneal glint.
    eye = p["sclera"] * (0.55 + 0.45 * nz)
    streaks = 1.0 + 0.08 * np.sin(p["iris_streaks"] * g["angle"] + p["iris_phase"])
    limbus = 1.0 - p["limbus"] * np.clip((q - 0.7) / 0.3, 0.0, 1.0) ** 2
    iris = p["iris"] * streaks * limbus
    eye = eye + (iris - eye) * g["iris_cover"]
    eye = eye + (p["pupil"] - eye) * g["pupil_cover"]

    gcx = p["cx"] + 0.45 * R * gx + p["glint_dx"] * R
    gcy = p["cy"] + 0.45 * R * gy + p["glint_dy"] * R
    if with_glint:
        glint_w = np.exp(-((X - gcx) ** 2 + (Y - gcy) ** 2) / (2.0 * p["glint_sigma"] ** 2))
        eye = eye + (p["glint"] - eye) * glint_w

    eye = eye + (p["caruncle"] * (0.8 + 0.2 * nz) - eye) * g["caruncle_cover"]
    # The upper lid shades the eyeball just below its margin.
    eye = eye * (1.0 - p["lid_shadow"] * np.exp(-np.clip(in_up, 0.0, None) / 1.5))

    # --- Skin: soft vertical shading, eyelid crease, dark lash line on the upper margin.
    skin = p["skin"] * (0.9 + 0.1 * (Y / (H - 1)) + 0.05 * np.cos(np.pi * (X - xm) / W))
    crease_v = -(h_up + p["crease_gap"] * R) * (1.0 - (np.clip(u / (1.3 * a), -1.0, 1.0)) ** 2)
    crease_on = np.clip(1.3 * a - np.abs(u), 0.0, 1.0)
    skin = skin * (1.0 - p["crease"] * crease_on * np.exp(-(((v - crease_v) / 1.3) ** 2)))
    lash_on = np.clip(a - np.abs(u), 0.0, 1.0) * (1.0 - 0.6 * np.abs(t))
    lash = p["lash"] * np.exp(-np.abs(in_up) / 1.1) * lash_on
    skin = skin * (1.0 - lash)

    image = skin + (eye - skin) * opening
    return np.clip(image, 0.0, 1.0).astype(np.float32), (1.0 - opening).astype(np.float32)


def render_batch(rng: np.random.Generator, n: int, cfg: EyeRenderConfig = DEFAULT_RENDER_CONFIG) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Sample, render and label `n` eyes: (images float [0, 1], skin coverage, labels)."""
    params = sample_params(rng, n, cfg)
    images, skin = render(params, cfg)
    return images, skin, labels(params, cfg)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float [0, 1] (n, H, W) -> uint8 (n, H, W, 1), the dataset's storage format."""
    return np.round(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)[..., None]


__all__ = [
    "EyeRenderConfig",
    "DEFAULT_RENDER_CONFIG",
    "sample_params",
    "render",
    "scene_geometry",
    "labels",
    "eyelid_landmarks",
    "render_batch",
    "to_uint8",
]
