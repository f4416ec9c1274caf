"""Reading and writing a training run directory (config.json, summary.json, samples.png).

Export and the experiment runner rebuild a refiner from a run directory alone, so the
resolved preset is stored beside the checkpoints in a form that round-trips exactly. The
writers shared by train_gaze.py / train_hand.py, the Python API and the experiments live
here so that none of them imports another.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

import tensorflow as tf

from simgan_tf import config as cfg
from simgan_tf import data, viz
from simgan_tf.models.refiner import build_refiner

CONFIG_FILE = "config.json"
SUMMARY_FILE = "summary.json"
CHECKPOINT_DIR = "checkpoints"
LOG_DIR = "logs"
SAMPLES_FILE = "samples.png"
STOPPING_FILE = "stopping.json"  # RealismStopping's per-check trace and why training stopped
BEST_WEIGHTS_FILE = "best_refiner.weights.h5"  # beside the trace: the refiner at its best check
# config.json key beside "preset": the storage dtype of the run's images ("uint8" or
# "uint16" depth), what export serves. Runs written before it was recorded lack it.
IMAGE_DTYPE_KEY = "image_dtype"
IMAGE_DTYPES = ("uint8", "uint16")


# Settings that may differ when resuming a run (they change how long or how often, not what).
RESUMABLE_CHANGES = {"steps", "checkpoint_every", "log_every", "max_checkpoints", "steps_per_call", "xla"}


def psi_record(psi: cfg.Psi) -> str:
    """How a run records psi: its name, or "callable:<name>" for a callable."""
    if not callable(psi):
        return psi
    name = getattr(psi, "name", None) or getattr(psi, "__qualname__", None) or type(psi).__name__
    return f"{cfg.CALLABLE_PSI_PREFIX}{name}"


def preset_to_dict(preset: cfg.Preset) -> dict[str, Any]:
    """JSON-ready dict of a preset; a callable psi is recorded by name ("callable:<name>")."""
    if callable(preset.training.psi):
        preset = dataclasses.replace(
            preset, training=dataclasses.replace(preset.training, psi=psi_record(preset.training.psi))
        )
    return dataclasses.asdict(preset)


def _layers(items: list[dict[str, Any]]) -> tuple[cfg.LayerSpec, ...]:
    return tuple(cfg.LayerSpec(**item) for item in items)


def _tuple_fields(payload: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {k: (tuple(v) if k in names and v is not None else v) for k, v in payload.items()}


def preset_from_dict(payload: dict[str, Any]) -> cfg.Preset:
    """Inverse of `preset_to_dict` (JSON turns tuples into lists; this restores them)."""
    estimator = payload.get("gaze_estimator")
    if estimator is not None:
        estimator = cfg.GazeEstimatorConfig(
            **{**_tuple_fields(estimator, ("dense_units",)), "layers": _layers(estimator["layers"])}
        )
    return cfg.Preset(
        name=payload["name"],
        task=payload["task"],
        image=cfg.ImageSpec(**payload["image"]),
        refiner=cfg.RefinerConfig(**payload["refiner"]),
        discriminator=cfg.DiscriminatorConfig(
            layers=_layers(payload["discriminator"]["layers"]), head=payload["discriminator"]["head"]
        ),
        training=cfg.TrainingConfig(
            **_tuple_fields(payload["training"], ("lr_boundaries", "lr_values_after"))
        ),
        data=cfg.DataConfig(**payload["data"]),
        gaze_estimator=estimator,
        provenance=dict(payload.get("provenance", {})),
    )


def write_json_atomic(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write JSON through a temporary file so a crash never leaves a half-written file."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


def save_run_config(run_dir: str | os.PathLike, preset: cfg.Preset) -> None:
    """Write config.json with `preset`, keeping the image dtype recorded there (if any)."""
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {"preset": preset_to_dict(preset)}
    recorded = load_image_dtype(run_dir)
    if recorded is not None:
        payload[IMAGE_DTYPE_KEY] = recorded
    write_json_atomic(Path(run_dir) / CONFIG_FILE, payload)


def _read_config(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        payload = json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(f"{path} is not a valid simgan-tf run config: {err}") from err
    return payload if isinstance(payload, dict) else None


def load_image_dtype(run_dir: str | os.PathLike) -> str | None:
    """The storage dtype of the run's training images ("uint8" / "uint16"); None when the run
    predates this record (or has no config.json)."""
    payload = _read_config(run_dir)
    dtype = payload.get(IMAGE_DTYPE_KEY) if payload else None
    if dtype is not None and dtype not in IMAGE_DTYPES:
        raise ValueError(f"{Path(run_dir) / CONFIG_FILE}: {IMAGE_DTYPE_KEY} {dtype!r}; expected one of {IMAGE_DTYPES}")
    return dtype


def record_image_dtype(run_dir: str | os.PathLike, dtype: str) -> None:
    """Store the run's image dtype in config.json (written by `prepare_run_dir` before).

    A run resumed on images of another dtype is refused: its weights, history buffer and
    export contract are those of the recorded dtype.
    """
    if dtype not in IMAGE_DTYPES:
        raise ValueError(f"image dtype {dtype!r}: expected one of {IMAGE_DTYPES}")
    payload = _read_config(run_dir)
    if payload is None:
        raise FileNotFoundError(f"{Path(run_dir) / CONFIG_FILE} not found: call prepare_run_dir first")
    recorded = payload.get(IMAGE_DTYPE_KEY)
    if recorded == dtype:
        return
    if recorded is not None:
        raise ValueError(
            f"{run_dir} was trained on {recorded} images; these are {dtype}. Resume it with {recorded} "
            "images (the same datasets), or pick a new run directory"
        )
    write_json_atomic(Path(run_dir) / CONFIG_FILE, {**payload, IMAGE_DTYPE_KEY: dtype})


def check_resume_compatible(run_dir: str | os.PathLike, preset: cfg.Preset) -> None:
    """Refuse to resume a run with different model/data settings (it would corrupt it)."""
    stored = load_run_config(run_dir)
    stored_d, new_d = preset_to_dict(stored), preset_to_dict(preset)
    for d in (stored_d, new_d):
        d["training"] = {k: v for k, v in d["training"].items() if k not in RESUMABLE_CHANGES}
        d.pop("provenance", None)
    diffs = sorted(setting_differences(stored_d, new_d))
    if diffs:
        raise ValueError(
            f"{run_dir} was created with different settings ({'; '.join(diffs)}). Resume with the "
            "same settings (only steps, checkpoint_every, log_every, max_checkpoints may change), "
            "or pick a new run directory."
        )


def setting_differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    """'dotted.path: old -> new' for every value that differs between two settings documents."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            out += setting_differences(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    a = list(a) if isinstance(a, tuple) else a
    b = list(b) if isinstance(b, tuple) else b
    return [] if a == b else [f"{prefix.rstrip('.')}: {a!r} -> {b!r}"]


