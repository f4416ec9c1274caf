"""SimGAN discriminator: a fully convolutional patch classifier (refined vs real).

The paper's D ends in a softmax over two classes for every patch of a w x h map. Here the
model returns the **logits** of that map; the softmax lives in `simgan_tf.losses`, where
`tf.nn.sparse_softmax_cross_entropy_with_logits` computes it stably. Class 0 = refined,
class 1 = real (`losses.REFINED`, `losses.REAL`).
"""
from __future__ import annotations

from typing import Sequence

import keras
from keras import layers

from simgan_tf.config import DiscriminatorConfig, ImageSpec, LayerSpec

NUM_CLASSES = 2  # refined, real


def receptive_field(layer_specs: Sequence[LayerSpec]) -> int:
    """Side of the input window one output unit of a conv/pool stack depends on.

    Standard recursion over the stack: r += (k - 1) * jump; jump *= stride, starting at
    r = 1, jump = 1. For the discriminator this is the size of one "patch" of the paper's
    local adversarial loss.
    """
    size, jump = 1, 1
    for index, spec in enumerate(layer_specs):
        if spec.kernel < 1 or spec.stride < 1:
            raise ValueError(
                f"receptive_field: layer {index} ({spec}) needs kernel >= 1 and stride >= 1"
            )
        size += (spec.kernel - 1) * jump
        jump *= spec.stride
    return size


def seeded_initializers(seed: int | None):
    """A factory of kernel initializers: Keras' default (Glorot uniform), each with its own
    seed derived from `seed`, so a network's initial weights depend on `seed` alone and no
    global random state is read or changed. None: Keras' global random state, as usual."""
    count = iter(range(10**6))

    def make():
        index = next(count)
        return "glorot_uniform" if seed is None else keras.initializers.GlorotUniform(seed=int(seed) * 1009 + index)

    return make


def build_discriminator(
    image: ImageSpec, cfg: DiscriminatorConfig, name: str = "discriminator", *, seed: int | None = None
) -> keras.Model:
    """Build D from the layer table `cfg.layers` ('same' padding, ReLU after all convs but the last).

    head="local" (the paper): logits of shape (batch, h, w, 2), one refined/real decision
    per image patch of `receptive_field(cfg.layers)` pixels. head="global" (the ablation):
    the same trunk without the last conv, then flatten + Dense(2), reshaped to
    (batch, 1, 1, 2) so the losses treat it as a single-patch map.

    The outputs are logits, not the paper's softmax probabilities: the softmax is applied
    in the losses (`tf.nn.softmax(logits)[..., 0]` is the paper's D(x)). They are float32
    even under a mixed-precision policy so the losses stay numerically stable.
    """
    initializer = seeded_initializers(seed)
    inputs = keras.Input(shape=image.shape, name=f"{name}_input")
    trunk = cfg.layers[:-1]
    x = inputs
    n_conv = n_pool = 0
    for spec in trunk:
        if spec.kind == "conv":
            n_conv += 1
            x = layers.Conv2D(
                spec.filters, spec.kernel, strides=spec.stride, padding="same",
                kernel_initializer=initializer(), name=f"{name}_conv{n_conv}",
            )(x)
            x = layers.ReLU(name=f"{name}_relu{n_conv}")(x)
        else:
            n_pool += 1
            x = layers.MaxPooling2D(
                pool_size=spec.kernel, strides=spec.stride, padding="same",
                name=f"{name}_maxpool{n_pool}",
            )(x)
    if cfg.head == "local":
        last = cfg.layers[-1]
        x = layers.Conv2D(
            NUM_CLASSES, last.kernel, strides=last.stride, padding="same",
            kernel_initializer=initializer(), name=f"{name}_conv{n_conv + 1}",
        )(x)
    else:
        x = layers.Flatten(name=f"{name}_flatten")(x)
        x = layers.Dense(NUM_CLASSES, kernel_initializer=initializer(), name=f"{name}_global_dense")(x)
        x = layers.Reshape((1, 1, NUM_CLASSES), name=f"{name}_global_map")(x)
    # Identity layer computing in float32: keeps logits float32 under mixed precision.
    logits = layers.Activation("linear", dtype="float32", name=f"{name}_logits")(x)
    return keras.Model(inputs, logits, name=name)
