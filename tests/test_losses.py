"""Losses against values computed by hand with math.log / math.exp."""
from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from simgan_tf import config as cfg, losses
from simgan_tf.losses import REAL, REFINED


def _ce(logits: tuple[float, float], label: int) -> float:
    """-log softmax(logits)[label], written out."""
    return -math.log(math.exp(logits[label]) / (math.exp(logits[0]) + math.exp(logits[1])))


# Two images, each a 1x2 map of patches, logits (refined, real).
PATCHES = [
    [(2.0, 0.0), (0.0, 1.0)],
    [(-1.0, 3.0), (0.5, 0.5)],
]
LOGITS = tf.constant(PATCHES, tf.float32)[:, tf.newaxis]  # (2, 1, 2, 2)


def test_class_convention():
    assert (REFINED, REAL) == (0, 1)


@pytest.mark.parametrize("label", [REFINED, REAL])
def test_local_adversarial_loss_sums_patches(label):
    got = losses.local_adversarial_loss(LOGITS, label).numpy()
    expected = [sum(_ce(p, label) for p in image) for image in PATCHES]
    assert got.shape == (2,)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_local_adversarial_loss_rejects_bad_inputs():
    with pytest.raises(ValueError, match="label must be REFINED"):
        losses.local_adversarial_loss(LOGITS, 2)
    with pytest.raises(ValueError, match=r"\(batch, h, w, 2\)"):
        losses.local_adversarial_loss(tf.zeros((2, 3, 2)), REAL)


def test_refiner_loss_by_hand():
    # Paper: L_R = sum_patches -log(1 - D(R(x))) + lambda ||R(x) - x||_1, D = P(refined).
    refined = tf.constant([[[[1.0], [2.0]], [[3.0], [4.0]]], [[[0.0], [0.0]], [[0.0], [0.5]]]])
    synthetic = tf.constant([[[[0.0], [0.0]], [[5.0], [4.0]]], [[[0.0], [1.0]], [[0.0], [0.0]]]])
    l1 = [1 + 2 + 2 + 0, 0 + 1 + 0 + 0.5]
    adv = []
    for image in PATCHES:
        p_refined = [math.exp(a) / (math.exp(a) + math.exp(b)) for a, b in image]
        adv.append(sum(-math.log(1 - d) for d in p_refined))
    out = losses.refiner_loss(LOGITS, refined, synthetic, lambda_reg=0.5, psi="identity")
    assert set(out) == {"adversarial", "self_reg", "total"}
    assert out["adversarial"].numpy() == pytest.approx(np.mean(adv), rel=1e-6)
    assert out["self_reg"].numpy() == pytest.approx(np.mean(l1), rel=1e-6)
    assert out["total"].numpy() == pytest.approx(np.mean(adv) + 0.5 * np.mean(l1), rel=1e-6)


def test_discriminator_loss_by_hand():
    # Paper: L_D = -sum log D(refined) - sum log(1 - D(real)).
    logits_real = tf.constant([[[[0.0, 2.0]]], [[[1.0, -1.0]]]])  # (2, 1, 1, 2)
    out = losses.discriminator_loss(LOGITS, logits_real)
    d = lambda a, b: math.exp(a) / (math.exp(a) + math.exp(b))  # noqa: E731  P(refined)
    refined = np.mean([sum(-math.log(d(*p)) for p in image) for image in PATCHES])
    real = np.mean([-math.log(1 - d(0.0, 2.0)), -math.log(1 - d(1.0, -1.0))])
    assert set(out) == {"refined", "real", "total"}
    assert out["refined"].numpy() == pytest.approx(refined, rel=1e-6)
    assert out["real"].numpy() == pytest.approx(real, rel=1e-6)
    assert out["total"].numpy() == pytest.approx(refined + real, rel=1e-6)


def test_global_batch_size_divides_the_sum():
    # Under tf.distribute each replica divides its sum by the global batch.
    synthetic = tf.zeros((2, 2, 2, 1))
    refined = tf.ones((2, 2, 2, 1))
    out = losses.refiner_loss(LOGITS, refined, synthetic, 1.0, global_batch_size=8)
    adv = sum(_ce(p, REAL) for image in PATCHES for p in image)
    assert out["adversarial"].numpy() == pytest.approx(adv / 8, rel=1e-6)
    assert out["self_reg"].numpy() == pytest.approx(8 / 8)
    d_out = losses.discriminator_loss(LOGITS, LOGITS, global_batch_size=4)
    refined_sum = sum(_ce(p, REFINED) for image in PATCHES for p in image)
    assert d_out["refined"].numpy() == pytest.approx(refined_sum / 4, rel=1e-6)


