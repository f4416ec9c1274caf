"""The gaze experiment runner: the smoke run end to end, resume, report maths, settings."""
from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from simgan_tf.experiments import report
from simgan_tf.experiments.gaze import ROW_DIR, main, refiner_preset
from simgan_tf.experiments.settings import QUICK, ROWS, SMOKE, get_experiment_settings
from simgan_tf.metrics import percent_within
from simgan_tf.target_folder import write_labeled_folder
from tfds_builders.procedural_eyes import camera, render


def _eyes(seed: int, n: int, through_camera: bool):
    rng = np.random.default_rng(seed)
    images, skin, labels = render.render_batch(rng, n)
    pixels = camera.apply_camera(images, skin, rng) if through_camera else render.to_uint8(images)
    return pixels, labels["gaze"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A few dozen procedural eyes written as the user-facing folder + CSV formats."""
    root = tmp_path_factory.mktemp("eyes")
    n_synthetic = SMOKE.train_images * SMOKE.scale_factor
    synthetic = write_labeled_folder(root / "synthetic", *_eyes(1, n_synthetic, False))
    real_images, _ = _eyes(2, SMOKE.real_images, True)
    write_labeled_folder(root / "real", real_images, np.tile([0.0, 0.0, -1.0], (len(real_images), 1)))
    (root / "real" / "labels.csv").unlink()  # the real domain is unlabeled: images only
    test = write_labeled_folder(root / "test", *_eyes(3, SMOKE.test_images, True))
    oracle = write_labeled_folder(root / "oracle", *_eyes(4, SMOKE.train_images, True))
    return {"root": root, "synthetic": synthetic, "test": test, "oracle": oracle}


def _args(folders, out):
    r = folders["root"]
    return ["--smoke", "--quiet", "--out", str(out),
            "--synthetic-dir", str(r / "synthetic"), "--synthetic-labels", str(folders["synthetic"]),
            "--real-dir", str(r / "real"),
            "--test-dir", str(r / "test"), "--test-labels", str(folders["test"]),
            "--oracle-dir", str(r / "oracle"), "--oracle-labels", str(folders["oracle"])]


@pytest.fixture(scope="module")
def smoke_run(folders, tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke_out")
    assert main(_args(folders, out)) == 0
    return out


def test_smoke_run_writes_every_output_and_field(smoke_run):
    for name in ("results.json", "table.md", "curves.png", "experiment.json"):
        assert (smoke_run / name).is_file(), name
    assert (smoke_run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    results = json.loads((smoke_run / "results.json").read_text())
    assert set(results["rows"]) == set(ROWS)
    for row in ROWS:
        for metric in ("mean_error_deg", "within_7_deg_pct"):
            stats = results["rows"][row][metric]
            assert set(stats) == {"mean", "std", "per_seed"}
            assert len(stats["per_seed"]) == 1 and np.isfinite(stats["mean"])
        assert 0.0 <= results["rows"][row]["mean_error_deg"]["mean"] <= 180.0
        assert 0.0 <= results["rows"][row]["within_7_deg_pct"]["mean"] <= 100.0
    assert set(results["pupil_displacement_px"]) == {"mean", "std", "median", "jumps_pct"}
    assert np.isfinite(results["pupil_displacement_px"]["mean"])
    assert set(results["critic_accuracy"]) == {"refined_vs_real", "synthetic_vs_real"}
    for value in results["critic_accuracy"].values():
        assert 0.0 <= value <= 100.0
    assert results["seeds"] == [0]
    assert results["preset"] == "smoke"
    assert results["wall_seconds"] > 0
    table = (smoke_run / "table.md").read_text()
    for row in ROWS:
        assert report.ROW_LABELS[row] in table
    # Every refiner variant left a loadable run directory and its refined images.
    for variant in ("main", "no_history", "global_adversarial"):
        run_dir = smoke_run / "seed_0" / "refiners" / variant
        assert (run_dir / "config.json").is_file() and (run_dir / "refined.npy").is_file()
        assert (run_dir / "samples.png").is_file()


def test_row_metrics_agree_with_the_metrics_module(smoke_run):
    """The stored per-image errors reproduce the row's figures via simgan_tf.metrics."""
    for row in ROWS:
        stored = json.loads((smoke_run / "seed_0" / ROW_DIR / f"{row}.json").read_text())
        errors = np.asarray(stored["errors_deg"])
        assert len(errors) == stored["num_test"] == SMOKE.test_images
        assert stored["mean_error_deg"] == pytest.approx(errors.mean(), abs=1e-3)
        assert stored["within_7_deg_pct"] == pytest.approx(percent_within(errors, 7.0))
    sizes = json.loads((smoke_run / "results.json").read_text())["details"]["rows"]
    n = SMOKE.train_images
    assert sizes["synthetic"]["train_images"] == n and sizes["refined"]["train_images"] == n
    assert sizes["synthetic_4x"]["train_images"] == 4 * n and sizes["refined_4x"]["train_images"] == 4 * n


def test_rerun_resumes_without_retraining(folders, smoke_run):
    row = smoke_run / "seed_0" / ROW_DIR / "refined.json"
    before = row.stat().st_mtime_ns
    assert main(_args(folders, smoke_run)) == 0
    assert row.stat().st_mtime_ns == before


def test_rerun_with_other_settings_is_refused(folders, smoke_run, capsys):
    assert main(_args(folders, smoke_run) + ["--refiner-steps", "3"]) == 2
    assert "different settings" in capsys.readouterr().err


def test_custom_real_domain_needs_paired_labels(folders, tmp_path):
    with pytest.raises(SystemExit):
        main(["--smoke", "--out", str(tmp_path), "--test-dir", str(folders["root"] / "test")])


def test_aggregate_and_table_from_hand_made_seed_files(tmp_path):
    """Mean, sample std and per-seed lists, and the Markdown table, from known numbers."""
    from simgan_tf.run_io import write_json_atomic

    errors = {0: [1.0, 5.0, 9.0, 20.0], 1: [2.0, 3.0, 8.0, 10.0]}
    for seed, errs in errors.items():
        (tmp_path / f"seed_{seed}" / ROW_DIR).mkdir(parents=True)
        for row in ROWS:
            write_json_atomic(tmp_path / f"seed_{seed}" / ROW_DIR / f"{row}.json", {
                "mean_error_deg": float(np.mean(errs)), "within_7_deg_pct": percent_within(errs, 7.0),
                "median_error_deg": float(np.median(errs)), "num_test": 4, "train_images": 10, "errors_deg": errs,
            })
        write_json_atomic(tmp_path / f"seed_{seed}" / "label_preservation.json",
                          {"displacements_px": [1.0, 3.0] if seed == 0 else [2.0], "mean": 0, "std": 0,
                           "num_measured": 1, "num_images": 2})
        write_json_atomic(tmp_path / f"seed_{seed}" / "critic.json", {
            "refined_vs_real": {"accuracy_pct": 50.0 + 10 * seed}, "synthetic_vs_real": {"accuracy_pct": 90.0}})
    results = report.aggregate(tmp_path, SMOKE, [0, 1], wall_seconds=12.0)
    mean = results["rows"]["refined"]["mean_error_deg"]
    assert mean["per_seed"] == [8.75, 5.75]
    assert mean["mean"] == pytest.approx(7.25)
    assert mean["std"] == pytest.approx(np.std([8.75, 5.75], ddof=1))
    assert results["rows"]["synthetic"]["within_7_deg_pct"]["per_seed"] == [50.0, 50.0]
    assert results["pupil_displacement_px"] == {"mean": pytest.approx(2.0), "std": pytest.approx(np.std([1, 3, 2])),
                                                "median": 2.0, "jumps_pct": 0.0}  # 3 px is not beyond 3
    assert results["critic_accuracy"] == {"refined_vs_real": 55.0, "synthetic_vs_real": 90.0}
    curves = report.cumulative_curves(tmp_path, [0, 1], SMOKE)
    x, y, _ = curves["oracle"]
    at_7 = int(np.argmin(np.abs(x - 7.0)))
    assert x[at_7] == pytest.approx(7.0) and y[at_7] == pytest.approx(50.0)
    report.write_outputs(tmp_path, results, SMOKE)
    table = (tmp_path / "table.md").read_text()
    assert "| Refined data | 10 | 50.0 ± 0.0 | 7.25 ± 2.12 | 69.4 | 7.8 |" in table


def test_settings_presets_and_refiner_variants():
    assert get_experiment_settings("quick") is QUICK
    with pytest.raises(ValueError, match="unknown experiment preset"):
        get_experiment_settings("huge")
    main_preset = refiner_preset(QUICK, "main", seed=2)
    assert main_preset.training.seed == 2 and main_preset.training.use_history
    assert main_preset.discriminator.head == "local"
    assert not refiner_preset(QUICK, "no_history", 0).training.use_history
    assert refiner_preset(QUICK, "global_adversarial", 0).discriminator.head == "global"
    assert QUICK.scale_factor == 4 and QUICK.seeds == 5


def test_precision_flag_reaches_every_refiner():
    from simgan_tf.experiments.gaze import build_parser, settings_from_args

    settings = settings_from_args(build_parser().parse_args(["--out", "x", "--smoke", "--precision", "mixed_bfloat16"]))
    assert settings.refiner.training.precision == "mixed_bfloat16"
    for variant in ("main", "no_history", "global_adversarial"):
        assert refiner_preset(settings, variant, 0).training.precision == "mixed_bfloat16"


def test_position_channels_flag_reaches_every_refiner_and_is_noted():
    from simgan_tf.experiments.gaze import build_parser, settings_from_args

    plain = settings_from_args(build_parser().parse_args(["--out", "x"]))
    assert not plain.refiner.refiner.position_channels and "refiner_overrides" not in plain.notes
    settings = settings_from_args(build_parser().parse_args(["--out", "x", "--position-channels", "--lambda-reg", "0.1"]))
    for variant in ("main", "no_history", "global_adversarial"):
        preset = refiner_preset(settings, variant, 0)
        assert preset.refiner.position_channels and preset.training.lambda_reg == 0.1
        assert preset.refiner.padding == QUICK.refiner.refiner.padding  # the rest of the architecture is kept
    note = settings.notes["refiner_overrides"]
    assert "position_channels False -> True" in note and f"lambda_reg {QUICK.refiner.training.lambda_reg} -> 0.1" in note
