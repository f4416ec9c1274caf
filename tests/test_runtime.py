"""The entry points' process settings: BFC CPU allocator by default, the user's choice wins."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from simgan_tf import runtime

REPO = Path(__file__).resolve().parents[1]

# Imports an entry-point module (which configures the runtime), allocates a tensor, and
# reports whether TF's CPU allocator keeps statistics: only the BFC allocator does.
_PROBE = """
import simgan_tf.train_cli
import tensorflow as tf
tf.ones((256, 256))
try:
    tf.config.experimental.get_memory_info("CPU:0")
    print("bfc")
except ValueError:
    print("default")
"""


def _allocator_in_subprocess(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPU_ALLOCATOR_USE_BFC"}
    if env_value is not None:
        env["TF_CPU_ALLOCATOR_USE_BFC"] = env_value
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_entry_point_selects_the_bfc_cpu_allocator():
    assert _allocator_in_subprocess(None) == "bfc"


def test_user_setting_overrides_the_allocator_default():
    assert _allocator_in_subprocess("false") == "default"


def test_configure_sets_only_unset_variables(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    monkeypatch.delenv("TF_CPU_ALLOCATOR_USE_BFC", raising=False)
    runtime.configure_tf_runtime()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    assert os.environ["TF_CPU_ALLOCATOR_USE_BFC"] == runtime.TF_RUNTIME_DEFAULTS["TF_CPU_ALLOCATOR_USE_BFC"]
