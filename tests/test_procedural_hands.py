"""procedural_hands: determinism, labels that agree with the pixels, a sensor domain that
differs in imaging only, the documented depth encoding, and the path train_hand.py takes."""
from __future__ import annotations

import dataclasses
from unittest import mock

import numpy as np
import pytest

from tfds_builders.procedural_hands import procedural_hands_dataset_builder as phb
from tfds_builders.procedural_hands import render

CUBE = render.DEFAULT_RENDER_CONFIG.cube_mm
UNITS_PER_MM = (render.FAR_VALUE - render.NEAR_VALUE) / CUBE


@pytest.fixture(scope="module")
def batches():
    """One batch of a split through both imaging processes (same seed, so the same hands)."""
    clean, clean_labels = phb.render_domain_batch(7, 0, "clean")
    sensed, sensed_labels = phb.render_domain_batch(7, 0, "sensor")
    return clean, clean_labels, sensed, sensed_labels


@pytest.fixture(scope="module")
def rendered():
    """A rendered batch with its part-id map, for checking labels against pixels."""
    return render.render_batch(np.random.default_rng(123), 64)


def test_batches_are_deterministic_per_seed(batches):
    clean, clean_labels, sensed, sensed_labels = batches
    again, again_labels = phb.render_domain_batch(7, 0, "clean")
    np.testing.assert_array_equal(clean, again)
    np.testing.assert_array_equal(clean_labels["joints_uvd"], again_labels["joints_uvd"])
    sensed_again, _ = phb.render_domain_batch(7, 0, "sensor")
    np.testing.assert_array_equal(sensed, sensed_again)
    other, other_labels = phb.render_domain_batch(7, 1, "clean")
    assert not np.array_equal(clean, other)
    assert not np.allclose(clean_labels["joints_uvd"], other_labels["joints_uvd"])
    assert clean.shape == sensed.shape == (phb.RENDER_BATCH, 224, 224, 1)
    assert clean.dtype == sensed.dtype == np.uint8


def test_sensor_keeps_geometry_and_labels(batches):
    """Same (seed, batch) -> identical labels whatever the imaging: only the pixels differ."""
    _, clean_labels, _, sensed_labels = batches
    np.testing.assert_array_equal(clean_labels["joints_uvd"], sensed_labels["joints_uvd"])


def test_every_joint_projects_onto_the_hand_in_front_of_its_depth(rendered):
    """Every joint lies inside the hand: its pixel is a hand pixel whose surface is at or in
    front of the joint's depth d (stored units; +1 for rounding)."""
    image = render.to_uint8(rendered)[..., 0]
    uvd = rendered.joints_uvd
    n = image.shape[0]
    cols = np.clip(np.round(uvd[..., 0]).astype(int), 0, 223)
    rows = np.clip(np.round(uvd[..., 1]).astype(int), 0, 223)
    inside = (uvd[..., 0] >= 0) & (uvd[..., 0] <= 223) & (uvd[..., 1] >= 0) & (uvd[..., 1] <= 223)
    assert inside.mean() > 0.99  # the crop holds the hand
    values = image[np.arange(n)[:, None], rows, cols].astype(np.float32)
    assert np.all(values[inside] < render.BACKGROUND), "a joint projects onto background"
    assert np.all(values[inside] <= uvd[..., 2][inside] + 1.0), "a joint lies in front of the surface"


