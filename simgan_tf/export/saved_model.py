"""SavedModel export in the layout TF Serving loads, its warm-up records, and a loader.

TF Serving watches `<model_root>/<integer version>/` directories; each holds a SavedModel
with a `serving_default` signature (pixels of the run's storage dtype in and out: uint8, or
uint16 for depth runs) and optionally `assets.extra/tf_serving_warmup_requests`,
PredictionLog records it replays before marking the version available (so the first real
request does not pay for graph initialisation).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

from simgan_tf.data import from_model_range, to_model_range
from simgan_tf.export.contract import (
    FLOAT_SIGNATURE,
    INPUT_KEY,
    OUTPUT_KEY,
    SERVING_SIGNATURE,
    WARMUP_FILE,
    InputShapeError,
    check_images,
    pixel_dtype,
)

SAVED_MODEL_FILE = "saved_model.pb"
ASSETS_EXTRA = "assets.extra"


class ExportError(RuntimeError):
    """An export cannot go ahead (bad name, existing version, unusable input)."""


class VersionExistsError(ExportError, FileExistsError):
    """The requested version directory exists and --overwrite was not given."""


# --------------------------------------------------------------------------------------
# Version directories
def existing_versions(model_root: str | os.PathLike) -> list[int]:
    """Integer-named subdirectories of `model_root`, sorted (what TF Serving treats as versions)."""
    root = Path(model_root)
    if not root.is_dir():
        return []
    return sorted(int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit())


def resolve_version(model_root: str | os.PathLike, version: int | None, overwrite: bool) -> int:
    """The version to write: `version`, or one past the newest; never an existing one unless
    `overwrite` (checked before any expensive work)."""
    versions = existing_versions(model_root)
    if version is None:
        return (versions[-1] + 1) if versions else 1
    if version < 1:
        raise ExportError(f"--version must be a positive integer (TF Serving version); got {version}")
    target = Path(model_root) / str(version)
    if target.exists() and not overwrite:
        nxt = (versions[-1] + 1) if versions else 1
        raise VersionExistsError(
            f"{target} already exists: pass --overwrite to replace it, or omit --version to "
            f"write version {nxt}"
        )
    return version


# --------------------------------------------------------------------------------------
# Signatures
def _batch_spec(shape: tuple[int, int, int], dtype: tf.DType) -> tf.TensorSpec:
    return tf.TensorSpec([None, *shape], dtype, name=INPUT_KEY)


def serving_functions(
    refiner: keras.Model, shape: tuple[int, int, int], dtype: Any = "uint8"
) -> dict[str, Callable]:
    """The two serving endpoints; `tf.ensure_shape` makes a wrong H x W x C fail inside the
    graph with the expected shape in the message (TF Serving passes it on to the client).
    `dtype`: the pixels serving_default takes and returns (uint8, or uint16 depth)."""
    expected = [None, *shape]
    pixels = tf.as_dtype(pixel_dtype(dtype))

    def serve_pixels(images: tf.Tensor) -> dict[str, tf.Tensor]:
        """uint8 [batch, H, W, C] pixels 0..255 (uint16 0..65535) -> refined pixels, same dtype."""
        images = tf.ensure_shape(images, expected)
        refined = refiner(to_model_range(images), training=False)
        return {OUTPUT_KEY: from_model_range(refined, pixels)}

    def serve_float(images: tf.Tensor) -> dict[str, tf.Tensor]:
        """float32 [batch, H, W, C] in [-1, 1] -> float32 refined images in [-1, 1]."""
        images = tf.ensure_shape(images, expected)
        return {OUTPUT_KEY: refiner(images, training=False)}

    return {SERVING_SIGNATURE: serve_pixels, FLOAT_SIGNATURE: serve_float}


def write_saved_model(
    refiner: keras.Model, shape: tuple[int, int, int], path: str | os.PathLike, dtype: Any = "uint8"
) -> None:
    """Write a SavedModel with the `serving_default` (pixels of `dtype`: uint8, or uint16
    for depth) and `refine_float` signatures."""
    fns = serving_functions(refiner, shape, dtype)
    pixels = tf.as_dtype(pixel_dtype(dtype))
    archive = keras.export.ExportArchive()
    archive.track(refiner)
    archive.add_endpoint(SERVING_SIGNATURE, fns[SERVING_SIGNATURE], input_signature=[_batch_spec(shape, pixels)])
    archive.add_endpoint(FLOAT_SIGNATURE, fns[FLOAT_SIGNATURE], input_signature=[_batch_spec(shape, tf.float32)])
    archive.write_out(str(path), verbose=False)


# --------------------------------------------------------------------------------------
# Warm-up records
def write_warmup_requests(
    saved_model_dir: str | os.PathLike,
    model_name: str,
    samples: np.ndarray,
    batch_sizes: tuple[int, ...],
) -> int | None:
    """Write one PredictionLog per signature and batch size; returns the record count, or
    None (with a warning) when the optional `tensorflow-serving-api` package is missing.
    `samples` are pixels of the export's dtype (uint8, or uint16 for depth): serving_default's
    records carry them as they are, refine_float's mapped to [-1, 1]."""
    try:
        from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
    except ImportError:
        warnings.warn(
            "tensorflow-serving-api is not installed: no TF Serving warm-up records written "
            "(pip install 'simgan-tf[serving]' or tensorflow-serving-api==2.21.0)",
            stacklevel=2,
        )
        return None
    samples = np.asarray(samples)
    if samples.dtype != np.uint16:
        samples = samples.astype(np.uint8)
    target = Path(saved_model_dir) / ASSETS_EXTRA
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    with tf.io.TFRecordWriter(str(target / WARMUP_FILE)) as writer:
        for signature in (SERVING_SIGNATURE, FLOAT_SIGNATURE):
            for batch_size in batch_sizes:
                batch = np.resize(samples, (batch_size, *samples.shape[1:]))  # tiles if too few
                data = batch if signature == SERVING_SIGNATURE else to_model_range(batch).numpy()
                request = predict_pb2.PredictRequest(
                    model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature)
                )
                request.inputs[INPUT_KEY].CopyFrom(tf.make_tensor_proto(data))
                record = prediction_log_pb2.PredictionLog(
                    predict_log=prediction_log_pb2.PredictLog(request=request)
                )
                writer.write(record.SerializeToString())
                count += 1
    return count


