"""UnityEyes renders as a TFDS dataset; importing this package registers `unity_eyes`."""
from tfds_builders.unity_eyes.unity_eyes_dataset_builder import Builder

__all__ = ["Builder"]
