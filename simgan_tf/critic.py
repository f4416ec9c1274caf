"""Realism critic: can a fresh classifier still tell refined images from real ones?

The paper asked humans to tell refined from real eyes (51.7%, chance 50%) and raw synthetic
from real (81%). This is the automatic stand-in: a small CNN trained *after* SimGAN training,
from scratch, on target-domain images vs a candidate set (refined, or raw synthetic), and
scored on images it never saw. It is not the SimGAN discriminator (which the refiner was
trained to fool) so its accuracy is an independent measure: 50% = indistinguishable.
"""
from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import layers

from simgan_tf.config import CriticConfig, ImageSpec  # CriticConfig lives with the presets: no TF to read it


def build_critic(image: ImageSpec, cfg: CriticConfig = CriticConfig(), name: str = "realism_critic") -> keras.Model:
    """Float image in [-1, 1] -> logit of "target domain" (compiled, binary cross-entropy)."""
    inputs = keras.Input(shape=image.shape, name=f"{name}_input")
    x = inputs
    for index, filters in enumerate(cfg.filters, start=1):
        x = layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu", name=f"conv{index}")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(1, name="logit")(x)
    model = keras.Model(inputs, outputs, name=name)
    model.compile(
        optimizer=keras.optimizers.Adam(cfg.learning_rate),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")],
    )
    return model


def _as_model_range(images: Any) -> np.ndarray:
    arr = np.asarray(images)
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 127.5 - 1.0
    return arr.astype(np.float32)


def critic_accuracy(
    target: Any, candidate: Any, image: ImageSpec, cfg: CriticConfig = CriticConfig(), seed: int = 0
) -> dict[str, float | int]:
    """Train a fresh critic on target vs candidate images; held-out accuracy in percent.

    Both inputs are (n, H, W, C) arrays, uint8 or float in [-1, 1]. The classes are cut to
    the same size (at most `cfg.max_images_per_class`), shuffled with `seed`, and split into
    train / held-out parts per class so the held-out set is balanced too.
    """
    target, candidate = _as_model_range(target), _as_model_range(candidate)
    n = min(len(target), len(candidate), cfg.max_images_per_class)
    n_test = int(round(n * cfg.holdout_fraction))
    if n_test < 1 or n - n_test < 1:
        raise ValueError(
            f"critic_accuracy: {len(target)} target and {len(candidate)} candidate images leave no "
            f"train/held-out split at holdout_fraction={cfg.holdout_fraction}; expected more images"
        )
    rng = np.random.default_rng(seed)
    target = target[rng.permutation(len(target))[:n]]
    candidate = candidate[rng.permutation(len(candidate))[:n]]
    x_train = np.concatenate([target[n_test:], candidate[n_test:]])
    y_train = np.concatenate([np.ones(n - n_test), np.zeros(n - n_test)]).astype(np.float32)
    x_test = np.concatenate([target[:n_test], candidate[:n_test]])
    y_test = np.concatenate([np.ones(n_test), np.zeros(n_test)]).astype(np.float32)
    keras.utils.set_random_seed(seed)
    model = build_critic(image, cfg)
    model.fit(x_train, y_train, batch_size=cfg.batch_size, epochs=cfg.epochs, shuffle=True, verbose=0)
    logits = model.predict(x_test, batch_size=256, verbose=0)[:, 0]
    accuracy = float(np.mean((logits > 0.0) == (y_test > 0.5)) * 100.0)
    return {"accuracy_pct": accuracy, "num_train": int(len(x_train)), "num_heldout": int(len(x_test))}


__all__ = ["CriticConfig", "build_critic", "critic_accuracy"]
