"""The v2 pair: a simulator that lights each image itself (labels untouched by the lighting) and
a camera that changes appearance only, deterministic given its seed, with a fixed variant."""
import dataclasses

import numpy as np
import pytest

from tfds_builders.procedural_eyes import camera_v2, lit_render, render
from tfds_builders.procedural_eyes.procedural_eyes_dataset_builder import render_domain_batch, render_v2_scenes

N = 64


@pytest.fixture(scope="module")
def params():
    return render.sample_params(np.random.default_rng(21), N)


@pytest.fixture(scope="module")
def scenes():
    """A v2 batch before the camera: lit renders, material maps, labels, camera stream."""
    return render_v2_scenes(4242, 0)


def _lighting(n: int, **fixed) -> dict[str, np.ndarray]:
    """Mid-range lighting for n images, with some parameters set."""
    cfg = lit_render.DEFAULT_LIGHTING_CONFIG
    centres = {f.name: (sum(getattr(cfg, f.name)) / 2,) * 2 for f in dataclasses.fields(cfg)}
    mid = lit_render.sample_lighting(np.random.default_rng(0), n, dataclasses.replace(cfg, **centres))
    return {**mid, **{k: np.full(n, v, np.float32) for k, v in fixed.items()}}


def test_lighting_varies_per_image_and_labels_do_not(params):
    a, maps = lit_render.render_lit(params, lit_render.sample_lighting(np.random.default_rng(1), N))
    b, _ = lit_render.render_lit(params, lit_render.sample_lighting(np.random.default_rng(2), N))
    assert a.shape == b.shape == (N, 35, 55) and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0
    assert np.abs(a - b).mean() > 0.05  # same eyes, other light: other pixels
    # Labels come from the geometry alone: the same geometry stream, another lighting stream.
    _, _, labels_a = lit_render.render_lit_batch(np.random.default_rng(3), np.random.default_rng(4), N)
    _, _, labels_b = lit_render.render_lit_batch(np.random.default_rng(3), np.random.default_rng(5), N)
    for key in labels_a:
        np.testing.assert_array_equal(labels_a[key], labels_b[key])
    np.testing.assert_array_equal(labels_a["pupil_center"], render.labels(render.sample_params(
        np.random.default_rng(3), N))["pupil_center"])
    # Per-image variability the v1 simulator lacks: left-right skin asymmetry (a lighting
    # gradient) spreads far more across lit images than across flat-lit ones.
    flat, skin = render.render(params)

    def asymmetry(images, skin):
        left, right = (images * skin)[:, :, :20].sum((1, 2)) / skin[:, :, :20].sum((1, 2)), \
            (images * skin)[:, :, -20:].sum((1, 2)) / skin[:, :, -20:].sum((1, 2))
        return (left - right) / (left + right)

    assert asymmetry(a, maps["skin"]).std() > 4 * asymmetry(flat, skin).std()
    assert a.mean(axis=(1, 2)).std() > flat.mean(axis=(1, 2)).std()  # exposure, ambient, skin tone


def test_light_direction_shades_the_side_it_comes_from(params):
    """Key light from the image left (azimuth 180 degrees) brightens the left half, from the right the right."""
    sides = []
    for azimuth in (np.pi, 0.0):
        images, maps = lit_render.render_lit(params, _lighting(N, tilt=np.deg2rad(60.0), azimuth=azimuth,
                                                               intensity=1.0, ambient=0.2))
        sides.append(images[:, :, :15].mean(axis=(1, 2)) - images[:, :, -15:].mean(axis=(1, 2)))
    assert np.all(sides[0] > 0.02) and np.all(sides[1] < -0.02)


def test_maps_describe_the_materials(params):
    _, maps = lit_render.render_lit(params, lit_render.sample_lighting(np.random.default_rng(1), N))
    skin, sclera, corner = maps["skin"], maps["sclera"], maps["corner"]
    assert skin.shape == sclera.shape == corner.shape == (N, 35, 55)
    assert np.all(sclera <= 1.0 - skin + 1e-6)  # the white of the eye is inside the opening
    assert 0.0 <= corner.min() and corner.max() <= 1.0
    assert (sclera > 0.5).sum(axis=(1, 2)).min() > 0  # every eye shows some sclera


def test_camera_is_deterministic_and_changes_appearance_only(scenes):
    lit, maps, labels, camera_seq = scenes
    a = camera_v2.apply_sensor_camera(lit, maps, np.random.default_rng(camera_seq))
    b = camera_v2.apply_sensor_camera(lit, maps, np.random.default_rng(camera_seq))
    c = camera_v2.apply_sensor_camera(lit, maps, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (len(lit), 35, 55, 1) and a.dtype == np.uint8
    assert not np.array_equal(a, c)  # noise realisations and jitter
    clean = render.to_uint8(lit).astype(np.float32)
    assert np.abs(clean - a).mean() > 8.0  # a real look, but the same eyes:
    corr = [np.corrcoef(clean[i].ravel(), a[i].astype(np.float32).ravel())[0, 1] for i in range(64)]
    assert np.median(corr) > 0.6
    # The builder's camera_v2 batch is this camera's image of the simulator_v2 batch, same labels.
    sim, sim_labels = render_domain_batch(4242, 0, "simulator_v2")
    cam, cam_labels = render_domain_batch(4242, 0, "camera_v2")
    np.testing.assert_array_equal(cam, a)
    np.testing.assert_array_equal(sim, render.to_uint8(lit))
    for key in labels:
        np.testing.assert_array_equal(cam_labels[key], sim_labels[key])
        np.testing.assert_array_equal(cam_labels[key], labels[key])


def test_fixed_camera_has_no_randomness(scenes):
    lit, maps, _, _ = scenes
    fixed = camera_v2.fixed()
    assert camera_v2.is_fixed(fixed) and not camera_v2.is_fixed(camera_v2.DEFAULT_SENSOR_CAMERA)
    for f in dataclasses.fields(fixed):
        value = getattr(fixed, f.name)
        if f.name != "mottle_grid" and isinstance(value, tuple):
            assert value[0] == value[1], f.name
    assert fixed.mottle_amplitude == fixed.grain_amplitude == fixed.shot_noise == fixed.read_noise == (0.0, 0.0)
    a = camera_v2.apply_sensor_camera(lit, maps, np.random.default_rng(1), fixed)
    np.testing.assert_array_equal(a, camera_v2.apply_sensor_camera(lit, maps, np.random.default_rng(2), fixed))
    np.testing.assert_array_equal(a, camera_v2.apply_sensor_camera(lit, maps, None, fixed))
    random = camera_v2.apply_sensor_camera(lit, maps, np.random.default_rng(1))
    assert np.abs(a.astype(np.float32) - random).mean() < 6.0  # the same look, without the randomness
    with pytest.raises(ValueError, match="numpy Generator"):
        camera_v2.apply_sensor_camera(lit, maps, None)
    with pytest.raises(ValueError, match="apply_sensor_camera"):
        camera_v2.apply_sensor_camera(lit[..., None], maps, np.random.default_rng(0))
