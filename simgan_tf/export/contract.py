"""The serving contract of an exported refiner: signature names, tensor names, dtypes, ranges.

One place for the names TF Serving clients, the TFLite runner and the refine command
agree on, and for the input check that turns a wrong shape or dtype into an error naming
the expected shape instead of a TensorFlow stack trace.
"""
from __future__ import annotations

from typing import Any

import numpy as np

SERVING_SIGNATURE = "serving_default"  # uint8 pixels in, uint8 pixels out
FLOAT_SIGNATURE = "refine_float"  # float32 [-1, 1] in, float32 [-1, 1] out
INPUT_KEY = "images"
OUTPUT_KEY = "refined_images"
WARMUP_FILE = "tf_serving_warmup_requests"  # inside <version>/assets.extra/ (TF Serving convention)


class InputShapeError(ValueError):
    """Images handed to an exported refiner do not match its input signature."""


def signature_doc(shape: tuple[int, int, int]) -> dict[str, Any]:
    """Human- and machine-readable description of both signatures (goes into export.json)."""
    batch_shape = [None, *shape]
    return {
        SERVING_SIGNATURE: {
            "doc": "Refine uint8 images: pixels 0..255 in, refined pixels 0..255 out "
            "(rounded and clipped). Dynamic batch dimension; height, width and channels fixed.",
            "inputs": {INPUT_KEY: {"dtype": "uint8", "shape": batch_shape, "range": [0, 255]}},
            "outputs": {OUTPUT_KEY: {"dtype": "uint8", "shape": batch_shape, "range": [0, 255]}},
        },
        FLOAT_SIGNATURE: {
            "doc": "Refine float images in the library's range: x = pixel / 127.5 - 1 in [-1, 1] "
            "in, the refiner's tanh output in [-1, 1] out (pixel = (y + 1) * 127.5).",
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