def test_discriminator_accuracy():
    # argmax per patch: image 0 -> refined, real; image 1 -> real, tie (argmax picks 0).
    assert losses.discriminator_accuracy(LOGITS, REFINED).numpy() == pytest.approx(2 / 4)
    assert losses.discriminator_accuracy(LOGITS, REAL).numpy() == pytest.approx(2 / 4)
    confident = tf.constant([[[[5.0, -5.0]] * 3] * 2])  # (1, 2, 3, 2) all refined
    assert losses.discriminator_accuracy(confident, REFINED).numpy() == 1.0
    assert losses.discriminator_accuracy(confident, REAL).numpy() == 0.0


def test_self_regularization_identity_l1_by_hand():
    refined = tf.constant([[[[0.5, -1.0]], [[0.0, 0.25]]]])  # (1, 2, 1, 2)
    synthetic = tf.constant([[[[0.0, 0.0]], [[1.0, 0.0]]]])
    got = losses.self_regularization_loss(refined, synthetic).numpy()
    assert got.shape == (1,)
    assert got[0] == pytest.approx(0.5 + 1.0 + 1.0 + 0.25)


def test_self_regularization_channel_mean():
    # Channel means: refined (0.5 - 1) / 2 = -0.25 and 0.125; synthetic 0 and 0.5.
    refined = tf.constant([[[[0.5, -1.0]], [[0.0, 0.25]]]])
    synthetic = tf.constant([[[[0.0, 0.0]], [[1.0, 0.0]]]])
    got = losses.self_regularization_loss(refined, synthetic, psi="channel_mean").numpy()
    assert got[0] == pytest.approx(0.25 + 0.375)
    # Swapping colour channels keeps the mean: no penalty.
    swapped = tf.reverse(refined, axis=[-1])
    assert losses.self_regularization_loss(refined, swapped, "channel_mean").numpy()[0] == 0.0


def test_derivatives_psi_on_a_ramp():
    height, width = 3, 5
    ramp = tf.tile(tf.range(width, dtype=tf.float32)[tf.newaxis, :], [height, 1])
    ramp = ramp[tf.newaxis, :, :, tf.newaxis]  # x[i, j] = j
    features = losses.PSI_TRANSFORMS["derivatives"](ramp).numpy()
    assert features.shape == (1, height, width, 2)
    dx, dy = features[0, :, :, 0], features[0, :, :, 1]
    expected_dx = np.ones((height, width))
    expected_dx[:, -1] = 0  # image_gradients pads the last column with 0
    np.testing.assert_array_equal(dx, expected_dx)
    np.testing.assert_array_equal(dy, np.zeros((height, width)))
    # Against a flat image: |dx| summed = height * (width - 1).
    flat = tf.zeros_like(ramp)
    got = losses.self_regularization_loss(ramp, flat, psi="derivatives").numpy()[0]
    assert got == pytest.approx(height * (width - 1))
    # A constant offset has the same derivatives: no penalty.
    assert losses.self_regularization_loss(ramp + 0.3, ramp, "derivatives").numpy()[0] == pytest.approx(0.0, abs=1e-6)


