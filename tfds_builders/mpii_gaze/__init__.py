"""MPIIGaze normalized eye images as a TFDS dataset; importing registers `mpii_gaze`."""
from tfds_builders.mpii_gaze.mpii_gaze_dataset_builder import Builder

__all__ = ["Builder"]
