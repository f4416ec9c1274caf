"""Stopping rules: the refiner's held-out realism rule and the estimators' early stopping."""
from __future__ import annotations

import dataclasses
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

import simgan_tf
from simgan_tf import config as cfg
from simgan_tf.convergence import (BEST_WEIGHTS_FILE, MONITOR, RealismStopping, best_check, heldout_d_accuracy,
                                  stop_decision)
from simgan_tf.critic import CriticConfig
from tests.conftest import tiny_preset

TINY_CRITIC = CriticConfig(filters=(4,), epochs=1, batch_size=4)


def _trace(values, first_step=100, every=10):
    """Checks with critic accuracies `values` (here fractions; the rule only compares them)."""
    return [{"step": first_step + i * every, MONITOR: v} for i, v in enumerate(values)]


def test_stop_decision_waits_for_patience_checks_without_improvement():
    # Improves to 0.70 at the 3rd check, then 3 checks no better than 0.70 - 0.01.
    trace = _trace([0.80, 0.75, 0.70, 0.695, 0.71, 0.70])
    decision = stop_decision(trace, patience=3, min_delta=0.01)
    assert decision is not None
    assert decision["best_step"] == 120 and decision["stopped_step"] == 150
    assert stop_decision(trace[:-1], patience=3, min_delta=0.01) is None  # only 2 checks since the best


def test_stop_decision_never_stops_a_run_that_keeps_improving():
    assert stop_decision(_trace(np.linspace(0.9, 0.5, 30)), patience=2, min_delta=0.001) is None


def test_checks_before_start_step_do_not_count():
    # D learns first (accuracy rises), then the refiner catches up: no stop at the early low.
    trace = _trace([0.60, 0.70, 0.72, 0.71, 0.69, 0.66])
    assert stop_decision(trace, patience=3, min_delta=0.005) is not None  # would stop on 0.60
    assert stop_decision(trace, patience=3, min_delta=0.005, start_step=110) is None


def test_saturated_checks_rank_nothing():
    """A critic at 100 % (target noise no refiner draws) gives no best: the old rule stopped such a
    run 4 checks after its first 100 %; now the clock starts at the first informative check, and
    a collapse back to saturation after a best counts as no improvement."""
    always = _trace([100.0] * 12)
    assert stop_decision(always, patience=4, min_delta=1.0) is not None  # without the guard
    assert stop_decision(always, patience=4, min_delta=1.0, saturated=99.0) is None
    late = _trace([100.0, 99.6, 100.0, 99.2, 100.0, 97.8, 98.6, 99.4, 100.0, 99.0])
    decision = stop_decision(late, patience=4, min_delta=1.0, saturated=99.0)
    assert decision is not None and decision["best_step"] == 150 and decision["stopped_step"] == 190
    assert stop_decision(late[:-1], patience=4, min_delta=1.0, saturated=99.0) is None
    assert best_check(late, 1.0, saturated=99.0) == 5 and best_check(late, 1.0) == 5
    assert best_check(late[:5], 1.0, saturated=99.0) == -1 and best_check(late[:5], 1.0) == 0


def _images(n, low, high, seed):
    return np.random.default_rng(seed).integers(low, high, (n, 12, 16, 1), dtype=np.uint8)


def test_realism_stopping_stops_at_a_checkpoint_and_a_resume_keeps_the_decision(tmp_path):
    synthetic, real = _images(32, 0, 128, 0), _images(40, 100, 256, 1)
    heldout = real[-8:]
    # min_delta 100 points: no check can improve on the first, so it stops after 2 more checks.
    gan = simgan_tf.SimGAN.from_preset(tiny_preset(steps=40), run_dir=tmp_path / "run")
    stopper = RealismStopping(synthetic[:8], heldout, tmp_path / "run" / "stopping.json", patience=2,
                              min_delta=100.0, critic=TINY_CRITIC)
    history = gan.fit(synthetic, real[:-8], callbacks=[stopper], verbose=0)
    # pretraining ends at step 4; checks at 6, 8, 10 -> stop at 10 (a checkpoint)
    assert int(gan.step.numpy()) == 10
    stored = json.loads((tmp_path / "run" / "stopping.json").read_text())
    assert [e["step"] for e in stored["trace"]] == [6, 8, 10]
    assert stored["stopped"]["stopped_step"] == 10 and stored["stopped"]["best_step"] == 6
    assert MONITOR in history.history
    # D's figures are its patch accuracies on exactly these images (the refiner now holds the
    # best check's weights, step 6; D is the last step's); the critic's a percentage.
    assert stored["stopped"]["restored_step"] == 6
    figures = heldout_d_accuracy(gan, gan.refine(synthetic[:8]), heldout)
    assert 0.0 <= figures["heldout_d_accuracy"] <= 1.0
    assert all(0.0 <= e[MONITOR] <= 100.0 for e in stored["trace"])
    assert 0.0 <= figures["d_acc_refined"] <= 1.0 and 0.0 <= figures["d_acc_real"] <= 1.0

    again = simgan_tf.SimGAN.from_preset(tiny_preset(steps=40), run_dir=tmp_path / "run")
    stopper2 = RealismStopping(synthetic[:8], heldout, tmp_path / "run" / "stopping.json", patience=2,
                               min_delta=100.0, critic=TINY_CRITIC)
    again.fit(synthetic, real[:-8], callbacks=[stopper2], verbose=0)
    assert int(again.step.numpy()) == 10  # nothing more trained
    assert stopper2.decision == stored["stopped"]