def test_visible_fingertips_sit_one_radius_behind_the_surface(rendered):
    """Where a fingertip's own phalanx is frontmost at its pixel, the stored depth there is the
    phalanx's front surface: at most d, at least d - r / cos(tilt) (a cylinder tilted by
    `tilt` out of the image plane shows its front that far from its axis), widened by the
    sub-pixel offset of the render pixel (delta * tan(tilt)) and 1 unit of rounding."""
    cfg = render.DEFAULT_RENDER_CONFIG
    image = render.to_uint8(rendered)[..., 0].astype(np.float32)
    geom, uvd = rendered.geometry, rendered.joints_uvd
    names = geom.part_names
    distal = [names.index(f"{f}_distal") for f in render.FINGERS] + [names.index("thumb_distal")]
    scale = cfg.size // cfg.render_size
    checked = 0
    for joint, part_id in zip(render.TIP_JOINTS, distal):
        axis = geom.capsules[:, part_id, 1] - geom.capsules[:, part_id, 0]
        cos_tilt = np.linalg.norm(axis[:, :2], axis=1) / np.linalg.norm(axis, axis=1)
        u, v, d = uvd[:, joint, 0], uvd[:, joint, 1], uvd[:, joint, 2]
        cols, rows = np.round(u).astype(int), np.round(v).astype(int)
        ok = (cols >= 0) & (cols < 224) & (rows >= 0) & (rows < 224) & (cos_tilt >= 0.5)
        idx = np.nonzero(ok)[0]
        idx = idx[rendered.part[idx, rows[idx] // scale, cols[idx] // scale] == part_id]  # visible
        radius = geom.capsule_radii[idx, part_id]
        delta = np.sqrt(0.5) * geom.crop_mm[idx] / cfg.render_size  # pixel centre to the tip, at most
        cos = cos_tilt[idx]
        tan = np.sqrt(1 - cos**2) / cos
        surface = image[idx, rows[idx], cols[idx]]
        assert np.all(surface <= d[idx] + 1.0)
        assert np.all(surface >= d[idx] - (radius / cos + delta * tan) * UNITS_PER_MM - 1.0)
        checked += idx.size
    assert checked > 0.5 * len(distal) * uvd.shape[0], f"only {checked} visible tips: test too weak"


def test_sensor_domain_has_holes_noise_and_ragged_edges(batches):
    clean, _, sensed, _ = batches
    clean_hand, sensed_hand = clean < render.BACKGROUND, sensed < render.BACKGROUND
    holes = (clean_hand & ~sensed_hand).sum() / clean_hand.sum()
    grown = (~clean_hand & sensed_hand).sum() / clean_hand.sum()
    assert 0.02 < holes < 0.3, f"missing-pixel fraction {holes:.3f}"
    assert grown > 0.005, "no flying pixels / ragged outline outside the clean silhouette"
    both = clean_hand & sensed_hand
    diff = np.abs(clean[both].astype(np.float32) - sensed[both].astype(np.float32))
    assert 0.5 < diff.mean() < 10.0, f"mean depth change {diff.mean():.2f} units"
    # Still the same hands: per image, the silhouettes overlap strongly.
    overlap = both.sum(axis=(1, 2, 3)) / np.maximum(clean_hand.sum(axis=(1, 2, 3)), 1)
    assert np.median(overlap) > 0.8


def test_domains_share_the_pose_distribution():
    """Synthetic and sensor_labeled splits draw from disjoint seeds but one distribution."""
    _, a = phb.render_domain_batch(phb.SPLIT_SEEDS[("synthetic", "train")], 0, "clean")
    b = render.render_batch(
        np.random.default_rng(np.random.SeedSequence([phb.SPLIT_SEEDS[("sensor_labeled", "train")], 0]).spawn(2)[0]),
        phb.RENDER_BATCH).joints_uvd
    a = a["joints_uvd"]
    assert not np.allclose(a, b)
    # Per joint and coordinate, the means agree within 5 standard errors.
    stderr = np.sqrt(a.var(axis=0) / len(a) + b.var(axis=0) / len(b))
    assert np.all(np.abs(a.mean(axis=0) - b.mean(axis=0)) < 5 * stderr)


def test_depth_encoding_matches_readme():
    c = np.array([800.0])
    depth = np.array([[[650.0, 800.0, 950.0, 951.0, 600.0, np.inf]]])
    out = render.encode_depth(depth, c, CUBE)
    assert out.tolist() == [[[1, 128, 254, 255, 1, 255]]]  # 127.5 rounds half to even: 128
    units = render.depth_units(np.array([650.0, 800.0, 950.0]), c, CUBE)
    np.testing.assert_allclose(units, [1.0, 127.5, 254.0])


def test_seeds_are_disjoint_and_cover_every_split():
    seeds = list(phb.SPLIT_SEEDS.values())
    assert len(set(seeds)) == len(seeds)
    expected = {(c, s) for c, splits in phb.Builder.SPLIT_SIZES.items() for s in splits}
    assert set(phb.SPLIT_SEEDS) == expected
    assert "test" not in phb.Builder.SPLIT_SIZES["sensor"]


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="imaging"):
        phb.render_domain_batch(1, 0, "lidar")
    with pytest.raises(ValueError, match="render_size"):
        render.render_batch(np.random.default_rng(0), 2, dataclasses.replace(render.DEFAULT_RENDER_CONFIG, render_size=100))
    with pytest.raises(ValueError, match="n must be positive"):
        render.sample_params(np.random.default_rng(0), 0)
    with pytest.raises(ValueError, match="expected"):
        phb.encode_png(np.zeros((64, 64, 1), np.uint8))


def test_train_hand_reads_sensor_images_without_labels(tmp_path):
    """The path `python train_hand.py` takes for its real domain: hand_quick's 64 x 64 images
    from a freshly built `procedural_hands/sensor`, nothing but the image."""
    from simgan_tf import config, data

    image = config.HAND_QUICK.image
    with mock.patch.object(phb.Builder, "SPLIT_SIZES", {**phb.Builder.SPLIT_SIZES, "sensor": {"train": 12}}):
        real = data.image_dataset(config.HAND_QUICK.data.real, "train", image, data_dir=str(tmp_path))
        images = np.asarray(data.take_images(real, 12))
    assert real.element_spec.shape == (64, 64, 1)  # a plain image tensor: no labels reach the refiner
    assert images.shape == (12, 64, 64, 1) and images.dtype == np.uint8
    hand = images < render.BACKGROUND
    assert hand.any() and (~hand).any()
    model = data.to_model_range(images).numpy()
    assert model.min() >= -1.0 and model.max() == 1.0  # background is +1 (far)
