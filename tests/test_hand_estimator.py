"""The paper's hand pose estimator: heatmap geometry, augmentation, PCK, the hourglass and its training."""
import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from simgan_tf.config import HAND_ESTIMATOR_PAPER, HAND_ESTIMATOR_QUICK, HAND_QUICK, HandEstimatorConfig
from simgan_tf.estimators.hand import (
    NUM_JOINTS,
    augment,
    build_hand_estimator,
    evaluate_hand_estimator,
    heatmaps_to_joints,
    joints_to_heatmaps,
    predict_joints,
    scale_joints,
    train_hand_estimator,
    transform_images_and_joints,
)
from simgan_tf.metrics import cumulative_error_curve, joint_errors_px, pck_percent

TINY = HandEstimatorConfig(num_stacks=2, features=8, depth=1, heatmap_size=8, stem_stride=2, sigma=1.0,
                           learning_rate=3e-3, batch_size=8)


# --- geometry -----------------------------------------------------------------------------
def test_scale_joints_hand_cases():
    uv = np.array([[0.0, 111.5], [223.0, 3.0]], np.float32)
    # u' = (u + 0.5) * s / S - 0.5: the centre stays the centre, pixel 0 moves inside the edge.
    np.testing.assert_allclose(scale_joints(uv, 224, 64),
                               [[0.5 * 64 / 224 - 0.5, 31.5], [223.5 * 64 / 224 - 0.5, 3.5 * 64 / 224 - 0.5]],
                               rtol=1e-6)
    np.testing.assert_allclose(scale_joints([[1.0, 0.0]], 64, 32), [[0.25, -0.25]])
    np.testing.assert_allclose(scale_joints([[0.25, -0.25]], 32, 64), [[1.0, 0.0]])
    # the image edges map to the edges
    np.testing.assert_allclose(scale_joints([[-0.5, 223.5]], 224, 64), [[-0.5, 63.5]], atol=1e-5)
    np.testing.assert_allclose(scale_joints(scale_joints(uv, 224, 64), 64, 224), uv, atol=1e-4)
    assert isinstance(scale_joints(tf.constant(uv), 224, 64), tf.Tensor)
    with pytest.raises(ValueError, match="from_size"):
        scale_joints(uv, 0, 64)
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        scale_joints(np.zeros((2, 3)), 224, 64)


@pytest.mark.parametrize("image_size,heatmap_size,sigma", [(64, 32, 1.0), (64, 64, 1.0), (224, 64, 1.0),
                                                           (64, 16, 0.7), (32, 32, 2.0)])
def test_heatmap_round_trip_is_sub_pixel_exact(image_size, heatmap_size, sigma):
    rng = np.random.default_rng(0)
    joints = rng.uniform(-0.5, image_size - 0.5, (6, NUM_JOINTS, 2)).astype(np.float32)
    # sub-pixel, half-way between heatmap pixels, on pixel centres and at the image edges
    hm_px = [0.0, 0.25, 0.5, 3.0, 3.4, heatmap_size - 1.0, heatmap_size - 1.25, -0.5, heatmap_size - 0.5]
    special = scale_joints(np.array([[p, hm_px[-1 - i]] for i, p in enumerate(hm_px)], np.float32),
                           heatmap_size, image_size)
    joints[0, :len(hm_px)] = special
    heat = joints_to_heatmaps(joints, image_size, heatmap_size, sigma)
    assert heat.shape == (6, heatmap_size, heatmap_size, NUM_JOINTS)
    assert float(tf.reduce_max(heat)) <= 1.0
    decoded = heatmaps_to_joints(heat.numpy(), image_size)
    np.testing.assert_allclose(decoded, joints, atol=1e-3 * image_size / heatmap_size)
    # Newell et al.'s quarter-pixel shift: within half a heatmap pixel; the bare argmax too.
    per_heatmap_px = image_size / heatmap_size
    for method in ("quarter", "none"):
        error = np.abs(heatmaps_to_joints(heat.numpy(), image_size, subpixel=method) - joints)
        assert error.max() <= 0.5 * per_heatmap_px + 1e-4


