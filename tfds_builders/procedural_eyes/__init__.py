"""procedural_eyes TFDS dataset: importing this package registers the builder."""
from tfds_builders.procedural_eyes.procedural_eyes_dataset_builder import Builder

__all__ = ["Builder"]
