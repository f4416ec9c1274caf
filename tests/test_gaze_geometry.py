"""Gaze angles <-> vectors: the MPIIGaze convention, in numpy and in TF."""
import numpy as np
import pytest
import tensorflow as tf

from tfds_builders.gaze_geometry import pitch_yaw_to_vector, vector_to_pitch_yaw


def test_known_directions():
    # Straight at the camera, looking up, looking towards the image left (positive yaw).
    py = np.array([[0.0, 0.0], [np.pi / 2, 0.0], [0.0, np.pi / 2]])
    expected = np.array([[0.0, 0.0, -1.0], [0.0, -1.0, 0.0], [-1.0, 0.0, 0.0]])
    np.testing.assert_allclose(pitch_yaw_to_vector(py), expected, atol=1e-12)


def test_round_trip_numpy_and_unit_length():
    rng = np.random.default_rng(0)
    py = np.stack([rng.uniform(-1.2, 1.2, 500), rng.uniform(-2.5, 2.5, 500)], -1)
    v = pitch_yaw_to_vector(py)
    np.testing.assert_allclose(np.linalg.norm(v, axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(vector_to_pitch_yaw(v), py, atol=1e-10)
    np.testing.assert_allclose(vector_to_pitch_yaw(3.5 * v), py, atol=1e-10)  # length ignored


def test_tensorflow_matches_numpy_inside_tf_function():
    py = np.array([[0.3, -0.5], [-0.2, 0.6]], np.float32)

    @tf.function
    def round_trip(x):
        return pitch_yaw_to_vector(x), vector_to_pitch_yaw(pitch_yaw_to_vector(x))

    v, back = round_trip(tf.constant(py))
    assert isinstance(v, tf.Tensor)
    np.testing.assert_allclose(v.numpy(), pitch_yaw_to_vector(py), atol=1e-6)
    np.testing.assert_allclose(back.numpy(), py, atol=1e-6)


def test_bad_shapes_and_zero_vectors_are_rejected():
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        pitch_yaw_to_vector(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        vector_to_pitch_yaw(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="zero-length"):
        vector_to_pitch_yaw(np.zeros((1, 3)))
