"""Reading and writing a training run directory (config.json, summary.json, checkpoints).

Export and the experiment runner rebuild a refiner from a run directory alone, so the
resolved preset is stored beside the checkpoints in a form that round-trips exactly.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import tensorflow as tf

from simgan_tf import config as cfg

CONFIG_FILE = "config.json"
SUMMARY_FILE = "summary.json"
CHECKPOINT_DIR = "checkpoints"
LOG_DIR = "logs"
SAMPLES_FILE = "samples.png"


def preset_to_dict(preset: cfg.Preset) -> dict[str, Any]:
    return dataclasses.asdict(preset)


def _layers(items: list[dict[str, Any]]) -> tuple[cfg.LayerSpec, ...]:
    return tuple(cfg.LayerSpec(**item) for item in items)


def _tuple_fields(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {k: (tuple(v) if k in names and v is not None else v) for k, v in data.items()}


def preset_from_dict(data: dict[str, Any]) -> cfg.Preset:
    """Inverse of `preset_to_dict` (JSON turns tuples into lists; this restores them)."""
    estimator = data.get("gaze_estimator")
    if estimator is not None:
        estimator = cfg.GazeEstimatorConfig(
            **{**_tuple_fields(estimator, ("dense_units",)), "layers": _layers(estimator["layers"])}
        )
    return cfg.Preset(
        name=data["name"],
        task=data["task"],
        image=cfg.ImageSpec(**data["image"]),
        refiner=cfg.RefinerConfig(**data["refiner"]),
        discriminator=cfg.DiscriminatorConfig(
            layers=_layers(data["discriminator"]["layers"]), head=data["discriminator"]["head"]
        ),
        training=cfg.TrainingConfig(
            **_tuple_fields(data["training"], ("lr_boundaries", "lr_values_after"))
        ),
        data=cfg.DataConfig(**data["data"]),
        gaze_estimator=estimator,
        provenance=dict(data.get("provenance", {})),
    )


def write_json_atomic(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write JSON through a temporary file so a crash never leaves a half-written file."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


def save_run_config(run_dir: str | os.PathLike, preset: cfg.Preset) -> None:
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    write_json_atomic(Path(run_dir) / CONFIG_FILE, {"preset": preset_to_dict(preset)})


def load_run_config(run_dir: str | os.PathLike) -> cfg.Preset:
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: expected a training run directory written by train_gaze.py / "
            "train_hand.py (it holds config.json, checkpoints/ and summary.json)"
        )
    try:
        return preset_from_dict(json.loads(path.read_text())["preset"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path} is not a valid simgan-tf run config: {err}") from err


def latest_checkpoint(run_dir: str | os.PathLike) -> str:
    ckpt_dir = Path(run_dir) / CHECKPOINT_DIR
    latest = tf.train.latest_checkpoint(str(ckpt_dir))
    if latest is None:
        raise FileNotFoundError(f"no checkpoint found in {ckpt_dir}: train first (train_gaze.py)")
    return latest


def checkpoint_step(checkpoint_path: str) -> int:
    """The global optimizer step stored in a trainer checkpoint."""
    return int(tf.train.load_variable(checkpoint_path, "step/.ATTRIBUTES/VARIABLE_VALUE"))


def load_refiner(run_dir: str | os.PathLike) -> tuple[Any, cfg.Preset, int]:
    """Rebuild the run's refiner and restore its latest weights: (model, preset, step)."""
    from simgan_tf.models.refiner import build_refiner

    preset = load_run_config(run_dir)
    refiner = build_refiner(preset.image, preset.refiner)
    path = latest_checkpoint(run_dir)
    tf.train.Checkpoint(refiner=refiner).restore(path).expect_partial()
    return refiner, preset, checkpoint_step(path)