def prepare_run_dir(run_dir: str | os.PathLike, preset: cfg.Preset) -> None:
    """Create run_dir, or check that the run in it was made with the same settings; then
    (re)write config.json (settings that may change on resume, like steps, are updated)."""
    run_dir = Path(run_dir)
    if (run_dir / CONFIG_FILE).exists():
        check_resume_compatible(run_dir, preset)
    save_run_config(run_dir, preset)


def write_run_outputs(gan: Any, final: dict[str, float], sample_synthetic: Any, sample_real: Any,
                      started: float) -> dict[str, Any]:
    """samples.png (synthetic | refined | real rows) and summary.json of a finished fit.

    `gan` is a `simgan_tf.SimGAN` made by `from_preset`; the samples are stored-dtype images
    (uint8 or uint16; samples.png shows them with 8 bits, a picture only). Returns the summary.
    """
    preset, run_dir, t = gan.preset, Path(gan.run_dir), gan.training_config
    sample_synthetic = data.to_model_range(tf.convert_to_tensor(sample_synthetic)).numpy()
    sample_real = data.to_model_range(tf.convert_to_tensor(sample_real)).numpy()
    step = int(gan.step.numpy())
    kept = kept_refiner_step(run_dir)  # the realism rule gave the refiner its best check's weights
    samples = viz.save_image_rows(
        run_dir / SAMPLES_FILE,
        [sample_synthetic, gan.refine(sample_synthetic), sample_real],
        ["synthetic", "refined", "real"],
        title=f"{preset.name}, step {step}" + (f" (refiner of step {kept}, the best check, kept)" if kept is not None else ""),
    )
    summary = {
        "preset": preset.name,
        "settings": preset_to_dict(preset),
        "steps_done": step,
        "refiner_step_kept": step if kept is None else kept,
        "total_steps": gan.total_steps,
        "adversarial_steps_done": max(0, step - t.pretrain_r_steps - t.pretrain_d_steps),
        "image_dtype": getattr(gan, "image_dtype", None) or load_image_dtype(run_dir),
        "final_losses": final,
        "images_per_second": gan.throughput(),
        "wall_seconds_this_invocation": round(time.time() - started, 1),
        "run_dir": str(run_dir),
        "checkpoint": gan.manager.latest_checkpoint if gan.manager else None,
        "samples": str(samples),
        "tensorflow_version": tf.__version__,
    }
    write_json_atomic(run_dir / SUMMARY_FILE, summary)
    return summary


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
    """The step (see simgan_tf.config) stored in a training checkpoint."""
    return int(tf.train.load_variable(checkpoint_path, "step/.ATTRIBUTES/VARIABLE_VALUE"))


