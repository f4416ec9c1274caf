"""Convert a refiner to TFLite: float32, float16, dynamic-range int8 and full-integer int8.

All flavours are converted from one SavedModel written for the converter:
- `refine_float` (float32 [-1, 1] in and out) is the source of the three float-I/O flavours;
- `serving_default` takes float pixels 0..255 through a fixed [0, 255] fake-quant, so the
  full-integer model's uint8 input has scale 1 and zero point 0 whatever the calibration
  images span: a device feeds raw camera pixels. Its output range is calibrated on the
  representative images (uint8 with the output's scale and zero point).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import keras
import numpy as np
import tensorflow as tf

from simgan_tf.data import to_model_range
from simgan_tf.export.contract import FLOAT_SIGNATURE, INPUT_KEY, OUTPUT_KEY, SERVING_SIGNATURE
from simgan_tf.export.saved_model import serving_functions
from simgan_tf.export.settings import FLAVOURS

PIXEL_MAX = 255.0


def _pixel_function(refiner: keras.Model, shape: tuple[int, int, int]) -> Callable:
    expected = [None, *shape]

    def refine_pixels(images: tf.Tensor) -> dict[str, tf.Tensor]:
        """float32 pixels 0..255 -> refined float32 pixels 0..255 (full-integer source)."""
        images = tf.ensure_shape(images, expected)
        # Pins the quantized input to scale 1, zero point 0 (uint8 pixel == real pixel).
        pinned = tf.quantization.fake_quant_with_min_max_args(images, min=0.0, max=PIXEL_MAX, num_bits=8)
        refined = refiner(to_model_range(pinned), training=False)
        return {OUTPUT_KEY: (refined + 1.0) * (PIXEL_MAX / 2.0)}

    return refine_pixels


def write_conversion_source(refiner: keras.Model, shape: tuple[int, int, int], path: str | os.PathLike) -> None:
    """SavedModel the converter reads (not served: its `serving_default` takes float pixels)."""
    archive = keras.export.ExportArchive()
    archive.track(refiner)
    archive.add_endpoint(
        FLOAT_SIGNATURE,
        serving_functions(refiner, shape)[FLOAT_SIGNATURE],
        input_signature=[tf.TensorSpec([None, *shape], tf.float32, name=INPUT_KEY)],
    )
    archive.add_endpoint(
        SERVING_SIGNATURE,
        _pixel_function(refiner, shape),
        input_signature=[tf.TensorSpec([None, *shape], tf.float32, name=INPUT_KEY)],
    )
    archive.write_out(str(path), verbose=False)


def _representative(images: np.ndarray) -> Callable[[], Iterator[list[np.ndarray]]]:
    pixels = np.asarray(images, np.float32)

    def generate() -> Iterator[list[np.ndarray]]:
        for i in range(len(pixels)):
            yield [pixels[i : i + 1]]

    return generate


def convert(source_dir: str | os.PathLike, flavour: str, representative: np.ndarray | None = None) -> bytes:
    """One flavour from a `write_conversion_source` SavedModel. `representative`: uint8
    images [N, H, W, C] calibrating full-integer int8 (required for it, unused otherwise)."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown TFLite flavour {flavour!r}; expected one of {list(FLAVOURS)}")
    signature = SERVING_SIGNATURE if flavour == "int8" else FLOAT_SIGNATURE
    converter = tf.lite.TFLiteConverter.from_saved_model(str(source_dir), signature_keys=[signature])
    if flavour == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif flavour == "dynamic_int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # int8 weights, float activations
    elif flavour == "int8":
        if representative is None or len(representative) == 0:
            raise ValueError("full-integer int8 conversion needs representative uint8 images")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _representative(representative)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    return converter.convert()


def convert_refiner(
    refiner: keras.Model,
    shape: tuple[int, int, int],
    flavours: tuple[str, ...] = FLAVOURS,
    representative: np.ndarray | None = None,
) -> dict[str, bytes]:
    """Every requested flavour of `refiner`, as .tflite bytes keyed by flavour."""
    with tempfile.TemporaryDirectory(prefix="simgan-tflite-") as tmp:
        source = Path(tmp) / "source"
        write_conversion_source(refiner, shape, source)
        return {flavour: convert(source, flavour, representative) for flavour in flavours}
