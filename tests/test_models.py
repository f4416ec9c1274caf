"""Refiner and discriminator: shapes, the paper's layer tables, receptive fields."""
from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from simgan_tf import config
from simgan_tf.config import DiscriminatorConfig, ImageSpec, LayerSpec, RefinerConfig
from simgan_tf.models.refiner import ReflectPadding2D
from simgan_tf.models import (
    build_discriminator,
    build_refiner,
    receptive_field,
    refiner_receptive_field,
)

TINY_REFINER = RefinerConfig(filters=4, kernel=3, num_blocks=2)


def _conv_and_pool_layers(model: keras.Model) -> list[keras.layers.Layer]:
    return [l for l in model.layers if isinstance(l, (keras.layers.Conv2D, keras.layers.MaxPooling2D))]


# --- discriminator ------------------------------------------------------------------------
def test_gaze_discriminator_paper_table():
    # Paper, gaze: conv3x3/2 96, conv3x3/2 64, maxpool3x3/1, conv3x3/1 32, conv1x1 32, conv1x1 2.
    model = build_discriminator(config.GAZE_IMAGE, config.GAZE_DISCRIMINATOR)
    got = [(type(l).__name__, _kernel(l), _strides(l), getattr(l, "filters", None))
           for l in _conv_and_pool_layers(model)]
    assert got == [
        ("Conv2D", 3, 2, 96),
        ("Conv2D", 3, 2, 64),
        ("MaxPooling2D", 3, 1, None),
        ("Conv2D", 3, 1, 32),
        ("Conv2D", 1, 1, 32),
        ("Conv2D", 1, 1, 2),
    ]


def test_hand_discriminator_paper_table():
    # Paper, hand: conv7x7/4 96, conv5x5/2 64, maxpool3x3/2, conv3x3/2 32, conv1x1 32, conv1x1 2.
    model = build_discriminator(config.HAND_IMAGE, config.HAND_DISCRIMINATOR)
    got = [(type(l).__name__, _kernel(l), _strides(l), getattr(l, "filters", None))
           for l in _conv_and_pool_layers(model)]
    assert got == [
        ("Conv2D", 7, 4, 96),
        ("Conv2D", 5, 2, 64),
        ("MaxPooling2D", 3, 2, None),
        ("Conv2D", 3, 2, 32),
        ("Conv2D", 1, 1, 32),
        ("Conv2D", 1, 1, 2),
    ]


@pytest.mark.parametrize("preset", ["gaze_paper", "hand_paper", "hand_quick"])
def test_discriminator_layers_follow_config(preset):
    p = config.get_preset(preset)
    model = build_discriminator(p.image, p.discriminator)
    layers = _conv_and_pool_layers(model)
    assert len(layers) == len(p.discriminator.layers)
    for layer, spec in zip(layers, p.discriminator.layers):
        assert isinstance(layer, keras.layers.Conv2D if spec.kind == "conv" else keras.layers.MaxPooling2D)
        assert (_kernel(layer), _strides(layer)) == (spec.kernel, spec.stride)
        assert layer.padding == "same"
        if spec.kind == "conv":
            assert layer.filters == spec.filters


def _kernel(layer) -> int:
    size = layer.kernel_size if isinstance(layer, keras.layers.Conv2D) else layer.pool_size
    assert size[0] == size[1]
    return size[0]


def _strides(layer) -> int:
    assert layer.strides[0] == layer.strides[1]
    return layer.strides[0]


def test_relu_after_every_conv_but_the_last():
    model = build_discriminator(config.GAZE_IMAGE, config.GAZE_DISCRIMINATOR)
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    relus = [l for l in model.layers if isinstance(l, keras.layers.ReLU)]
    assert len(relus) == len(convs) - 1
    # The logits conv feeds the (linear, float32) output layer, not a ReLU.
    assert model.layers[-1].name == "discriminator_logits"
    assert model.layers[-2] is convs[-1]


def test_gaze_discriminator_local_map_shape():
    # 'same' padding: each stride s maps n -> ceil(n / s). 35x55 -> 18x28 -> 9x14 (pool /1).
    model = build_discriminator(config.GAZE_IMAGE, config.GAZE_DISCRIMINATOR)
    out = model(tf.zeros((3, 35, 55, 1)))
    assert out.shape == (3, 9, 14, 2)
    assert out.dtype == tf.float32


