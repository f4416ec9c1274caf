"""The simulator: a vectorised numpy depth renderer of an articulated hand.

Why procedural: the project needs an embedded, download-free stand-in for the NYU hand pose
dataset's synthetic frames whose labels are exact by construction. A hand is a union of
capsules (finger phalanges, thumb, knuckle bar, forearm) and one ellipsoid (the palm). Joint
angles, global rotation, hand size, crop scale and position are drawn by `sample_params`;
`hand_geometry` turns them into primitives and the 14 labelled joints, so pixels and labels
come from the same numbers and cannot disagree.

Camera: orthographic, looking along +z (depth grows away from the camera); image x to the
right, y down. The crop is a square of `crop_mm` millimetres centred on the hand, like the
300 mm cube crops of common NYU preprocessing. Canonical hand frame (before the global
rotation): a right hand, palm facing the camera (palm side = -z), fingers pointing up
(-y), thumb on the right (+x), wrist centre at the origin.

Pixel convention (the project's): pixel (row i, column j) has its centre at image
coordinates (u=j, v=i), origin top-left.

Joints (NYU evaluation order, as DeepPrior++'s NYUHandposeEvaluation names them):
  0 P1 little tip, 1 P2 little PIP, 2 R1 ring tip, 3 R2 ring PIP, 4 M1 middle tip,
  5 M2 middle PIP, 6 I1 index tip, 7 I2 index PIP, 8 T1 thumb tip, 9 T2 thumb IP,
  10 T3 thumb MCP, 11 W1 wrist (little-finger side), 12 W2 wrist (thumb side), 13 C palm.
Tips are the ends of the distal phalanges' axes (inside the rounded fingertip, one radius
from its surface); every joint lies on the skeleton, inside the hand.

Depth storage (see README.md): `encode_depth` maps c +- 150 mm linearly to 1..254 and
background / missing / farther than c + 150 mm to 255, where c is the median depth of the
clean render's hand pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tfds_builders.constants import HAND_IMAGE_SHAPE

JOINT_NAMES = ("P1", "P2", "R1", "R2", "M1", "M2", "I1", "I2", "T1", "T2", "T3", "W1", "W2", "C")
FINGERS = ("little", "ring", "middle", "index")  # NYU order: P, R, M, I
TIP_JOINTS = (0, 2, 4, 6, 8)  # P1, R1, M1, I1, T1
BACKGROUND = 255  # stored value of background, missing readings and depths beyond the cube
NEAR_VALUE, FAR_VALUE = 1, 254  # stored values of c - cube/2 and c + cube/2
NO_PART = -1  # part id of background pixels


@dataclass(frozen=True)
class HandAnatomy:
    """Hand dimensions in mm for hand_scale = 1 (an adult right hand), canonical frame."""

    # Per finger in FINGERS order: MCP (knuckle) position, phalanx axis lengths
    # (proximal, middle, distal), capsule radii, and the rest splay (degrees toward +x).
    mcp: tuple[tuple[float, float, float], ...] = (
        (-25.0, -78.0, 0.0), (-9.0, -86.0, 0.0), (8.0, -90.0, 0.0), (25.0, -85.0, 0.0))
    lengths: tuple[tuple[float, float, float], ...] = (
        (31.0, 19.0, 12.0), (40.0, 26.0, 14.0), (44.0, 27.0, 15.0), (39.0, 23.0, 14.0))
    radii: tuple[tuple[float, float, float], ...] = (
        (7.5, 7.0, 6.5), (8.5, 8.0, 7.0), (9.0, 8.5, 7.5), (8.5, 8.0, 7.0))
    splay_deg: tuple[float, ...] = (-14.0, -5.0, 2.0, 9.0)
    # Thumb: carpometacarpal joint, axis lengths (metacarpal, proximal, distal) and radii.
    thumb_cmc: tuple[float, float, float] = (20.0, -18.0, -3.0)
    thumb_lengths: tuple[float, float, float] = (40.0, 30.0, 17.0)
    thumb_radii: tuple[float, float, float] = (12.0, 10.0, 8.5)
    # Metacarpal direction of an abducted (open) and of a fully opposed thumb.
    thumb_open_dir: tuple[float, float, float] = (0.78, -0.60, -0.18)
    thumb_opposed_dir: tuple[float, float, float] = (0.05, -0.62, -0.78)
    # Direction the thumb's MCP / IP joints bend toward (across the palm, palm side).
    thumb_bend_dir: tuple[float, float, float] = (-0.8, -0.1, -0.6)
    # Palm: an ellipsoid (centre, semi-axes) plus a capsule bar along the knuckles.
    palm_center: tuple[float, float, float] = (0.0, -47.0, 1.0)
    palm_semi_axes: tuple[float, float, float] = (37.0, 44.0, 13.0)
    knuckle_radius: float = 10.5
    # Wrist joints W1 (little-finger side) and W2 (thumb side), 7 mm inside the forearm's
    # surface so they stay inside the hand under any view; forearm capsule.
    wrist_half_width: float = 18.0
    forearm_length: float = 220.0
    forearm_radius: float = 25.0


@dataclass(frozen=True)
class HandRenderConfig:
    """Output size and the ranges (uniform) of the sampled pose and viewing parameters."""

    size: int = HAND_IMAGE_SHAPE[0]  # stored image side (224, the paper's hand images)
    # The renderer works at half the stored side and repeats each pixel 2 x 2, as NYU's crops
    # are nearest-resized from ~100-150 Kinect pixels to 224; it also makes the dataset build
    # 4-5x faster (README.md has the figures).
    render_size: int = 112
    cube_mm: float = 300.0  # depth range around the centre mapped to 1..254 (NYU/DeepPrior cube)
    # Square crop around the joints' bounding box (grown by a fingertip margin), like the NYU
    # builder's 1.2 x hand-mask box: side = crop_scale x the box's longer side.
    crop_scale: tuple[float, float] = (1.1, 1.35)
    crop_margin_mm: float = 12.0
    center_jitter: float = 0.05  # +- x, y offset of the crop centre, as a fraction of its side
    camera_distance_mm: tuple[float, float] = (550.0, 1000.0)  # hand centre depth (sensor uses it)
    hand_scale: tuple[float, float] = (0.85, 1.12)  # anatomical size
    roll_deg: tuple[float, float] = (-60.0, 60.0)  # in-plane rotation
    yaw_deg: tuple[float, float] = (-65.0, 65.0)  # about the hand's long axis
    pitch_deg: tuple[float, float] = (-40.0, 40.0)  # tilt of the fingers toward/away from the camera
    back_facing_prob: float = 0.4  # turn the back of the hand to the camera (yaw + 180 degrees)
    wrist_flex_deg: tuple[float, float] = (-35.0, 35.0)  # forearm relative to the palm
    # Finger pose: curl in [0, 1] around a shared grip, or independent with this probability.
    curl_spread: float = 0.22
    independent_finger_prob: float = 0.3
    mcp_flex_deg: tuple[float, float] = (-10.0, 85.0)  # at curl 0 and 1
    pip_flex_deg: tuple[float, float] = (0.0, 105.0)
    dip_per_pip: float = 0.7  # DIP flexion follows PIP (the tendon coupling)
    flex_noise_deg: float = 8.0
    abduction_deg: float = 12.0  # +- extra splay per finger, shrinks as the finger curls
    thumb_mcp_flex_deg: tuple[float, float] = (-5.0, 50.0)
    thumb_ip_flex_deg: tuple[float, float] = (-10.0, 80.0)


DEFAULT_ANATOMY = HandAnatomy()
DEFAULT_RENDER_CONFIG = HandRenderConfig()


def _uniform(rng: np.random.Generator, bounds: tuple[float, float], n: int) -> np.ndarray:
    return rng.uniform(bounds[0], bounds[1], size=n)


def sample_params(rng: np.random.Generator, n: int, cfg: HandRenderConfig = DEFAULT_RENDER_CONFIG) -> dict[str, np.ndarray]:
    """Draw the pose and viewing parameters of `n` hands (float64 arrays, first axis n)."""
    if n <= 0:
        raise ValueError(f"procedural_hands.render.sample_params: n must be positive, got {n}")
    u = lambda b: _uniform(rng, b, n)  # noqa: E731 - local shorthand
    grip = rng.uniform(0.0, 1.0, size=(n, 1))
    curl = np.clip(grip + cfg.curl_spread * rng.standard_normal((n, 5)), 0.0, 1.0)
    independent = rng.uniform(size=(n, 5)) < cfg.independent_finger_prob
    curl = np.where(independent, rng.uniform(0.0, 1.0, size=(n, 5)), curl)  # column 4 = thumb
    noise = lambda shape: cfg.flex_noise_deg * rng.standard_normal(shape)  # noqa: E731
    fc = curl[:, :4]
    mcp = np.interp(fc, (0, 1), cfg.mcp_flex_deg) + noise((n, 4))
    pip = np.clip(np.interp(fc, (0, 1), cfg.pip_flex_deg) + noise((n, 4)), 0.0, 115.0)
    dip = np.clip(cfg.dip_per_pip * pip + 0.5 * noise((n, 4)), 0.0, 85.0)
    abduction = rng.uniform(-cfg.abduction_deg, cfg.abduction_deg, size=(n, 4)) * (1.0 - 0.6 * fc)
    tc = curl[:, 4]
    back = rng.uniform(size=n) < cfg.back_facing_prob
    return {
        "finger_flex": np.deg2rad(np.stack([mcp, pip, dip], axis=-1)),  # (n, 4, 3)
        "finger_abduction": np.deg2rad(abduction),  # (n, 4)
        "thumb_opposition": rng.uniform(0.0, 1.0, size=n),
        "thumb_flex": np.deg2rad(np.stack([
            np.interp(tc, (0, 1), cfg.thumb_mcp_flex_deg) + noise(n),
            np.interp(tc, (0, 1), cfg.thumb_ip_flex_deg) + noise(n)], axis=-1)),  # (n, 2)
        "wrist_flex": np.deg2rad(u(cfg.wrist_flex_deg)),
        "hand_scale": u(cfg.hand_scale),
        "roll": np.deg2rad(u(cfg.roll_deg)),
        "yaw": np.deg2rad(u(cfg.yaw_deg) + np.where(back, 180.0, 0.0)),
        "pitch": np.deg2rad(u(cfg.pitch_deg)),
        "crop_scale": u(cfg.crop_scale),
        "center_jitter": rng.uniform(-cfg.center_jitter, cfg.center_jitter, size=(n, 2)),
        "camera_distance": u(cfg.camera_distance_mm),
    }


def _rotation(roll: np.ndarray, yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """(n, 3, 3) rotation Rz(roll) @ Ry(yaw) @ Rx(pitch)."""
    n = roll.shape[0]

    def axis(angle: np.ndarray, i: int, j: int) -> np.ndarray:
        m = np.tile(np.eye(3), (n, 1, 1))
        c, s = np.cos(angle), np.sin(angle)
        m[:, i, i], m[:, i, j], m[:, j, i], m[:, j, j] = c, -s, s, c
        return m

    return axis(roll, 0, 1) @ axis(yaw, 2, 0) @ axis(pitch, 1, 2)


def _rotate_toward(d: np.ndarray, target: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate unit vectors d (n, 3) by `angle` (n,) in the plane of d and `target` (Rodrigues)."""
    axis = np.cross(d, target)
    axis /= np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-9)
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    return d * c + np.cross(axis, d) * s + axis * np.sum(axis * d, -1, keepdims=True) * (1 - c)


