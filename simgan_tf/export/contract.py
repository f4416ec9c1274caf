"""The serving contract of an exported refiner: signature names, tensor names, dtypes, ranges.

One place for the names TF Serving clients, the TFLite runner and the refine command
agree on, and for the input check that turns a wrong shape or dtype into an error naming
the expected shape instead of a TensorFlow stack trace.
"""
from __future__ import annotations

from typing import Any

import numpy as np

SERVING_SIGNATURE = "serving_default"  # pixels in, pixels out: uint8, or uint16 for a depth run
FLOAT_SIGNATURE = "refine_float"  # float32 [-1, 1] in, float32 [-1, 1] out
INPUT_KEY = "images"
OUTPUT_KEY = "refined_images"
WARMUP_FILE = "tf_serving_warmup_requests"  # inside <version>/assets.extra/ (TF Serving convention)
# Storage dtypes a refiner serves and the half range that maps them to the model range:
# x = pixel / half_range - 1 in [-1, 1] (simgan_tf.data.to_model_range).
PIXEL_DTYPES = ("uint8", "uint16")
_HALF_RANGE = {"uint8": 127.5, "uint16": 32767.5}


def pixel_dtype(dtype: Any) -> np.dtype:
    """np.dtype of a serving dtype (name, numpy or TF dtype); ValueError unless uint8 or uint16."""
    try:
        resolved = np.dtype(getattr(dtype, "as_numpy_dtype", dtype))  # tf.DType -> numpy
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in PIXEL_DTYPES:
        raise ValueError(f"image dtype {dtype!r}: expected one of {list(PIXEL_DTYPES)}")
    return resolved


def half_range(dtype: Any) -> float:
    """127.5 for uint8, 32767.5 for uint16."""
    return _HALF_RANGE[pixel_dtype(dtype).name]


def pixel_max(dtype: Any) -> int:
    """255 for uint8, 65535 for uint16."""
    return int(np.iinfo(pixel_dtype(dtype)).max)


class InputShapeError(ValueError):
    """Images handed to an exported refiner do not match its input signature."""


def image_doc(dtype: Any = "uint8") -> dict[str, Any]:
    """The pixel contract of an export: storage dtype, range and the map to [-1, 1]."""
    name, half = pixel_dtype(dtype).name, half_range(dtype)
    return {
        "dtype": name,
        "range": [0, pixel_max(name)],
        "to_model_range": f"x = pixel / {half:g} - 1",
        "from_model_range": f"pixel = round(clip((y + 1) * {half:g}, 0, {pixel_max(name)}))",
        "doc": ("16-bit depth (e.g. NYU hand: value / 65535 * 2 - 1 is the hand-centred depth in [-1, 1]); "
                "uint8 images are refused, never rescaled" if name == "uint16"
                else "8-bit pixels; 16-bit images are refused, never rescaled"),
    }


def signature_doc(shape: tuple[int, int, int], dtype: Any = "uint8") -> dict[str, Any]:
    """Human- and machine-readable description of both signatures (goes into export.json).

    `dtype` is the run's storage dtype: serving_default takes and returns it (uint8 pixels
    0..255, or uint16 depth 0..65535); refine_float is the same for every dtype.
    """
    batch_shape = [None, *shape]
    name, top, half = pixel_dtype(dtype).name, pixel_max(dtype), half_range(dtype)
    what = "uint8 images: pixels" if name == "uint8" else "uint16 depth images: values"
    return {
        SERVING_SIGNATURE: {
            "doc": f"Refine {what} 0..{top} in, refined {'pixels' if name == 'uint8' else 'values'} 0..{top} "
            "out (rounded and clipped). Dynamic batch dimension; height, width and channels fixed.",
            "inputs": {INPUT_KEY: {"dtype": name, "shape": batch_shape, "range": [0, top]}},
            "outputs": {OUTPUT_KEY: {"dtype": name, "shape": batch_shape, "range": [0, top]}},
        },
        FLOAT_SIGNATURE: {
            "doc": f"Refine float images in the library's range: x = pixel / {half:g} - 1 in [-1, 1] "
            f"in, the refiner's tanh output in [-1, 1] out (pixel = (y + 1) * {half:g}).",
            "inputs": {INPUT_KEY: {"dtype": "float32", "shape": batch_shape, "range": [-1.0, 1.0]}},
            "outputs": {OUTPUT_KEY: {"dtype": "float32", "shape": batch_shape, "range": [-1.0, 1.0]}},
        },
    }


def check_images(images: Any, shape: tuple[int, int, int], dtype: np.dtype | type, model: str) -> np.ndarray:
    """Return `images` as an array of [batch, *shape] and `dtype`, or raise InputShapeError.

    A single image of `shape` is accepted and gets a batch dimension of 1.
    """
    array = np.asarray(images)
    expected_dtype = np.dtype(dtype)
    if array.ndim == len(shape):
        array = array[np.newaxis]
    expected = f"[batch, {', '.join(str(d) for d in shape)}] {expected_dtype.name}"
    if array.ndim != len(shape) + 1 or tuple(array.shape[1:]) != tuple(shape):
        raise InputShapeError(
            f"{model} expects images of shape {expected}; got shape {list(array.shape)} "
            f"{array.dtype.name}"
        )
    if array.dtype != expected_dtype:
        raise InputShapeError(
            f"{model} expects images of shape {expected}; got dtype {array.dtype.name} "
            f"(shape {list(array.shape)})"
        )
    return array
