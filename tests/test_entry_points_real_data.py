"""The entry points train on the real-data builders' fixtures (issue 4): a few steps each."""
import json
from pathlib import Path

import pytest

from simgan_tf import train_cli

BUILDERS = Path(__file__).resolve().parents[1] / "tfds_builders"
# The fixtures hold a few images: no realism checks (they hold out 1000 real images).
FEW_STEPS = ["--steps", "2", "--pretrain-r-steps", "1", "--pretrain-d-steps", "1", "--stop-check-every", "0", "--quiet"]


@pytest.fixture
def manual_dir(tmp_path):
    """One --manual-dir holding every dataset in its own sub-folder, as users lay it out."""
    root = tmp_path / "manual"
    root.mkdir()
    for name in ("unity_eyes", "mpii_gaze", "nyu_hand"):
        (root / name).symlink_to(BUILDERS / name / "dummy_data", target_is_directory=True)
    return root


@pytest.mark.parametrize("task, synthetic, real, batch", [
    ("gaze", "unity_eyes", "mpii_gaze", "4"),
    ("hand", "nyu_hand/synthetic", "nyu_hand/real", "2"),
])
def test_train_on_real_data_fixtures(task, synthetic, real, batch, manual_dir, tmp_path):
    run_dir = tmp_path / "run"
    argv = ["--synthetic", synthetic, "--real", real, "--manual-dir", str(manual_dir),
            "--data-dir", str(tmp_path / "tfds"), "--run-dir", str(run_dir),
            "--batch-size", batch, "--buffer-size", batch, *FEW_STEPS]
    assert train_cli.main(argv, task=task) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps_done"] == 4
    assert summary["settings"]["data"]["synthetic"] == synthetic
    # nyu_hand stores uint16 depth: the run records it (export serves uint16), as it does uint8.
    assert summary["image_dtype"] == ("uint16" if task == "hand" else "uint8")
    assert (run_dir / "samples.png").is_file()


def test_missing_manual_data_is_a_clear_error(tmp_path, capsys):
    empty = tmp_path / "nothing_here"
    empty.mkdir()
    argv = ["--synthetic", "unity_eyes", "--real", "mpii_gaze", "--manual-dir", str(empty),
            "--data-dir", str(tmp_path / "tfds"), "--run-dir", str(tmp_path / "run"), *FEW_STEPS]
    assert train_cli.main(argv, task="gaze") == 2
    assert "unity_eyes" in capsys.readouterr().err