def _unit(v: tuple[float, float, float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    return a / np.linalg.norm(a)


@dataclass
class HandGeometry:
    """A batch of posed hands in camera mm (x, y in the crop plane, z = depth from the camera).

    capsules: (n, K, 2, 3) end points and (n, K) radii; ellipsoid: centre (n, 3), inverse
    shape matrix (n, 3, 3) (x in it iff (x - c)^T M (x - c) <= 1); joints (n, 14, 3);
    crop_mm (n,) and centre (n, 2) of the crop; capsule_names (K,), the ellipsoid's part id
    is K.
    """

    capsules: np.ndarray
    capsule_radii: np.ndarray
    ellipsoid_center: np.ndarray
    ellipsoid_matrix: np.ndarray
    joints: np.ndarray
    crop_mm: np.ndarray
    crop_center: np.ndarray
    capsule_names: tuple[str, ...]

    @property
    def part_names(self) -> tuple[str, ...]:
        return self.capsule_names + ("palm",)


def hand_geometry(params: dict[str, np.ndarray], cfg: HandRenderConfig = DEFAULT_RENDER_CONFIG,
                  anatomy: HandAnatomy = DEFAULT_ANATOMY) -> HandGeometry:
    """Forward kinematics: parameters -> primitives and the 14 joints, in camera mm."""
    n = params["roll"].shape[0]
    k = params["hand_scale"][:, None]  # every length scales with the hand
    caps, radii, names = [], [], []
    tips, pips = {}, {}

    def capsule(name: str, a: np.ndarray, b: np.ndarray, r: float) -> None:
        caps.append(np.stack([a, b], axis=1))
        radii.append(r * k[:, 0])
        names.append(name)

    # Fingers: flexion bends toward the palm side (-z); splay rotates in the palm plane.
    for f, name in enumerate(FINGERS):
        base = np.asarray(anatomy.mcp[f]) * k
        splay = np.deg2rad(anatomy.splay_deg[f]) + params["finger_abduction"][:, f]
        flex = np.cumsum(params["finger_flex"][:, f, :], axis=-1)  # (n, 3) cumulative angles
        p = base
        for seg in range(3):
            theta = flex[:, seg]
            d = np.stack([np.sin(splay) * np.cos(theta), -np.cos(splay) * np.cos(theta), -np.sin(theta)], -1)
            q = p + d * anatomy.lengths[f][seg] * k
            capsule(f"{name}_{('proximal', 'middle', 'distal')[seg]}", p, q, anatomy.radii[f][seg])
            if seg == 0:
                pips[name] = q
            p = q
        tips[name] = p

    # Thumb: metacarpal between the open and the opposed direction, then MCP and IP flexion.
    opp = params["thumb_opposition"][:, None]
    d = (1 - opp) * _unit(anatomy.thumb_open_dir) + opp * _unit(anatomy.thumb_opposed_dir)
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    bend = np.broadcast_to(_unit(anatomy.thumb_bend_dir), (n, 3))
    thumb = [np.asarray(anatomy.thumb_cmc) * k]
    for seg in range(3):
        if seg > 0:
            d = _rotate_toward(d, bend, params["thumb_flex"][:, seg - 1])
        thumb.append(thumb[-1] + d * anatomy.thumb_lengths[seg] * k)
        capsule(f"thumb_{('metacarpal', 'proximal', 'distal')[seg]}", thumb[seg], thumb[seg + 1],
                anatomy.thumb_radii[seg])

    # Knuckle bar (little -> ring -> middle -> index MCP) fills the palm's top edge.
    mcps = [np.asarray(m) * k for m in anatomy.mcp]
    for i, (a, b) in enumerate(zip(mcps[:-1], mcps[1:])):
        capsule(f"knuckles_{FINGERS[i]}_{FINGERS[i + 1]}", a, b, anatomy.knuckle_radius)

    # Forearm: from the wrist away from the fingers, flexed about the hand's x axis.
    wf = params["wrist_flex"]
    fore = np.stack([np.zeros(n), np.cos(wf), np.sin(wf)], -1)
    capsule("forearm", np.zeros((n, 3)), fore * anatomy.forearm_length * k, anatomy.forearm_radius)

    palm_c = np.asarray(anatomy.palm_center) * k
    w = anatomy.wrist_half_width * k[:, 0]
    zeros = np.zeros(n)
    joints = np.stack(
        [v for name in FINGERS for v in (tips[name], pips[name])]
        + [thumb[3], thumb[2], thumb[1],
           np.stack([-w, zeros, zeros], -1), np.stack([w, zeros, zeros], -1), palm_c],
        axis=1)  # (n, 14, 3), canonical frame

    # Global pose: rotate about the palm centre, then place the hand in front of the camera.
    rot = _rotation(params["roll"], params["yaw"], params["pitch"])
    capsules = np.stack(caps, axis=1)  # (n, K, 2, 3)

    def place(x: np.ndarray) -> np.ndarray:
        shape = x.shape
        flat = x.reshape(n, -1, 3) - palm_c[:, None, :]
        out = flat @ rot.transpose(0, 2, 1)
        out[..., 2] += params["camera_distance"][:, None]
        return out.reshape(shape)

    joints = place(joints)
    capsules = place(capsules)
    semi = np.asarray(anatomy.palm_semi_axes)[None, :] * k
    ellipsoid_matrix = rot @ (np.eye(3)[None] / semi[:, None, :] ** 2) @ rot.transpose(0, 2, 1)
    lo, hi = joints[:, :, :2].min(axis=1), joints[:, :, :2].max(axis=1)
    crop_mm = params["crop_scale"] * (np.max(hi - lo, axis=1) + 2 * cfg.crop_margin_mm * k[:, 0])
    centre = (lo + hi) / 2 + params["center_jitter"] * crop_mm[:, None]
    _trim_to_crop(capsules[:, names.index("forearm")], radii[names.index("forearm")], centre, crop_mm)
    return HandGeometry(
        capsules=capsules,
        capsule_radii=np.stack(radii, axis=1),
        ellipsoid_center=place(palm_c[:, None, :])[:, 0],
        ellipsoid_matrix=ellipsoid_matrix,
        joints=joints,
        crop_mm=crop_mm,
        crop_center=centre,
        capsule_names=tuple(names),
    )


def _trim_to_crop(capsule: np.ndarray, radius: np.ndarray, centre: np.ndarray, crop_mm: np.ndarray) -> None:
    """Shorten a capsule (n, 2, 3) in place to where its axis leaves the crop (plus a radius).

    The forearm reaches far out of the crop; what lies beyond cannot be seen, but would
    widen its rendering window. Capsules starting outside the crop are left alone.
    """
    a, d = capsule[:, 0], capsule[:, 1] - capsule[:, 0]
    half = (crop_mm / 2 + radius)[:, None]
    offset = a[:, :2] - centre
    inside = np.all(np.abs(offset) <= half, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_axis = np.where(d[:, :2] != 0, (np.sign(d[:, :2]) * half - offset) / d[:, :2], np.inf)
    t_exit = np.clip(np.min(t_axis, axis=1), 1e-3, 1.0)
    capsule[:, 1] = np.where(inside[:, None], a + d * t_exit[:, None], capsule[:, 1])


def _pixel_grid(lo: np.ndarray, hi: np.ndarray, size: int) -> np.ndarray:
    """(n, P) integer pixel indices of a window covering [lo, hi] in every image.

    P is the largest extent in the batch (so one array holds all windows), capped at `size`.
    """
    first = np.clip(np.floor(lo), 0, size - 1).astype(np.int64)
    last = np.clip(np.ceil(hi), 0, size - 1).astype(np.int64)
    extent = int(min(size, max(1, (last - first).max() + 1)))
    first = np.minimum(first, size - extent)
    return first[:, None] + np.arange(extent)[None, :]


def _capsule_depth(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Front-surface depth of capsules seen along +z at points (x, y); inf where missed.

    x (n, 1, W), y (n, H, 1) in mm; a, b (n, 3) axis end points; r (n,). The capsule is the
    union of a finite cylinder and two end spheres, so its front surface is the nearest of
    the cylinder's front hit (if it lands between the ends) and the two spheres' front hits.
    """
    e = lambda v: v[:, None, None]  # noqa: E731 - (n,) -> (n, 1, 1)
    dx, dy, dz = (e(b[:, i] - a[:, i]) for i in range(3))
    l2 = dx * dx + dy * dy + dz * dz
    r2 = e(r) ** 2
    ex, ey = x - e(a[:, 0]), y - e(a[:, 1])
    e2 = ex * ex + ey * ey
    m = ex * dx + ey * dy  # (w . D) without the depth term
    axy = (dx * dx + dy * dy) / l2  # 1 - cos^2 of the axis' angle to the ray
    half_b = -m * dz / l2
    c = e2 - m * m / l2 - r2
    disc = half_b * half_b - axy * c
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = (-half_b - np.sqrt(disc)) / axy  # depth offset from a's depth
        s = (m + tau * dz) / l2  # position along the axis, 0 at a, 1 at b
        body = np.where((disc >= 0) & (s >= 0) & (s <= 1) & (axy > 1e-6), e(a[:, 2]) + tau, np.inf)
        ha = r2 - e2
        sphere_a = np.where(ha >= 0, e(a[:, 2]) - np.sqrt(ha), np.inf)
        bx, by = x - e(b[:, 0]), y - e(b[:, 1])
        hb = r2 - (bx * bx + by * by)
        sphere_b = np.where(hb >= 0, e(b[:, 2]) - np.sqrt(hb), np.inf)
    return np.minimum(body, np.minimum(sphere_a, sphere_b))


def _ellipsoid_depth(x: np.ndarray, y: np.ndarray, centre: np.ndarray, mat: np.ndarray) -> np.ndarray:
    """Front-surface depth of ellipsoids seen along +z at points (x, y); inf where missed."""
    e = lambda v: v[:, None, None]  # noqa: E731
    gx, gy = x - e(centre[:, 0]), y - e(centre[:, 1])
    qa = e(mat[:, 2, 2])
    half_b = e(mat[:, 2, 0]) * gx + e(mat[:, 2, 1]) * gy
    c = e(mat[:, 0, 0]) * gx * gx + 2 * e(mat[:, 0, 1]) * gx * gy + e(mat[:, 1, 1]) * gy * gy - 1.0
    disc = half_b * half_b - qa * c
    with np.errstate(invalid="ignore"):
        return np.where(disc >= 0, e(centre[:, 2]) + (-half_b - np.sqrt(disc)) / qa, np.inf)


def render_depth(geom: HandGeometry, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Z-buffer the hand: float32 depth in mm (n, size, size), inf = background, and the
    int8 id of the frontmost part (index into `geom.part_names`, NO_PART = background).

    Each primitive is evaluated only inside its bounding window, so the cost follows the
    hand's area rather than the image's.
    """
    n = geom.joints.shape[0]
    f32 = lambda v: np.asarray(v, dtype=np.float32)  # noqa: E731 - half the memory traffic of float64
    px_per_mm = f32(size / geom.crop_mm)  # (n,)
    origin = f32(geom.crop_center - (geom.crop_mm / 2)[:, None])  # mm at the image's top-left corner
    depth = np.full((n, size, size), np.inf, dtype=np.float32)
    part = np.full((n, size, size), NO_PART, dtype=np.int8)
    batch = np.arange(n)[:, None, None]
    depth_flat, part_flat = depth.reshape(-1), part.reshape(-1)  # views: writes land in depth, part

    def to_px(v: np.ndarray, axis: int) -> np.ndarray:  # mm -> continuous pixel coordinate
        return (v - origin[:, axis]) * px_per_mm - 0.5

    def draw(part_id: int, lo: np.ndarray, hi: np.ndarray, surface) -> None:
        cols = _pixel_grid(to_px(lo[:, 0], 0), to_px(hi[:, 0], 0), size)
        rows = _pixel_grid(to_px(lo[:, 1], 1), to_px(hi[:, 1], 1), size)
        xs = ((cols.astype(np.float32) + 0.5) / px_per_mm[:, None] + origin[:, :1])[:, None, :]
        ys = ((rows.astype(np.float32) + 0.5) / px_per_mm[:, None] + origin[:, 1:])[:, :, None]
        z = surface(xs, ys)
        flat = (batch * size + rows[:, :, None]) * size + cols[:, None, :]
        closer = z < depth_flat[flat]
        hit = flat[closer]
        depth_flat[hit] = z[closer]
        part_flat[hit] = part_id

    for i in range(geom.capsules.shape[1]):
        a, b = f32(geom.capsules[:, i, 0]), f32(geom.capsules[:, i, 1])
        r = f32(geom.capsule_radii[:, i])
        lo = np.minimum(a, b)[:, :2] - r[:, None]
        hi = np.maximum(a, b)[:, :2] + r[:, None]
        draw(i, lo, hi, lambda x, y: _capsule_depth(x, y, a, b, r))
    # The ellipsoid's silhouette half-widths along x, y are sqrt of the inverse matrix' diagonal.
    half = np.sqrt(np.diagonal(np.linalg.inv(geom.ellipsoid_matrix), axis1=1, axis2=2))[:, :2]
    c, mat = f32(geom.ellipsoid_center), f32(geom.ellipsoid_matrix)
    draw(geom.capsules.shape[1], c[:, :2] - half, c[:, :2] + half, lambda x, y: _ellipsoid_depth(x, y, c, mat))
    return depth, part


def depth_center(depth_mm: np.ndarray) -> np.ndarray:
    """(n,) median depth of each image's hand pixels: the centre c of the stored depth range."""
    flat = depth_mm.reshape(depth_mm.shape[0], -1)
    masked = np.where(np.isfinite(flat), flat, np.nan)
    return np.nanmedian(masked, axis=1)


def depth_units(depth_mm: np.ndarray, center_mm: np.ndarray, cube_mm: float) -> np.ndarray:
    """Depth in mm -> the stored scale, unrounded: c - cube/2 .. c + cube/2 -> 1 .. 254."""
    c = np.reshape(center_mm, center_mm.shape + (1,) * (depth_mm.ndim - center_mm.ndim))
    normalized = np.clip((depth_mm - c) / (cube_mm / 2), -1.0, 1.0)
    return NEAR_VALUE + (normalized + 1.0) * ((FAR_VALUE - NEAR_VALUE) / 2)


def encode_depth(depth_mm: np.ndarray, center_mm: np.ndarray, cube_mm: float) -> np.ndarray:
    """Depth images in mm (n, H, W; inf or nan = nothing) -> uint8 with 255 = background.

    Nearer than c - cube/2 clamps to 1; farther than c + cube/2 is background, as a depth
    camera's hand crop drops the room behind the hand.
    """
    c = np.reshape(center_mm, (-1, 1, 1))
    beyond = ~(depth_mm <= c + cube_mm / 2)  # also true for inf / nan
    with np.errstate(invalid="ignore"):
        values = np.round(depth_units(np.where(beyond, c, depth_mm), center_mm, cube_mm))
    return np.where(beyond, BACKGROUND, values).astype(np.uint8)


def upsample_nearest(images: np.ndarray, size: int) -> np.ndarray:
    """(n, h, w) -> (n, size, size) by pixel repetition (averaging would invent depths)."""
    factor = size // images.shape[1]
    if factor * images.shape[1] != size or images.shape[1] != images.shape[2]:
        raise ValueError(f"upsample_nearest: {images.shape[1:]} does not divide {size} x {size}")
    return images if factor == 1 else images.repeat(factor, axis=1).repeat(factor, axis=2)


def joint_labels(geom: HandGeometry, center_mm: np.ndarray, size: int, cube_mm: float) -> np.ndarray:
    """(n, 14, 3) float32 joints: u, v in output pixels (centres at integers), d in stored units."""
    px_per_mm = (size / geom.crop_mm)[:, None]
    origin = geom.crop_center - (geom.crop_mm / 2)[:, None]
    u = (geom.joints[:, :, 0] - origin[:, :1]) * px_per_mm - 0.5
    v = (geom.joints[:, :, 1] - origin[:, 1:]) * px_per_mm - 0.5
    d = depth_units(geom.joints[:, :, 2], center_mm[:, None], cube_mm)
    return np.stack([u, v, d], axis=-1).astype(np.float32)


@dataclass
class RenderedBatch:
    """One rendered batch: clean depth at render resolution, its part ids, labels, centres."""

    depth_mm: np.ndarray  # (n, render_size, render_size) float32, inf = background
    part: np.ndarray  # (n, render_size, render_size) int8
    center_mm: np.ndarray  # (n,) c of the stored depth range
    joints_uvd: np.ndarray  # (n, 14, 3) float32 in output-image pixels / stored units
    geometry: HandGeometry
    params: dict[str, np.ndarray]


def render_batch(rng: np.random.Generator, n: int, cfg: HandRenderConfig = DEFAULT_RENDER_CONFIG,
                 anatomy: HandAnatomy = DEFAULT_ANATOMY) -> RenderedBatch:
    """Sample `n` hands from `rng`, render their clean depth and compute the labels."""
    if cfg.size % cfg.render_size:
        raise ValueError(f"HandRenderConfig: render_size {cfg.render_size} must divide size {cfg.size}")
    params = sample_params(rng, n, cfg)
    geom = hand_geometry(params, cfg, anatomy)
    depth, part = render_depth(geom, cfg.render_size)
    center = depth_center(depth)
    return RenderedBatch(depth, part, center, joint_labels(geom, center, cfg.size, cfg.cube_mm), geom, params)


def stored_images(depth_mm: np.ndarray, batch: RenderedBatch, cfg: HandRenderConfig = DEFAULT_RENDER_CONFIG) -> np.ndarray:
    """Depth of `batch`'s hands (clean or a sensor's reading, render grid) as stored: (n, size,
    size, 1) uint8, encoded around the clean render's centre so every domain shares its scale."""
    return upsample_nearest(encode_depth(depth_mm, batch.center_mm, cfg.cube_mm), cfg.size)[..., None]


def to_uint8(batch: RenderedBatch, cfg: HandRenderConfig = DEFAULT_RENDER_CONFIG) -> np.ndarray:
    """The synthetic domain's stored images: (n, size, size, 1) uint8 of the clean depth."""
    return stored_images(batch.depth_mm, batch, cfg)
