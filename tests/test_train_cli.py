"""train_gaze.py command line: documented flags, clear errors, an end-to-end tiny run."""
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import tiny_preset
from simgan_tf import config as cfg
from simgan_tf import train_cli

CONTRACT_FLAGS = [
    "--preset", "--steps", "--pretrain-r-steps", "--pretrain-d-steps", "--batch-size", "--lambda-reg",
    "--psi", "--buffer-size", "--k-g", "--k-d", "--learning-rate", "--synthetic", "--real",
    "--manual-dir", "--data-dir", "--run-dir", "--seed",
]
ROOT = Path(__file__).resolve().parents[1]


def test_help_documents_every_contract_flag():
    out = subprocess.run([sys.executable, str(ROOT / "train_gaze.py"), "--help"],
                         capture_output=True, text=True, check=True).stdout
    for flag in CONTRACT_FLAGS:
        assert flag in out, flag


def test_flags_override_preset_and_defaults_keep_it():
    parser = train_cli.build_parser("gaze")
    preset = train_cli.resolve_preset(parser.parse_args([]), "gaze")
    assert preset == cfg.GAZE_QUICK
    args = parser.parse_args(["--preset", "paper", "--steps", "7", "--k-g", "50", "--lambda-reg", "0.1",
                              "--psi", "derivatives", "--no-history", "--discriminator-head", "global",
                              "--real", "some/folder/of/images"])
    preset = train_cli.resolve_preset(args, "gaze")
    assert preset.name == "gaze_paper"
    assert (preset.training.steps, preset.training.k_g, preset.training.lambda_reg) == (7, 50, 0.1)
    assert preset.training.psi == "derivatives" and preset.training.use_history is False
    assert preset.discriminator.head == "global"
    assert preset.data.real == "some/folder/of/images"
    assert preset.training.batch_size == cfg.GAZE_PAPER.training.batch_size
    assert not preset.refiner.position_channels
    positioned = train_cli.resolve_preset(parser.parse_args(["--position-channels"]), "gaze")
    assert positioned.refiner == dataclasses.replace(cfg.GAZE_QUICK.refiner, position_channels=True)


def test_the_main_jobs_realism_rule_ignores_saturated_checks_like_the_experiments(tmp_path):
    """--stop-saturated-pct reaches RealismStopping (default 99, as the experiments use); above 100 turns it off."""
    import tensorflow as tf

    parser = train_cli.build_parser("gaze")
    images = tf.data.Dataset.from_tensor_slices(np.zeros((40, 35, 55, 1), np.uint8))
    for argv, expected in (([], 99.0), (["--stop-saturated-pct", "97.5"], 97.5), (["--stop-saturated-pct", "101"], None)):
        preset = train_cli.resolve_preset(parser.parse_args(argv + ["--stop-heldout", "8", "--batch-size", "8"]), "gaze")
        _, stopping = train_cli.realism_stopping(preset, tmp_path, images, images)
        assert stopping.saturated == expected, argv


