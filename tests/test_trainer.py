"""Algorithm 1 trainer: which weights each update changes, resume, non-finite losses."""
import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf

from conftest import run_python, tiny_preset
from simgan_tf import config as cfg
from simgan_tf import run_io
from simgan_tf.trainer import NonFiniteLossError, SimGAN


def _stream(preset, seed, offset=0.0):
    h, w, c = preset.image.shape
    rng = np.random.default_rng(seed)
    images = np.clip(rng.normal(offset, 0.3, size=(64, h, w, c)), -1, 1).astype("float32")
    return _batched(preset, images)


def _batched(preset, images):
    return tf.data.Dataset.from_tensor_slices(images).repeat().batch(preset.training.batch_size, drop_remainder=True)


def _weights(model):
    return [w.numpy().copy() for w in model.trainable_variables]


def _changed(before, model):
    return any(not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_variables))


def test_refiner_step_changes_only_refiner(tiny, tmp_path):
    trainer = SimGAN.from_preset(tiny, run_dir=tmp_path)
    r0, d0 = _weights(trainer.refiner), _weights(trainer.discriminator)
    batch = next(iter(_stream(tiny, 0)))
    trainer.refiner_step(batch)
    assert _changed(r0, trainer.refiner)
    assert not _changed(d0, trainer.discriminator)


def test_discriminator_step_changes_only_discriminator(tiny, tmp_path):
    trainer = SimGAN.from_preset(tiny, run_dir=tmp_path)
    r0, d0 = _weights(trainer.refiner), _weights(trainer.discriminator)
    synthetic, real = next(iter(_stream(tiny, 0))), next(iter(_stream(tiny, 1, 0.5)))
    out = trainer.discriminator_step(synthetic, real)
    assert _changed(d0, trainer.discriminator)
    assert not _changed(r0, trainer.refiner)
    assert set(out) >= {"d_refined", "d_real", "d_total", "d_acc_refined", "d_acc_real"}
    # the D step feeds the history buffer with b/2 refined images
    assert int(trainer.history_buffer.size.numpy()) == tiny.training.batch_size // 2


def test_pretraining_uses_self_regularization_only(tiny, tmp_path):
    trainer = SimGAN.from_preset(tiny, run_dir=tmp_path)
    out = trainer.pretrain_refiner_step(next(iter(_stream(tiny, 0))))
    assert float(out["r_adversarial"]) == 0.0
    assert float(out["r_total"]) == pytest.approx(float(out["r_self_reg"]))


def test_phases_follow_algorithm_1(tiny, tmp_path):
    trainer = SimGAN.from_preset(tiny, run_dir=tmp_path)
    phases = [trainer.phase_of(s) for s in range(trainer.total_steps)]
    assert phases == ["pretrain_refiner"] * 2 + ["pretrain_discriminator"] * 2 + ["adversarial"] * 4


def test_fit_then_resume_continues_from_saved_step(tiny, tmp_path):
    first = SimGAN.from_preset(tiny, run_dir=tmp_path)
    first.fit(_stream(tiny, 0), _stream(tiny, 1, 0.5), verbose=False, max_steps=5)
    assert int(first.step.numpy()) == 5
    saved = run_io.checkpoint_step(tf.train.latest_checkpoint(str(tmp_path / "checkpoints")))
    assert saved == 5  # the last step of a call is always checkpointed
    refiner_at_5 = _weights(first.refiner)
    history_at_5 = first.history_buffer.images.numpy().copy()

    second = SimGAN.from_preset(tiny, run_dir=tmp_path)
    assert second.restore_or_initialize() == 5
    for a, b in zip(refiner_at_5, second.refiner.trainable_variables):
        np.testing.assert_array_equal(a, b.numpy())
    np.testing.assert_array_equal(history_at_5, second.history_buffer.images.numpy())
    for name in ("refiner_optimizer", "discriminator_optimizer"):
        before, after = getattr(first, name), getattr(second, name)
        assert int(after.iterations.numpy()) == int(before.iterations.numpy()) > 0
        for a, b in zip(before.variables, after.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    second.fit(_stream(tiny, 0), _stream(tiny, 1, 0.5), verbose=False)
    assert int(second.step.numpy()) == second.total_steps == 8
    assert second.stats["pretrain_refiner"].steps == 0  # nothing redone
    assert second.stats["adversarial"].steps == 3


def test_non_finite_loss_stops_and_keeps_last_checkpoint(tiny, tmp_path):
    """Good synthetic batches for the 4 pretraining steps, NaN pixels from the first
    adversarial iteration (step 4) on: the data order is fixed, so this holds on any machine."""
    b = tiny.training.batch_size
    good = np.random.default_rng(0).uniform(-1, 1, size=(4 * b, *tiny.image.shape)).astype("float32")
    bad = np.full((12 * b, *tiny.image.shape), np.nan, dtype="float32")
    synthetic = tf.data.Dataset.from_tensor_slices(np.concatenate([good, bad])).batch(b, drop_remainder=True)
    trainer = SimGAN.from_preset(tiny, run_dir=tmp_path)
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss by step 4 .*last good checkpoint is .*ckpt-4"):
        trainer.fit(synthetic, _stream(tiny, 1), verbose=False)
    latest = tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))
    assert run_io.checkpoint_step(latest) == 4
    restored = SimGAN.from_preset(tiny, run_dir=tmp_path)
    assert restored.restore_or_initialize() == 4
    assert all(np.isfinite(w.numpy()).all() for w in restored.refiner.weights)