def test_hand_discriminator_local_map_shape():
    # 224 -> 56 (/4) -> 28 (/2) -> 14 (pool /2) -> 7 (/2): a 7x7 map of patches.
    model = build_discriminator(config.HAND_IMAGE, config.HAND_DISCRIMINATOR)
    out = model(tf.zeros((1, 224, 224, 1)))
    assert out.shape == (1, 7, 7, 2)


def test_global_head_outputs_one_patch():
    cfg = dataclasses.replace(config.GAZE_DISCRIMINATOR, head="global")
    model = build_discriminator(config.GAZE_IMAGE, cfg)
    out = model(tf.zeros((2, 35, 55, 1)))
    assert out.shape == (2, 1, 1, 2)
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [96, 64, 32, 32]  # trunk without the 2-filter conv
    dense = [l for l in model.layers if isinstance(l, keras.layers.Dense)]
    assert len(dense) == 1 and dense[0].units == 2


def test_discriminator_config_rejects_bad_last_layer():
    with pytest.raises(ValueError, match="must end in a conv with 2 filters"):
        DiscriminatorConfig(layers=(LayerSpec("conv", 3, 1, 8), LayerSpec("conv", 1, 1, 3)))


def test_receptive_fields_by_hand():
    # r += (k - 1) * jump; jump *= s.
    # gaze D: 3 (j2) -> 3+2*2=7 (j4) -> pool 7+2*4=15 (j4) -> 15+2*4=23 -> 23 -> 23.
    assert receptive_field(config.GAZE_DISCRIMINATOR.layers) == 23
    # hand D: 7 (j4) -> 7+4*4=23 (j8) -> pool 23+2*8=39 (j16) -> 39+2*16=71 (j32) -> 71 -> 71.
    assert receptive_field(config.HAND_DISCRIMINATOR.layers) == 71
    # gaze R: 1 + 3x3 conv_in + 2 per block * 4 blocks, each adding 2: 1 + 2 * (1 + 2 * 4).
    assert refiner_receptive_field(config.GAZE_REFINER) == 1 + 2 * (1 + 2 * 4) == 19
    # hand R: 7x7 kernels, 10 blocks: 1 + 6 * (1 + 2 * 10).
    assert refiner_receptive_field(config.HAND_REFINER) == 1 + 6 * (1 + 2 * 10) == 127
    assert receptive_field([]) == 1