def test_low_pass_psi_charges_coarse_changes_and_not_fine_ones():
    height, width = 20, 30
    base = tf.random.stateless_uniform((1, height, width, 3), seed=(1, 2), minval=-0.5, maxval=0.5)
    # A flat image stays flat (borders normalised): an offset costs what identity charges.
    assert losses.self_regularization_loss(base + 0.3, base, "low_pass").numpy()[0] == pytest.approx(
        0.3 * height * width * 3, rel=1e-4)
    # A checkerboard (the finest detail an image holds) is all but free; identity charges it in full.
    rows, cols = np.indices((height, width))
    checker = tf.constant((0.2 * (-1.0) ** (rows + cols))[None, :, :, None].repeat(3, axis=-1), tf.float32)
    full = losses.self_regularization_loss(base + checker, base).numpy()[0]
    low = losses.self_regularization_loss(base + checker, base, "low_pass").numpy()[0]
    assert full == pytest.approx(0.2 * height * width * 3, rel=1e-4)
    assert low < 0.01 * full
    # Blurring a sharp edge by a lens-sized box costs about a third of what identity charges,
    # while moving the edge by 3 px costs about as much as under identity.
    def step_at(column: int) -> tf.Tensor:
        step = np.where(np.arange(width) < column, -1.0, 1.0)[None, None, :, None].repeat(height, axis=1)
        return tf.constant(step, tf.float32)

    edge = step_at(width // 2)
    blurred = tf.nn.avg_pool2d(tf.pad(edge, [[0, 0], [0, 0], [2, 2], [0, 0]], mode="SYMMETRIC"), [1, 5], 1, "VALID")
    assert losses.self_regularization_loss(blurred, edge, "low_pass").numpy()[0] < 0.4 * (  # 0.32
        losses.self_regularization_loss(blurred, edge).numpy()[0])
    moved = step_at(width // 2 + 3)
    moved_low = losses.self_regularization_loss(moved, edge, "low_pass").numpy()[0]
    moved_full = losses.self_regularization_loss(moved, edge).numpy()[0]
    assert moved_low > 0.5 * moved_full
    # Channels are filtered separately: the features keep the images' shape.
    assert losses.PSI_TRANSFORMS["low_pass"](base).shape == base.shape


def test_foreground_psi_counts_only_the_synthetic_images_hand_pixels():
    # A 1x4 depth row: background (the image's maximum, 1.0) at both ends, hand in between.
    synthetic = tf.constant([[[[1.0], [-0.2], [0.1], [1.0]]]])
    np.testing.assert_array_equal(losses.foreground_mask(synthetic).numpy().ravel(), [0, 1, 1, 0])
    # Fattening the hand into the background and a flying pixel cost nothing ...
    fattened = tf.constant([[[[-0.2], [-0.2], [0.1], [0.3]]]])
    assert losses.self_regularization_loss(fattened, synthetic, psi="foreground").numpy()[0] == 0.0
    assert losses.self_regularization_loss(fattened, synthetic).numpy()[0] == pytest.approx(1.2 + 0.7)
    # ... changing the hand costs what identity charges there.
    moved = tf.constant([[[[1.0], [0.3], [-0.4], [1.0]]]])
    assert losses.self_regularization_loss(moved, synthetic, psi="foreground").numpy()[0] == pytest.approx(0.5 + 0.5)
    # The background is each image's own maximum (uint16 fills, bright backgrounds alike).
    two = tf.constant([[[[0.5], [0.2]]], [[[0.9], [0.9]]]])
    np.testing.assert_array_equal(losses.foreground_mask(two).numpy().ravel(), [0, 1, 0, 0])


def test_every_configured_psi_name_is_a_loss():
    for name in cfg.PSI_NAMES:
        losses.self_regularization_loss(tf.zeros((1, 2, 2, 1)), tf.zeros((1, 2, 2, 1)), psi=name)


def test_unknown_psi_names_the_valid_ones():
    with pytest.raises(ValueError, match="channel_mean.*derivatives.*identity.*foreground"):
        losses.self_regularization_loss(tf.zeros((1, 2, 2, 1)), tf.zeros((1, 2, 2, 1)), psi="sobel")
    with pytest.raises(ValueError, match="unknown psi 'sobel'"):
        losses.refiner_loss(tf.zeros((1, 1, 1, 2)), tf.zeros((1, 2, 2, 1)), tf.zeros((1, 2, 2, 1)), 0.5, "sobel")


def test_callable_psi_for_a_learned_feature_network():
    double = lambda x: 2.0 * x  # noqa: E731
    got = losses.self_regularization_loss(tf.ones((2, 2, 2, 1)), tf.zeros((2, 2, 2, 1)), double)
    np.testing.assert_allclose(got.numpy(), [8.0, 8.0])


def test_losses_work_in_tf_function_with_mixed_precision_inputs():
    @tf.function
    def step(logits, refined, synthetic):
        return losses.refiner_loss(logits, refined, synthetic, 0.5, "derivatives")["total"]

    half = step(tf.cast(LOGITS, tf.bfloat16), tf.ones((2, 4, 4, 1), tf.bfloat16), tf.zeros((2, 4, 4, 1)))
    full = step(LOGITS, tf.ones((2, 4, 4, 1)), tf.zeros((2, 4, 4, 1)))
    assert half.dtype == tf.float32
    assert half.numpy() == pytest.approx(full.numpy(), rel=1e-2)
