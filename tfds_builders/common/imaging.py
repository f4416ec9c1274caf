"""Decoding the real datasets' image files, and crop-and-resize that moves labels with pixels.

Crop boxes live in continuous source coordinates: pixel (row i, column j) covers [j, j+1) x
[i, i+1). A box (x0, y0, w, h) resized to (out_w, out_h) maps a continuous point (x, y) to
((x - x0) * out_w / w, (y - y0) * out_h / h) -- the mapping Pillow's `resize(box=...)` uses for
pixel centres, so labels and pixels stay aligned exactly. Output labels follow the project's
convention (as the procedural builders): pixel (i, j) has its centre at x = j, y = i.
"""
from __future__ import annotations

import dataclasses
import math
import os
from typing import Literal

import numpy as np
from PIL import Image

from tfds_builders.common.errors import BadInputError

# ITU-R BT.601 luma weights: what Pillow's convert("L") and OpenCV's BGR2GRAY use.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_PIL_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


@dataclasses.dataclass(frozen=True)
class CropBox:
    """A crop rectangle in continuous source-pixel coordinates (may extend past the image)."""

    x0: float
    y0: float
    width: float
    height: float

    def map_points(
        self,
        xy: np.ndarray,
        out_width: int,
        out_height: int,
        source: Literal["continuous", "pixel_centres"],
    ) -> np.ndarray:
        """Source (..., 2) x, y -> output x, y (pixel centres at integers) after crop + resize.

        `source` says how the input is measured: "continuous" (centre of pixel j at j + 0.5, e.g.
        Unity screen points) or "pixel_centres" (centre of pixel j at j, e.g. NYU's uvd).
        """
        xy = np.asarray(xy, dtype=np.float64) + (0.5 if source == "pixel_centres" else 0.0)
        scale = np.array([out_width / self.width, out_height / self.height])
        return (xy - np.array([self.x0, self.y0])) * scale - 0.5


def crop_and_resize(
    image: np.ndarray,
    box: CropBox,
    out_height: int,
    out_width: int,
    resample: Literal["box", "nearest"],
    pad_value: float | None = None,
) -> np.ndarray:
    """Crop a 2-D float image to `box` and resize it to out_height x out_width (float32).

    "box" averages the source area under each output pixel (antialiased downscaling, what
    OpenCV calls INTER_AREA); "nearest" never mixes values (used for depth, where averaging
    hand and background would invent depths that exist nowhere). Parts of the box outside
    the image are filled with `pad_value`, or with the nearest edge pixel when it is None.
    """
    if image.ndim != 2:
        raise ValueError(f"crop_and_resize: expected a 2-D image, got shape {image.shape}")
    if box.width <= 0 or box.height <= 0:
        raise ValueError(f"crop_and_resize: empty crop box {box}")
    h, w = image.shape
    pad_left = max(0, math.ceil(-box.x0))
    pad_top = max(0, math.ceil(-box.y0))
    pad_right = max(0, math.ceil(box.x0 + box.width - w))
    pad_bottom = max(0, math.ceil(box.y0 + box.height - h))
    source = image.astype(np.float32, copy=False)
    if pad_left or pad_top or pad_right or pad_bottom:
        widths = ((pad_top, pad_bottom), (pad_left, pad_right))
        if pad_value is None:
            source = np.pad(source, widths, mode="edge")
        else:
            source = np.pad(source, widths, mode="constant", constant_values=pad_value)
    x0, y0 = box.x0 + pad_left, box.y0 + pad_top
    filters = {"box": Image.Resampling.BOX, "nearest": Image.Resampling.NEAREST}
    resized = Image.fromarray(source, mode="F").resize(
        (out_width, out_height),
        resample=filters[resample],
        box=(x0, y0, x0 + box.width, y0 + box.height),
    )
    return np.asarray(resized, dtype=np.float32)


def _open_image(path: str | os.PathLike, fmt: str) -> Image.Image:
    try:
        img = Image.open(path)
        img.load()  # Pillow decodes lazily; force it so truncation shows up here
    except FileNotFoundError:
        raise BadInputError(path, "file is missing", f"a {fmt} image") from None
    except _PIL_ERRORS as err:
        raise BadInputError(path, f"not a readable {fmt} image ({err})", f"a complete {fmt} file") from None
    if img.format != fmt:
        raise BadInputError(path, f"is a {img.format} image", f"a {fmt} image")
    return img


def read_rgb_image(path: str | os.PathLike, fmt: str = "JPEG") -> np.ndarray:
    """Decode an RGB image file -> uint8 (H, W, 3)."""
    img = _open_image(path, fmt)
    if img.mode not in ("RGB", "L"):
        raise BadInputError(path, f"has colour mode {img.mode}", "an RGB (or grayscale) image")
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) RGB -> float32 (H, W) luma, unrounded (rounded once, after resizing)."""
    return rgb.astype(np.float32) @ _LUMA


def read_depth_png(path: str | os.PathLike, size: tuple[int, int]) -> np.ndarray:
    """NYU depth PNG -> int32 (H, W) depth in mm = G * 256 + B (the red channel is unused).

    `size` is the expected (width, height); a different size is an error, because joint
    labels are in that frame's pixel coordinates.
    """
    img = _open_image(path, "PNG")
    if img.mode != "RGB":
        raise BadInputError(path, f"has colour mode {img.mode}", "an 8-bit RGB PNG (depth = G * 256 + B)")
    if img.size != tuple(size):
        raise BadInputError(path, f"is {img.size[0]} x {img.size[1]} pixels", f"{size[0]} x {size[1]}")
    rgb = np.asarray(img, dtype=np.int32)
    if _is_gray_picture(rgb):
        raise BadInputError(
            path, "has R = G = B on every pixel: a grayscale picture, not packed depth",
            "depth in mm packed as G * 256 + B (an NYU depth_*/synthdepth_* PNG)",
        )
    return rgb[..., 1] * 256 + rgb[..., 2]


def _is_gray_picture(rgb: np.ndarray) -> bool:
    """True for an RGB image whose three channels are equal and not all zero.

    A depth visualisation re-saved as RGB looks like this. Packed depth does not: NYU leaves R
    at 0, so equal channels would mean a frame with no depth at all (which this lets through).
    """
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return bool(g.any()) and np.array_equal(r, g) and np.array_equal(g, b)
