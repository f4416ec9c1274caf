"""The entry points' process settings: BFC CPU allocator by default, the user's choice wins."""
import os

import pytest
from conftest import run_python

from simgan_tf import runtime

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


def test_entry_point_selects_the_bfc_cpu_allocator(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("TF_CPU_ALLOCATOR_USE_BFC", raising=False)
    assert run_python(_PROBE) == "bfc"


def test_user_setting_overrides_the_allocator_default():
    assert run_python(_PROBE, env={"TF_CPU_ALLOCATOR_USE_BFC": "false"}) == "default"


def test_configure_sets_only_unset_variables(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    monkeypatch.delenv("TF_CPU_ALLOCATOR_USE_BFC", raising=False)
    runtime.configure_tf_runtime()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    assert os.environ["TF_CPU_ALLOCATOR_USE_BFC"] == runtime.TF_RUNTIME_DEFAULTS["TF_CPU_ALLOCATOR_USE_BFC"]