@pytest.mark.parametrize("argv, message", [
    (["--batch-size", "33"], "(--batch-size) must be even"),
    (["--steps", "0"], "(--steps) must be an integer >= 1"),
    (["--preset", "nonsense"], "unknown preset 'nonsense'"),
    (["--preset", "hand_paper"], "is a hand preset"),
    (["--learning-rate", "-1"], "(--learning-rate) must be > 0"),
])
def test_bad_flags_are_named(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_cli.main(argv, task="gaze")
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def _image_folder(path: Path, count: int, shape, value: int) -> Path:
    path.mkdir(parents=True)
    rng = np.random.default_rng(value)
    for i in range(count):
        pixels = np.clip(rng.normal(value, 20, size=shape[:2]), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(path / f"{i:03d}.png")
    return path


@pytest.fixture
def tiny_registered(monkeypatch):
    preset = tiny_preset()
    preset = preset.__class__(**{**preset.__dict__, "name": "gaze_tiny"})
    monkeypatch.setitem(cfg.PRESETS, "gaze_tiny", preset)
    return preset


def test_end_to_end_run_writes_outputs_and_resumes(tmp_path, tiny_registered, capsys):
    shape = tiny_registered.image.shape
    synthetic = _image_folder(tmp_path / "synthetic", 12, shape, 90)
    real = _image_folder(tmp_path / "real", 12, shape, 160)
    run_dir = tmp_path / "run"
    argv = ["--preset", "gaze_tiny", "--synthetic", str(synthetic), "--real", str(real),
            "--run-dir", str(run_dir), "--quiet", "--steps", "2"]
    assert train_cli.main(argv, task="gaze") == 0
    assert f"Run directory: {run_dir}" in capsys.readouterr().out
    for name in ("config.json", "summary.json", "samples.png"):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "checkpoints").glob("ckpt-*.index"))
    assert list((run_dir / "logs").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["preset"] == "gaze_tiny" and summary["steps_done"] == 6
    assert {"r_total", "r_adversarial", "r_self_reg", "d_total"} <= set(summary["final_losses"])
    assert summary["settings"]["training"]["steps"] == 2
    assert summary["images_per_second"]["adversarial_images_per_second"] > 0

    # more steps on the same run dir resumes from step 6
    assert train_cli.main(argv[:-1] + ["3"], task="gaze") == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps_done"] == 7
    assert "Resuming from step 6" in capsys.readouterr().out

    # changing the model settings of an existing run is refused, nothing is overwritten
    before = (run_dir / "config.json").read_text()
    assert train_cli.main(argv + ["--lambda-reg", "3"], task="gaze") == 2
    assert "created with different settings" in capsys.readouterr().err
    assert (run_dir / "config.json").read_text() == before


def test_empty_or_corrupt_image_folder_is_named(tmp_path, tiny_registered, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    real = _image_folder(tmp_path / "real", 4, tiny_registered.image.shape, 160)
    argv = ["--preset", "gaze_tiny", "--synthetic", str(empty), "--real", str(real),
            "--run-dir", str(tmp_path / "run"), "--quiet"]
    assert train_cli.main(argv, task="gaze") == 2
    assert f"image folder {empty} holds no images" in capsys.readouterr().err
    (empty / "broken.png").write_bytes(b"\x89PNG not really")
    assert train_cli.main(argv, task="gaze") == 2
    assert f"{empty / 'broken.png'}: not a readable image" in capsys.readouterr().err


def test_experiment_flag_hands_over_to_the_experiment_runner(monkeypatch):
    from simgan_tf.experiments import gaze as experiment

    seen = {}
    monkeypatch.setattr(experiment, "main", lambda argv: seen.setdefault("argv", argv) and 0)
    train_cli.main(["--experiment", "--out", "somewhere", "--seeds", "1"], task="gaze")
    assert seen["argv"] == ["--out", "somewhere", "--seeds", "1"]


def test_auto_precision_keeps_a_resumed_runs_and_gives_a_new_run_the_devices(tmp_path, monkeypatch):
    from simgan_tf import run_io, runtime

    parser = train_cli.build_parser("gaze")
    assert parser.parse_args([]).precision == "auto"
    preset = train_cli.resolve_preset(parser.parse_args([]), "gaze")
    monkeypatch.setattr(runtime, "device_default_precision", lambda: ("mixed_bfloat16", "bf16 units"))
    new, why = train_cli.auto_precision(preset, tmp_path / "new_run")
    assert new.training.precision == "mixed_bfloat16" and why == "bf16 units"
    run_io.save_run_config(tmp_path / "old_run", preset)  # started in float32 before the default changed
    kept, why = train_cli.auto_precision(preset, tmp_path / "old_run")
    assert kept.training.precision == "float32" and "started with" in why
    explicit = train_cli.resolve_preset(parser.parse_args(["--precision", "float32"]), "gaze")
    assert explicit.training.precision == "float32"
