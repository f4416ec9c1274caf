"""Write the tiny UnityEyes fixture: N.jpg renders with N.json beside them, in UnityEyes' format.

Run from anywhere: `python tfds_builders/unity_eyes/dummy_data/make_dummy_data.py`. The renders
are 160 x 120 drawings (skin, a white eye opening, a dark iris) whose JSON landmarks are written
the way UnityEyes writes them: "(x, y, z)" strings with y measured up from the bottom edge, and
a look vector "(x, y, z, 0.0000)" in Unity camera space (y up, looking at the camera = -z).

Geometry shared by every render (pixel coordinates from the top-left): the eye opening is an
ellipse centred at (80, 60) with semi-axes 22 x 9, so its bounding box is x 58..102, y 51..69.
The builder's crop is 1.5 x 44 = 66 px wide and 42 px high at x0 = 47, y0 = 39, i.e. a 6/5
downscale to 55 x 35. The iris (radius 9) is centred at (80 + dx, 60 + dy).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent
WIDTH, HEIGHT = 160, 120
EYE_CENTRE = (80.0, 60.0)
EYE_AXES = (22.0, 9.0)
IRIS_RADIUS = 9.0
SKIN_RGB = (200, 150, 120)  # luma 0.299*200 + 0.587*150 + 0.114*120 = 161.53
SCLERA_RGB = (230, 230, 230)
IRIS_RGB = (40, 40, 40)

# stem: (iris offset dx, dy in pixels, Unity look vector). Stem 63 hashes into the test split.
RENDERS = {
    "1": ((0.0, 0.0), (0.0, 0.0, -1.0)),
    "2": ((6.0, 0.0), (0.5, 0.0, -math.sqrt(0.75))),  # looks to the image right
    "3": ((-6.0, 0.0), (-0.5, 0.0, -math.sqrt(0.75))),  # looks to the image left
    "4": ((0.0, -3.0), (0.0, 0.5, -math.sqrt(0.75))),  # looks up (Unity y is up)
    "63": ((3.0, 2.0), (0.2, -0.3, -math.sqrt(0.87))),
}


def fmt(*values: float) -> str:
    """Unity's Vector.ToString("F4")."""
    return "(" + ", ".join(f"{v:.4f}" for v in values) + ")"


def ellipse_points(cx: float, cy: float, rx: float, ry: float, n: int) -> list[tuple[float, float]]:
    """n points from the left end, over the top, as UnityEyes orders its eyelid margin
    (point 0 near the caruncle on the image left, point 8 the outer corner on the right)."""
    angles = [2 * math.pi * k / n for k in range(n)]
    return [(cx - rx * math.cos(t), cy - ry * math.sin(t)) for t in angles]


def to_unity(points: list[tuple[float, float]], z: float) -> list[str]:
    """Top-left pixel coordinates -> UnityEyes strings (y from the bottom edge)."""
    return [fmt(x, HEIGHT - y, z) for x, y in points]


def write_render(stem: str, offset: tuple[float, float], look: tuple[float, float, float]) -> None:
    iris_centre = (EYE_CENTRE[0] + offset[0], EYE_CENTRE[1] + offset[1])
    img = Image.new("RGB", (WIDTH, HEIGHT), SKIN_RGB)
    draw = ImageDraw.Draw(img)
    (cx, cy), (rx, ry) = EYE_CENTRE, EYE_AXES
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=SCLERA_RGB)
    ix, iy = iris_centre
    draw.ellipse((ix - IRIS_RADIUS, iy - IRIS_RADIUS, ix + IRIS_RADIUS, iy + IRIS_RADIUS), fill=IRIS_RGB)
    img.save(OUT / f"{stem}.jpg", quality=95)

    margin = ellipse_points(cx, cy, rx, ry, 16)
    caruncle = ellipse_points(cx - rx - 3.0, cy, 2.0, 1.5, 7)
    iris = ellipse_points(ix, iy, IRIS_RADIUS, IRIS_RADIUS, 32)
    data = {
        "interior_margin_2d": to_unity(margin, 9.6),
        "caruncle_2d": to_unity(caruncle, 9.7),
        "iris_2d": to_unity(iris, 9.0),
        "eye_details": {
            "look_vec": fmt(*look, 0.0),
            "pupil_size": "0.0123414",
            "iris_size": "0.9058223",
            "iris_texture": "eyeball_brown",
        },
        "lighting_details": {
            "skybox_texture": "cubemap_0",
            "skybox_exposure": "1.0",
            "skybox_rotation": "0",
            "ambient_intensity": "0.8",
            "light_rotation": fmt(40.0, 200.0, 0.0),
            "light_intensity": "1.0",
        },
        "eye_region_details": {"pca_shape_coeffs": ["0.1", "-0.2"], "primary_skin_texture": "m01"},
        "head_pose": fmt(351.9, 179.5, 0.0),
    }
    (OUT / f"{stem}.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    for stem, (offset, look) in RENDERS.items():
        write_render(stem, offset, look)
    print(f"wrote {len(RENDERS)} renders to {OUT}")


if __name__ == "__main__":
    main()
