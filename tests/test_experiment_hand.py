"""The hand experiment runner: the smoke run end to end on tiny procedural hands, resume,
label preservation against hand-computed cases, settings and flags."""
from __future__ import annotations

import json
import os
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from simgan_tf.experiments import hand_report
from simgan_tf.experiments.hand import build_parser, main
from simgan_tf.experiments.hand_settings import HAND_ROWS, QUICK, SMOKE
from simgan_tf.joint_preservation import joint_depth_change, silhouette_change

TINY_SPLITS = {
    "synthetic": {"train": SMOKE.train_images * SMOKE.scale_factor, "test": 8},
    "sensor_v4": {"train": SMOKE.real_images},
    "sensor_v4_labeled": {"train": SMOKE.train_images, "test": SMOKE.test_images},
}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The smoke preset on procedural_hands built with a few dozen images per split."""
    from tfds_builders.procedural_hands import procedural_hands_dataset_builder as phb

    data_dir = tmp_path_factory.mktemp("tfds")
    out = tmp_path_factory.mktemp("hand_smoke")
    args = ["--smoke", "--quiet", "--out", str(out), "--data-dir", str(data_dir)]
    with mock.patch.object(phb.Builder, "SPLIT_SIZES", {**phb.Builder.SPLIT_SIZES, **TINY_SPLITS}):
        assert main(args) == 0
    return out, args


def test_smoke_run_writes_every_output_and_field(smoke_run):
    out, _ = smoke_run
    for name in ("results.json", "table.md", "curves.png", "experiment.json"):
        assert (out / name).is_file(), name
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    results = json.loads((out / "results.json").read_text())
    assert set(results["rows"]) == set(HAND_ROWS)
    for row in HAND_ROWS:
        for metric in ("pck_5px_pct", "mean_error_px"):
            stats = results["rows"][row][metric]
            assert set(stats) == {"mean", "std", "per_seed"} and len(stats["per_seed"]) == SMOKE.seeds
        assert 0.0 <= results["rows"][row]["pck_5px_pct"]["mean"] <= 100.0
        stored = json.loads((out / "seed_0" / "rows" / f"{row}.json").read_text())
        assert len(stored["errors_px"]) == SMOKE.test_images * 14  # every joint of every test image
        assert stored["estimator_steps"] >= stored["best_step"] >= 1
    assert set(results["comparisons"]) == set(hand_report.HAND_COMPARISONS)
    assert set(results["critic_accuracy"]) == {"refined_vs_real", "synthetic_vs_real"}
    assert set(results["joint_depth_change"]) == {"mean_levels", "mean_mm", "joints_lost_pct", "silhouette_iou"}
    assert set(results["silhouette_change"]) == set(hand_report.SILHOUETTE_KEYS) | {"seeds_measured"}
    assert 0.0 <= results["silhouette_change"]["hand_share_refined"]["mean"] <= 1.0
    assert set(results["refiner_stopping"]) == {"main", "no_history", "global_adversarial"}
    table = (out / "table.md").read_text()
    for row in HAND_ROWS:
        assert hand_report.HAND_ROW_LABELS[row] in table
    assert "69.7" in table and "83.3" in table  # the paper's Table 4 beside ours
    for variant in ("main", "no_history", "global_adversarial"):
        refined = np.load(out / "seed_0" / "refiners" / variant / "refined.npy")
        assert refined.dtype == np.uint8 and refined.shape[1:] == (32, 32, 1)


def test_rerun_resumes_without_retraining(smoke_run):
    out, args = smoke_run
    before = {p: p.stat().st_mtime_ns for p in (out / "seed_0" / "rows").glob("*.json")}
    from tfds_builders.procedural_hands import procedural_hands_dataset_builder as phb

    with mock.patch.object(phb.Builder, "SPLIT_SIZES", {**phb.Builder.SPLIT_SIZES, **TINY_SPLITS}):
        assert main(args) == 0
    after = {p: p.stat().st_mtime_ns for p in (out / "seed_0" / "rows").glob("*.json")}
    assert before == after  # every row was read back, none retrained


def test_resume_with_other_settings_is_refused(smoke_run, capsys):
    out, args = smoke_run
    assert main(args + ["--learning-rate", "0.5"]) == 2
    assert "different settings" in capsys.readouterr().err


def test_joint_depth_change_hand_computed():
    synthetic = np.full((2, 4, 4, 1), 255, np.uint8)
    synthetic[:, 1:3, 1:3] = 100  # a 2 x 2 "hand"
    refined = synthetic.copy()
    refined[0, 1, 1] = 104  # joint 0 of image 0: +4 levels
    refined[1, 2, 2] = 255  # joint 1 of image 1: erased to background
    joints = np.array([[[1, 1], [2, 2]], [[1, 2], [2, 2]]], np.float32)  # (u, v) = (col, row)
    res = joint_depth_change(synthetic, refined, joints, level_mm=2.0)
    # kept joints: 4, 0, 0 -> mean 4/3 levels; one of four joints lost
    assert res["mean_levels"] == pytest.approx(4 / 3)
    assert res["mean_mm"] == pytest.approx(8 / 3)
    assert res["joints_lost_pct"] == pytest.approx(25.0)
    # image 0: same silhouette (IoU 1); image 1: 3 of 4 pixels remain (IoU 3/4)
    assert res["silhouette_iou"] == pytest.approx((1.0 + 0.75) / 2)


def test_joint_depth_change_rejects_mismatched_inputs():
    images = np.zeros((2, 4, 4, 1), np.uint8)
    with pytest.raises(ValueError, match="refined versions"):
        joint_depth_change(images, images[:1], np.zeros((2, 14, 2)))
    with pytest.raises(ValueError, match="joints_uv"):
        joint_depth_change(images, images, np.zeros((3, 14, 2)))
    with pytest.raises(ValueError, match="uint8/uint16"):
        joint_depth_change(images.astype(np.float32), images, np.zeros((2, 14, 2)))


def test_silhouette_change_hand_computed():
    synthetic = np.full((2, 4, 4, 1), 255, np.uint8)
    synthetic[:, 1:3, 1:3] = 100  # a 2 x 2 hand: 4 of 16 pixels
    refined = synthetic.copy()
    refined[0, 0, 1] = 110  # image 0: one background pixel drawn as hand (145 levels)
    refined[1, 2, 2] = 255  # image 1: one hand pixel erased (+155 levels)
    refined[1, 1, 1] = 102  # and one hand pixel moved by 2 levels
    refined[0, 3, 3] = 250  # a background pixel 5 levels short: within the margin, still background
    target = np.full((1, 4, 4), 255, np.uint8)
    target[0, :2, :] = 50  # 8 of 16 pixels
    res = silhouette_change(synthetic, refined, target, margin_levels=8)
    assert res["hand_share_synthetic"] == pytest.approx(8 / 32)
    assert res["hand_share_refined"] == pytest.approx(8 / 32)  # one drawn, one erased
    assert res["drawn_share"] == pytest.approx(1 / 32) and res["erased_share"] == pytest.approx(1 / 32)
    assert res["mean_change_on_hand_levels"] == pytest.approx((155 + 2) / 8)
    assert res["mean_change_off_hand_levels"] == pytest.approx((145 + 5) / 24)
    strict = silhouette_change(synthetic, refined, target, margin_levels=0)
    assert strict["drawn_share"] == pytest.approx(2 / 32)  # without the margin the 250 counts as hand
    assert res["hand_share_target"] == pytest.approx(0.5)
    assert "hand_share_target" not in silhouette_change(synthetic, refined)
    with pytest.raises(ValueError, match="refined versions"):
        silhouette_change(synthetic, refined[:1])
    with pytest.raises(ValueError, match="one encoding"):
        silhouette_change(synthetic, refined, target.astype(np.uint16))


def test_quick_settings_are_consistent():
    assert QUICK.refiner.image.height == QUICK.refiner.image.width == 64
    assert QUICK.scale_factor == 3 and QUICK.threshold_px == 5.0 and QUICK.crop_px == 224.0
    assert QUICK.refiner_check_every % QUICK.refiner.training.checkpoint_every == 0
    assert QUICK.refiner_heldout_real < QUICK.real_images


def test_unknown_target_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["--out", "x", "--target", "kinect9"])
    assert info.value.code == 2
    assert "--target" in capsys.readouterr().err


def test_train_hand_experiment_flag_runs_the_hand_runner(capsys):
    from simgan_tf.train_cli import main as train_main

    with pytest.raises(SystemExit) as info:
        train_main(["--experiment", "--help"], task="hand")
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "simgan_tf.experiments.hand" in out and "--target" in out


def test_psi_and_lambda_flags_reach_every_hand_refiner():
    from simgan_tf.experiments.common import refiner_preset
    from simgan_tf.experiments.hand import settings_from_args

    args = build_parser().parse_args(["--out", "x", "--smoke", "--psi", "foreground", "--lambda-reg", "0.5"])
    settings = settings_from_args(args)
    for variant in ("main", "no_history", "global_adversarial"):
        training = refiner_preset(settings, variant, 0).training
        assert training.psi == "foreground" and training.lambda_reg == 0.5


def test_a_command_line_override_is_noted_beside_the_presets_refiner_note():
    """experiment.json's refiner note describes the preset; an override must be recorded beside it."""
    from simgan_tf.experiments.hand import settings_from_args
    from simgan_tf.experiments.hand_settings import QUICK

    plain = settings_from_args(build_parser().parse_args(["--out", "x"]))
    assert "refiner_overrides" not in plain.notes and plain.notes == QUICK.notes
    same = settings_from_args(build_parser().parse_args(["--out", "x", "--lambda-reg", str(QUICK.refiner.training.lambda_reg)]))
    assert "refiner_overrides" not in same.notes
    changed = settings_from_args(build_parser().parse_args(["--out", "x", "--lambda-reg", "0.02", "--refiner-steps", "700"]))
    note = changed.notes["refiner_overrides"]
    assert f"lambda_reg {QUICK.refiner.training.lambda_reg} -> 0.02" in note
    assert f"steps {QUICK.refiner.training.steps} -> 700" in note
    assert changed.notes["refiner"] == QUICK.notes["refiner"]  # the preset's own note is kept


