"""Convert a refiner to TFLite: float32, float16, dynamic-range int8 and full-integer int8.

The flavours are converted from SavedModels written for the converter:
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


def write_conversion_sources(refiner: keras.Model, shape: tuple[int, int, int], directory: str | os.PathLike) -> dict[str, Path]:
    """SavedModels the converter reads (not served), one per source signature.

    Two directories, not one: a fake-quant op anywhere in a SavedModel makes the converter
    treat it as quantization-aware and silently skip float16 / dynamic-range weight
    quantization, even for a signature without it.
    """
    spec = [tf.TensorSpec([None, *shape], tf.float32, name=INPUT_KEY)]
    sources = {
        FLOAT_SIGNATURE: serving_functions(refiner, shape)[FLOAT_SIGNATURE],
        SERVING_SIGNATURE: _pixel_function(refiner, shape),
    }
    paths = {}
    for signature, fn in sources.items():
        archive = keras.export.ExportArchive()
        archive.track(refiner)
        archive.add_endpoint(signature, fn, input_signature=spec)
        paths[signature] = Path(directory) / signature
        archive.write_out(str(paths[signature]), verbose=False)
    return paths


def _representative(images: np.ndarray) -> Callable[[], Iterator[list[np.ndarray]]]:
    pixels = np.asarray(images, np.float32)

    def generate() -> Iterator[list[np.ndarray]]:
        for i in range(len(pixels)):
            yield [pixels[i : i + 1]]

    return generate


def source_signature(flavour: str) -> str:
    """The full-integer model takes pixels (`serving_default`); the others `refine_float`."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown TFLite flavour {flavour!r}; expected one of {list(FLAVOURS)}")
    return SERVING_SIGNATURE if flavour == "int8" else FLOAT_SIGNATURE


def convert(source_dir: str | os.PathLike, flavour: str, representative: np.ndarray | None = None) -> bytes:
    """One flavour from its `write_conversion_sources` SavedModel. `representative`: uint8
    images [N, H, W, C] calibrating full-integer int8 (required for it, unused otherwise)."""
    signature = source_signature(flavour)
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
    if not flavours:
        return {}
    with tempfile.TemporaryDirectory(prefix="simgan-tflite-") as tmp:
        sources = write_conversion_sources(refiner, shape, tmp)
        return {f: convert(sources[source_signature(f)], f, representative) for f in flavours}
