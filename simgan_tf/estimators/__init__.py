"""Downstream estimators that measure whether refined images make better training data."""
from simgan_tf.estimators.gaze import (
    build_gaze_estimator,
    evaluate_gaze_estimator,
    train_gaze_estimator,
)

__all__ = ["build_gaze_estimator", "evaluate_gaze_estimator", "train_gaze_estimator"]
