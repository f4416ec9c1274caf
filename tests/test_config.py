"""Configs validate themselves once, on creation, with the setting (and its flag) named."""
import dataclasses

import pytest

from simgan_tf import config as cfg
from simgan_tf import run_io
from tfds_builders import constants


@pytest.mark.parametrize("change, message", [
    ({"batch_size": 7}, r"batch_size \(--batch-size\) must be even"),
    ({"batch_size": 0}, r"batch_size \(--batch-size\) must be an integer >= 1"),
    ({"steps": 0}, r"steps \(--steps\) must be an integer >= 1"),
    ({"k_g": 0}, r"k_g \(--k-g\) must be an integer >= 1"),
    ({"k_d": -1}, r"k_d \(--k-d\) must be an integer >= 1"),
    ({"pretrain_r_steps": -1}, r"pretrain_r_steps \(--pretrain-r-steps\) must be an integer >= 0"),
    ({"buffer_size": 3}, r"buffer_size \(--buffer-size\) must hold at least half a batch \(16\)"),
    ({"learning_rate": 0.0}, r"learning_rate \(--learning-rate\) must be > 0"),
    ({"lambda_reg": -0.1}, r"lambda_reg \(--lambda-reg\) must be >= 0"),
    ({"psi": "sobel"}, r"psi \(--psi\) must be one of"),
    ({"checkpoint_every": 0}, r"checkpoint_every \(--checkpoint-every\) must be an integer >= 1"),
    ({"lr_boundaries": (10,)}, r"lr_boundaries"),
    ({"grad_clip_norm": -1.0}, r"grad_clip_norm must be > 0 or None"),
    ({"stop_check_every": -1}, r"stop_check_every \(--stop-check-every\) must be an integer >= 0"),
    ({"stop_heldout": 0}, r"stop_heldout \(--stop-heldout\) must be an integer >= 1"),
    ({"stop_saturated_pct": 50.0}, r"stop_saturated_pct \(--stop-saturated-pct\) must be above 50"),
])
def test_invalid_training_settings_are_named(change, message):
    with pytest.raises(ValueError, match=message):
        cfg.with_overrides(cfg.GAZE_QUICK, **change)


def test_valid_changes_and_callable_psi_are_accepted():
    preset = cfg.with_overrides(cfg.GAZE_QUICK, buffer_size=3, use_history=False, psi=lambda x: x)
    assert preset.training.buffer_size == 3 and callable(preset.training.psi)
    assert preset.training.total_steps == 200 + 50 + 2000  # the ceiling; the realism rule usually ends sooner


def test_one_override_call_changes_the_architecture_and_the_training():
    preset = cfg.with_overrides(cfg.GAZE_QUICK, position_channels=True, filters=16, steps=7, lambda_reg=None)
    assert preset.refiner.position_channels and preset.refiner.filters == 16 and preset.training.steps == 7
    assert preset.training.lambda_reg == cfg.GAZE_QUICK.training.lambda_reg  # None keeps the preset's
    assert cfg.with_overrides(cfg.GAZE_QUICK, position_channels=None).refiner == cfg.GAZE_QUICK.refiner
    with pytest.raises(ValueError, match=r"unknown settings \['filterz'\].*RefinerConfig fields.*position_channels"):
        cfg.with_overrides(cfg.GAZE_QUICK, filterz=16)
    with pytest.raises(ValueError, match="padding"):
        cfg.with_overrides(cfg.GAZE_QUICK, padding="circular")


def test_other_configs_validate_too():
    with pytest.raises(ValueError, match="padding"):
        cfg.RefinerConfig(padding="circular")
    with pytest.raises(ValueError, match="discriminator_head"):
        dataclasses.replace(cfg.GAZE_DISCRIMINATOR, head="pixel")
    with pytest.raises(ValueError, match="must end in a conv with 2 filters"):
        cfg.DiscriminatorConfig(layers=(cfg.LayerSpec("conv", 3, 1, 8),))
    with pytest.raises(ValueError, match="resize_method"):
        dataclasses.replace(cfg.GAZE_QUICK.data, resize_method="bicubic")
    with pytest.raises(ValueError, match="ImageSpec"):
        cfg.ImageSpec(0, 55)
    with pytest.raises(ValueError, match="LayerSpec"):
        cfg.LayerSpec("maxpool", 3, 2, 8)


def test_every_preset_is_valid_and_round_trips_through_a_run_dir(tmp_path):
    for name, preset in cfg.PRESETS.items():
        run_io.save_run_config(tmp_path / name, preset)
        assert run_io.load_run_config(tmp_path / name) == preset


def test_image_sizes_come_from_the_dataset_constants():
    assert cfg.GAZE_IMAGE.shape == constants.GAZE_IMAGE_SHAPE
    assert cfg.HAND_IMAGE.shape == constants.HAND_IMAGE_SHAPE


def test_resume_with_other_model_settings_is_refused(tmp_path):
    run_io.prepare_run_dir(tmp_path, cfg.GAZE_QUICK)
    run_io.prepare_run_dir(tmp_path, cfg.with_overrides(cfg.GAZE_QUICK, steps=900))  # longer: fine
    with pytest.raises(ValueError, match=r"different settings \(training.lambda_reg: 0.5 -> 0.1\)"):
        run_io.prepare_run_dir(tmp_path, cfg.with_overrides(cfg.GAZE_QUICK, lambda_reg=0.1))
