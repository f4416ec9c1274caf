"""The paper's gaze CNN: layer table, FC 9600, L2 loss; and the train/evaluate helpers."""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from simgan_tf.config import GAZE_IMAGE, GAZE_PAPER, GAZE_QUICK, GazeEstimatorConfig, ImageSpec, LayerSpec
from simgan_tf.estimators.gaze import (
    PAPER_FLATTEN_SIZE,
    build_gaze_estimator,
    evaluate_gaze_estimator,
    feature_map_shape,
    gaze_l2_loss,
    train_gaze_estimator,
)


@pytest.fixture(scope="module")
def paper_model():
    return build_gaze_estimator(GAZE_IMAGE, GAZE_PAPER.gaze_estimator)


def test_flatten_is_the_papers_fc_9600(paper_model):
    assert feature_map_shape(GAZE_IMAGE, GazeEstimatorConfig()) == (5, 10, 192)
    assert paper_model.get_layer("flatten").output.shape[-1] == PAPER_FLATTEN_SIZE == 5 * 10 * 192


def test_layer_table(paper_model):
    convs = [l for l in paper_model.layers if l.__class__.__name__ == "Conv2D"]
    assert [c.filters for c in convs] == [32, 32, 64, 80, 192]
    assert all(c.kernel_size == (3, 3) and c.strides == (1, 1) and c.padding == "valid" for c in convs)
    pools = [l for l in paper_model.layers if l.__class__.__name__ == "MaxPooling2D"]
    assert [(p.pool_size, p.strides) for p in pools] == [((3, 3), (2, 2)), ((2, 2), (2, 2))]
    # Order: conv conv conv pool conv conv pool flatten fc1000 fc3
    kinds = [l.__class__.__name__ for l in paper_model.layers[1:]]
    assert kinds == ["Conv2D"] * 3 + ["MaxPooling2D"] + ["Conv2D"] * 2 + ["MaxPooling2D", "Flatten", "Dense", "Dense"]
    assert paper_model.get_layer("fc1").units == 1000
    assert paper_model.output.shape[-1] == 3


def test_optimizer_and_loss_from_config():
    cfg = dataclasses.replace(GazeEstimatorConfig(), learning_rate=0.0123)
    model = build_gaze_estimator(ImageSpec(20, 24, 1), cfg)
    assert model.optimizer.__class__.__name__ == "Adam"
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0123)
    assert model.loss is gaze_l2_loss


def test_l2_loss_hand_case():
    y = tf.constant([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
    p = tf.constant([[0.0, 1.0, -1.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(gaze_l2_loss(y, p).numpy(), [1.0, 1.0])


def test_too_small_input_is_rejected():
    with pytest.raises(ValueError, match="shrinks to nothing"):
        build_gaze_estimator(ImageSpec(8, 8, 1), GazeEstimatorConfig())


def _toy_gaze_data(n: int, seed: int) -> tf.data.Dataset:
    """Images whose bright spot position encodes the gaze (learnable in a few epochs)."""
    rng = np.random.default_rng(seed)
    py = np.stack([rng.uniform(-0.4, 0.4, n), rng.uniform(-0.5, 0.5, n)], -1).astype(np.float32)
    from tfds_builders.gaze_geometry import pitch_yaw_to_vector

    gaze = pitch_yaw_to_vector(py).astype(np.float32)
    yy, xx = np.mgrid[0:20, 0:24]
    cx = 12 - 10 * gaze[:, 0]
    cy = 10 - 10 * gaze[:, 1]
    img = np.exp(-((xx[None] - cx[:, None, None]) ** 2 + (yy[None] - cy[:, None, None]) ** 2) / 8.0)
    images = (img * 255).astype(np.uint8)[..., None]
    return tf.data.Dataset.from_tensor_slices({"image": images, "gaze": gaze, "pitch_yaw": py})


def test_train_and_evaluate_small_model_learns():
    image = ImageSpec(20, 24, 1)
    cfg = GazeEstimatorConfig(
        layers=(LayerSpec("conv", 3, 1, 8), LayerSpec("maxpool", 2, 2), LayerSpec("conv", 3, 1, 8)),
        dense_units=(32,), batch_size=32, epochs=15, learning_rate=0.003,
    )
    train = _toy_gaze_data(512, seed=0)
    test = _toy_gaze_data(128, seed=1).map(lambda ex: (ex["image"], {"gaze": ex["gaze"]}))
    untrained = evaluate_gaze_estimator(build_gaze_estimator(image, cfg), test)
    model = train_gaze_estimator(train, cfg, image, seed=0)
    result = evaluate_gaze_estimator(model, test)
    assert result["num_examples"] == 128 and result["errors_deg"].shape == (128,)
    assert result["within_deg"] == 7.0
    assert result["mean_error_deg"] < 0.5 * untrained["mean_error_deg"]
    assert result["mean_error_deg"] < 8.0
    assert 0.0 <= result["percent_within"] <= 100.0


def test_gaze_pairs_rejects_unlabeled_data():
    ds = tf.data.Dataset.from_tensor_slices({"image": np.zeros((2, 35, 55, 1), np.uint8)})
    with pytest.raises(ValueError, match="'gaze'"):
        train_gaze_estimator(ds, GAZE_QUICK.gaze_estimator)
