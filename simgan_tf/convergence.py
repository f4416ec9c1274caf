"""When to stop the refiner: a Keras callback that watches realism on held-out images.

GAN losses do not say when a refiner is done: both players improve together, and D's own
accuracy stays level while they do (it keeps up with R). What the refiner is for is images a
classifier cannot tell from real ones, so at every checkpoint this callback trains a fresh
realism critic (`simgan_tf.critic`, a few seconds) on a held-out slice of the unlabeled real
images, which training never uses, against refined synthetic images, and records its held-out
accuracy (50 % = indistinguishable) beside D's balanced accuracy on the same images.
Adversarial training stops once the monitored figure has not improved by `min_delta` for
`patience` checks (or at the run's last step), and the refiner gets back the weights of its
best check, as Keras' EarlyStopping(restore_best_weights=True) does: a GAN can fall apart
between two checks (a critic at 65 % one check and 99 % the next was measured on the gaze
experiment), and the images of the last step would then stand for the method. No target
label is read.

A critic can also tell every held-out pair apart for many checks (a refiner still far from its
target): its accuracy then sits at 99-100 % while the refiner still changes (defocus camera,
seed 0: 99-100 % for 1400 iterations, then 92-94 %; docs/results/README.md). A check at or above
`saturated` carries no ranking, so it can never be the best: the plateau clock starts at the
first informative check, and a run whose critic never leaves saturation trains to its last step
and keeps it.

The decision is a function of the trace written to `trace_path` (one entry per checkpoint),
so a killed and resumed run takes the same decision as an unbroken one.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from simgan_tf import data
from simgan_tf.config import ImageSpec
from simgan_tf.critic import CriticConfig, critic_accuracy
from simgan_tf.run_io import BEST_WEIGHTS_FILE, write_json_atomic

MONITOR = "critic_accuracy_pct"  # the decision's figure; D's held-out accuracy is recorded beside it


def heldout_d_accuracy(gan: Any, refined: np.ndarray, real: np.ndarray, batch_size: int = 256) -> dict[str, float]:
    """D's patch accuracy on refined images (class 0) and on held-out real images (class 1)."""

    def accuracy(images: np.ndarray, label: int) -> float:
        hits, total = 0.0, 0
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            x = data.to_model_range(chunk) if chunk.dtype in (np.uint8, np.uint16) else tf.constant(chunk)
            logits = tf.cast(gan.discriminator(x, training=False), tf.float32)
            predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
            hits += float(tf.reduce_sum(tf.cast(tf.equal(predicted, label), tf.float32)))
            total += int(tf.size(predicted))
        return hits / max(total, 1)

    acc_refined, acc_real = accuracy(refined, 0), accuracy(real, 1)
    return {"d_acc_refined": acc_refined, "d_acc_real": acc_real, "heldout_d_accuracy": 0.5 * (acc_refined + acc_real)}


def best_check(trace: list[dict[str, Any]], min_delta: float, start_step: int = 0,
               saturated: float | None = None) -> int:
    """Index of the best counted check: the last one that improved on every earlier counted
    check by more than `min_delta` (-1 when no check counts yet). Checks before `start_step`
    and checks at or above `saturated` (a critic that separates everything) do not count."""
    best_value, best_index = float("inf"), -1
    for index, entry in enumerate(trace):
        if entry["step"] < start_step or (saturated is not None and entry[MONITOR] >= saturated):
            continue
        if entry[MONITOR] < best_value - min_delta:
            best_value, best_index = entry[MONITOR], index
    return best_index


def stop_decision(trace: list[dict[str, Any]], patience: int, min_delta: float,
                  start_step: int = 0, saturated: float | None = None) -> dict[str, Any] | None:
    """None to go on, or why to stop: `patience` checkpoints without a `min_delta` improvement.

    Checks before `start_step` are recorded but do not count: D learns fast at first, so its
    early accuracy would look like a best the refiner never beats. Checks at or above
    `saturated` cannot be a best (they rank nothing); after a best they count as no improvement.
    """
    best_index = best_check(trace, min_delta, start_step, saturated)
    if best_index >= 0 and len(trace) - 1 - best_index >= patience:
        return {
            "reason": f"{MONITOR} did not improve by {min_delta} for {patience} checks after its best at step "
                      f"{trace[best_index]['step']} (checks count from step {start_step})",
            "best_step": trace[best_index]["step"], "best_value": trace[best_index][MONITOR],
            "stopped_step": trace[-1]["step"],
        }
    return None


