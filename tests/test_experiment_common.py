"""What both experiment runners share: a seed's process never outlives a killed runner."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

SCRIPT = textwrap.dedent('''
    import sys, time
    from pathlib import Path

    from simgan_tf.experiments.common import run_seeds

    def seed_job(pid_file):
        import os
        Path(pid_file).write_text(str(os.getpid()))
        time.sleep(120)

    if __name__ == "__main__":
        run_seeds(seed_job, 1, lambda seed, label: (sys.argv[1],))
''')


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_seed_process_ends_when_its_runner_is_killed(tmp_path):
    script, pid_file = tmp_path / "runner.py", tmp_path / "child.pid"
    script.write_text(SCRIPT)
    runner = subprocess.Popen([sys.executable, str(script), str(pid_file)])
    try:
        deadline = time.time() + 120
        while not pid_file.exists() and time.time() < deadline:
            time.sleep(0.2)
        assert pid_file.exists(), "the seed process never started"
        time.sleep(0.5)
        child = int(pid_file.read_text())
        assert _alive(child)
        runner.send_signal(signal.SIGKILL)  # no clean-up in the runner at all
        runner.wait(timeout=30)
        deadline = time.time() + 30
        while _alive(child) and time.time() < deadline:
            time.sleep(0.2)
        assert not _alive(child), "the seed process outlived its runner"
    finally:
        if runner.poll() is None:
            runner.kill()


def test_a_resume_accepts_settings_added_later_at_their_default_at_any_depth(tmp_path):
    """experiment.json written before a field existed (here a refiner TrainingConfig field, nested
    two levels down) still resumes while the field keeps its default; a changed value is refused by name."""
    import dataclasses
    import json

    from simgan_tf import config as cfg
    from simgan_tf.experiments.common import check_or_write_experiment
    from simgan_tf.experiments.settings import get_experiment_settings
    from simgan_tf.experiments.sources import SourceSpec

    settings, sources = get_experiment_settings("smoke"), SourceSpec()
    check_or_write_experiment(tmp_path, settings, sources)
    path = tmp_path / "experiment.json"
    stored = json.loads(path.read_text())
    del stored["settings"]["refiner"]["training"]["stop_saturated_pct"]  # as written by older code
    del stored["settings"]["refiner_saturated_pct"]
    path.write_text(json.dumps(stored))
    check_or_write_experiment(tmp_path, settings, sources)  # defaults: resumes

    changed = dataclasses.replace(settings, refiner=cfg.with_overrides(settings.refiner, stop_saturated_pct=95.0))
    with pytest.raises(ValueError, match=r"settings\.refiner\.training\.stop_saturated_pct"):
        check_or_write_experiment(tmp_path, changed, sources)
    changed = dataclasses.replace(settings, refiner=cfg.with_overrides(settings.refiner, lambda_reg=0.25))
    with pytest.raises(ValueError, match=r"settings\.refiner\.training\.lambda_reg"):
        check_or_write_experiment(tmp_path, changed, sources)
