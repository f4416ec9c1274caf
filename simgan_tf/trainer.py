"""Algorithm 1 of the SimGAN paper as `tf.function` steps with checkpoint/resume.

Progress is one counter, `step`, over three phases run back to back:
  [0, P_R)            refiner pretraining, self-regularization loss only
  [P_R, P_R + P_D)    discriminator pretraining
  [P_R + P_D, end)    adversarial iterations: K_g refiner steps then K_d discriminator steps
so a resumed run knows its phase from the restored step alone.
"""
from __future__ import annotations

import dataclasses
import math
import signal
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import tensorflow as tf
import keras

from simgan_tf import losses, run_io
from simgan_tf.config import Preset
from simgan_tf.history import ImageHistoryBuffer
from simgan_tf.models.discriminator import build_discriminator
from simgan_tf.models.refiner import build_refiner

PHASES = ("pretrain_refiner", "pretrain_discriminator", "adversarial")


class NonFiniteLossError(RuntimeError):
    """A loss became NaN/Inf; training stops and the last good checkpoint is kept."""


@dataclasses.dataclass
class PhaseStats:
    """Throughput bookkeeping for summary.json."""

    steps: int = 0
    images: int = 0
    seconds: float = 0.0

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("nan")


class SimGANTrainer:
    """Owns R, D, their optimizers and the history buffer, and runs Algorithm 1.

    Everything is created inside `strategy.scope()` so the same code runs on one CPU, one
    GPU or a `tf.distribute` strategy.
    """

    def __init__(self, preset: Preset, run_dir: str | Path, strategy: tf.distribute.Strategy | None = None):
        self.preset = preset
        self.train_cfg = preset.training
        self.run_dir = Path(run_dir)
        self.strategy = strategy or tf.distribute.get_strategy()
        t = self.train_cfg
        if t.batch_size % 2:
            raise ValueError(f"--batch-size must be even (the D step takes b/2 current + b/2 history images), got {t.batch_size}")
        if t.k_g < 1 or t.k_d < 1:
            raise ValueError(f"--k-g and --k-d must be >= 1, got k_g={t.k_g}, k_d={t.k_d}")
        if t.psi not in losses.PSI_TRANSFORMS:
            raise ValueError(f"--psi must be one of {sorted(losses.PSI_TRANSFORMS)}, got {t.psi!r}")
        tf.random.set_seed(t.seed)
        keras.utils.set_random_seed(t.seed)
        with self.strategy.scope():
            self.refiner = build_refiner(preset.image, preset.refiner)
            self.discriminator = build_discriminator(preset.image, preset.discriminator)
            self.refiner_optimizer = self._make_optimizer("refiner_adam")
            self.discriminator_optimizer = self._make_optimizer("discriminator_adam")
            self.refiner_optimizer.build(self.refiner.trainable_variables)
            self.discriminator_optimizer.build(self.discriminator.trainable_variables)
            self.history = ImageHistoryBuffer(
                capacity=t.buffer_size, image_shape=preset.image.shape, seed=t.seed
            )
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.checkpoint: tf.train.Checkpoint | None = None
        self.manager: tf.train.CheckpointManager | None = None
        self.stats = {phase: PhaseStats() for phase in PHASES}
        self.last_losses: dict[str, float] = {}
        self._compile_steps()

    # ----------------------------------------------------------------------------------
    def _make_optimizer(self, name: str) -> keras.optimizers.Optimizer:
        t = self.train_cfg
        return keras.optimizers.Adam(
            learning_rate=t.learning_rate, global_clipnorm=t.grad_clip_norm, name=name
        )

    @property
    def total_steps(self) -> int:
        t = self.train_cfg
        return t.pretrain_r_steps + t.pretrain_d_steps + t.steps

    def phase_of(self, step: int) -> str:
        t = self.train_cfg
        if step < t.pretrain_r_steps:
            return PHASES[0]
        if step < t.pretrain_r_steps + t.pretrain_d_steps:
            return PHASES[1]
        return PHASES[2]

    def learning_rate_at(self, adversarial_step: int) -> float:
        """Piecewise-constant schedule of the preset (e.g. hand: 2e-4, 5e-5 after 600k)."""
        t = self.train_cfg
        rate = t.learning_rate
        for boundary, value in zip(t.lr_boundaries, t.lr_values_after):
            if adversarial_step >= boundary:
                rate = value
        return rate

    # ----------------------------------------------------------------------------------
    def _compile_steps(self) -> None:
        t = self.train_cfg
        global_batch = t.batch_size
        psi = t.psi

        def average(per_example: tf.Tensor) -> tf.Tensor:
            return tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)

        def refiner_replica_step(synthetic: tf.Tensor, adversarial: bool) -> dict[str, tf.Tensor]:
            with tf.GradientTape() as tape:
                refined = self.refiner(synthetic, training=True)
                self_reg = losses.self_regularization_loss(refined, synthetic, psi)
                if adversarial:
                    logits = self.discriminator(refined, training=False)
                    adv = losses.local_adversarial_loss(logits, losses.REAL)
                    per_example = adv + t.lambda_reg * self_reg
                else:
                    adv = tf.zeros_like(self_reg)
                    per_example = self_reg
                loss = average(per_example)
            grads = tape.gradient(loss, self.refiner.trainable_variables)
            self.refiner_optimizer.apply_gradients(zip(grads, self.refiner.trainable_variables))
            return {"r_adversarial": average(adv), "r_self_reg": average(self_reg), "r_total": loss}

        def discriminator_replica_step(synthetic: tf.Tensor, real: tf.Tensor) -> dict[str, tf.Tensor]:
            refined = self.refiner(synthetic, training=False)
            if t.use_history:
                refined = self.history.mix(refined)
            with tf.GradientTape() as tape:
                logits_refined = self.discriminator(refined, training=True)
                logits_real = self.discriminator(real, training=True)
                per_refined = losses.local_adversarial_loss(logits_refined, losses.REFINED)
                per_real = losses.local_adversarial_loss(logits_real, losses.REAL)
                loss = average(per_refined) + average(per_real)
            grads = tape.gradient(loss, self.discriminator.trainable_variables)
            self.discriminator_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_variables))
            return {
                "d_refined": average(per_refined),
                "d_real": average(per_real),
                "d_total": loss,
                "d_acc_refined": losses.discriminator_accuracy(logits_refined, losses.REFINED),
                "d_acc_real": losses.discriminator_accuracy(logits_real, losses.REAL),
            }

        def reduce(per_replica: dict[str, Any], mean_keys: tuple[str, ...] = ()) -> dict[str, tf.Tensor]:
            out = {}
            for key, value in per_replica.items():
                op = tf.distribute.ReduceOp.MEAN if key in mean_keys else tf.distribute.ReduceOp.SUM
                out[key] = self.strategy.reduce(op, value, axis=None)
            return out

        # XLA fuses the refiner's many small convolutions, paddings and additions: R steps of the
        # experiment's refiner took 204-217 instead of 267-309 ms on 2 CPU cores. The D step stays a
        # plain graph (it ran ~20 % slower under XLA), and so does everything under a
        # multi-replica strategy, whose apply_gradients all-reduces across devices.
        if self.strategy.num_replicas_in_sync == 1:
            refiner_replica_step = tf.function(refiner_replica_step, jit_compile=True)

        @tf.function
        def pretrain_refiner_step(synthetic):
            return reduce(self.strategy.run(refiner_replica_step, args=(synthetic, False)))

        @tf.function
        def refiner_step(synthetic):
            return reduce(self.strategy.run(refiner_replica_step, args=(synthetic, True)))

        @tf.function
        def discriminator_step(synthetic, real):
            out = self.strategy.run(discriminator_replica_step, args=(synthetic, real))
            return reduce(out, mean_keys=("d_acc_refined", "d_acc_real"))

        self.pretrain_refiner_step = pretrain_refiner_step
        self.refiner_step = refiner_step
        self.discriminator_step = discriminator_step

    # ----------------------------------------------------------------------------------
    def _checkpoint_objects(self, iterators: dict[str, Any]) -> dict[str, Any]:
        return dict(
            refiner=self.refiner,
            discriminator=self.discriminator,
            refiner_optimizer=self.refiner_optimizer,
            discriminator_optimizer=self.discriminator_optimizer,
            history=self.history,
            step=self.step,
            **iterators,
        )

    def restore_or_initialize(self, iterators: dict[str, Any] | None = None) -> int:
        """Restore the latest checkpoint in run_dir/checkpoints if any; returns the step."""
        self.checkpoint = tf.train.Checkpoint(**self._checkpoint_objects(iterators or {}))
        self.manager = tf.train.CheckpointManager(
            self.checkpoint,
            str(self.run_dir / run_io.CHECKPOINT_DIR),
            max_to_keep=self.train_cfg.max_checkpoints,
        )
        if self.manager.latest_checkpoint:
            self.checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
        return int(self.step.numpy())

    def save(self) -> str:
        assert self.manager is not None, "call restore_or_initialize() first"
        return self.manager.save(checkpoint_number=int(self.step.numpy()))

    # ----------------------------------------------------------------------------------
    def fit(
        self,
        synthetic: tf.data.Dataset,
        real: tf.data.Dataset,
        callbacks: list[Callable[["SimGANTrainer", dict[str, float]], None]] | None = None,
        verbose: bool = True,
        max_steps: int | None = None,
    ) -> dict[str, float]:
        """Run (or resume) Algorithm 1 until `total_steps` (or `max_steps` this call).

        `synthetic` and `real` are endless batched datasets of float images in [-1, 1].
        """
        t = self.train_cfg
        synthetic_iter = iter(self.strategy.experimental_distribute_dataset(synthetic))
        real_iter = iter(self.strategy.experimental_distribute_dataset(real))
        iterators = {"synthetic_iterator": synthetic_iter, "real_iterator": real_iter}
        start = self.restore_or_initialize(iterators)
        end = self.total_steps if max_steps is None else min(self.total_steps, start + max_steps)
        if start:
            print(f"Resuming from step {start} ({self.phase_of(start)}) in {self.run_dir}", flush=True)
        progbar = keras.utils.Progbar(self.total_steps, stateful_metrics=None, unit_name="step") if verbose else None
        if progbar is not None and start:
            progbar.update(start)
        writer = tf.summary.create_file_writer(str(self.run_dir / run_io.LOG_DIR))
        interrupted = {"flag": False}
        previous_handler = _install_sigterm_handler(interrupted)
        current_lr = None
        try:
            while int(self.step.numpy()) < end and not interrupted["flag"]:
                step = int(self.step.numpy())
                phase = self.phase_of(step)
                if phase == "adversarial":
                    rate = self.learning_rate_at(step - t.pretrain_r_steps - t.pretrain_d_steps)
                    if rate != current_lr:
                        self.refiner_optimizer.learning_rate.assign(rate)
                        self.discriminator_optimizer.learning_rate.assign(rate)
                        current_lr = rate
                started = time.perf_counter()
                values, images = self._run_unit(phase, synthetic_iter, real_iter)
                elapsed = time.perf_counter() - started
                self._check_finite(values, step)
                stats = self.stats[phase]
                stats.steps += 1
                stats.images += images
                stats.seconds += elapsed
                self.step.assign_add(1)
                step += 1
                self.last_losses.update(values)
                if progbar is not None:
                    progbar.update(step, values=[(k, v) for k, v in values.items()]
                                   + [("img/s", images / max(elapsed, 1e-9))])
                if step % t.log_every == 0 or step == end:
                    self._write_scalars(writer, step, phase, values, images / max(elapsed, 1e-9))
                if step % t.checkpoint_every == 0 or step == end:
                    self.save()
                    self._write_images(writer, step, synthetic_iter, real_iter)
                for callback in callbacks or []:
                    callback(self, values)
        except KeyboardInterrupt:
            interrupted["flag"] = True
        finally:
            _restore_sigterm_handler(previous_handler)
            writer.flush()
        if interrupted["flag"]:
            path = self.save()
            print(f"\nInterrupted: saved {path}; rerun with the same --run-dir to resume.", flush=True)
            raise KeyboardInterrupt
        return dict(self.last_losses)

    def _run_unit(self, phase: str, synthetic_iter, real_iter) -> tuple[dict[str, float], int]:
        """One unit of progress; returns its loss terms and the images refined in it."""
        t = self.train_cfg
        if phase == "pretrain_refiner":
            out = self.pretrain_refiner_step(next(synthetic_iter))
            return _to_floats(out), t.batch_size
        if phase == "pretrain_discriminator":
            out = self.discriminator_step(next(synthetic_iter), next(real_iter))
            return _to_floats(out), t.batch_size
        values: dict[str, float] = {}
        for _ in range(t.k_g):
            values.update(_to_floats(self.refiner_step(next(synthetic_iter))))
        for _ in range(t.k_d):
            values.update(_to_floats(self.discriminator_step(next(synthetic_iter), next(real_iter))))
        return values, t.batch_size * (t.k_g + t.k_d)

    def _check_finite(self, values: dict[str, float], step: int) -> None:
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if bad:
            last = self.manager.latest_checkpoint if self.manager else None
            raise NonFiniteLossError(
                f"non-finite loss at step {step} ({self.phase_of(step)}): {bad}. Training stopped; "
                f"the last good checkpoint is {last or 'none (no checkpoint written yet)'}. "
                "Try a lower --learning-rate or a different --lambda-reg."
            )

    def _write_scalars(self, writer, step: int, phase: str, values: dict[str, float], rate: float) -> None:
        with writer.as_default(step=step):
            for key, value in values.items():
                tf.summary.scalar(f"{phase}/{key}" if phase != "adversarial" else key, value)
            tf.summary.scalar("images_per_second", rate)
            tf.summary.scalar("learning_rate", float(self.refiner_optimizer.learning_rate.numpy()))

    def _write_images(self, writer, step: int, synthetic_iter, real_iter) -> None:
        """A synthetic | refined | real grid in TensorBoard, from the next batches."""
        synthetic = _first_replica(next(synthetic_iter))[:4]
        real = _first_replica(next(real_iter))[:4]
        refined = self.refiner(synthetic, training=False)
        row = lambda x: tf.concat(tf.unstack(x), axis=1)  # noqa: E731
        grid = tf.concat([row(synthetic), row(refined), row(real)], axis=0)
        with writer.as_default(step=step):
            tf.summary.image("synthetic_refined_real", (grid[None] + 1.0) / 2.0)

    def refine(self, images: tf.Tensor, batch_size: int = 256) -> np.ndarray:
        """Refine float images in [-1, 1] (numpy or tensor) in batches."""
        outputs = [self.refiner(images[i : i + batch_size], training=False).numpy()
                   for i in range(0, len(images), batch_size)]
        return np.concatenate(outputs, axis=0)

    def throughput(self) -> dict[str, float]:
        return {f"{phase}_images_per_second": round(s.images_per_second, 2) for phase, s in self.stats.items() if s.steps}


def _to_floats(values: dict[str, tf.Tensor]) -> dict[str, float]:
    return {k: float(v.numpy()) for k, v in values.items()}


def _first_replica(value: Any) -> tf.Tensor:
    if hasattr(value, "values"):
        return value.values[0]
    return value


def _install_sigterm_handler(flag: dict[str, bool]):
    """SIGTERM (e.g. a scheduler preempting the job) finishes the step, saves, then stops."""
    def handler(signum, frame):
        flag["flag"] = True
    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not in the main thread
        return signal.getsignal(signal.SIGTERM)


def _restore_sigterm_handler(previous) -> None:
    try:
        signal.signal(signal.SIGTERM, previous)
    except (ValueError, TypeError):
        pass
