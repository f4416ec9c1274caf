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
