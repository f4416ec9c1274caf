"""Mixed precision: layer dtypes, float32 losses and logits, loss scaling for float16."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import simgan_tf
from conftest import tiny_preset


def _images(n, low, high, seed=0):
    return np.random.default_rng(seed).integers(low, high, (n, 12, 16, 1), dtype=np.uint8)


@pytest.mark.parametrize("precision, compute", [("float32", "float32"), ("mixed_bfloat16", "bfloat16"),
                                                ("mixed_float16", "float16")])
def test_policy_sets_layer_dtypes_and_losses_stay_finite(precision, compute, tmp_path):
    before = keras.config.dtype_policy().name
    gan = simgan_tf.SimGAN.from_preset(tiny_preset(precision=precision), run_dir=tmp_path)
    assert keras.config.dtype_policy().name == before  # the global policy is left as it was
    convs = [layer for layer in gan.refiner.layers + gan.discriminator.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs and all(layer.compute_dtype == compute for layer in convs)
    assert all(w.dtype == "float32" for w in gan.refiner.weights + gan.discriminator.weights)  # master weights
    x = tf.random.stateless_uniform((4, 12, 16, 1), (1, 2), -1, 1)
    assert gan.discriminator(gan.refiner(x)).dtype == tf.float32  # logits: float32 for the losses
    assert bool(gan.loss_scales) == (precision == "mixed_float16")

    history = gan.fit(_images(16, 0, 128), _images(16, 100, 256, 1), verbose=0)
    for key, values in history.history.items():
        assert np.isfinite(values).all(), key
    refined = gan.refine(_images(4, 0, 128))
    assert refined.dtype == np.uint8 and refined.shape == (4, 12, 16, 1)
    floats = gan.refine(x.numpy())
    assert floats.dtype == np.float32 and np.abs(floats).max() <= 1.0


def test_bad_precision_is_named():
    with pytest.raises(ValueError, match=r"precision \(--precision\) must be one of"):
        tiny_preset(precision="int8")


def test_float16_loss_scaling_skips_a_non_finite_update_and_halves_the_scale(tmp_path):
    gan = simgan_tf.SimGAN.from_preset(tiny_preset(precision="mixed_float16"), run_dir=tmp_path)
    scale = gan.loss_scales["refiner_adam/loss_scale"]
    before = [w.numpy().copy() for w in gan.refiner.weights]
    x = tf.random.stateless_uniform((4, 12, 16, 1), (1, 2), -1, 1)
    scale.assign(2.0 ** 100)  # every float16 gradient overflows at this scale
    gan.pretrain_refiner_step(x)
    assert float(scale.numpy()) == 2.0 ** 99
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, gan.refiner.weights))  # skipped
    scale.assign(2.0 ** 10)
    out = gan.pretrain_refiner_step(x)
    assert np.isfinite(float(out["r_total"]))
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(before, gan.refiner.weights))
