"""benchmarks/refiner_ceiling.py re-images the experiment's own synthetic scenes: check it
finds them and images them exactly as the procedural_eyes builder would."""
import dataclasses

import numpy as np
import pytest

from tfds_builders.procedural_eyes import camera, render
from tfds_builders.procedural_eyes.procedural_eyes_dataset_builder import SPLIT_SEEDS, render_domain_batch


@pytest.fixture(scope="module")
def scenes():
    """Batches 0 and 1 of simulator[train] as the builder renders them (images, labels)."""
    seed = SPLIT_SEEDS[("simulator", "train")]
    return [render_domain_batch(seed, b, "simulator") for b in (0, 1)]


def test_finds_scenes_by_pupil_label_and_reimages_them(ceiling, scenes):
    picks = [(1, 7), (0, 3), (1, 499), (0, 0)]  # (batch, index) in an order TFDS might store them
    pupils = np.stack([scenes[b][1]["pupil_center"][i] for b, i in picks])
    batches, where = ceiling.render_experiment_scenes(pupils)
    assert len(batches) == 2  # stops once every scene is found

    clean = ceiling.reimage(batches, where, ceiling.VARIANTS["simulator"])
    np.testing.assert_array_equal(clean, np.stack([scenes[b][0][i] for b, i in picks]))

    # "camera" uses each batch's own camera stream: the camera builder's image of that scene.
    seed = SPLIT_SEEDS[("simulator", "train")]
    cam = ceiling.reimage(batches, where, ceiling.VARIANTS["camera"])
    expected = np.stack([render_domain_batch(seed, b, "camera")[0][i] for b, i in picks])
    np.testing.assert_array_equal(cam, expected)


def test_missing_scene_is_an_error(ceiling):
    with pytest.raises(SystemExit, match="1 experiment images not found"):
        ceiling.render_experiment_scenes(np.array([[-1.0, -1.0]], np.float32), max_batches=2)


def test_fixed_camera_has_no_randomness(ceiling):
    fixed = ceiling.FIXED_CAMERA
    for f in dataclasses.fields(fixed):
        value = getattr(fixed, f.name)
        if f.name != "mottle_grid" and isinstance(value, tuple):
            assert value[0] == value[1], f.name
    assert fixed.side_light_prob == fixed.dark_prob == fixed.bright_prob == fixed.exposure_log_sigma == 0
    assert fixed.mottle_amplitude == fixed.grain_amplitude == fixed.shot_noise == fixed.read_noise == (0.0, 0.0)
    # Two different random streams give the same camera image of the same scene.
    clean, skin, _ = render.render_batch(np.random.default_rng(0), 4)
    a = camera.apply_camera(clean, skin, np.random.default_rng(1), fixed)
    b = camera.apply_camera(clean, skin, np.random.default_rng(2), fixed)
    np.testing.assert_array_equal(a, b)
