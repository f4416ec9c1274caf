"""Facts about the datasets that both the builders and the library need.

The builders sit below `simgan_tf` (the library reads their datasets), so shared values live
here and `simgan_tf.config` imports them, never the other way round.
"""
from __future__ import annotations

# The paper's image sizes (Shrivastava et al. 2017): eye crops 35 x 55 grayscale (UnityEyes,
# MPIIGaze), hand depth crops 224 x 224 (NYU hand).
GAZE_IMAGE_SHAPE: tuple[int, int, int] = (35, 55, 1)
HAND_IMAGE_SHAPE: tuple[int, int, int] = (224, 224, 1)
