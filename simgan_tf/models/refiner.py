"""SimGAN refiner: a fully convolutional ResNet mapping a synthetic image to a refined one.

No striding and no pooling, so every output pixel sees a local window of the input
(`refiner_receptive_field`): the refiner can change local texture but not global
structure, which is what preserves the simulator's labels.
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

from simgan_tf.config import ImageSpec, LayerSpec, RefinerConfig
from simgan_tf.models.discriminator import receptive_field, seeded_initializers


def refiner_layer_specs(cfg: RefinerConfig) -> tuple[LayerSpec, ...]:
    """The convolutions on the refiner's longest path (input conv, 2 per block, 1x1 out)."""
    body = LayerSpec("conv", cfg.kernel, 1, cfg.filters)
    return (body,) + (body, body) * cfg.num_blocks + (LayerSpec("conv", 1, 1, None),)


def refiner_receptive_field(cfg: RefinerConfig) -> int:
    """Side of the input window one refined pixel depends on: 1 + (k - 1) * (1 + 2 * blocks)."""
    return receptive_field(refiner_layer_specs(cfg))


@keras.saving.register_keras_serializable(package="simgan_tf")
class ReflectPadding2D(layers.Layer):
    """Mirror `pad` pixels onto every side of an NHWC tensor (no edge repeated), so a
    following 'valid' convolution keeps the size without seeing an artificial zero border."""

    def __init__(self, pad: int, **kwargs):
        super().__init__(**kwargs)
        self.pad = int(pad)

    def call(self, inputs, training=None):
        # Training: tf.pad's REFLECT kernel, the faster one in a train step
        # (benchmarks/train_step.py). Inference and export: the same values built from slices
        # and concatenations, which TFLite's XNNPACK delegate runs (MIRROR_PAD falls back to
        # the CPU between delegated convolutions; benchmarks/refine_latency.py measures it).
        if training:
            p = self.pad
            return tf.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")
        return self._mirror(self._mirror(inputs, axis=1), axis=2)

    def _mirror(self, x, axis: int):
        def rows(start: int, stop: int):
            index = [slice(None)] * 4
            index[axis] = slice(start, stop)
            return x[tuple(index)]

        p = self.pad
        before = [rows(i, i + 1) for i in range(p, 0, -1)]  # x[p], ..., x[1]
        after = [rows(-i - 1, -i) for i in range(1, p + 1)]  # x[-2], ..., x[-p-1]
        return tf.concat(before + [x] + after, axis=axis)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        grow = lambda size: None if size is None else size + 2 * self.pad  # noqa: E731
        return (n, grow(h), grow(w), c)

    def get_config(self) -> dict:
        return {**super().get_config(), "pad": self.pad}


@keras.saving.register_keras_serializable(package="simgan_tf")
class PositionChannels(layers.Layer):
    """Append x and y, each running from -1 to 1 across the image, as two more channels, so the
    convolutions that follow know where in the frame they are (RefinerConfig.position_channels).
    Computed from the input's shape, so it works at any image size and exports as constants."""

    def call(self, inputs):
        shape = tf.shape(inputs)
        ys = tf.linspace(-1.0, 1.0, shape[1])
        xs = tf.linspace(-1.0, 1.0, shape[2])
        yy, xx = tf.meshgrid(ys, xs, indexing="ij")
        grid = tf.cast(tf.stack([xx, yy], axis=-1)[None], inputs.dtype)
        return tf.concat([inputs, tf.tile(grid, [shape[0], 1, 1, 1])], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], None if input_shape[-1] is None else input_shape[-1] + 2)


def build_refiner(
    image: ImageSpec,
    cfg: RefinerConfig,
    name: str = "refiner",
    *,
    dynamic_spatial: bool = False,
    seed: int | None = None,
) -> keras.Model:
    """Build R: conv k x k + ReLU -> `num_blocks` ResNet blocks -> conv 1x1 -> tanh.

    With `cfg.position_channels` the first conv also sees x and y across the image.

    Each block is conv k x k + ReLU, conv k x k, add the block input, ReLU. 'same'
    padding (zeros, or the image mirrored with `cfg.padding="reflect"`) keeps the output
    the size of the input; tanh keeps it in the library's image
    range [-1, 1]. The batch dimension is always dynamic; `dynamic_spatial=True` also
    leaves height and width unset (the network is fully convolutional), e.g. to refine
    images of another size than `image`. The output is float32 under mixed precision.
    `seed` fixes the initial weights without touching any global random state.
    """
    initializer = seeded_initializers(seed)
    shape = (None, None, image.channels) if dynamic_spatial else image.shape
    inputs = keras.Input(shape=shape, name=f"{name}_input")

    def conv(tensor, kernel, filters, label):
        if cfg.padding == "reflect" and kernel > 1:
            tensor = ReflectPadding2D((kernel - 1) // 2, name=f"{name}_{label}_pad")(tensor)
            return layers.Conv2D(filters, kernel, padding="valid", kernel_initializer=initializer(),
                                 name=f"{name}_{label}")(tensor)
        return layers.Conv2D(filters, kernel, padding="same", kernel_initializer=initializer(),
                             name=f"{name}_{label}")(tensor)

    x = PositionChannels(name=f"{name}_position")(inputs) if cfg.position_channels else inputs
    x = conv(x, cfg.kernel, cfg.filters, "conv_in")
    x = layers.ReLU(name=f"{name}_relu_in")(x)
    for block in range(1, cfg.num_blocks + 1):
        prefix = f"block{block}"
        y = conv(x, cfg.kernel, cfg.filters, f"{prefix}_conv1")
        y = layers.ReLU(name=f"{name}_{prefix}_relu1")(y)
        y = conv(y, cfg.kernel, cfg.filters, f"{prefix}_conv2")
        y = layers.Add(name=f"{name}_{prefix}_add")([x, y])
        x = layers.ReLU(name=f"{name}_{prefix}_relu2")(y)
    x = conv(x, 1, image.channels, "conv_out")
    outputs = layers.Activation("tanh", dtype="float32", name=f"{name}_tanh")(x)
    return keras.Model(inputs, outputs, name=name)
