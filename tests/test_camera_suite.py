"""The camera suite: more target looks that image the simulator's own scenes, and the gaze
experiment's --camera flag that runs on them (smoke preset, a small simulator in tmp)."""
from __future__ import annotations

import json
import os
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from simgan_tf import data
from simgan_tf.experiments.gaze import main
from simgan_tf.experiments.settings import PAPER, QUICK, SMOKE
from simgan_tf.experiments.sources import SourceSpec, camera_scene_ranges, load_experiment_data
from tfds_builders.procedural_eyes import camera_suite
from tfds_builders.procedural_eyes.procedural_eyes_dataset_builder import Builder, render_domain_batch

NAMES = sorted(camera_suite.CAMERAS)
# A simulator small enough to build in seconds, large enough for the smoke preset's domains.
SMALL_SIMULATOR = {**Builder.SPLIT_SIZES, "simulator": {"train": 120, "test": 40}}


@pytest.fixture(scope="module")
def scenes():
    return render_domain_batch(4242, 0, "simulator")[0][:24]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """procedural_eyes/simulator with 120 train and 40 test scenes, prepared in a tmp folder."""
    root = tmp_path_factory.mktemp("tfds")
    with mock.patch.object(Builder, "SPLIT_SIZES", SMALL_SIMULATOR):
        data.load_tfds_builder("procedural_eyes/simulator", data_dir=str(root))
    return str(root)


def test_the_suite_has_at_least_three_cameras():
    assert {"webcam", "lowlight", "defocus"} <= set(camera_suite.CAMERAS)


