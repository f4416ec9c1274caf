"""SimGAN networks: the refiner R and the discriminator D."""
from simgan_tf.models.discriminator import build_discriminator, receptive_field
from simgan_tf.models.refiner import build_refiner, refiner_layer_specs, refiner_receptive_field

__all__ = [
    "build_discriminator",
    "build_refiner",
    "receptive_field",
    "refiner_layer_specs",
    "refiner_receptive_field",
]
