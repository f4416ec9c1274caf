"""Shared fixtures: tiny presets so trainer tests run in seconds on 2 CPU cores."""
import dataclasses
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

from simgan_tf import config as cfg


def tiny_preset(**training) -> cfg.Preset:
    """A gaze-shaped preset scaled down: 12 x 16 images, 4-filter refiner, small D."""
    base = cfg.GAZE_QUICK
    return dataclasses.replace(
        base,
        name="tiny",
        image=cfg.ImageSpec(12, 16, 1),
        refiner=cfg.RefinerConfig(filters=4, kernel=3, num_blocks=1),
        discriminator=cfg.DiscriminatorConfig(
            layers=(cfg.LayerSpec("conv", 3, 2, 8), cfg.LayerSpec("conv", 1, 1, 2))
        ),
        training=dataclasses.replace(
            base.training,
            steps=4, pretrain_r_steps=2, pretrain_d_steps=2, batch_size=4, buffer_size=8,
            checkpoint_every=2, log_every=1, **training,
        ),
    )


@pytest.fixture
def tiny():
    return tiny_preset()