def test_heatmap_peak_is_at_the_joint():
    heat = joints_to_heatmaps(np.full((1, NUM_JOINTS, 2), [10.0, 20.0], np.float32), 64, 32, 1.0).numpy()
    # (10, 20) in a 64 image is (4.75, 9.75) in the 32 heatmap: the peak is at row 10, col 5
    assert np.unravel_index(np.argmax(heat[0, :, :, 3]), (32, 32)) == (10, 5)


def test_heatmap_decoding_bad_inputs():
    with pytest.raises(ValueError, match=r"\(N, h, h, J\)"):
        heatmaps_to_joints(np.zeros((2, 8, 9, NUM_JOINTS)), 16)
    with pytest.raises(ValueError, match="subpixel"):
        heatmaps_to_joints(np.zeros((2, 8, 8, NUM_JOINTS)), 16, subpixel="soft")
    with pytest.raises(ValueError, match="sigma"):
        joints_to_heatmaps(np.zeros((1, NUM_JOINTS, 2)), 16, 8, 0.0)


# --- augmentation ---------------------------------------------------------------------------
def _dot_image(size=64):
    """14 3x3 dots of distinct depths at integer joint positions on a far background."""
    joints = np.array([(12 + 12 * (k % 4), 14 + 11 * (k // 4)) for k in range(NUM_JOINTS)], np.float32)
    image = np.full((size, size, 1), 255, np.uint8)
    for k, (u, v) in enumerate(joints.astype(int)):
        image[v - 1:v + 2, u - 1:u + 2, 0] = 10 + 10 * k
    return image, joints


def _assert_joints_on_their_dots(images, joints, margin=3):
    checked = 0
    size = images.shape[1]
    for b in range(len(images)):
        for k in range(NUM_JOINTS):
            if not ((joints[b, k] > margin) & (joints[b, k] < size - 1 - margin)).all():
                continue  # cropped away or cut by the edge
            rows, cols = np.nonzero(images[b, :, :, 0] == 10 + 10 * k)
            assert rows.size, f"dot {k} of image {b} vanished though its joint is at {joints[b, k]}"
            np.testing.assert_allclose([cols.mean(), rows.mean()], joints[b, k], atol=0.75)
            checked += 1
    return checked


def test_extreme_rotations_and_crops_move_joints_with_the_pattern():
    image, joints = _dot_image()
    angles = [20.0, -20.0, 20.0, -20.0, 0.0, 0.0]
    scales = [0.8, 0.8, 0.8, 1.0, 0.8, 1.0]
    offsets = [[0, 0], [1, 1], [1, 0], [0.5, 0.5], [0, 1], [0, 0]]
    out, moved = transform_images_and_joints(np.repeat(image[None], 6, 0), np.repeat(joints[None], 6, 0),
                                             angles, scales, offsets)
    out, moved = out.numpy(), moved.numpy()
    assert out.dtype == np.uint8 and out.shape == (6, 64, 64, 1)
    assert _assert_joints_on_their_dots(out, moved) >= 60
    np.testing.assert_array_equal(out[5], image)  # no rotation, full crop: the identity
    np.testing.assert_allclose(moved[5], joints, atol=1e-4)
    # rotated corners come from outside the image: filled with the far background
    assert set(out[[0, 1, 3], 0, 0, 0].tolist()) == {255}
    # a 0.8 crop at the top-left corner scales about the image's top-left edge
    np.testing.assert_allclose(moved[4, :, 0], (joints[:, 0] + 0.5) / 0.8 - 0.5, atol=1e-4)


def test_random_augmentation_is_seeded_and_keeps_joints_on_the_pattern():
    image, joints = _dot_image()
    images, batch_joints = np.repeat(image[None], 8, 0), np.repeat(joints[None], 8, 0)
    a, ja = augment(images, batch_joints, seed=7)
    b, jb = augment(images, batch_joints, seed=tf.constant([7, 0]))
    c, _ = augment(images, batch_joints, seed=8)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(ja.numpy(), jb.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())
    assert _assert_joints_on_their_dots(a.numpy(), ja.numpy()) >= 60
    # the images differ from each other: every one drew its own rotation and crop
    assert len({x.tobytes() for x in a.numpy()}) == 8


def test_augmentation_fill_follows_the_dtype():
    image, joints = _dot_image(32)
    joints = joints / 2
    model_range = image.astype(np.float32) / 127.5 - 1.0
    out, _ = transform_images_and_joints(model_range[None], joints[None], [20.0], [1.0], [[0, 0]])
    assert out.dtype == tf.float32 and float(out[0, 0, 0, 0]) == 1.0
    out16, _ = transform_images_and_joints((image.astype(np.uint16) * 257)[None], joints[None], [20.0], [1.0], [[0, 0]])
    assert out16.dtype == tf.uint16 and int(out16[0, 0, 0, 0]) == 65535
    nearest, j1 = transform_images_and_joints(image[None], joints[None], [13.0], [0.9], [[0.3, 0.6]])
    smooth, j2 = transform_images_and_joints(image[None], joints[None], [13.0], [0.9], [[0.3, 0.6]],
                                             interpolation="bilinear")
    np.testing.assert_array_equal(j1.numpy(), j2.numpy())
    assert set(np.unique(nearest.numpy())) <= set(np.unique(image))  # nearest invents no depths
    assert not set(np.unique(smooth.numpy())) <= set(np.unique(image))


def test_augmentation_bad_inputs():
    image, joints = _dot_image(32)
    with pytest.raises(ValueError, match="crop_scale"):
        augment(image[None], joints[None], 0, crop_scale=(0.5, 1.2))
    with pytest.raises(ValueError, match="images"):
        augment(image, joints, 0)
    with pytest.raises(ValueError, match="joints_uv"):
        augment(image[None], joints[None, :13], 0)
    with pytest.raises(ValueError, match="joints_uv has 1 rows"):
        augment(np.repeat(image[None], 2, 0), joints[None], 0)


# --- metrics --------------------------------------------------------------------------------
def test_joint_errors_and_pck_hand_cases():
    pred = np.array([[[0.0, 0.0], [3.0, 4.0]], [[1.0, 1.0], [10.0, 10.0]]])
    true = np.array([[[0.0, 0.0], [0.0, 0.0]], [[1.0, 2.0], [10.0, 10.0 + 1 / 3.5]]])
    np.testing.assert_allclose(joint_errors_px(pred, true), [[0.0, 5.0], [1.0, 1 / 3.5]])
    # the 224-crop scaling of a 64 x 64 prediction: 3.5 crop pixels per image pixel
    np.testing.assert_allclose(joint_errors_px(pred, true, scale=224 / 64), [[0.0, 17.5], [3.5, 1.0]])
    assert pck_percent([0.0, 5.0, 5.0001, 10.0], 5.0) == 50.0
    assert pck_percent(np.array([[0.0, 17.5], [3.5, 1.0]]), 5.0) == 75.0
    thresholds, percents = cumulative_error_curve([0.0, 17.5, 3.5, 1.0], 20.0, 5)
    np.testing.assert_allclose(thresholds, [0, 5, 10, 15, 20])
    np.testing.assert_allclose(percents, [25, 75, 75, 75, 100])
    with pytest.raises(ValueError, match="pred_uv and true_uv"):
        joint_errors_px(pred, true[:1])
    with pytest.raises(ValueError, match="scale"):
        joint_errors_px(pred, true, scale=0)
    with pytest.raises(ValueError, match="no errors"):
        pck_percent([], 5.0)


def _heatmap_echo_model(size):
    """A stand-in estimator: its two 'stacks' output the input image, tiled to 14 heatmaps."""
    inputs = keras.Input((size, size, 1))
    heat = keras.layers.Lambda(lambda x: tf.tile(x, [1, 1, 1, NUM_JOINTS]))(inputs)
    return keras.Model(inputs, [heat, heat])


def test_evaluate_reports_errors_in_224_crop_pixels():
    size = 16
    centres = np.full((4, NUM_JOINTS, 2), [7.0, 8.0], np.float32)
    images = joints_to_heatmaps(centres, size, size, 1.5).numpy()[..., :1]  # in [0, 1]: valid model range
    true = centres.copy()
    true[:2] += [0.3, 0.4]  # 0.5 px at 16 = 7 crop px
    true[2:] += [0.15, 0.2]  # 0.25 px = 3.5 crop px
    result = evaluate_hand_estimator(_heatmap_echo_model(size), images, true, curve_max_px=10.0, curve_points=3)
    assert result["pck_percent"] == pytest.approx(50.0)
    assert result["mean_error_px"] == pytest.approx(5.25, abs=1e-3)
    assert result["median_error_px"] == pytest.approx(5.25, abs=1e-3)
    assert result["errors_px"].shape == (4, NUM_JOINTS)
    assert result["per_joint_pck"] == pytest.approx([50.0] * NUM_JOINTS)
    assert result["curve_thresholds_px"] == [0.0, 5.0, 10.0]
    assert result["curve_percent"] == pytest.approx([0.0, 50.0, 100.0])
    assert result["num_images"] == 4 and result["threshold_px"] == 5.0
    with pytest.raises(ValueError, match="built for 16 x 16"):
        evaluate_hand_estimator(_heatmap_echo_model(size), np.zeros((4, 8, 8, 1), np.float32), true)
    with pytest.raises(ValueError, match="joints_uv"):
        evaluate_hand_estimator(_heatmap_echo_model(size), images, true[:3])


# --- the network ----------------------------------------------------------------------------
def test_quick_config_output_shapes():
    size = HAND_QUICK.image.height
    model = build_hand_estimator(size, HAND_ESTIMATOR_QUICK)
    assert model.input_shape == (None, size, size, 1)
    hm = HAND_ESTIMATOR_QUICK.heatmap_size
    assert [tuple(o.shape) for o in model.outputs] == [(None, hm, hm, NUM_JOINTS)] * HAND_ESTIMATOR_QUICK.num_stacks
    out = model(np.zeros((2, size, size, 1), np.float32), training=False)
    assert [tuple(o.shape) for o in out] == [(2, hm, hm, NUM_JOINTS)] * 2
    assert "resize_to_network" not in [layer.name for layer in model.layers]  # 64 = 32 x stride 2


def test_paper_config_shapes_at_224():
    cfg = HAND_ESTIMATOR_PAPER
    assert (cfg.num_stacks, cfg.heatmap_size, cfg.max_rotation_deg) == (2, 64, 20.0)  # the paper's
    model = build_hand_estimator(224, cfg)
    assert [tuple(o.shape) for o in model.outputs] == [(None, 64, 64, NUM_JOINTS)] * 2
    assert model.get_layer("resize_to_network").output.shape[1:3] == (256, 256)  # Newell et al.'s 256 input
    assert 5_000_000 < model.count_params() < 8_000_000


@pytest.mark.slow
def test_paper_config_forward_pass_at_224():
    model = build_hand_estimator(224, HAND_ESTIMATOR_PAPER)
    out = model(np.ones((1, 224, 224, 1), np.float32), training=False)
    assert [tuple(o.shape) for o in out] == [(1, 64, 64, NUM_JOINTS)] * 2


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="heatmap_size"):
        HandEstimatorConfig(heatmap_size=30, depth=3)
    with pytest.raises(ValueError, match="stem_stride"):
        HandEstimatorConfig(stem_stride=3)
    with pytest.raises(ValueError, match="crop_scale"):
        HandEstimatorConfig(crop_scale=(0.9, 0.8))
    with pytest.raises(ValueError, match="image_size"):
        build_hand_estimator(0, TINY)


# --- training -------------------------------------------------------------------------------
def _blob_problem(n=64, size=16, seed=0):
    """Depth-like toy images: a near (dark) disc on a far background; every joint is its centre."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(4.0, size - 5.0, (n, 2)).astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size]
    images = np.full((n, size, size, 1), 255, np.uint8)
    for i, (u, v) in enumerate(centres):
        images[i, (xx - u) ** 2 + (yy - v) ** 2 <= 4.0, 0] = 60
    return images, np.repeat(centres[:, None, :], NUM_JOINTS, axis=1)


@pytest.fixture(scope="module")
def trained_toy():
    images, joints = _blob_problem()
    lines = []
    model, info = train_hand_estimator(images, joints, TINY, seed=3, max_steps=600, eval_every=5, patience=2,
                                       validation_fraction=0.25, log=lines.append)
    return images, joints, model, info, lines


def test_training_stops_early_and_keeps_the_best_weights(trained_toy):
    images, joints, model, info, lines = trained_toy
    expected = {"stopped_step", "best_step", "best_val_loss", "steps_trained", "train_seconds", "images_per_second",
                "val_images", "train_images", "history"}
    assert expected <= set(info)
    assert info["stopped_early"] and info["stopped_step"] < 600
    assert info["steps_trained"] == info["stopped_step"] == 5 * len(info["history"])
    assert info["stopped_step"] == info["best_step"] + 2 * 5  # patience 2 measurements after the best
    assert info["best_val_loss"] == min(info["history"])
    assert (info["val_images"], info["train_images"]) == (16, 48)
    assert len(lines) == len(info["history"]) + 1
    # the returned weights are the best ones: their held-out loss is the best measured
    val_x = images[48:].astype(np.float32) / 127.5 - 1.0
    heat = joints_to_heatmaps(joints[48:], 16, TINY.heatmap_size, TINY.sigma)
    val_loss = model.evaluate(val_x, (heat, heat), verbose=0)[0]
    assert val_loss == pytest.approx(info["best_val_loss"], rel=1e-3)
    json.dumps(info)  # JSON-ready


def test_predict_joints_in_input_pixels(trained_toy):
    images, joints, model, _, _ = trained_toy
    pred = predict_joints(model, images)
    assert pred.shape == (64, NUM_JOINTS, 2)
    assert np.all((pred >= -0.5) & (pred <= 15.5))
    float_pred = predict_joints(model, images.astype(np.float32) / 127.5 - 1.0)
    np.testing.assert_allclose(float_pred, pred, atol=1e-4)


def test_training_bad_inputs_name_the_argument():
    images, joints = _blob_problem(n=20)
    kw = dict(max_steps=5, eval_every=5, patience=1, validation_fraction=0.2)
    with pytest.raises(ValueError, match="joints_uv has 19 rows"):
        train_hand_estimator(images, joints[:19], TINY, **kw)
    with pytest.raises(ValueError, match=r"joints_uv must have shape \(N, 14, 2\).*joints_uvd"):
        train_hand_estimator(images, np.concatenate([joints, joints[..., :1]], axis=-1), TINY, **kw)
    with pytest.raises(ValueError, match="images must have shape"):
        train_hand_estimator(images[:, :, :15], joints, TINY, **kw)
    with pytest.raises(ValueError, match="model range"):
        train_hand_estimator(images.astype(np.float32), joints, TINY, **kw)
    with pytest.raises(ValueError, match="validation_fraction"):
        train_hand_estimator(images, joints, TINY, **{**kw, "validation_fraction": 1.0})
    with pytest.raises(ValueError, match="eval_every"):
        train_hand_estimator(images, joints, TINY, **{**kw, "eval_every": 0})
    with pytest.raises(ValueError, match="at least one batch"):
        train_hand_estimator(images, joints, dataclasses.replace(TINY, batch_size=32), **kw)
    model = build_hand_estimator(16, TINY)
    with pytest.raises(ValueError, match="built for 16 x 16"):
        predict_joints(model, np.zeros((2, 32, 32, 1), np.uint8))


def test_progress_lines_every_n_checks():
    """Long rows report every `log_every_checks` measurements, not every one (plus the final line)."""
    images, joints = _blob_problem(n=32)
    lines = []
    _, info = train_hand_estimator(images, joints, TINY, seed=0, max_steps=6, eval_every=1, patience=100,
                                   validation_fraction=0.25, log=lines.append, log_every_checks=3)
    assert len(info["history"]) == 6
    progress = [line for line in lines if line.startswith("hand estimator: step")]
    assert [line.split()[3] for line in progress] == ["3/6", "6/6"]
    with pytest.raises(ValueError, match="log_every_checks"):
        train_hand_estimator(images, joints, TINY, seed=0, max_steps=2, eval_every=1, patience=1,
                             validation_fraction=0.25, log_every_checks=0)
