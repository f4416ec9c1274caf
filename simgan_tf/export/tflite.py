"""Convert a refiner to TFLite: float32, float16, dynamic-range int8 and full-integer int8.

The flavours are converted from SavedModels written for the converter:
- `refine_float` (float32 [-1, 1] in and out) is the source of the three float-I/O flavours;
- `serving_default` takes float pixels 0..255 through a fixed [0, 255] fake-quant, so the
  full-integer model's uint8 input has scale 1 and zero point 0 whatever the calibration
  images span: a device feeds raw camera pixels. Its output range is calibrated on the
  representative images (uint8 with the output's scale and zero point).

A uint16 (depth) run's flavours float32, float16 and dynamic_int8 are converted from its
`serving_default` instead: uint16 in, CAST to float32 and scaled in the graph, uint16 out
(rounded and clipped), as the SavedModel serves it; LiteRT runs CAST on uint16 tensors.
Full-integer int8 is refused for such runs (settings.UINT16_UNSUPPORTED): its I/O can only be
float32, int8, uint8 or int16 and its activations are 8-bit.
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
from simgan_tf.export.contract import pixel_dtype
from simgan_tf.export.settings import FLAVOURS, UINT16_FLAVOURS, UINT16_UNSUPPORTED

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


def write_conversion_sources(
    refiner: keras.Model, shape: tuple[int, int, int], directory: str | os.PathLike, dtype: str = "uint8"
) -> dict[str, Path]:
    """SavedModels the converter reads (not served), one per source signature.

    Two directories, not one: a fake-quant op anywhere in a SavedModel makes the converter
    treat it as quantization-aware and silently skip float16 / dynamic-range weight
    quantization, even for a signature without it. A uint16 run has one source: its
    `serving_default` with uint16 pixels in and out.
    """
    spec = [tf.TensorSpec([None, *shape], tf.float32, name=INPUT_KEY)]
    if pixel_dtype(dtype) == np.uint16:
        specs = {SERVING_SIGNATURE: [tf.TensorSpec([None, *shape], tf.uint16, name=INPUT_KEY)]}
        sources = {SERVING_SIGNATURE: serving_functions(refiner, shape, "uint16")[SERVING_SIGNATURE]}
    else:
        specs = {FLOAT_SIGNATURE: spec, SERVING_SIGNATURE: spec}
        sources = {
            FLOAT_SIGNATURE: serving_functions(refiner, shape)[FLOAT_SIGNATURE],
            SERVING_SIGNATURE: _pixel_function(refiner, shape),
        }
    paths = {}
    for signature, fn in sources.items():
        archive = keras.export.ExportArchive()
        archive.track(refiner)
        archive.add_endpoint(signature, fn, input_signature=specs[signature])
        paths[signature] = Path(directory) / signature
        archive.write_out(str(paths[signature]), verbose=False)
    return paths


def _representative(images: np.ndarray) -> Callable[[], Iterator[list[np.ndarray]]]:
    pixels = np.asarray(images, np.float32)

    def generate() -> Iterator[list[np.ndarray]]:
        for i in range(len(pixels)):
            yield [pixels[i : i + 1]]

    return generate


def source_signature(flavour: str, dtype: str = "uint8") -> str:
    """The full-integer model takes pixels (`serving_default`); the others `refine_float`.
    Every flavour of a uint16 run takes uint16 pixels (`serving_default`)."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown TFLite flavour {flavour!r}; expected one of {list(FLAVOURS)}")
    if pixel_dtype(dtype) == np.uint16:
        if flavour not in UINT16_FLAVOURS:
            raise ValueError(f"TFLite flavour {flavour!r}: {UINT16_UNSUPPORTED[flavour]}; expected one of "
                             f"{list(UINT16_FLAVOURS)} for a uint16 run")
        return SERVING_SIGNATURE
    return SERVING_SIGNATURE if flavour == "int8" else FLOAT_SIGNATURE


def convert(
    source_dir: str | os.PathLike, flavour: str, representative: np.ndarray | None = None, dtype: str = "uint8"
) -> bytes:
    """One flavour from its `write_conversion_sources` SavedModel. `representative`: uint8
    images [N, H, W, C] calibrating full-integer int8 (required for it, unused otherwise).
    `dtype`: the run's image dtype (uint16: the source takes and returns uint16 pixels)."""
    signature = source_signature(flavour, dtype)
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
    dtype: str = "uint8",
) -> dict[str, bytes]:
    """Every requested flavour of `refiner`, as .tflite bytes keyed by flavour. `dtype`: the
    run's image dtype; for "uint16" the flavours take and return uint16 (int8 is refused)."""
    if not flavours:
        return {}
    for flavour in flavours:
        source_signature(flavour, dtype)  # refuse before converting anything
    with tempfile.TemporaryDirectory(prefix="simgan-tflite-") as tmp:
        sources = write_conversion_sources(refiner, shape, tmp, dtype)
        return {f: convert(sources[source_signature(f, dtype)], f, representative, dtype) for f in flavours}
