"""procedural_hands: determinism, labels that agree with the pixels, a sensor domain that
differs in imaging only, the documented depth encoding, the path train_hand.py takes, and the v2
sensor (defects that follow the geometry; its comparison with a genuine NYU frame is in
tests/test_nyu_real_frame.py)."""
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
    from a freshly built `procedural_hands/sensor_v4` (the default pair), nothing but the image."""
    from simgan_tf import config, data

    image = config.HAND_QUICK.image
    assert config.HAND_QUICK.data.real == config.HAND_PAPER.data.real == "procedural_hands/sensor_v4"
    domain = config.HAND_QUICK.data.real.split("/")[1]
    with mock.patch.object(phb.Builder, "SPLIT_SIZES", {**phb.Builder.SPLIT_SIZES, domain: {"train": 12}}):
        real = data.image_dataset(config.HAND_QUICK.data.real, "train", image, data_dir=str(tmp_path))
        images = np.asarray(data.take_images(real, 12))
    assert real.element_spec.shape == (64, 64, 1)  # a plain image tensor: no labels reach the refiner
    assert images.shape == (12, 64, 64, 1) and images.dtype == np.uint8
    hand = images < render.BACKGROUND
    assert hand.any() and (~hand).any()
    model = data.to_model_range(images).numpy()
    assert model.min() >= -1.0 and model.max() == 1.0  # background is +1 (far)


# --- sensor_v2: NYU-like defects that follow the geometry (README: "The v2 depth sensor") ------


@pytest.fixture(scope="module")
def v2_batches(batches):
    """Batch 0 of seed 7 (the hands of `batches`) through sensor_v2, and compare_nyu's
    statistics of the sensor and sensor_v2 images (render grid, the clean render's masks)."""
    from tfds_builders.procedural_hands import compare_nyu

    clean, clean_labels, sensed, _ = batches
    v2, v2_labels = phb.render_domain_batch(7, 0, "sensor_v2")
    masks = clean[:, ::2, ::2, 0] < render.BACKGROUND
    stats = {name: compare_nyu.summarize(images[:, ::2, ::2, 0], masks)
             for name, images in (("sensor", sensed), ("sensor_v2", v2))}
    return v2, v2_labels, clean_labels, stats


def test_sensor_v2_is_deterministic_and_keeps_the_labels(v2_batches):
    v2, v2_labels, clean_labels, _ = v2_batches
    again, _ = phb.render_domain_batch(7, 0, "sensor_v2")
    np.testing.assert_array_equal(v2, again)
    np.testing.assert_array_equal(v2_labels["joints_uvd"], clean_labels["joints_uvd"])
    assert v2.shape == (phb.RENDER_BATCH, 224, 224, 1) and v2.dtype == np.uint8
    other, _ = phb.render_domain_batch(7, 1, "sensor_v2")
    assert not np.array_equal(v2, other)


def test_sensor_v2_interior_is_smooth_and_its_defects_sit_at_the_silhouette(v2_batches):
    """v1 riddles the hand with holes; v2 (like the genuine NYU frame: 0.6 % interior, 2.7 %
    rim missing, README) keeps the interior whole and loses pixels at the outline."""
    stats = v2_batches[3]
    v1, v2 = ({k: s[k]["mean"] for k in s} for s in (stats["sensor"], stats["sensor_v2"]))
    assert v2["interior_missing"] < 0.025 and v2["interior_missing"] < v1["interior_missing"] / 3
    assert v2["band_missing"] > 2 * v2["interior_missing"]  # defects concentrate at the rim
    assert 0.01 < v2["band_missing"] < 0.10 and v1["band_missing"] > 0.2
    assert v2["roughness_mm"] < 0.5 * v1["roughness_mm"]
    assert v2["flying"] < 0.25 * v1["flying"]
    assert v2["raggedness"] < 1.1 < v1["raggedness"]


def test_sensor_v2_without_its_randomness_keeps_its_look_unlike_sensor(batches, v2_batches):
    """The pair's check (the gaze lesson): a deterministic refiner draws at most the sensor with
    its randomness held fixed. v2's missing pixels are all geometric, so the held-fixed v2
    loses the same pixels; most of v1's holes are random draws and vanish when held fixed."""
    from tfds_builders.procedural_hands import compare_nyu

    masks = batches[0][:, ::2, ::2, 0] < render.BACKGROUND
    fixed = {name: compare_nyu.procedural_images(name + compare_nyu.HELD_FIXED, phb.RENDER_BATCH, seed=7)
             for name in ("sensor", "sensor_v2")}
    fixed = {name: compare_nyu.summarize(images[:, ::2, ::2], masks) for name, images in fixed.items()}
    stats = v2_batches[3]
    for key in ("interior_missing", "band_missing"):
        v2, v2_fixed = stats["sensor_v2"][key]["mean"], fixed["sensor_v2"][key]["mean"]
        assert abs(v2_fixed - v2) < 0.2 * v2
        assert fixed["sensor"][key]["mean"] < 0.3 * stats["sensor"][key]["mean"]


def test_sensor_v2_shadow_and_grazing_follow_the_geometry():
    """A bar 60 mm in front of a plane at 800 mm: the projector's shadow falls right of the bar,
    baseline * gap / z_near = 75 * 60 / 740 = 6.1 mm = 3 pixels of 2 mm, never left of it; a
    plane tilted beyond `grazing_slope` has no reading, a gentler one keeps all its readings."""
    from tfds_builders.procedural_hands import compare_nyu, sensor_v2

    cfg = sensor_v2.DEFAULT_SENSOR_V2_CONFIG
    depth = np.full((3, 16, 32), 800.0, np.float32)
    depth[0, :, 10:14] = 740.0
    x = np.arange(32, dtype=np.float32) * 2.0  # mm across the image
    depth[1] = 800.0 + (cfg.grazing_slope + 1) * x  # steeper than grazing_slope
    depth[2] = 800.0 + (cfg.grazing_slope - 1) * x
    out = sensor_v2.apply_sensor_v2(depth, np.full(3, 2.0), compare_nyu.HeldFixed())
    missing = ~np.isfinite(out[0, 4:-4])  # rows away from the image's top and bottom edge
    assert missing[:, 14:17].all() and not missing[:, 17:].any() and not missing[:, :14].any()
    assert not np.isfinite(out[1, 2:-2, 2:-2]).any()
    assert np.isfinite(out[2, 2:-2, 2:-2]).all()


# --- sensor_v3: sensor_v2 after the matching window's foreground fattening ---------------------


def test_fattening_spreads_the_nearer_surface_by_its_radius():
    """A bar 60 mm in front of a plane, and a disk on background: with radius 3 the bar's
    depth covers 3 more pixels of the plane on each side and the disk's outline grows by 3;
    a step under the threshold (5 mm) and the far side of an edge are left alone."""
    from tfds_builders.procedural_hands import sensor_v3

    depth = np.full((3, 32, 32), 800.0, np.float32)
    depth[0, :, 12:16] = 740.0
    yy, xx = np.mgrid[:32, :32]
    depth[1] = np.where((yy - 16) ** 2 + (xx - 16) ** 2 <= 25, 700.0, np.inf)
    depth[2, :, 12:16] = 795.0
    out = sensor_v3.fatten_foreground(depth, 3, 10.0)
    assert (out[0, 4:-4, 9:19] == 740.0).all() and (out[0, 4:-4, :9] == 800.0).all()
    assert (out[0, 4:-4, 19:] == 800.0).all()
    grown = np.isfinite(out[1])
    assert grown.sum() > np.isfinite(depth[1]).sum() * 2.0  # radius 5 -> about 8: 81 -> ~200 pixels
    assert grown[16, 8] and not grown[16, 7] and grown[8, 16] and not grown[7, 16]
    np.testing.assert_array_equal(out[2], depth[2])
    np.testing.assert_array_equal(sensor_v3.fatten_foreground(depth, 0, 10.0), depth)
    with pytest.raises(ValueError, match="radius_px"):
        sensor_v3.fatten_foreground(depth, -1, 10.0)


def test_sensor_v3_is_deterministic_keeps_the_labels_and_is_v2_after_fattening(batches):
    """Same hands and labels as the other domains; the stored image is exactly v2's pipeline on
    the fattened clean depth; the hand grows (fingers thicker, gaps closed)."""
    from tfds_builders.procedural_hands import sensor_v2, sensor_v3

    clean, clean_labels, _, _ = batches
    v3, v3_labels = phb.render_domain_batch(7, 0, "sensor_v3")
    again, _ = phb.render_domain_batch(7, 0, "sensor_v3")
    np.testing.assert_array_equal(v3, again)
    np.testing.assert_array_equal(v3_labels["joints_uvd"], clean_labels["joints_uvd"])
    assert v3.shape == (phb.RENDER_BATCH, 224, 224, 1) and v3.dtype == np.uint8
    geometry_rng, sensor_rng = (np.random.default_rng(s) for s in np.random.SeedSequence([7, 0]).spawn(2))
    batch = render.render_batch(geometry_rng, phb.RENDER_BATCH)
    cfg = sensor_v3.DEFAULT_SENSOR_V3_CONFIG
    fattened = sensor_v3.fatten_foreground(batch.depth_mm, cfg.fattening_px, cfg.fattening_threshold_mm)
    mm_per_px = batch.geometry.crop_mm / render.DEFAULT_RENDER_CONFIG.render_size
    expected = render.encode_depth(sensor_v2.apply_sensor_v2(fattened, mm_per_px, sensor_rng, cfg.v2),
                                   batch.center_mm, render.DEFAULT_RENDER_CONFIG.cube_mm)
    np.testing.assert_array_equal(v3[:, ::2, ::2, 0], expected)
    v2, _ = phb.render_domain_batch(7, 0, "sensor_v2")
    hand = lambda images: (images < render.BACKGROUND).mean()  # noqa: E731
    assert hand(v3) > 1.1 * hand(v2) and hand(v3) > 1.1 * hand(clean)


# --- sensor_v4: sensor_v3 plus a flying-pixel halo around the silhouette ------------------------


def test_halo_rims_the_silhouette_with_the_nearest_depth_plus_the_offset():
    """A disk at 700 mm on background, and a two-depth bar on background: with radius 2 every
    background pixel within 2 px of a surface reads the nearest surface depth + 100 mm, farther
    ones stay background, surface pixels never change; radius 0 changes nothing."""
    from tfds_builders.procedural_hands import sensor_v4

    depth = np.full((2, 32, 32), np.inf, np.float32)
    yy, xx = np.mgrid[:32, :32]
    disk = (yy - 16) ** 2 + (xx - 16) ** 2 <= 25
    depth[0][disk] = 700.0
    depth[1, 10:22, 10:14] = 650.0
    depth[1, 10:22, 14:18] = 690.0
    out = sensor_v4.flying_pixel_halo(depth, 2, 100.0)
    np.testing.assert_array_equal(out[np.isfinite(depth)], depth[np.isfinite(depth)])
    band = np.isfinite(out[0]) & ~disk
    assert (out[0][band] == 800.0).all()
    assert not band[16, 21] and band[16, 22] and band[16, 23] and not band[16, 24]  # disk to x = 21; 2 px out
    assert out[1, 16, 9] == 750.0 and out[1, 16, 8] == 750.0 and not np.isfinite(out[1, 16, 7])
    assert out[1, 16, 18] == 790.0 and out[1, 9, 12] == 750.0  # each side reads its nearest surface
    np.testing.assert_array_equal(sensor_v4.flying_pixel_halo(depth, 0, 100.0), depth)
    with pytest.raises(ValueError, match="radius_px"):
        sensor_v4.flying_pixel_halo(depth, -1, 100.0)


def test_sensor_v4_is_deterministic_keeps_the_labels_and_is_v2_after_fattening_and_halo(batches):
    """Same hands and labels as the other domains; the stored image is exactly v2's pipeline on
    the fattened, haloed clean depth; a rim of readings grows the hand's footprint beyond v3's."""
    from tfds_builders.procedural_hands import sensor_v2, sensor_v3, sensor_v4

    clean, clean_labels, _, _ = batches
    v4, v4_labels = phb.render_domain_batch(7, 0, "sensor_v4")
    again, _ = phb.render_domain_batch(7, 0, "sensor_v4")
    np.testing.assert_array_equal(v4, again)
    np.testing.assert_array_equal(v4_labels["joints_uvd"], clean_labels["joints_uvd"])
    assert v4.shape == (phb.RENDER_BATCH, 224, 224, 1) and v4.dtype == np.uint8
    geometry_rng, sensor_rng = (np.random.default_rng(s) for s in np.random.SeedSequence([7, 0]).spawn(2))
    batch = render.render_batch(geometry_rng, phb.RENDER_BATCH)
    cfg = sensor_v4.DEFAULT_SENSOR_V4_CONFIG
    fattened = sensor_v3.fatten_foreground(batch.depth_mm, cfg.fattening_px, cfg.fattening_threshold_mm)
    haloed = sensor_v4.flying_pixel_halo(fattened, cfg.halo_px, cfg.halo_offset_mm)
    mm_per_px = batch.geometry.crop_mm / render.DEFAULT_RENDER_CONFIG.render_size
    expected = render.encode_depth(sensor_v2.apply_sensor_v2(haloed, mm_per_px, sensor_rng, cfg.v2),
                                   batch.center_mm, render.DEFAULT_RENDER_CONFIG.cube_mm)
    np.testing.assert_array_equal(v4[:, ::2, ::2, 0], expected)
    v3, _ = phb.render_domain_batch(7, 0, "sensor_v3")
    hand = lambda images: (images < render.BACKGROUND).mean()  # noqa: E731
    assert hand(v4) > 1.05 * hand(v3)  # measured on this batch: 38.6 vs 35.1 % of the pixels
    rim = np.isfinite(haloed) & ~np.isfinite(fattened)
    assert rim.mean() > 0.02 and (haloed[rim] > fattened[np.isfinite(fattened)].min()).all()
