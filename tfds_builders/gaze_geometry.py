"""Gaze angles <-> 3-D gaze vectors, in the MPIIGaze normalized camera convention.

Camera coordinates: x to the image right, y to the image bottom, z into the scene. A gaze
vector points from the eye to the gaze target, so looking at the camera gives z < 0:

    x = -cos(pitch) * sin(yaw)
    y = -sin(pitch)
    z = -cos(pitch) * cos(yaw)

Positive pitch looks up, positive yaw looks towards the image left; (0, 0) looks straight
into the camera, (0, 0, -1). These are the formulas MPIIGaze / UnityEyes tooling uses, so the
procedural data, the real-data loaders and the estimators all share one convention.

Both functions accept numpy arrays (returning numpy) or TF tensors (returning tensors, usable
inside `tf.data` maps and `tf.function`s), shaped (..., 2) and (..., 3).
"""
from __future__ import annotations

from typing import Any

import numpy as np

try:  # TF is optional for the numpy path (the renderer uses only numpy).
    import tensorflow as tf
except ImportError:  # pragma: no cover - TF is a project dependency
    tf = None


def _is_tensor(x: Any) -> bool:
    return tf is not None and tf.is_tensor(x)


def _check_last_dim(x: Any, size: int, name: str, fn: str) -> None:
    last = x.shape[-1] if len(x.shape) else None
    if last is not None and last != size:
        raise ValueError(f"gaze_geometry.{fn}: {name} must have shape (..., {size}), got {tuple(x.shape)}")


def pitch_yaw_to_vector(pitch_yaw: Any) -> Any:
    """(..., 2) [pitch, yaw] in radians -> (..., 3) unit gaze vectors."""
    if _is_tensor(pitch_yaw):
        _check_last_dim(pitch_yaw, 2, "pitch_yaw", "pitch_yaw_to_vector")
        pitch, yaw = pitch_yaw[..., 0], pitch_yaw[..., 1]
        return tf.stack(
            [-tf.cos(pitch) * tf.sin(yaw), -tf.sin(pitch), -tf.cos(pitch) * tf.cos(yaw)], axis=-1
        )
    pitch_yaw = np.asarray(pitch_yaw)
    _check_last_dim(pitch_yaw, 2, "pitch_yaw", "pitch_yaw_to_vector")
    pitch, yaw = pitch_yaw[..., 0], pitch_yaw[..., 1]
    return np.stack(
        [-np.cos(pitch) * np.sin(yaw), -np.sin(pitch), -np.cos(pitch) * np.cos(yaw)], axis=-1
    )


def vector_to_pitch_yaw(vector: Any) -> Any:
    """(..., 3) gaze vectors (any length > 0) -> (..., 2) [pitch, yaw] in radians.

    The vector is normalised first, so unnormalised network outputs can be passed directly.
    """
    if _is_tensor(vector):
        _check_last_dim(vector, 3, "vector", "vector_to_pitch_yaw")
        v = tf.math.l2_normalize(vector, axis=-1)
        pitch = tf.asin(tf.clip_by_value(-v[..., 1], -1.0, 1.0))
        yaw = tf.atan2(-v[..., 0], -v[..., 2])
        return tf.stack([pitch, yaw], axis=-1)
    v = np.asarray(vector, dtype=np.float64 if np.asarray(vector).dtype == np.float64 else np.float32)
    _check_last_dim(v, 3, "vector", "vector_to_pitch_yaw")
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    if np.any(norm == 0):
        raise ValueError("gaze_geometry.vector_to_pitch_yaw: got a zero-length gaze vector")
    v = v / norm
    pitch = np.arcsin(np.clip(-v[..., 1], -1.0, 1.0))
    yaw = np.arctan2(-v[..., 0], -v[..., 2])
    return np.stack([pitch, yaw], axis=-1).astype(v.dtype)