def read_warmup_requests(path: str | os.PathLike) -> list[Any]:
    """Parse a warm-up file back into PredictionLog protos (needs tensorflow-serving-api)."""
    from tensorflow_serving.apis import prediction_log_pb2

    records = []
    for raw in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        records.append(prediction_log_pb2.PredictionLog.FromString(raw))
    return records


# --------------------------------------------------------------------------------------
# Loading
def find_saved_model(path: str | os.PathLike) -> Path:
    """`path` itself if it holds saved_model.pb, else its newest integer version (as TF Serving)."""
    path = Path(path)
    if (path / SAVED_MODEL_FILE).is_file():
        return path
    versions = [v for v in existing_versions(path) if (path / str(v) / SAVED_MODEL_FILE).is_file()]
    if versions:
        return path / str(versions[-1])
    raise FileNotFoundError(
        f"{path}: no {SAVED_MODEL_FILE} here or in an integer version subdirectory; expected "
        "an export such as saved_models/NAME/1 (written by simgan-export) or saved_models/NAME"
    )


class SavedModelRefiner:
    """An exported SavedModel behind the same interface as `TFLiteRefiner`."""

    def __init__(self, path: str | os.PathLike):
        self.path = find_saved_model(path)
        self._loaded = tf.saved_model.load(str(self.path))
        missing = [s for s in (SERVING_SIGNATURE, FLOAT_SIGNATURE) if s not in self._loaded.signatures]
        if missing:
            raise ValueError(
                f"{self.path}: SavedModel lacks signatures {missing} (has "
                f"{sorted(self._loaded.signatures)}); expected an export written by simgan-export"
            )
        spec = self._loaded.signatures[SERVING_SIGNATURE].structured_input_signature[1][INPUT_KEY]
        shape = tuple(spec.shape[1:])
        if None in shape:
            raise ValueError(f"{self.path}: input {INPUT_KEY} has unknown dims {spec.shape}; expected fixed H, W, C")
        self.image_shape: tuple[int, int, int] = shape  # type: ignore[assignment]
        try:
            # What serving_default takes and returns: uint8 pixels, or uint16 depth.
            self.image_dtype: np.dtype = pixel_dtype(spec.dtype)
        except ValueError:
            raise ValueError(f"{self.path}: {SERVING_SIGNATURE} takes {spec.dtype.name} images; expected uint8 "
                             "or uint16 (an export written by simgan-export)") from None

    def __repr__(self) -> str:
        return f"SavedModelRefiner({str(self.path)!r}, image_shape={self.image_shape}, image_dtype={self.image_dtype.name})"

    def refine(self, images: Any) -> np.ndarray:
        """Pixels of the model's dtype [batch, H, W, C] -> refined pixels of the same dtype
        (signature serving_default): uint8 for uint8 runs, uint16 for depth runs. Images of
        another dtype are an InputShapeError naming the expected one (never rescaled)."""
        batch = check_images(images, self.image_shape, self.image_dtype, f"SavedModel {self.path} ({SERVING_SIGNATURE})")
        return self._loaded.signatures[SERVING_SIGNATURE](**{INPUT_KEY: tf.constant(batch)})[OUTPUT_KEY].numpy()

    def refine_uint8(self, images: Any) -> np.ndarray:
        """uint8 [batch, H, W, C] pixels -> uint8 refined pixels (signature serving_default)."""
        if self.image_dtype != np.uint8:
            raise InputShapeError(
                f"SavedModel {self.path} ({SERVING_SIGNATURE}) takes {self.image_dtype.name} images "
                f"[batch, {', '.join(map(str, self.image_shape))}], not uint8: use refine()"
            )
        return self.refine(images)

    def refine_float(self, images: Any) -> np.ndarray:
        """float32 [batch, H, W, C] in [-1, 1] -> float32 in [-1, 1] (signature refine_float)."""
        batch = check_images(images, self.image_shape, np.float32, f"SavedModel {self.path} ({FLOAT_SIGNATURE})")
        return self._loaded.signatures[FLOAT_SIGNATURE](**{INPUT_KEY: tf.constant(batch)})[OUTPUT_KEY].numpy()
