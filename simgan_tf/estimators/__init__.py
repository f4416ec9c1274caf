"""Downstream estimators that measure whether refined images make better training data."""
from simgan_tf.estimators.gaze import (
    build_gaze_estimator,
    evaluate_gaze_estimator,
    train_gaze_estimator,
)
from simgan_tf.estimators.hand import (
    build_hand_estimator,
    evaluate_hand_estimator,
    predict_joints,
    train_hand_estimator,
)

__all__ = [
    "build_gaze_estimator",
    "build_hand_estimator",
    "evaluate_gaze_estimator",
    "evaluate_hand_estimator",
    "predict_joints",
    "train_gaze_estimator",
    "train_hand_estimator",
]
