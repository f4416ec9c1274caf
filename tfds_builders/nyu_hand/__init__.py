"""NYU hand pose depth frames as a TFDS dataset; importing registers `nyu_hand/real|synthetic`."""
from tfds_builders.nyu_hand.nyu_hand_dataset_builder import Builder

__all__ = ["Builder"]
