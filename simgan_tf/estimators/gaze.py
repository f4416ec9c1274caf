"""The paper's downstream gaze estimator: the measure of whether refinement helps.

Shrivastava et al. (Sec. 4.1) train a CNN on synthetic, refined or real eye images and test
it on real ones: conv3x3 32, 32, 64, maxpool3x3/2, conv3x3 80, 192, maxpool2x2/2, FC 9600,
FC 1000, FC 3, with an L2 loss on the 3-D gaze vector. "FC 9600" is the flattened feature
map: with 'valid' convolutions a 35 x 55 input ends as 5 x 10 x 192 = 9600 values.

Three small functions so the experiment runner can reuse them for every training set
(synthetic, synthetic 4x, refined, real/oracle): build, train, evaluate.
"""
from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from simgan_tf.config import GAZE_IMAGE, GazeEstimatorConfig, ImageSpec
from simgan_tf.data import to_model_range
from simgan_tf.metrics import PAPER_GAZE_THRESHOLD_DEG, angular_error_deg, percent_within

# Width of the paper's "FC 9600" layer: the flattened 5 x 10 x 192 map of a 35 x 55 input.
PAPER_FLATTEN_SIZE = 9600


@keras.saving.register_keras_serializable(package="simgan_tf")
def gaze_l2_loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Squared Euclidean distance between 3-D gaze vectors, per example (the paper's L2 loss)."""
    return tf.reduce_sum(tf.square(tf.cast(y_true, y_pred.dtype) - y_pred), axis=-1)


@keras.saving.register_keras_serializable(package="simgan_tf")
def mean_angular_error_deg(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Training-time monitor: angle between the vectors in degrees (normalised)."""
    a = tf.math.l2_normalize(tf.cast(y_true, tf.float32), axis=-1)
    b = tf.math.l2_normalize(tf.cast(y_pred, tf.float32), axis=-1)
    cos = tf.clip_by_value(tf.reduce_sum(a * b, axis=-1), -1.0, 1.0)
    return tf.acos(cos) * (180.0 / np.pi)


def feature_map_shape(image: ImageSpec, cfg: GazeEstimatorConfig) -> tuple[int, int, int]:
    """(h, w, c) of the last conv/pool map ('valid' padding), i.e. what gets flattened."""
    h, w, c = image.height, image.width, image.channels
    for index, spec in enumerate(cfg.layers):
        if spec.kind not in ("conv", "maxpool"):
            raise ValueError(f"GazeEstimatorConfig.layers[{index}] has kind {spec.kind!r}; expected 'conv' or 'maxpool'")
        if spec.kind == "conv" and (spec.filters is None or spec.filters < 1):
            raise ValueError(f"GazeEstimatorConfig.layers[{index}] ({spec}) is a conv and needs filters >= 1")
        h = (h - spec.kernel) // spec.stride + 1
        w = (w - spec.kernel) // spec.stride + 1
        if h < 1 or w < 1:
            raise ValueError(
                f"build_gaze_estimator: a {image.height} x {image.width} input shrinks to nothing at "
                f"GazeEstimatorConfig.layers[{index}] ({spec}); expected a larger image or fewer layers"
            )
        if spec.kind == "conv":
            c = spec.filters
    return h, w, c


def build_gaze_estimator(
    image: ImageSpec = GAZE_IMAGE, cfg: GazeEstimatorConfig = GazeEstimatorConfig(), name: str = "gaze_estimator"
) -> keras.Model:
    """Build and compile the gaze CNN: float image in [-1, 1] -> unnormalised 3-D gaze vector.

    'valid' convolutions with ReLU, max-pools from the layer table, flatten, ReLU dense
    layers `cfg.dense_units`, then a linear `cfg.outputs`-unit layer. Compiled with Adam at
    `cfg.learning_rate` and the L2 loss on the gaze vector.
    """
    h, w, c = feature_map_shape(image, cfg)
    inputs = keras.Input(shape=image.shape, name=f"{name}_input")
    x = inputs
    n_conv = n_pool = 0
    for spec in cfg.layers:
        if spec.kind == "conv":
            n_conv += 1
            x = layers.Conv2D(spec.filters, spec.kernel, strides=spec.stride, padding="valid",
                              activation="relu", name=f"conv{n_conv}")(x)
        else:
            n_pool += 1
            x = layers.MaxPool2D(pool_size=spec.kernel, strides=spec.stride, padding="valid",
                                 name=f"pool{n_pool}")(x)
    x = layers.Flatten(name="flatten")(x)
    if x.shape[-1] != h * w * c:  # guards feature_map_shape and the layer arithmetic against each other
        raise AssertionError(f"build_gaze_estimator: flatten size {x.shape[-1]} != {h} x {w} x {c}")
    for index, units in enumerate(cfg.dense_units, start=1):
        x = layers.Dense(units, activation="relu", name=f"fc{index}")(x)
    outputs = layers.Dense(cfg.outputs, dtype="float32", name="gaze")(x)
    model = keras.Model(inputs, outputs, name=name)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=cfg.learning_rate),
        loss=gaze_l2_loss,
        metrics=[mean_angular_error_deg],
    )
    return model


def gaze_pairs(ds: tf.data.Dataset) -> tf.data.Dataset:
    """Normalise a labeled dataset to unbatched (float image in [-1, 1], gaze (3,)) pairs.

    Accepts elements `{"image", "gaze", ...}` (TFDS), `(image, {"gaze": ...})`
    (`simgan_tf.data.labeled_dataset`) or `(image, gaze)`; uint8 images are mapped to
    [-1, 1], float images are taken to be in [-1, 1] already.
    """
    spec = ds.element_spec
    if isinstance(spec, dict):
        if "image" not in spec or "gaze" not in spec:
            raise ValueError(f"gaze_pairs: dataset elements have keys {sorted(spec)}; expected 'image' and 'gaze'")
        ds = ds.map(lambda ex: (ex["image"], ex["gaze"]))
    elif isinstance(spec, tuple) and len(spec) == 2:
        if isinstance(spec[1], dict):
            if "gaze" not in spec[1]:
                raise ValueError(f"gaze_pairs: label dict has keys {sorted(spec[1])}; expected 'gaze'")
            ds = ds.map(lambda x, y: (x, y["gaze"]))
    else:
        raise ValueError(
            f"gaze_pairs: unsupported element structure {spec}; expected a dict with 'image' and "
            "'gaze', or an (image, gaze) / (image, {'gaze': ...}) pair"
        )
    image_spec, gaze_spec = ds.element_spec
    if image_spec.shape.rank != 3 or gaze_spec.shape.as_list()[-1:] != [3]:
        raise ValueError(
            f"gaze_pairs: expected unbatched (H, W, C) images and (3,) gaze vectors, got "
            f"{image_spec.shape} and {gaze_spec.shape}"
        )
    if image_spec.dtype == tf.uint8:
        return ds.map(lambda x, y: (to_model_range(x), tf.cast(y, tf.float32)), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.map(lambda x, y: (tf.cast(x, tf.float32), tf.cast(y, tf.float32)), num_parallel_calls=tf.data.AUTOTUNE)


def train_gaze_estimator(
    train_ds: tf.data.Dataset,
    cfg: GazeEstimatorConfig,
    image: ImageSpec = GAZE_IMAGE,
    *,
    epochs: int | None = None,
    seed: int = 0,
    shuffle_buffer: int = 20_000,
    validation_ds: tf.data.Dataset | None = None,
    verbose: int = 0,
) -> keras.Model:
    """Train a fresh estimator on an unbatched labeled dataset (see `gaze_pairs`).

    The dataset is cached in memory (the paper-sized sets are a few hundred MB at most),
    reshuffled every epoch with `seed`, and batched by `cfg.batch_size` for `cfg.epochs`
    epochs (or `epochs`). `seed` also fixes the weight initialisation. The fit history is
    at `model.history.history`.
    """
    keras.utils.set_random_seed(seed)
    model = build_gaze_estimator(image, cfg)
    train = (
        gaze_pairs(train_ds).cache()
        .shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        .batch(cfg.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    val = gaze_pairs(validation_ds).batch(cfg.batch_size).cache() if validation_ds is not None else None
    model.fit(train, epochs=epochs or cfg.epochs, validation_data=val, shuffle=False, verbose=verbose)
    return model


def predict_gaze(model: keras.Model, test_ds: tf.data.Dataset, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """(predicted, true) gaze vectors of a labeled dataset, as (n, 3) numpy arrays."""
    preds, trues = [], []
    for x, y in gaze_pairs(test_ds).batch(batch_size):
        preds.append(np.asarray(model(x, training=False)))
        trues.append(y.numpy())
    if not preds:
        raise ValueError("predict_gaze: the test dataset is empty")
    return np.concatenate(preds), np.concatenate(trues)


def evaluate_gaze_estimator(
    model: keras.Model,
    test_ds: tf.data.Dataset,
    within_deg: float = PAPER_GAZE_THRESHOLD_DEG,
    batch_size: int = 512,
) -> dict[str, Any]:
    """The paper's figures on a labeled test set.

    Returns `mean_error_deg`, `median_error_deg`, `std_error_deg`, `percent_within`
    (% of images with error <= `within_deg`), `within_deg`, `num_examples` (all JSON-ready
    floats/ints) and `errors_deg`, the per-image errors as a numpy array (for cumulative
    curves via `simgan_tf.metrics.cumulative_error_curve`).
    """
    pred, true = predict_gaze(model, test_ds, batch_size)
    errors = angular_error_deg(pred, true)
    return {
        "mean_error_deg": float(np.mean(errors)),
        "median_error_deg": float(np.median(errors)),
        "std_error_deg": float(np.std(errors)),
        "percent_within": percent_within(errors, within_deg),
        "within_deg": float(within_deg),
        "num_examples": int(errors.size),
        "errors_deg": errors,
    }


__all__ = [
    "PAPER_FLATTEN_SIZE",
    "build_gaze_estimator",
    "evaluate_gaze_estimator",
    "feature_map_shape",
    "gaze_l2_loss",
    "gaze_pairs",
    "mean_angular_error_deg",
    "predict_gaze",
    "train_gaze_estimator",
]
