"""`SimGAN`: Algorithm 1 of the paper as a Keras model with its own `tf.function` loop.

Progress is one counter, `step`, over three phases run back to back:
  [0, P_R)            refiner pretraining, self-regularization loss only
  [P_R, P_R + P_D)    discriminator pretraining
  [P_R + P_D, end)    adversarial iterations: K_g refiner updates then K_d discriminator updates
so a resumed run knows its phase from the restored step alone. One Keras "epoch" is the
stretch between two checkpoints (`checkpoint_every` steps): Keras callbacks see the epoch's
mean losses when a checkpoint has just been written, so EarlyStopping, ModelCheckpoint and
TensorBoard act on states that a resume can return to.
"""
from __future__ import annotations

import dataclasses
import math
import signal
import time
from pathlib import Path
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from simgan_tf import config as cfg
from simgan_tf import data, losses, run_io, strategies
from simgan_tf.history import ImageHistoryBuffer
from simgan_tf.models.discriminator import build_discriminator
from simgan_tf.models.refiner import build_refiner

PHASES = ("pretrain_refiner", "pretrain_discriminator", "adversarial")
# Loss terms shown by the progress bar and passed to Keras callbacks.
REFINER_KEYS = ("r_adversarial", "r_self_reg", "r_total")
DISCRIMINATOR_KEYS = ("d_refined", "d_real", "d_total", "d_acc_refined", "d_acc_real")


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


def _resolve_training(training: cfg.TrainingConfig | cfg.Preset | str, overrides: dict[str, Any]) -> cfg.TrainingConfig:
    if isinstance(training, str):
        training = cfg.get_preset(training).training
    elif isinstance(training, cfg.Preset):
        training = training.training
    if not isinstance(training, cfg.TrainingConfig):
        raise TypeError(f"training must be a TrainingConfig, a Preset or a preset name, got {type(training).__name__}")
    return cfg.replace_training(training, **overrides)


def _check_models(refiner: keras.Model, discriminator: keras.Model) -> tuple[int, int, int]:
    """The image shape both models agree on; a clear error where they do not."""
    in_shape, out_shape = tuple(refiner.input_shape[1:]), tuple(refiner.output_shape[1:])
    if len(in_shape) != 3 or None in in_shape or in_shape != out_shape:
        raise ValueError(f"the refiner must map images (H, W, C) of a fixed size to images of the same shape; "
                         f"it maps {in_shape} to {out_shape}")
    d_in, d_out = tuple(discriminator.input_shape[1:]), tuple(discriminator.output_shape[1:])
    if d_in != in_shape:
        raise ValueError(f"the discriminator takes {d_in} but the refiner makes {in_shape}")
    if len(d_out) != 3 or d_out[-1] != 2:
        raise ValueError(f"the discriminator must output logits (h, w, 2) per image (class 0 refined, 1 real; "
                         f"a global decision is (1, 1, 2)), got {d_out}")
    return in_shape  # type: ignore[return-value]


