"""Helpers shared by the real-data TFDS builders (UnityEyes, MPIIGaze, NYU hand).

One job each: `errors` (a bad-file error and skip-bad iteration), `parsing` (the UnityEyes
"(x, y, z)" strings), `imaging` (decoding files and crop-and-resize with the label transform).
"""
from tfds_builders.common.errors import BadInputError, find_data_root, iter_good
from tfds_builders.common.imaging import (
    CropBox,
    crop_and_resize,
    read_depth_png,
    read_rgb_image,
)
from tfds_builders.common.parsing import parse_vector

__all__ = [
    "BadInputError",
    "CropBox",
    "crop_and_resize",
    "find_data_root",
    "iter_good",
    "parse_vector",
    "read_depth_png",
    "read_rgb_image",
]