class RealismStopping(keras.callbacks.Callback):
    """Stop a `SimGAN.fit` when held-out realism stops improving (see the module docstring).

    synthetic: a fixed slice of synthetic images to refine at every checkpoint (uint8 or float).
    real_heldout: unlabeled real images the refiner's training never sees.
    trace_path: JSON file of the per-checkpoint figures and the decision (resumable).
    patience / min_delta: checks without an improvement of min_delta (critic percentage points).
    start_step: checks from this step on count for the decision (see `stop_decision`).
    every: steps between checks (checks run at checkpoints: the first one in each new stretch).
    critic: the critic's size and schedule; seed: its initialisation and data split.
    saturated: a check at or above this figure (critic %) ranks nothing and is never the best
    (None: every check counts).
    restore_best: when the run ends with a decision (stopped, or the schedule's last step), give
    the refiner the weights of its best check (kept in BEST_WEIGHTS_FILE beside the trace, so a
    resumed run restores the same ones); the checkpoints keep the last step's state.
    """

    def __init__(self, synthetic: np.ndarray, real_heldout: np.ndarray, trace_path: str | Path,
                 patience: int = 6, min_delta: float = 1.0, start_step: int = 0, every: int | None = None,
                 critic: CriticConfig = CriticConfig(epochs=8, batch_size=32, max_images_per_class=1000),
                 seed: int = 0, saturated: float | None = None, restore_best: bool = True):
        super().__init__()
        if len(synthetic) == 0 or len(real_heldout) == 0:
            raise ValueError("RealismStopping needs non-empty synthetic and held-out real images")
        if patience < 1:
            raise ValueError(f"RealismStopping: patience must be >= 1, got {patience}")
        self.synthetic, self.real = np.asarray(synthetic), np.asarray(real_heldout)
        self.trace_path = Path(trace_path)
        self.patience, self.min_delta, self.start_step = patience, min_delta, start_step
        self.every, self.critic, self.seed, self.saturated = every, critic, seed, saturated
        self.restore_best = restore_best
        self.best_weights_path = self.trace_path.parent / BEST_WEIGHTS_FILE
        self.trace: list[dict[str, Any]] = []
        self.decision: dict[str, Any] | None = None

    def _write(self) -> None:
        write_json_atomic(self.trace_path, {
            "monitor": MONITOR, "patience": self.patience, "min_delta": self.min_delta, "start_step": self.start_step,
            "saturated": self.saturated,
            "heldout_images": {"synthetic": len(self.synthetic), "real": len(self.real)},
            "trace": self.trace, "stopped": self.decision,
        })

    def _measure(self, step: int) -> None:
        if self.trace and self.trace[-1]["step"] >= step:
            return
        refined = self.model.refine(self.synthetic)
        figures = heldout_d_accuracy(self.model, refined, self.real)
        image = ImageSpec(*self.real.shape[1:])
        figures[MONITOR] = critic_accuracy(self.real, refined, image, self.critic, self.seed)["accuracy_pct"]
        self.trace.append({"step": step, **{k: round(float(v), 5) for k, v in figures.items()}})
        if self.restore_best and self._best() == len(self.trace) - 1:
            self._save_best_weights()
        self.decision = self._decide()
        self._write()
        if self.decision is not None:
            self.model.stop_training = True

    def _best(self) -> int:
        return best_check(self.trace, self.min_delta, self.start_step, self.saturated)

    def _decide(self) -> dict[str, Any] | None:
        return stop_decision(self.trace, self.patience, self.min_delta, self.start_step, self.saturated)

    def _save_best_weights(self) -> None:
        partial = self.best_weights_path.with_name("partial_" + BEST_WEIGHTS_FILE)
        partial.parent.mkdir(parents=True, exist_ok=True)
        self.model.refiner.save_weights(str(partial))
        os.replace(partial, self.best_weights_path)  # a kill mid-write never leaves a half file

    def _restore_best_weights(self) -> None:
        best_step = self.decision.get("best_step") if self.decision else None
        if not self.restore_best or best_step is None or not self.best_weights_path.exists():
            return
        self.model.refiner.load_weights(str(self.best_weights_path))
        if self.decision.get("restored_step") != best_step:
            self.decision["restored_step"] = best_step
            self._write()

    def _due(self, step: int) -> bool:
        """A check belongs to this checkpoint: adversarial phase, and the first checkpoint in a
        new stretch of `every` steps since the last check (or the run's last step)."""
        if step <= 0 or self.model.phase_of(step - 1) != "adversarial":
            return False
        t = self.model.training_config
        every = self.every or t.checkpoint_every
        last = self.trace[-1]["step"] if self.trace else t.pretrain_r_steps + t.pretrain_d_steps
        return step // every > last // every or step >= self.model.total_steps

    def on_train_begin(self, logs=None):
        step = int(self.model.step.numpy())
        if self.trace_path.exists():  # a resumed run: keep what was measured up to the restored step
            stored = json.loads(self.trace_path.read_text())
            self.trace = [e for e in stored.get("trace", []) if e["step"] <= step]
            self.decision = self._decide()
        if self._due(step):
            self._measure(step)  # the checkpoint resumed from may have ended before its trace entry
        if self.decision is not None:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.step.numpy())
        if self._due(step):
            self._measure(step)
            if logs is not None:
                logs[MONITOR] = self.trace[-1][MONITOR]

    def on_train_end(self, logs=None):
        if self.decision is None and self.trace:
            step = int(self.model.step.numpy())
            if step >= self.model.total_steps:
                index = self._best()
                best = self.trace[index] if index >= 0 else None
                self.decision = {"reason": "reached the schedule's last step", "stopped_step": step,
                                 "best_step": best["step"] if best else None,
                                 "best_value": best[MONITOR] if best else None}
                self._write()
        self._restore_best_weights()


__all__ = ["BEST_WEIGHTS_FILE", "MONITOR", "RealismStopping", "best_check", "heldout_d_accuracy", "stop_decision"]