@pytest.mark.parametrize("name", NAMES)
def test_camera_is_deterministic_and_keeps_shape(name, scenes):
    cam = camera_suite.get_camera(name)
    a = cam.apply(scenes, np.random.default_rng(7))
    b = cam.apply(scenes, np.random.default_rng(7))
    c = cam.apply(scenes, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert a.shape == scenes.shape and a.dtype == np.uint8
    assert not np.array_equal(a, c)  # per-image randomness
    change = np.abs(a.astype(np.float32) - scenes).mean()
    assert change > 8.0, f"{name} changes the simulator images by only {change:.1f} grey levels"


@pytest.mark.parametrize("name", NAMES)
def test_fixed_variant_has_no_randomness(name, scenes):
    fixed = camera_suite.get_camera(name).fixed()
    assert fixed.is_fixed and fixed.fixed() is fixed
    a = fixed.apply(scenes, np.random.default_rng(1))
    np.testing.assert_array_equal(a, fixed.apply(scenes, np.random.default_rng(2)))
    np.testing.assert_array_equal(a, fixed.apply(scenes))
    assert np.abs(a.astype(np.float32) - scenes).mean() > 8.0  # still the camera's look
    assert all(lo == hi for lo, hi in fixed.parameters().values())


def test_random_camera_needs_a_generator_and_uint8_images(scenes):
    cam = camera_suite.get_camera("webcam")
    with pytest.raises(ValueError, match="numpy Generator"):
        cam.apply(scenes)
    with pytest.raises(ValueError, match="uint8"):
        cam.apply(scenes.astype(np.float32), np.random.default_rng(0))


def test_each_scene_has_its_own_stream(scenes):
    """A scene's image does not depend on the range or batch it is imaged in."""
    cam = camera_suite.get_camera("lowlight")
    whole = camera_suite.image_scenes(cam, scenes, "train", 100)
    np.testing.assert_array_equal(camera_suite.image_scenes(cam, scenes[5:9], "train", 105), whole[5:9])
    assert not np.array_equal(camera_suite.image_scenes(cam, scenes, "test", 100), whole)


@pytest.mark.parametrize("settings", [SMOKE, QUICK, PAPER], ids=lambda s: s.name)
def test_scene_ranges_are_disjoint(settings):
    n = settings.train_images
    ranges = camera_scene_ranges(n * settings.scale_factor, settings.real_images, n)
    spans = sorted(ranges.values())
    assert spans[0][0] == 0 and all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # adjacent, no overlap
    assert [b - a for a, b in (ranges["synthetic"], ranges["real"], ranges["oracle"])] == [
        n * settings.scale_factor, settings.real_images, n]
    fits = spans[-1][1] <= Builder.SPLIT_SIZES["simulator"]["train"]
    assert fits == (settings.name != "paper")  # quick fits the 40k simulator scenes; paper does not
    if settings.test_images is not None:
        assert settings.test_images <= Builder.SPLIT_SIZES["simulator"]["test"]


def test_loads_disjoint_domains_with_labels_of_their_scenes(data_dir):
    spec = SourceSpec(camera="defocus", data_dir=data_dir)
    d = load_experiment_data(spec, SMOKE.refiner.image, 32, 40, 16, 8)
    assert [len(d.synthetic), len(d.real), len(d.oracle), len(d.test)] == [32, 40, 8, 16]
    for images in (d.real, d.oracle.images, d.test.images):
        assert images.dtype == np.uint8 and images.shape[1:] == d.synthetic.shape[1:]
    assert d.described["camera"].startswith("defocus")
    assert "[32, 72)" in d.described["real"] and "[72, 80)" in d.described["oracle"]
    # The oracle's images are the camera's images of simulator scenes 72..79, with their labels.
    sim = load_experiment_data(SourceSpec(camera="defocus", data_dir=data_dir), SMOKE.refiner.image, 80, 1, 1, 1)
    cam = camera_suite.get_camera("defocus")
    np.testing.assert_array_equal(d.oracle.images, camera_suite.image_scenes(cam, sim.synthetic[72:80], "train", 72))
    np.testing.assert_allclose(d.oracle.gaze, sim.synthetic_gaze[72:80])
    np.testing.assert_array_equal(d.synthetic, sim.synthetic[:32])


def test_too_few_scenes_is_a_clear_error(data_dir):
    spec = SourceSpec(camera="webcam", data_dir=data_dir)
    with pytest.raises(data.DataError, match=r"holds 120 scenes, but this preset needs 208 .*real \[100, 200\)"):
        load_experiment_data(spec, SMOKE.refiner.image, 100, 100, 16, 8)


def test_a_registered_camera_works_like_the_suite(data_dir, monkeypatch, scenes):
    """Cameras are data: a new one needs no change elsewhere."""
    inverted = camera_suite.SuiteCamera("inverted", "negative film", {"gain": (0.7, 0.9)},
                                        lambda x, p, rng: 1.0 - x * p["gain"][:, None, None])
    monkeypatch.setitem(camera_suite.CAMERAS, "inverted", inverted)
    d = load_experiment_data(SourceSpec(camera="inverted", data_dir=data_dir), SMOKE.refiner.image, 8, 8, 4, 4)
    assert d.described["camera"].startswith("inverted") and d.real.shape == d.synthetic.shape
    np.testing.assert_allclose(inverted.fixed().apply(scenes), (1 - scenes / 255 * 0.8) * 255, atol=0.51)


def test_camera_flag_with_target_folders_is_an_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        main(["--smoke", "--quiet", "--out", str(tmp_path / "out"), "--camera", "webcam", "--real-dir", str(tmp_path)])
    assert err.value.code == 2
    message = capsys.readouterr().err
    assert "--camera webcam" in message and "--real-dir" in message
    with pytest.raises(SystemExit):
        main(["--smoke", "--out", str(tmp_path / "out"), "--camera", "no_such_camera"])


def test_camera_flag_runs_the_smoke_experiment(data_dir, tmp_path, capsys):
    out = tmp_path / "webcam"
    assert main(["--smoke", "--quiet", "--out", str(out), "--camera", "webcam", "--data-dir", data_dir]) == 0
    results = json.loads((out / "results.json").read_text())
    sources = results["details"]["data"]["sources"]
    assert sources["camera"].startswith("webcam") and "camera webcam" in sources["test"]
    assert json.loads((out / "experiment.json").read_text())["sources"]["camera"] == "webcam"
    assert np.isfinite(results["rows"]["oracle"]["mean_error_deg"]["mean"])
    # The camera is part of the settings fingerprint: resuming with another one is refused.
    capsys.readouterr()
    assert main(["--smoke", "--quiet", "--out", str(out), "--camera", "lowlight", "--data-dir", data_dir]) == 2
    assert "camera" in capsys.readouterr().err


def test_ceiling_rows_for_a_suite_camera(ceiling, scenes):
    cam = camera_suite.get_camera("webcam")
    assert ceiling.suite_images(cam, "simulator", scenes) is scenes
    np.testing.assert_array_equal(ceiling.suite_images(cam, "camera", scenes),
                                  camera_suite.image_scenes(cam, scenes, "train", 0))
    np.testing.assert_array_equal(ceiling.suite_images(cam, "camera_fixed", scenes), cam.fixed().apply(scenes))
    runs = {"simulator": {"mean_error_deg": 15.0}, "camera": {"mean_error_deg": 10.0},
            "camera_fixed": {"mean_error_deg": 12.0}}
    assert ceiling.gap_summary(runs) == pytest.approx({"synthetic_over_camera": 1.5, "fixed_recovers_pct": 60.0})
    with pytest.raises(SystemExit):
        ceiling.main(["--camera", "webcam", "--variants", "lit_simulator"])


def test_radial_profile_finds_the_defocus_cameras_vignetting_and_none_in_a_flat_image():
    """benchmarks/radial_profile.py: falloff 1.0 without vignetting; below it towards the corners
    of the defocus camera's images of a uniform scene, and not for the webcam's."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from radial_profile import falloff, normalised_radius2

    flat = np.full((4, 35, 55, 1), 128, np.uint8)
    np.testing.assert_allclose(falloff(flat, flat), 1.0)
    r2 = normalised_radius2(35, 55)
    assert r2.min() >= 0 and np.isclose(r2.max(), 1.0) and np.isclose(r2[0, 0], 1.0)
    shaded = (flat * (1.0 - 0.5 * r2)[None, :, :, None]).astype(np.float64)
    assert np.all(np.diff(falloff(shaded, flat)) < 0)
    rng = np.random.default_rng(0)
    defocused = camera_suite.get_camera("defocus").apply(flat, rng)
    webcam = camera_suite.get_camera("webcam").apply(flat, rng)
    assert falloff(defocused, flat)[-1] < 0.8
    assert abs(falloff(webcam, flat)[-1] - 1.0) < 0.05


def test_a_disk_smaller_than_a_pixel_is_no_blur():
    for radius in (0.0, 0.01, 0.2):
        kernel = camera_suite._disk_kernel(radius)
        assert np.isfinite(kernel).all() and kernel.sum() == pytest.approx(1.0)
        assert kernel.max() == 1.0  # all the light stays in the centre pixel
    wide = camera_suite._disk_kernel(2.2)
    assert wide.sum() == pytest.approx(1.0) and wide.max() < 0.1


def test_critic_components_switch_off_exactly_the_named_part(scenes):
    """benchmarks/critic_components.py: each neutral part changes the fixed camera's output, and
    with every part of the defocus camera neutral the image is the scene (up to rounding)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from critic_components import NEUTRAL_PARTS, image_statistics, without_parts

    for name, parts in NEUTRAL_PARTS.items():
        camera = camera_suite.get_camera(name)
        fixed = camera.fixed().apply(scenes)
        for part, neutral in parts.items():
            changed = without_parts(camera, neutral).apply(scenes)
            assert changed.shape == fixed.shape and not np.array_equal(changed, fixed), (name, part)
    defocus = camera_suite.get_camera("defocus")
    everything_off = {k: v for part in NEUTRAL_PARTS["defocus"].values() for k, v in part.items()}
    plain = without_parts(defocus, everything_off).apply(scenes)
    assert np.abs(plain.astype(int) - scenes.astype(int)).max() <= 1
    with pytest.raises(ValueError, match="no parameters.*jpeg_quality"):
        without_parts(defocus, {"jpeg_quality": 100})
    # Statistics: blur lowers the gradient percentile, a flat image has none.
    sharp, blurred = image_statistics(scenes), image_statistics(defocus.fixed().apply(scenes))
    assert blurred["gradient_p99"] < 0.5 * sharp["gradient_p99"] and blurred["mean_grey"] < sharp["mean_grey"]
    flat = image_statistics(np.full((2, 35, 55, 1), 7, np.uint8))
    assert flat == {"mean_grey": 7.0, "contrast_std": 0.0, "gradient_p99": 0.0, "laplacian_median": 0.0}