def test_realism_stopping_gives_the_refiner_its_best_checks_weights_also_after_a_resume(tmp_path):
    import keras

    synthetic, real = _images(32, 0, 128, 0), _images(40, 100, 256, 1)
    snapshots = {}

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots[int(self.model.step.numpy())] = [w.copy() for w in self.model.refiner.get_weights()]

    gan = simgan_tf.SimGAN.from_preset(tiny_preset(steps=40), run_dir=tmp_path / "run")
    stopper = RealismStopping(synthetic[:8], real[-8:], tmp_path / "run" / "stopping.json", patience=2,
                              min_delta=100.0, critic=TINY_CRITIC)  # best = the first check, step 6
    gan.fit(synthetic, real[:-8], callbacks=[stopper, Snapshot()], verbose=0)
    assert int(gan.step.numpy()) == 10 and stopper.decision["restored_step"] == 6
    assert (tmp_path / "run" / BEST_WEIGHTS_FILE).is_file()
    for got, best, last in zip(gan.refiner.get_weights(), snapshots[6], snapshots[10]):
        np.testing.assert_array_equal(got, best)
    assert any(not np.array_equal(b, l) for b, l in zip(snapshots[6], snapshots[10]))  # training moved on
    # The last trace entry's D figures are D's patch accuracies on the step-10 refiner's images.
    stored = json.loads((tmp_path / "run" / "stopping.json").read_text())
    best_weights = gan.refiner.get_weights()
    gan.refiner.set_weights(snapshots[10])
    figures = heldout_d_accuracy(gan, gan.refine(synthetic[:8]), real[-8:])
    assert figures["heldout_d_accuracy"] == pytest.approx(stored["trace"][-1]["heldout_d_accuracy"], abs=1e-5)
    gan.refiner.set_weights(best_weights)
    # Export and simgan-export load the kept refiner (step 6), or on request the latest checkpoint's.
    from simgan_tf import run_io

    assert run_io.kept_refiner_step(tmp_path / "run") == 6
    for which, step, expected in (("kept", 6, snapshots[6]), ("latest", 10, snapshots[10])):
        loaded, _, loaded_step = run_io.load_refiner(tmp_path / "run", which=which)
        assert loaded_step == step, which
        for got, want in zip(loaded.get_weights(), expected):
            np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="'kept' or 'latest'"):
        run_io.load_refiner(tmp_path / "run", which="best")
    # A resumed run restores the checkpoint (step 10), sees the decision and restores step 6 again.
    again = simgan_tf.SimGAN.from_preset(tiny_preset(steps=40), run_dir=tmp_path / "run")
    again.fit(synthetic, real[:-8], callbacks=[RealismStopping(synthetic[:8], real[-8:], tmp_path / "run" / "stopping.json",
                                                               patience=2, min_delta=100.0, critic=TINY_CRITIC)], verbose=0)
    for got, best in zip(again.refiner.get_weights(), snapshots[6]):
        np.testing.assert_array_equal(got, best)
    # Training on past the decision (the rule switched off): the latest checkpoint counts again.
    onward = simgan_tf.SimGAN.from_preset(tiny_preset(steps=40), run_dir=tmp_path / "run")
    onward.fit(synthetic, real[:-8], verbose=0)
    end = onward.total_steps  # 40 adversarial + pretraining
    assert int(onward.step.numpy()) == end and run_io.kept_refiner_step(tmp_path / "run") is None
    assert run_io.load_refiner(tmp_path / "run")[2] == end


def test_realism_stopping_reaches_the_schedule_end_when_realism_keeps_improving(tmp_path):
    synthetic, real = _images(32, 0, 128, 0), _images(40, 100, 256, 1)
    gan = simgan_tf.SimGAN.from_preset(tiny_preset(steps=4), run_dir=tmp_path / "run")
    stopper = RealismStopping(synthetic[:8], real[-8:], tmp_path / "run" / "stopping.json", patience=50,
                              critic=TINY_CRITIC)
    gan.fit(synthetic, real[:-8], callbacks=[stopper], verbose=0)
    assert int(gan.step.numpy()) == gan.total_steps
    assert stopper.decision["reason"] == "reached the schedule's last step"


def test_estimator_early_stopping_on_a_toy_problem():
    """Labels that are noise: the held-out loss stops improving and training ends early,
    keeping the best weights; learnable labels keep it going longer."""
    from simgan_tf.experiments.gaze import train_and_evaluate
    from simgan_tf.experiments.settings import SMOKE

    settings = dataclasses.replace(
        SMOKE, estimator_steps=400, estimator_eval_every=4, estimator_patience=3, estimator_validation_fraction=0.25,
        estimator=dataclasses.replace(SMOKE.estimator, batch_size=8, learning_rate=0.003),
    )
    rng = np.random.default_rng(0)
    image = cfg.GAZE_IMAGE
    n = 64
    images = rng.integers(0, 256, (n, *image.shape), dtype=np.uint8)
    noise = rng.normal(size=(n, 3)).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    result = train_and_evaluate(settings, image, images, noise, images[:8], noise[:8], seed=0)
    assert result["estimator_steps"] < 400
    assert result["stop_reason"].startswith("no val_loss improvement")
    losses = result["val_loss_curve"]
    best = int(np.argmin(losses))
    assert result["best_step"] == (best + 1) * 4
    assert len(losses) == best + 1 + 3  # stopped exactly `patience` checks after the best
    assert result["validation_images"] == 16 and result["fit_images"] == 48