def kept_refiner_step(run_dir: str | os.PathLike) -> int | None:
    """The step whose refiner the realism rule kept (its best check), or None.

    None when the run has no realism stopping decision with restored weights, or when training
    went on past that decision (a later checkpoint than the stop: e.g. resumed without the rule),
    so the latest checkpoint is then the refiner that counts.
    """
    run_dir = Path(run_dir)
    trace, weights = run_dir / STOPPING_FILE, run_dir / BEST_WEIGHTS_FILE
    if not trace.is_file() or not weights.is_file():
        return None
    decision = json.loads(trace.read_text()).get("stopped") or {}
    if decision.get("restored_step") is None:
        return None
    latest = tf.train.latest_checkpoint(str(run_dir / CHECKPOINT_DIR))
    if latest is not None and checkpoint_step(latest) > int(decision.get("stopped_step", -1)):
        return None
    return int(decision["restored_step"])


def load_refiner(run_dir: str | os.PathLike, which: str = "kept") -> tuple[Any, cfg.Preset, int]:
    """Rebuild the run's refiner with its weights: (model, preset, step).

    which="kept" (default): the refiner the run kept, i.e. the realism rule's best check
    (best_refiner.weights.h5, see `kept_refiner_step`) where the rule stopped the run, else the
    latest checkpoint; which="latest": the latest checkpoint's refiner, whatever the rule kept.
    Why: a GAN's refiner can fall apart after its best check; export must ship the kept one.
    """
    if which not in ("kept", "latest"):
        raise ValueError(f"load_refiner: which={which!r}; expected 'kept' or 'latest'")
    preset = load_run_config(run_dir)
    refiner = build_refiner(preset.image, preset.refiner)
    kept = kept_refiner_step(run_dir) if which == "kept" else None
    if kept is not None:
        refiner.load_weights(str(Path(run_dir) / BEST_WEIGHTS_FILE))
        return refiner, preset, kept
    path = latest_checkpoint(run_dir)
    tf.train.Checkpoint(refiner=refiner).restore(path).expect_partial()
    return refiner, preset, checkpoint_step(path)
