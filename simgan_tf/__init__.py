"""simgan-tf: SimGAN (Shrivastava et al., CVPR 2017) in TensorFlow 2 / Keras 3.

The public API, in one place:

    import simgan_tf
    gan = simgan_tf.SimGAN.from_preset("gaze_quick", run_dir="runs/mine")   # or SimGAN(refiner, discriminator)
    history = gan.fit(synthetic_images, unlabeled_real_images, callbacks=[...])   # resumes from run_dir
    refined = gan.refine(synthetic_images)

Names are imported on first use (PEP 562), so `import simgan_tf` does not start TensorFlow:
the command-line tools set TensorFlow's process options before it loads.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

# public name -> module that defines it
_EXPORTS = {
    "SimGAN": "simgan_tf.trainer",
    "NonFiniteLossError": "simgan_tf.trainer",
    "RealismStopping": "simgan_tf.convergence",
    "Preset": "simgan_tf.config",
    "ImageSpec": "simgan_tf.config",
    "RefinerConfig": "simgan_tf.config",
    "DiscriminatorConfig": "simgan_tf.config",
    "LayerSpec": "simgan_tf.config",
    "TrainingConfig": "simgan_tf.config",
    "DataConfig": "simgan_tf.config",
    "PRESETS": "simgan_tf.config",
    "get_preset": "simgan_tf.config",
    "with_overrides": "simgan_tf.config",
    "build_refiner": "simgan_tf.models.refiner",
    "build_discriminator": "simgan_tf.models.discriminator",
    "ImageHistoryBuffer": "simgan_tf.history",
    "DataError": "simgan_tf.data",
    "image_dataset": "simgan_tf.data",
    "image_stream": "simgan_tf.data",
    "load_refiner": "simgan_tf.run_io",
}
_SUBMODULES = ("losses", "config", "data", "models", "history", "run_io")

__all__ = sorted(_EXPORTS) + list(_SUBMODULES)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"simgan_tf.{name}")
    else:
        raise AttributeError(f"module 'simgan_tf' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
