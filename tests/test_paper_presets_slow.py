"""The paper-size presets really run (slow on 2 CPU cores: `python -m pytest -m slow`)."""
import numpy as np
import pytest
import tensorflow as tf

from simgan_tf import config as cfg
from simgan_tf.trainer import SimGAN


@pytest.mark.slow
@pytest.mark.parametrize("name", ["gaze_paper", "hand_paper"])
def test_paper_preset_trains_one_iteration(name, tmp_path):
    """One refiner and one discriminator step at the paper's architecture, batch 2."""
    preset = cfg.with_overrides(cfg.PRESETS[name], batch_size=2, buffer_size=2)
    trainer = SimGAN.from_preset(preset, run_dir=tmp_path)
    rng = np.random.default_rng(0)
    synthetic = tf.constant(rng.uniform(-1, 1, (2, *preset.image.shape)), tf.float32)
    real = tf.constant(rng.uniform(-1, 1, (2, *preset.image.shape)), tf.float32)
    assert trainer.refiner(synthetic).shape == synthetic.shape
    r = trainer.refiner_step(synthetic)
    d = trainer.discriminator_step(synthetic, real)
    assert all(np.isfinite(float(v)) for v in {**r, **d}.values())
    patches = trainer.discriminator(real).shape
    assert patches[-1] == 2 and patches[1] * patches[2] > 1  # a local patch map, not one decision
