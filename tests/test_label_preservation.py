"""Label preservation (pupil-centre fit) and the realism critic, on procedural eyes."""
from __future__ import annotations

import numpy as np
import pytest

from simgan_tf.config import ImageSpec
from simgan_tf.critic import CriticConfig, critic_accuracy
from simgan_tf.label_preservation import displacement_summary, pupil_centers, pupil_displacement
from tfds_builders.procedural_eyes import camera, render


@pytest.fixture(scope="module")
def eyes():
    rng = np.random.default_rng(7)
    images, skin, labels = render.render_batch(rng, 200)
    return render.to_uint8(images), camera.apply_camera(images, skin, rng), labels["pupil_center"]


def test_blob_fit_finds_the_rendered_pupil(eyes):
    synthetic, _, truth = eyes
    error = np.linalg.norm(pupil_centers(synthetic) - truth, axis=1)
    assert np.median(error) < 0.5  # sub-pixel on clean renders
    assert np.mean(error < 1.5) > 0.9  # the rest: pupils half hidden by an eyelid


def test_blob_fit_survives_camera_appearance(eyes):
    """Same eyes through the camera process (noise, blur, uneven light): still ~1 px."""
    _, cam, truth = eyes
    error = np.linalg.norm(pupil_centers(cam) - truth, axis=1)
    assert np.median(error) < 1.0
    assert np.mean(error < 1.5) > 0.8


def test_blob_fit_accepts_model_range_floats(eyes):
    synthetic, _, _ = eyes
    as_float = synthetic.astype(np.float32) / 127.5 - 1.0
    np.testing.assert_allclose(pupil_centers(as_float[:20]), pupil_centers(synthetic[:20]), atol=1e-6)


def test_displacement_of_a_known_shift(eyes):
    """Shifting every image 2 px right moves every measured pupil by ~2 px."""
    synthetic, _, truth = eyes
    shifted = np.roll(synthetic, 2, axis=2)
    result = pupil_displacement(synthetic, shifted, truth)
    assert result["num_measured"] >= 180 and result["num_images"] == 200
    assert result["mean"] == pytest.approx(2.0, abs=0.15)
    assert result["fit_error_px"] < 0.5
    same = pupil_displacement(synthetic, synthetic)
    assert same["mean"] == 0.0 and same["num_measured"] == 200


def test_displacement_summary_by_hand():
    """[0, 1, 1, 2, 10]: mean 2.8, median 1, 1 of 5 beyond 3 px = 20 %; std over images (ddof 0)."""
    s = displacement_summary([0.0, 1.0, 1.0, 2.0, 10.0])
    assert s["mean"] == pytest.approx(2.8) and s["median"] == 1.0 and s["jumps_pct"] == pytest.approx(20.0)
    assert s["std"] == pytest.approx(np.std([0.0, 1.0, 1.0, 2.0, 10.0]))
    assert displacement_summary([2.0, 4.0], jump_px=4.0)["jumps_pct"] == 0.0  # "beyond", not "at"
    assert np.isnan(displacement_summary([])["median"])


def test_a_painted_dark_spot_is_a_jump_not_a_shift(eyes):
    """A dark blob painted far from the pupil pulls the fit away: counted as a jump, the median stays."""
    synthetic, _, truth = eyes
    spotted = synthetic.copy()
    spotted[:20, 28:33, 3:8] = 0  # a 5 x 5 black spot in the lower-left corner of 20 of 200 eyes
    assert pupil_displacement(synthetic[:20], spotted[:20], truth[:20])["median"] > 3.0  # the fit left them
    result = pupil_displacement(synthetic, spotted, truth)
    assert result["median"] < 0.1 and 5.0 <= result["jumps_pct"] <= 11.0  # ~20 of ~190 measured


def test_displacement_rejects_mismatched_sets(eyes):
    synthetic, cam, _ = eyes
    with pytest.raises(ValueError, match="same images"):
        pupil_displacement(synthetic[:10], cam[:5])


def test_critic_tells_different_domains_apart_and_not_identical_ones(eyes):
    synthetic, cam, _ = eyes
    cfg = CriticConfig(filters=(16, 32), epochs=10, batch_size=16, max_images_per_class=200)
    image = ImageSpec(35, 55, 1)
    different = critic_accuracy(cam, synthetic, image, cfg, seed=0)
    assert different["accuracy_pct"] >= 85.0  # 100 held-out images; chance is 50
    assert different["num_heldout"] == 100 and different["num_train"] == 300
    rng = np.random.default_rng(1)
    half = rng.permutation(len(cam))
    same = critic_accuracy(cam[half[:100]], cam[half[100:]], image, cfg, seed=0)
    assert same["accuracy_pct"] <= 75.0  # chance is 50; 50 held-out images leave some spread


def test_critic_needs_enough_images(eyes):
    synthetic, cam, _ = eyes
    with pytest.raises(ValueError, match="no train/held-out split"):
        critic_accuracy(cam[:1], synthetic[:1], ImageSpec(35, 55, 1))