class SimGAN(keras.Model):
    """Refiner R, discriminator D, their optimizers and the history buffer; `fit` runs Algorithm 1.

    `SimGAN.from_preset("gaze_quick", run_dir=...)` builds the paper's networks; pass your own
    Keras `refiner` (images -> images of the same shape, output in [-1, 1]) and
    `discriminator` (images -> logits (h, w, 2)) to the constructor instead. With a `run_dir`,
    `fit` checkpoints there (`tf.train.CheckpointManager`) and a later `fit` on the same
    run_dir resumes exactly where the last checkpoint left off; TensorBoard logs go to
    run_dir/logs. Calling the model refines float images in [-1, 1]; `refine` takes and
    returns stored-dtype images (uint8, uint16) as well. Keras callbacks see the model:
    `optimizer` is the refiner's, `save_weights` saves R and D.
    """

    def __init__(
        self,
        refiner: keras.Model,
        discriminator: keras.Model,
        training: cfg.TrainingConfig | cfg.Preset | str = "gaze_quick",
        run_dir: str | Path | None = None,
        strategy: tf.distribute.Strategy | None = None,
        name: str = "simgan",
        **training_overrides: Any,
    ):
        super().__init__(name=name)
        self.training_config = _resolve_training(training, training_overrides)
        self.preset: cfg.Preset | None = None  # set by from_preset: what config.json records
        self.image_dtype: str | None = None  # storage dtype of the images fit saw: "uint8" / "uint16"
        self.image_shape = _check_models(refiner, discriminator)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.strategy = strategy or tf.distribute.get_strategy()
        t = self.training_config
        self.refiner = refiner
        self.discriminator = discriminator
        with self.strategy.scope():
            self.refiner_optimizer = self._make_optimizer("refiner_adam")
            self.discriminator_optimizer = self._make_optimizer("discriminator_adam")
            self.refiner_optimizer.build(self.refiner.trainable_variables)
            self.discriminator_optimizer.build(self.discriminator.trainable_variables)
            self.history_buffer = ImageHistoryBuffer(capacity=t.buffer_size, image_shape=self.image_shape, seed=t.seed,
                                                     dtype=t.history_dtype)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.loss_scales = self._make_loss_scales()
        self.optimizer = self.refiner_optimizer  # read by Keras callbacks (TensorBoard's learning_rate)
        self.stop_training = False
        self.built = True
        self.stats = {phase: PhaseStats() for phase in PHASES}
        self.last_losses: dict[str, float] = {}
        self.shuffle_buffer = 4096
        self._checkpoint: tf.train.Checkpoint | None = None
        self.manager: tf.train.CheckpointManager | None = None
        self._compile_steps()

    @classmethod
    def from_preset(
        cls,
        preset: cfg.Preset | str = "gaze_quick",
        run_dir: str | Path | None = None,
        strategy: tf.distribute.Strategy | None = None,
        **training_overrides: Any,
    ) -> "SimGAN":
        """The paper's R and D for a preset ("gaze_quick", "gaze_paper", "hand_quick", "hand_paper").

        `training_overrides` replace TrainingConfig fields (steps=..., psi=..., precision=...:
        the networks are built under that Keras dtype policy) or RefinerConfig ones
        (position_channels=True, filters=...). Initial weights come from the
        training seed alone (seeded initializers; no global random state is touched), so a
        preset and a seed give the same networks every time.
        """
        preset = cfg.get_preset(preset) if isinstance(preset, str) else preset
        preset = cfg.with_overrides(preset, **training_overrides)
        strategy = strategy or tf.distribute.get_strategy()
        previous_policy = keras.config.dtype_policy()
        keras.config.set_dtype_policy(preset.training.precision)
        try:
            with strategy.scope():
                refiner = build_refiner(preset.image, preset.refiner, seed=2 * preset.training.seed)
                discriminator = build_discriminator(preset.image, preset.discriminator, seed=2 * preset.training.seed + 1)
        finally:
            keras.config.set_dtype_policy(previous_policy)
        gan = cls(refiner, discriminator, preset.training, run_dir=run_dir, strategy=strategy, name=f"simgan_{preset.name}")
        gan.preset = preset
        gan.shuffle_buffer = preset.data.shuffle_buffer
        return gan

    # ----------------------------------------------------------------------------------
    def call(self, images: tf.Tensor, training: bool = False) -> tf.Tensor:
        """R(x) for float images in [-1, 1]."""
        return self.refiner(images, training=training)

    def _make_optimizer(self, name: str) -> keras.optimizers.Optimizer:
        """Adam without Keras' own clipping: under tf.distribute Keras clips each replica's
        gradient before the all-reduce; `_apply_update` clips the reduced one instead."""
        return keras.optimizers.Adam(learning_rate=self.training_config.learning_rate, name=name)

    def _make_loss_scales(self) -> dict[str, tf.Variable]:
        """Dynamic loss scaling for float16 (as Keras' LossScaleOptimizer: start at 2^15,
        halve on a non-finite gradient and skip the update, double after 2000 good ones)."""
        if self.training_config.precision != "mixed_float16":
            return {}
        if self.strategy.num_replicas_in_sync > 1:
            raise ValueError("precision mixed_float16 runs on one replica; under tf.distribute use "
                             "mixed_bfloat16 (no loss scaling needed)")
        scales = {}
        for optimizer in ("refiner_adam", "discriminator_adam"):
            scales[f"{optimizer}/loss_scale"] = tf.Variable(2.0 ** 15, trainable=False, name=f"{optimizer}_loss_scale")
            scales[f"{optimizer}/good_updates"] = tf.Variable(0.0, trainable=False, name=f"{optimizer}_good_updates")
        return scales

    def _scaled(self, optimizer, loss: tf.Tensor) -> tf.Tensor:
        """The loss to differentiate (inside the tape): times the loss scale under float16."""
        scale = self.loss_scales.get(f"{optimizer.name}/loss_scale")
        return loss * scale if scale is not None else loss

    def _apply_update(self, optimizer, tape: tf.GradientTape, scaled_loss: tf.Tensor, variables) -> None:
        """One optimizer update from this replica's (scaled) loss, with the gradient of the
        whole global batch clipped to `grad_clip_norm` exactly as on one device."""
        scale = self.loss_scales.get(f"{optimizer.name}/loss_scale")
        grads = tape.gradient(scaled_loss, variables)
        replicas = self.strategy.num_replicas_in_sync
        if replicas > 1:
            grads = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, grads)
        if scale is not None:
            grads = [tf.cast(g, tf.float32) / scale for g in grads]
        clip = self.training_config.grad_clip_norm
        if clip is not None:
            grads, _ = tf.clip_by_global_norm(grads, clip)
        if replicas > 1:
            grads = [g / replicas for g in grads]  # the optimizer sums the replicas' gradients again
        if scale is None:
            optimizer.apply(grads, variables)
            return
        good = self.loss_scales[f"{optimizer.name}/good_updates"]
        finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads])

        def update() -> tf.Tensor:
            optimizer.apply(grads, variables)
            grow = good >= 1999.0
            scale.assign(tf.where(grow, scale * 2.0, scale))
            good.assign(tf.where(grow, 0.0, good + 1.0))
            return tf.constant(True)

        def skip() -> tf.Tensor:
            scale.assign(scale * 0.5)
            good.assign(0.0)
            return tf.constant(False)

        tf.cond(finite, update, skip)

    @property
    def total_steps(self) -> int:
        return self.training_config.total_steps

    def phase_of(self, step: int) -> str:
        t = self.training_config
        if step < t.pretrain_r_steps:
            return PHASES[0]
        if step < t.pretrain_r_steps + t.pretrain_d_steps:
            return PHASES[1]
        return PHASES[2]

    def learning_rate_at(self, adversarial_step: int) -> float:
        """Piecewise-constant schedule of the config (e.g. hand: 2e-4, 5e-5 after 600k)."""
        t = self.training_config
        rate = t.learning_rate
        for boundary, value in zip(t.lr_boundaries, t.lr_values_after):
            if adversarial_step >= boundary:
                rate = value
        return rate

    # ----------------------------------------------------------------------------------
    def _global_batch(self, images: tf.Tensor) -> int:
        """The batch the losses average over: this replica's static batch x replicas."""
        if images.shape[0] is None:
            raise ValueError("batches need a static size: batch with drop_remainder=True")
        return int(images.shape[0]) * self.strategy.num_replicas_in_sync

    def _compile_steps(self) -> None:
        t = self.training_config

        def refiner_replica_step(synthetic: tf.Tensor, adversarial: bool) -> dict[str, tf.Tensor]:
            with tf.GradientTape() as tape:
                refined = self.refiner(synthetic, training=True)
                logits = self.discriminator(refined, training=False) if adversarial else None
                loss = losses.refiner_loss(logits, refined, synthetic, t.lambda_reg, t.psi,
                                           global_batch_size=self._global_batch(synthetic))
                scaled = self._scaled(self.refiner_optimizer, loss["total"])
            self._apply_update(self.refiner_optimizer, tape, scaled, self.refiner.trainable_variables)
            return {"r_adversarial": loss["adversarial"], "r_self_reg": loss["self_reg"], "r_total": loss["total"]}

        def refine(images: tf.Tensor) -> tf.Tensor:
            return tf.cast(self.refiner(images, training=False), tf.float32)

        def discriminator_replica_step(synthetic: tf.Tensor, real: tf.Tensor) -> dict[str, tf.Tensor]:
            # With the history buffer D sees b/2 refined and b/2 history images: only the
            # b/2 it sees are refined.
            refined = (self.history_buffer.discriminator_batch(synthetic, refine, static_shapes=t.xla == "on")
                       if t.use_history else refine(synthetic))
            with tf.GradientTape() as tape:
                logits_refined = self.discriminator(refined, training=True)
                logits_real = self.discriminator(real, training=True)
                loss = losses.discriminator_loss(logits_refined, logits_real,
                                                 global_batch_size=self._global_batch(real))
                scaled = self._scaled(self.discriminator_optimizer, loss["total"])
            self._apply_update(self.discriminator_optimizer, tape, scaled, self.discriminator.trainable_variables)
            return {
                "d_refined": loss["refined"],
                "d_real": loss["real"],
                "d_total": loss["total"],
                "d_acc_refined": losses.discriminator_accuracy(logits_refined, losses.REFINED),
                "d_acc_real": losses.discriminator_accuracy(logits_real, losses.REAL),
            }

        def reduce(per_replica: dict[str, Any], mean_keys: tuple[str, ...] = ()) -> dict[str, tf.Tensor]:
            out = {}
            for key, value in per_replica.items():
                op = tf.distribute.ReduceOp.MEAN if key in mean_keys else tf.distribute.ReduceOp.SUM
                out[key] = self.strategy.reduce(op, value, axis=None)
            return out

        # XLA (TrainingConfig.xla): "auto" compiles the R update on one replica with a GPU;
        # on CPUs with oneDNN the uncompiled graph was faster (much faster in bfloat16), and
        # under a multi-replica strategy the all-reduces stay outside XLA.
        # benchmarks/train_step.py measures each choice.
        single = self.strategy.num_replicas_in_sync == 1
        if t.xla == "on" or (t.xla == "auto" and single and tf.config.list_logical_devices("GPU")):
            refiner_replica_step = tf.function(refiner_replica_step, jit_compile=True)
        if t.xla == "on":
            discriminator_replica_step = tf.function(discriminator_replica_step, jit_compile=True)

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

        replicas = self.strategy.num_replicas_in_sync

        def per_replica(batch: tf.Tensor):
            """Replica r's slice [r * m, (r + 1) * m) of a global batch (every worker reads the
            same global batches: the pipelines are seeded alike)."""
            if replicas == 1:
                return batch
            if batch.shape[0] is None or batch.shape[0] % replicas:
                raise ValueError(f"batch_size {batch.shape[0]} must be a multiple of the {replicas} replicas")
            m = batch.shape[0] // replicas
            return self.strategy.experimental_distribute_values_from_function(
                lambda context: batch[context.replica_id_in_sync_group * m:(context.replica_id_in_sync_group + 1) * m])

        def run_steps(phase: str, synthetic_iter, real_iter, count: int) -> dict[str, tf.Tensor]:
            """`count` steps of `phase` in one graph: batches come from the iterators inside
            it and the losses stay on the device until the host asks for them."""
            out: dict[str, tf.Tensor] = {}
            for _ in range(count):
                if phase == PHASES[0]:
                    out = reduce(self.strategy.run(refiner_replica_step, args=(per_replica(next(synthetic_iter)), False)))
                elif phase == PHASES[1]:
                    out = reduce(self.strategy.run(discriminator_replica_step, args=(per_replica(next(synthetic_iter)), per_replica(next(real_iter)))),
                                 mean_keys=("d_acc_refined", "d_acc_real"))
                else:
                    for _ in range(t.k_g):
                        out.update(reduce(self.strategy.run(refiner_replica_step, args=(per_replica(next(synthetic_iter)), True))))
                    for _ in range(t.k_d):
                        d_out = self.strategy.run(discriminator_replica_step, args=(per_replica(next(synthetic_iter)), per_replica(next(real_iter))))
                        out.update(reduce(d_out, mean_keys=("d_acc_refined", "d_acc_real")))
                self.step.assign_add(1)
            return out

        self.pretrain_refiner_step = pretrain_refiner_step
        self.refiner_step = refiner_step
        self.discriminator_step = discriminator_step
        self.run_steps = tf.function(run_steps)

    # ----------------------------------------------------------------------------------
    def _checkpoint_objects(self, iterators: dict[str, Any]) -> dict[str, Any]:
        return dict(
            refiner=self.refiner,
            discriminator=self.discriminator,
            refiner_optimizer=self.refiner_optimizer,
            discriminator_optimizer=self.discriminator_optimizer,
            history=self.history_buffer,
            step=self.step,
            **({"loss_scales": tf.train.Checkpoint(**{k.replace("/", "_"): v for k, v in self.loss_scales.items()})}
               if self.loss_scales else {}),
            **iterators,
        )

    def restore_or_initialize(self, iterators: dict[str, Any] | None = None) -> int:
        """Restore the latest checkpoint in run_dir/checkpoints if any; returns the step."""
        self._checkpoint = tf.train.Checkpoint(**self._checkpoint_objects(iterators or {}))
        if self.run_dir is None:
            return int(self.step.numpy())
        self.manager = tf.train.CheckpointManager(
            self._checkpoint, str(self.run_dir / run_io.CHECKPOINT_DIR), max_to_keep=self.training_config.max_checkpoints
        )
        if self.manager.latest_checkpoint:
            self._checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
        return int(self.step.numpy())

    def save_checkpoint(self) -> str | None:
        """Write a training checkpoint of the current step into run_dir (None without one)."""
        if self.run_dir is None:
            return None
        if self.manager is None:
            raise RuntimeError("call restore_or_initialize() (or fit) first")
        return self.manager.save(checkpoint_number=int(self.step.numpy()))

    # ----------------------------------------------------------------------------------
    def fit(
        self,
        synthetic: data.ImageSource,
        real: data.ImageSource,
        *,
        callbacks: Sequence[keras.callbacks.Callback] | None = None,
        verbose: int | bool = 1,
        max_steps: int | None = None,
    ) -> keras.callbacks.History:
        """Run (or resume) Algorithm 1 until `total_steps`, or for at most `max_steps` steps.

        `synthetic` and `real`: arrays (N, H, W, C) or tf.data datasets of uint8 / uint16
        images or float images in [-1, 1] (see `simgan_tf.data.image_stream`); real images
        need no labels. Both domains must share their storage dtype, which is recorded in
        run_dir/config.json (export serves it) and kept by the history buffer. Returns the Keras History of the per-epoch (per-checkpoint) mean
        losses; a callback that sets `model.stop_training` ends the run after a checkpoint.
        """
        t = self.training_config
        self._set_image_dtype(data.training_image_dtype(synthetic, real))
        if self.run_dir is not None and self.preset is not None:
            run_io.prepare_run_dir(self.run_dir, self.preset)
            if self.image_dtype is not None:
                run_io.record_image_dtype(self.run_dir, self.image_dtype)
        synthetic_ds = data.image_stream(synthetic, self.image_shape, t.batch_size, t.seed, self.shuffle_buffer, "synthetic")
        real_ds = data.image_stream(real, self.image_shape, t.batch_size, t.seed + 1, self.shuffle_buffer, "real")
        # Plain iterators over the global batches: they can be checkpointed (tf.distribute's
        # distributed iterators cannot), so a resumed run continues the data stream exactly;
        # `_per_replica` hands each replica its slice.
        synthetic_iter = iter(synthetic_ds)
        real_iter = iter(real_ds)
        start = self.restore_or_initialize({"synthetic_iterator": synthetic_iter, "real_iterator": real_iter})
        # The TensorBoard preview comes from pipelines of its own: the training pipelines (their
        # iterators and shuffle seeds, and so a resumed run's data order) never see it.
        preview_synthetic = next(iter(data.image_stream(synthetic, self.image_shape, t.batch_size, t.seed, 1, "synthetic")))[:4]
        preview_real = next(iter(data.image_stream(real, self.image_shape, t.batch_size, t.seed + 1, 1, "real")))[:4]
        end = self.total_steps if max_steps is None else min(self.total_steps, start + max_steps)
        if start and verbose:
            print(f"Resuming from step {start} ({self.phase_of(start)}) in {self.run_dir}", flush=True)
        every = t.checkpoint_every
        callback_list = keras.callbacks.CallbackList(
            list(callbacks or []), add_history=True, add_progbar=bool(verbose), model=self,
            verbose=int(verbose), epochs=math.ceil(self.total_steps / every), steps=every,
        )
        writer = (tf.summary.create_file_writer(str(self.run_dir / run_io.LOG_DIR)) if self.run_dir is not None
                  else tf.summary.create_noop_writer())
        interrupted = {"flag": False}
        previous_handler = _install_sigterm_handler(interrupted)
        self.stop_training = False
        current_lr = None
        epoch_sums: dict[str, list[float]] = {}
        callback_list.on_train_begin()
        step = start
        interval = {"started": time.perf_counter(), "images": 0, "steps": 0}
        try:
            while step < end and not interrupted["flag"] and not self.stop_training:
                epoch, batch = divmod(step, every)
                if batch == 0 or step == start:
                    callback_list.on_epoch_begin(epoch)
                    epoch_sums = {}
                phase = self.phase_of(step)
                if phase == "adversarial":
                    rate = self.learning_rate_at(step - t.pretrain_r_steps - t.pretrain_d_steps)
                    if rate != current_lr:
                        self.refiner_optimizer.learning_rate.assign(rate)
                        self.discriminator_optimizer.learning_rate.assign(rate)
                        current_lr = rate
                count = self._steps_this_call(step, end)
                callback_list.on_train_batch_begin(batch)
                out = self.run_steps(phase, synthetic_iter, real_iter, count)
                step += count
                interval["images"] += count * self._images_per_step(phase)
                interval["steps"] += count
                fetch = step % t.log_every == 0 or step % every == 0 or step == end or self.phase_of(step) != phase
                if not fetch:
                    continue
                values = _to_floats(out)  # the host waits for the device here only
                elapsed = time.perf_counter() - interval["started"]
                self._check_finite(values, step - 1)
                stats = self.stats[phase]
                stats.steps += interval["steps"]
                stats.images += interval["images"]
                stats.seconds += elapsed
                rate_now = interval["images"] / max(elapsed, 1e-9)
                self.last_losses.update(values)
                for key, value in values.items():
                    epoch_sums.setdefault(key, []).append(value)
                callback_list.on_train_batch_end((step - 1) % every, dict(values))
                self._write_scalars(writer, step, phase, values, rate_now)
                if step % every == 0 or step == end:
                    self.save_checkpoint()
                    self._write_images(writer, step, preview_synthetic, preview_real)
                    callback_list.on_epoch_end(epoch, {k: float(np.mean(v)) for k, v in epoch_sums.items()})
                interval = {"started": time.perf_counter(), "images": 0, "steps": 0}
        except KeyboardInterrupt:
            interrupted["flag"] = True
        finally:
            _restore_sigterm_handler(previous_handler)
            writer.flush()
        if interrupted["flag"]:
            path = self.save_checkpoint()
            if path:
                print(f"\nInterrupted: saved {path}; call fit again on the same run_dir to resume.", flush=True)
            raise KeyboardInterrupt
        callback_list.on_train_end(dict(self.last_losses))
        return self.history

    def _set_image_dtype(self, dtype: str | None) -> None:
        """Remember the images' storage dtype; a uint16 (depth) run's history buffer keeps
        16-bit levels where `history_dtype="uint8"` asks for the stored images' levels."""
        if dtype is None:
            return
        if self.image_dtype not in (None, dtype):
            raise ValueError(f"this SimGAN was fit on {self.image_dtype} images; these are {dtype}: "
                             "use a new SimGAN for images of another dtype")
        if dtype == "uint16" and self.history_buffer.dtype == tf.uint8:
            if self._checkpoint is not None:  # fit ran before: its traced steps hold the old buffer
                raise ValueError("this SimGAN was fit on float images with a uint8 history buffer; "
                                 "use a new SimGAN for uint16 images")
            t = self.training_config
            with self.strategy.scope():
                self.history_buffer = ImageHistoryBuffer(capacity=t.buffer_size, image_shape=self.image_shape,
                                                         seed=t.seed, dtype=tf.uint16)
        self.image_dtype = dtype

    def _steps_this_call(self, step: int, end: int) -> int:
        """`steps_per_call`, or 1 where that would cross a log, checkpoint, phase or
        learning-rate boundary (two call sizes at most: two traces of the graph)."""
        t = self.training_config
        n = t.steps_per_call
        if n == 1:
            return 1
        adversarial_start = t.pretrain_r_steps + t.pretrain_d_steps
        boundaries = [end, t.pretrain_r_steps, adversarial_start, *(adversarial_start + b for b in t.lr_boundaries)]
        boundaries += [(step // k + 1) * k for k in (t.log_every, t.checkpoint_every)]
        room = min(b for b in boundaries if b > step) - step
        return n if n <= room else 1

    def _images_per_step(self, phase: str) -> int:
        t = self.training_config
        return t.batch_size * ((t.k_g + t.k_d) if phase == "adversarial" else 1)

    def _check_finite(self, values: dict[str, float], step: int) -> None:
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if bad:
            last = self.manager.latest_checkpoint if self.manager else None
            raise NonFiniteLossError(
                f"non-finite loss by step {step} ({self.phase_of(step)}; losses are checked every "
                f"log_every={self.training_config.log_every} steps): {bad}. Training stopped; "
                f"the last good checkpoint is {last or 'none (no checkpoint written yet)'}. "
                "Try a lower --learning-rate or a different --lambda-reg."
            )

    def _write_scalars(self, writer, step: int, phase: str, values: dict[str, float], rate: float) -> None:
        with writer.as_default(step=step):
            for key, value in values.items():
                tf.summary.scalar(f"{phase}/{key}" if phase != "adversarial" else key, value)
            tf.summary.scalar("images_per_second", rate)
            tf.summary.scalar("learning_rate", float(self.refiner_optimizer.learning_rate.numpy()))

    def _write_images(self, writer, step: int, synthetic: tf.Tensor, real: tf.Tensor) -> None:
        """A synthetic | refined | real grid in TensorBoard, always of the same images."""
        refined = tf.cast(self.refiner(synthetic, training=False), tf.float32)
        row = lambda x: tf.concat(tf.unstack(x), axis=1)  # noqa: E731
        grid = tf.concat([row(synthetic), row(refined), row(real)], axis=0)
        with writer.as_default(step=step):
            tf.summary.image("synthetic_refined_real", (grid[None] + 1.0) / 2.0)

    def refine(self, images: Any, batch_size: int = 256) -> np.ndarray:
        """R(x) in batches. uint8 / uint16 images come back in their dtype; float ones in [-1, 1]."""
        images = images.numpy() if tf.is_tensor(images) else np.asarray(images)
        stored = images.dtype if images.dtype in (np.uint8, np.uint16) else None
        floats = data.to_model_range(images).numpy() if stored is not None else images.astype(np.float32)
        outputs = [tf.cast(self.refiner(floats[i : i + batch_size], training=False), tf.float32).numpy()
                   for i in range(0, len(floats), batch_size)]
        refined = np.concatenate(outputs, axis=0) if outputs else floats[:0]
        return data.from_model_range(refined, stored).numpy() if stored is not None else refined

    def throughput(self) -> dict[str, float]:
        return {f"{phase}_images_per_second": round(s.images_per_second, 2) for phase, s in self.stats.items() if s.steps}


def _to_floats(values: dict[str, tf.Tensor]) -> dict[str, float]:
    return {k: float(v.numpy()) for k, v in values.items()}


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
