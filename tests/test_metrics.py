"""Gaze metrics against hand-computed cases."""
import numpy as np
import pytest

from simgan_tf.metrics import angular_error_deg, cumulative_error_curve, percent_within


def test_angular_error_hand_cases():
    true = np.array([[0, 0, -1], [0, 0, -1], [1, 0, 0], [0, 1, 0]], float)
    pred = np.array([[0, 0, -2], [1, 0, -1], [-1, 0, 0], [0, 0, 5]], float)
    # same direction (length ignored), 45 degrees, opposite, perpendicular
    np.testing.assert_allclose(angular_error_deg(pred, true), [0.0, 45.0, 180.0, 90.0], atol=1e-6)


def test_angular_error_small_angle():
    angle = np.deg2rad(3.0)
    pred = np.array([np.sin(angle), 0.0, -np.cos(angle)])
    assert angular_error_deg(pred, np.array([0.0, 0.0, -1.0])) == pytest.approx(3.0, abs=1e-9)


def test_angular_error_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        angular_error_deg(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="zero length"):
        angular_error_deg(np.zeros((1, 3)), np.ones((1, 3)))


def test_percent_within_is_inclusive():
    errors = [1.0, 7.0, 7.5, 20.0]
    assert percent_within(errors, 7.0) == 50.0
    assert percent_within(errors, 0.5) == 0.0
    assert percent_within(errors, 100.0) == 100.0
    with pytest.raises(ValueError, match="no errors"):
        percent_within([], 7.0)


def test_cumulative_error_curve():
    thresholds, percents = cumulative_error_curve([0.0, 2.0, 4.0, 9.0], max_deg=8.0, num=5)
    np.testing.assert_allclose(thresholds, [0, 2, 4, 6, 8])
    np.testing.assert_allclose(percents, [25, 50, 75, 75, 75])
    assert np.all(np.diff(percents) >= 0)
    with pytest.raises(ValueError, match="num >= 2"):
        cumulative_error_curve([1.0], max_deg=8.0, num=1)
