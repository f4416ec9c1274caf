"""SimGAN losses (Shrivastava et al. 2017, equations 2-4).

The discriminator returns logits of a per-patch two-class map (class 0 = refined, 1 = real;
see `simgan_tf.models.discriminator`). The paper's D(x) is the softmax probability of
"refined", so
  -log D(x~)      = cross-entropy against REFINED,
  -log(1 - D(x))  = cross-entropy against REAL.
Per-image terms are summed over the patches (the paper's local adversarial loss) and over
pixels (the self-regularisation L1); the dict-returning losses average them over the batch.
All computation is float32, also when the models run in mixed precision.
"""
from __future__ import annotations

from typing import Callable, Union

import numpy as np
import tensorflow as tf

REFINED = 0
REAL = 1
_LABELS = (REFINED, REAL)


def _channel_mean(images: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(images, axis=-1, keepdims=True)


def _derivatives(images: tf.Tensor) -> tf.Tensor:
    # tf.image.image_gradients returns (dy, dx); the last row of dy / column of dx is 0.
    dy, dx = tf.image.image_gradients(images)
    return tf.concat([dx, dy], axis=-1)


# Low-pass psi: both images blurred by a Gaussian of this sigma before the L1. A change of
# content or of brightness at scales above ~2 sigma costs what it costs under identity, while
# detail finer than that (a lens's blur, a sensor's grain) is nearly free to add or remove.
LOW_PASS_SIGMA_PX = 2.0


def _gaussian_kernel(sigma: float) -> np.ndarray:
    radius = int(np.ceil(2.0 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    g /= g.sum()
    return np.outer(g, g).astype(np.float32)


def _low_pass(images: tf.Tensor, sigma: float = LOW_PASS_SIGMA_PX) -> tf.Tensor:
    """Gaussian blur per channel, same size; normalised at the borders so a flat image stays flat."""
    channels = images.shape[-1]
    if channels is None:
        raise ValueError("low_pass psi: the images' channel count must be known")
    kernel = tf.constant(np.repeat(_gaussian_kernel(sigma)[:, :, None, None], channels, axis=2))

    def blur(x: tf.Tensor) -> tf.Tensor:
        return tf.nn.depthwise_conv2d(x, kernel, strides=[1, 1, 1, 1], padding="SAME")

    return blur(images) / blur(tf.ones_like(images[:1]))  # the border weights: one image's worth, broadcast


# psi of the self-regularisation loss: which features of the synthetic image R must keep.
PSI_TRANSFORMS: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {
    "identity": tf.identity,
    "channel_mean": _channel_mean,  # keep brightness, let R change colour
    "derivatives": _derivatives,  # keep edges, let R shift intensities
    "low_pass": _low_pass,  # keep coarse content, let R blur edges or add grain
}

# Masked psi: L1 on identity features, counted only where the *synthetic* image is foreground,
# i.e. nearer than its background (the image's maximum: far / missing depth). Joints lie on the
# hand, so labels stay pinned while R may draw a depth sensor's defects at and beyond the
# silhouette (fattened edges, flying pixels) at no cost.
MASKED_PSI = ("foreground",)
_BACKGROUND_TOLERANCE = 1e-3  # model range is [-1, 1]; half a uint8 level is 3.9e-3

Psi = Union[str, Callable[[tf.Tensor], tf.Tensor]]


def foreground_mask(synthetic: tf.Tensor) -> tf.Tensor:
    """1 where a pixel is nearer than the image's background (its per-image maximum), else 0."""
    background = tf.reduce_max(synthetic, axis=tf.range(1, tf.rank(synthetic)), keepdims=True)
    return tf.cast(synthetic < background - _BACKGROUND_TOLERANCE, tf.float32)


def _psi_fn(psi: Psi) -> Callable[[tf.Tensor], tf.Tensor]:
    if callable(psi):  # e.g. a learned feature network (the paper's fourth option)
        return psi
    if psi in MASKED_PSI:
        return tf.identity
    if psi not in PSI_TRANSFORMS:
        raise ValueError(
            f"unknown psi {psi!r} for the self-regularization loss; "
            f"expected one of {sorted(PSI_TRANSFORMS) + list(MASKED_PSI)} or a callable"
        )
    return PSI_TRANSFORMS[psi]


def _check_label(label: int) -> int:
    if isinstance(label, bool) or label not in _LABELS:
        raise ValueError(f"label must be REFINED ({REFINED}) or REAL ({REAL}), got {label!r}")
    return int(label)


def _reduce_batch(per_image: tf.Tensor, global_batch_size: int | None) -> tf.Tensor:
    """Batch mean; with `global_batch_size`, sum / global batch (tf.distribute convention)."""
    if global_batch_size is None:
        return tf.reduce_mean(per_image)
    return tf.nn.compute_average_loss(per_image, global_batch_size=global_batch_size)


def local_adversarial_loss(logits: tf.Tensor, label: int) -> tf.Tensor:
    """Softmax cross-entropy of every patch against `label`, summed over the patches: (batch,)."""
    label = _check_label(label)
    logits = tf.cast(logits, tf.float32)
    if logits.shape.rank != 4 or logits.shape[-1] != 2:
        raise ValueError(
            f"local_adversarial_loss: logits must have shape (batch, h, w, 2), got {logits.shape}"
        )
    labels = tf.fill(tf.shape(logits)[:-1], label)
    per_patch = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return tf.reduce_sum(per_patch, axis=[1, 2])


def self_regularization_loss(
    refined: tf.Tensor, synthetic: tf.Tensor, psi: Psi = "identity"
) -> tf.Tensor:
    """|| psi(refined) - psi(synthetic) ||_1 summed over pixels and channels: (batch,).

    psi="foreground" weighs each pixel by `foreground_mask(synthetic)`.
    """
    transform = _psi_fn(psi)
    refined = tf.cast(refined, tf.float32)
    synthetic = tf.cast(synthetic, tf.float32)
    if refined.shape.rank is not None and refined.shape.rank < 2:
        raise ValueError(f"self_regularization_loss: expected batched images, got {refined.shape}")
    diff = tf.abs(transform(refined) - transform(synthetic))
    if isinstance(psi, str) and psi in MASKED_PSI:
        diff = diff * foreground_mask(synthetic)
    return tf.reduce_sum(diff, axis=tf.range(1, tf.rank(diff)))


def refiner_loss(
    d_logits_on_refined: tf.Tensor | None,
    refined: tf.Tensor,
    synthetic: tf.Tensor,
    lambda_reg: float,
    psi: Psi = "identity",
    *,
    global_batch_size: int | None = None,
) -> dict[str, tf.Tensor]:
    """L_R = sum_patches -log(1 - D(R(x))) + lambda * ||psi(R(x)) - psi(x)||_1, batch-averaged.

    Returns {"adversarial", "self_reg", "total"}, total = adversarial + lambda_reg * self_reg.
    `d_logits_on_refined=None` is Algorithm 1's refiner pretraining: no adversarial term
    (reported as 0) and total = self_reg, so lambda only weighs the two terms against each
    other. Under tf.distribute pass `global_batch_size` so each replica's terms are sums
    divided by the global batch and the gradients add up across replicas to the batch mean.
    """
    self_reg = _reduce_batch(self_regularization_loss(refined, synthetic, psi), global_batch_size)
    if d_logits_on_refined is None:
        return {"adversarial": tf.zeros_like(self_reg), "self_reg": self_reg, "total": self_reg}
    adversarial = _reduce_batch(local_adversarial_loss(d_logits_on_refined, REAL), global_batch_size)
    return {
        "adversarial": adversarial,
        "self_reg": self_reg,
        "total": adversarial + tf.cast(lambda_reg, tf.float32) * self_reg,
    }


def discriminator_loss(
    logits_refined: tf.Tensor,
    logits_real: tf.Tensor,
    *,
    global_batch_size: int | None = None,
) -> dict[str, tf.Tensor]:
    """L_D = sum_patches -log D(x~) - log(1 - D(y)), each term batch-averaged.

    Returns {"refined", "real", "total"}. `global_batch_size`: see `refiner_loss`.
    """
    refined = _reduce_batch(local_adversarial_loss(logits_refined, REFINED), global_batch_size)
    real = _reduce_batch(local_adversarial_loss(logits_real, REAL), global_batch_size)
    return {"refined": refined, "real": real, "total": refined + real}


def discriminator_accuracy(logits: tf.Tensor, label: int) -> tf.Tensor:
    """Fraction of patches (over the whole batch) that D assigns to `label`: scalar."""
    label = _check_label(label)
    predicted = tf.argmax(tf.cast(logits, tf.float32), axis=-1, output_type=tf.int32)
    return tf.reduce_mean(tf.cast(tf.equal(predicted, label), tf.float32))
