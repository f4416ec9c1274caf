"""tf.distribute strategies by name, and who writes files when several workers train.

`multiworker` is TensorFlow's own multi-machine engine: every worker runs the same command
with a TF_CONFIG environment variable naming the cluster and its own task; the chief (worker
0) writes checkpoints, logs and outputs, the others write their copies of the collective
checkpoint into a scratch folder of their own.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import tensorflow as tf

STRATEGIES: tuple[str, ...] = ("default", "mirrored", "multiworker")


def make_strategy(name: str) -> tf.distribute.Strategy:
    """default: one device; mirrored: all local GPUs (or the CPU); multiworker: TF_CONFIG's cluster."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy multiworker reads the cluster from the TF_CONFIG environment variable, "
                             "which is not set (see docs/ARCHITECTURE.md, 'Several devices and machines')")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"--strategy must be one of {list(STRATEGIES)}, got {name!r}")


def _task() -> tuple[str | None, int]:
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = config.get("task", {})
    return task.get("type"), int(task.get("index", 0))


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the one process that writes a run's files (always, without multiworker)."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, task_id = _task()
    return task_type in (None, "chief") or (task_type == "worker" and task_id == 0)


def writer_dir(path: Path, strategy: tf.distribute.Strategy) -> Path:
    """Where this process writes what belongs at `path`: `path` itself on the chief, a
    scratch folder beside it on the other workers (collective saves need every worker)."""
    if is_chief(strategy):
        return path
    _, task_id = _task()
    return path.parent / f".worker_{task_id}_{path.name}"
