"""Experiments that reproduce the paper's evaluations (the gaze table, ablations, realism).

`python -m simgan_tf.experiments.gaze --out DIR` runs the gaze experiment; `run_experiment`
is the same as a function (used by `train_gaze.py --experiment`).
"""
from simgan_tf.experiments.settings import EXPERIMENT_PRESETS, ExperimentSettings, get_experiment_settings

__all__ = ["EXPERIMENT_PRESETS", "ExperimentSettings", "get_experiment_settings"]