def test_odd_batch_is_rejected_by_the_config():
    with pytest.raises(ValueError, match=r"batch_size \(--batch-size\) must be even"):
        cfg.with_overrides(tiny_preset(), batch_size=5)


def test_losses_average_over_the_batch_actually_given(tiny, tmp_path):
    """The trainer's losses are simgan_tf.losses' on the batch it gets, whatever its size."""
    from simgan_tf import losses

    gan = SimGAN.from_preset(tiny, run_dir=tmp_path)
    batch = tf.random.stateless_uniform((6, *tiny.image.shape), (3, 4), -1, 1)
    expected = losses.refiner_loss(None, gan.refiner(batch), batch, tiny.training.lambda_reg, tiny.training.psi)
    out = gan.pretrain_refiner_step(batch)
    assert float(out["r_self_reg"]) == pytest.approx(float(expected["self_reg"]), rel=1e-5)


_MIRRORED_TRAINER_SCRIPT = r"""
import json, sys, tempfile
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from simgan_tf.experiments.settings import SMOKE_REFINER as preset
from simgan_tf.trainer import SimGAN

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with tempfile.TemporaryDirectory() as run_dir:
    trainer = SimGAN.from_preset(preset, run_dir=run_dir, strategy=strategy)
    b = preset.training.batch_size
    images = tf.random.stateless_uniform((b, *preset.image.shape), (1, 2), -1, 1)
    x = next(iter(strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(images).batch(b))))
    before = [w.numpy() for w in trainer.refiner.trainable_weights]
    losses = {k: float(v) for k, v in trainer.refiner_step(x).items()}
    changed = any(not (w.numpy() == v).all() for w, v in zip(trainer.refiner.trainable_weights, before))
print(json.dumps({"losses": losses, "changed": changed}))
"""


def test_refiner_step_under_mirrored_strategy():
    """Two logical CPUs: the multi-replica path (plain graph, no XLA) trains R with finite losses."""
    import math

    result = json.loads(run_python(_MIRRORED_TRAINER_SCRIPT))
    assert result["changed"]
    assert set(result["losses"]) == {"r_adversarial", "r_self_reg", "r_total"}
    assert all(math.isfinite(v) for v in result["losses"].values())


def _fixed_run(preset, eager: bool):
    tf.config.run_functions_eagerly(eager)
    try:
        gan = SimGAN.from_preset(preset)
        synthetic = iter(_stream(preset, 0))
        real = iter(_stream(preset, 1, 0.5))
        for phase, count in (("pretrain_refiner", 2), ("pretrain_discriminator", 2), ("adversarial", 2)):
            out = gan.run_steps(phase, synthetic, real, count)
        return {k: float(v) for k, v in out.items()}, _weights(gan.refiner) + _weights(gan.discriminator)
    finally:
        tf.config.run_functions_eagerly(False)


def test_compiled_steps_match_eager_steps_on_fixed_batches():
    """The tf.function / XLA steps compute what the same Python code computes eagerly."""
    preset = tiny_preset(xla="auto")
    compiled_losses, compiled = _fixed_run(preset, eager=False)
    eager_losses, eager = _fixed_run(preset, eager=True)
    for key in compiled_losses:
        assert compiled_losses[key] == pytest.approx(eager_losses[key], rel=1e-4, abs=1e-4), key
    for a, b in zip(compiled, eager):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_several_steps_per_call_train_exactly_like_one(tmp_path):
    runs = []
    for per_call in (1, 2):
        preset = tiny_preset(steps=6, steps_per_call=per_call, log_every=4, checkpoint_every=4)
        gan = SimGAN.from_preset(preset, run_dir=tmp_path / f"per_call_{per_call}")
        gan.fit(_stream(preset, 0), _stream(preset, 1, 0.5), verbose=False)
        assert int(gan.step.numpy()) == preset.training.total_steps
        runs.append(_weights(gan.refiner) + _weights(gan.discriminator))
    for a, b in zip(*runs):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