def test_refiner_pilot_benchmark_measures_an_experiments_refiner_without_retraining(smoke_run, tmp_path):
    """benchmarks/hand_refiner_pilot.py pointed at a seed folder reads its refiner back."""
    import importlib.util

    from tests.conftest import REPO_ROOT
    from tfds_builders.procedural_hands import procedural_hands_dataset_builder as phb

    spec = importlib.util.spec_from_file_location("hand_refiner_pilot", REPO_ROOT / "benchmarks" / "hand_refiner_pilot.py")
    pilot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pilot)
    out, args = smoke_run
    refined_file = out / "seed_0" / "refiners" / "main" / "refined.npy"
    before = refined_file.stat().st_mtime_ns
    data_dir = args[args.index("--data-dir") + 1]
    result_file, samples = tmp_path / "pilot.json", tmp_path / "pilot.png"
    with mock.patch.object(phb.Builder, "SPLIT_SIZES", {**phb.Builder.SPLIT_SIZES, **TINY_SPLITS}):
        assert pilot.main(["--preset", "smoke", "--work", str(out / "seed_0"), "--data-dir", data_dir,
                           "--out", str(result_file), "--samples", str(samples)]) == 0
    assert refined_file.stat().st_mtime_ns == before  # read back, not retrained
    result = json.loads(result_file.read_text())
    refined = np.load(refined_file)
    assert result["silhouette"]["num_images"] == len(refined)
    assert result["silhouette"]["hand_share_refined"] == pytest.approx(float((refined < 255).mean()))
    saturation = result["saturation"]
    assert saturation["num_images"] > 0
    for key in ("median_dtanh_band", "median_dtanh_hand", "median_dtanh_far_background"):
        assert 0.0 <= saturation[key] <= 1.0
    assert result["kept_step"] >= 1 and "critic" not in result
    assert samples.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