# --- refiner ------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["gaze_paper", "gaze_quick", "hand_paper", "hand_quick"])
def test_refiner_preset_shape_and_structure(preset):
    p = config.get_preset(preset)
    model = build_refiner(p.image, p.refiner)
    assert model.output_shape == (None, *p.image.shape)
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert len(convs) == 2 + 2 * p.refiner.num_blocks
    assert all(c.strides == (1, 1) for c in convs)
    # Size-preserving padding: 'same' zeros, or a mirror pad in front of a 'valid' conv.
    pads = [l for l in model.layers if isinstance(l, ReflectPadding2D)]
    if p.refiner.padding == "reflect":
        assert [c.padding for c in convs] == ["valid"] * (len(convs) - 1) + ["same"]
        assert len(pads) == len(convs) - 1 and {l.pad for l in pads} == {p.refiner.kernel // 2}
    else:
        assert all(c.padding == "same" for c in convs) and pads == []
    assert [c.kernel_size[0] for c in convs[:-1]] == [p.refiner.kernel] * (len(convs) - 1)
    assert {c.filters for c in convs[:-1]} == {p.refiner.filters}
    assert (convs[-1].kernel_size, convs[-1].filters) == ((1, 1), p.image.channels)
    pools = [l for l in model.layers if "Pooling" in type(l).__name__]
    assert pools == []
    assert sum(isinstance(l, keras.layers.Add) for l in model.layers) == p.refiner.num_blocks
    assert model.get_layer("refiner_block1_conv1") is convs[1]


def test_refiner_paper_numbers():
    gaze = build_refiner(config.GAZE_IMAGE, config.GAZE_REFINER)
    first = gaze.get_layer("refiner_conv_in")
    assert (first.kernel_size, first.filters) == ((3, 3), 64)
    assert gaze.get_layer("refiner_block4_conv2").kernel_size == (3, 3)
    hand = build_refiner(config.HAND_IMAGE, config.HAND_REFINER)
    assert hand.get_layer("refiner_block10_conv2").kernel_size == (7, 7)
    assert hand.get_layer("refiner_conv_in").filters == 64


def test_gaze_refiner_runs_with_dynamic_batch():
    model = build_refiner(config.GAZE_IMAGE, config.GAZE_REFINER)
    for batch in (1, 3):
        x = tf.random.uniform((batch, 35, 55, 1), -1, 1)
        y = model(x)
        assert y.shape == x.shape
        assert float(tf.reduce_max(tf.abs(y))) <= 1.0  # tanh range


@pytest.mark.parametrize("height,width,channels", [(7, 9, 1), (13, 5, 3), (1, 1, 2)])
def test_refiner_odd_sizes(height, width, channels):
    image = ImageSpec(height, width, channels)
    model = build_refiner(image, TINY_REFINER)
    x = tf.random.uniform((2, height, width, channels), -1, 1)
    assert model(x).shape == x.shape


def test_refiner_dynamic_spatial():
    model = build_refiner(ImageSpec(8, 8, 1), TINY_REFINER, dynamic_spatial=True)
    assert model.input_shape == (None, None, None, 1)
    for shape in [(1, 17, 23, 1), (2, 35, 55, 1)]:
        assert model(tf.zeros(shape)).shape == shape


def test_model_names_prefix_layers():
    a = build_refiner(ImageSpec(8, 8, 1), TINY_REFINER, name="r_a")
    assert a.name == "r_a" and a.get_layer("r_a_block2_conv2") is not None
    d = build_discriminator(ImageSpec(35, 55, 1), config.GAZE_DISCRIMINATOR, name="critic")
    assert d.get_layer("critic_conv1").filters == 96


def test_outputs_stay_float32_under_mixed_precision():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        r = build_refiner(ImageSpec(8, 8, 1), TINY_REFINER)
        d = build_discriminator(ImageSpec(35, 55, 1), config.GAZE_DISCRIMINATOR)
        assert r.get_layer("refiner_conv_in").compute_dtype == "bfloat16"
        assert r(tf.zeros((1, 8, 8, 1))).dtype == tf.float32
        assert d(tf.zeros((1, 35, 55, 1))).dtype == tf.float32
    finally:
        keras.mixed_precision.set_global_policy(previous)


@pytest.mark.parametrize("cfg", [RefinerConfig(2, 3, 2), RefinerConfig(2, 5, 1), RefinerConfig(3, 3, 0)])
def test_refiner_receptive_field_matches_gradient(cfg):
    """d out[centre] / d input is non-zero exactly on the receptive-field window.

    All weights are small positive constants, biases zero and the input positive, so every
    ReLU is active and no path's gradient cancels: the non-zero set is the full window.
    """
    size = 21
    model = build_refiner(ImageSpec(size, size, 1), cfg)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel, bias = layer.get_weights()
            fan_in = np.prod(kernel.shape[:3])
            layer.set_weights([np.full_like(kernel, 1.0 / fan_in), np.zeros_like(bias)])
    x = tf.random.uniform((1, size, size, 1), 0.1, 1.0, seed=1)
    centre = size // 2
    with tf.GradientTape() as tape:
        tape.watch(x)
        pixel = model(x)[0, centre, centre, 0]
    grad = tape.gradient(pixel, x)[0, :, :, 0].numpy()
    rf = refiner_receptive_field(cfg)
    assert rf <= size
    expected = np.zeros((size, size), bool)
    lo, hi = centre - rf // 2, centre + rf // 2 + 1
    expected[lo:hi, lo:hi] = True
    np.testing.assert_array_equal(grad != 0, expected)


# --- refiner padding ----------------------------------------------------------------------
def _constant_weights(model: keras.Model, bias: float = 0.05) -> None:
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel, b = layer.get_weights()
            layer.set_weights([np.full_like(kernel, 1.0 / np.prod(kernel.shape[:3])), np.full_like(b, bias)])


@pytest.mark.parametrize("padding, flat", [("zero", False), ("reflect", True)])
def test_refiner_padding_decides_whether_edges_differ(padding, flat):
    """A constant image stays constant through a reflect-padded R; zero padding darkens the
    border (the frame artifact a zero-padded refiner can learn to exaggerate)."""
    model = build_refiner(ImageSpec(11, 13, 1), dataclasses.replace(TINY_REFINER, padding=padding))
    _constant_weights(model)
    out = model(tf.fill((1, 11, 13, 1), 0.5))[0, :, :, 0].numpy()
    assert out.shape == (11, 13)
    assert np.ptp(out) < 1e-6 if flat else np.ptp(out) > 1e-2


def test_reflect_and_zero_refiners_share_weights_and_interior():
    """Same weights, same output away from the border: padding only changes the edges."""
    zero = build_refiner(ImageSpec(21, 21, 1), TINY_REFINER)
    reflect = build_refiner(ImageSpec(21, 21, 1), dataclasses.replace(TINY_REFINER, padding="reflect"))
    reflect.set_weights(zero.get_weights())
    x = tf.random.uniform((2, 21, 21, 1), -1.0, 1.0, seed=3)
    margin = refiner_receptive_field(TINY_REFINER) // 2
    np.testing.assert_allclose(
        zero(x)[:, margin:-margin, margin:-margin], reflect(x)[:, margin:-margin, margin:-margin], atol=1e-6
    )
    dynamic = build_refiner(ImageSpec(21, 21, 1), dataclasses.replace(TINY_REFINER, padding="reflect"),
                            dynamic_spatial=True)
    dynamic.set_weights(zero.get_weights())
    assert dynamic(tf.zeros((1, 9, 30, 1))).shape == (1, 9, 30, 1)


@pytest.mark.parametrize("pad", [1, 2, 3])
def test_reflect_padding_layer_equals_tf_pad_reflect(pad):
    x = tf.random.uniform((2, 9, 12, 3), seed=pad)
    expected = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
    layer = ReflectPadding2D(pad)
    np.testing.assert_array_equal(layer(x).numpy(), expected.numpy())  # inference/export path
    np.testing.assert_array_equal(layer(x, training=True).numpy(), expected.numpy())  # training path
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        sliced, padded = tf.reduce_sum(layer(x) ** 2), tf.reduce_sum(layer(x, training=True) ** 2)
    np.testing.assert_allclose(tape.gradient(sliced, x).numpy(), tape.gradient(padded, x).numpy(), rtol=1e-6)


def test_refiner_padding_is_validated():
    with pytest.raises(ValueError, match="padding 'mirror'"):
        RefinerConfig(padding="mirror")
    with pytest.raises(ValueError, match="odd kernel"):
        build_refiner(ImageSpec(8, 8, 1), RefinerConfig(filters=2, kernel=4, num_blocks=1, padding="reflect"))


# --- position channels ---------------------------------------------------------------------
POSITIONED = dataclasses.replace(TINY_REFINER, padding="reflect", position_channels=True)


def test_position_channels_run_from_minus_one_to_one_across_the_image():
    from simgan_tf.models.refiner import PositionChannels

    out = PositionChannels()(tf.zeros((2, 5, 7, 1))).numpy()
    assert out.shape == (2, 5, 7, 3)
    np.testing.assert_allclose(out[0, 0, :, 1], np.linspace(-1, 1, 7), atol=1e-6)  # x along a row
    np.testing.assert_allclose(out[1, :, 3, 2], np.linspace(-1, 1, 5), atol=1e-6)  # y down a column
    assert np.all(out[..., 0] == 0)  # the image itself is untouched


def test_only_a_positioned_refiner_can_vary_a_uniform_image_across_the_frame():
    """A uniform input through reflect padding gives a uniform output: without position the
    refiner cannot draw vignetting. With position channels the same input varies."""
    flat = tf.fill((1, 12, 16, 1), 0.3)
    plain = build_refiner(ImageSpec(12, 16, 1), dataclasses.replace(POSITIONED, position_channels=False), seed=0)
    positioned = build_refiner(ImageSpec(12, 16, 1), POSITIONED, seed=0)
    assert float(tf.math.reduce_std(plain(flat))) < 1e-6
    assert float(tf.math.reduce_std(positioned(flat))) > 1e-3
    assert positioned.get_layer("refiner_conv_in").kernel.shape == (3, 3, 3, 4)


def test_positioned_refiner_saves_loads_and_runs_at_other_sizes(tmp_path):
    model = build_refiner(ImageSpec(12, 16, 1), POSITIONED, dynamic_spatial=True, seed=0)
    path = tmp_path / "positioned.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = tf.random.uniform((2, 20, 9, 1), -1, 1, seed=1)
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-6)
    assert loaded(x).shape == (2, 20, 9, 1)
