"""procedural_hands TFDS dataset: importing this package registers the builder."""
from tfds_builders.procedural_hands.procedural_hands_dataset_builder import Builder

__all__ = ["Builder"]
