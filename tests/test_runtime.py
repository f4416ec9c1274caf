"""The entry points' process settings: BFC CPU allocator by default, the user's choice wins.

What TensorFlow does with the variable is TensorFlow's contract; what is ours, and tested
here, is that each command line sets it before TensorFlow starts, that a value the user
set is kept, and that importing the library changes nothing.
"""
import os

import pytest
from conftest import run_python

from simgan_tf import runtime

# Import an entry point (no side effect expected), run its main up to an argument error or
# --help (main configures the runtime first), then report the variable and whether
# TensorFlow had been imported by then.
_PROBE = """
import importlib, os, sys
module, argv = sys.argv[1], sys.argv[2:]
entry = importlib.import_module(module)
at_import = os.environ.get("TF_CPU_ALLOCATOR_USE_BFC")
try:
    entry.main(argv)
except SystemExit:
    pass
print(at_import, os.environ.get("TF_CPU_ALLOCATOR_USE_BFC"), "tensorflow" in sys.modules)
"""
ENTRY_POINTS = [
    ("simgan_tf.train_cli", "--steps", "0"),
    ("simgan_tf.refine", "--help"),
    ("simgan_tf.export.cli", "--help"),
]


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=[e[0] for e in ENTRY_POINTS])
def test_entry_point_selects_the_bfc_allocator_before_tensorflow_starts(entry, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("TF_CPU_ALLOCATOR_USE_BFC", raising=False)
    assert run_python(_PROBE, *entry) == "None true False"


def test_user_setting_overrides_the_allocator_default():
    out = run_python(_PROBE, *ENTRY_POINTS[0], env={"TF_CPU_ALLOCATOR_USE_BFC": "false"})
    assert out == "false false False"


def test_configure_sets_only_unset_variables(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    monkeypatch.delenv("TF_CPU_ALLOCATOR_USE_BFC", raising=False)
    runtime.configure_tf_runtime()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    assert os.environ["TF_CPU_ALLOCATOR_USE_BFC"] == runtime.TF_RUNTIME_DEFAULTS["TF_CPU_ALLOCATOR_USE_BFC"]


# --- the default precision per device type ---------------------------------------------


def test_cpu_flags_read_the_first_processor(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert runtime.cpu_flags(str(info)) == {"fpu", "sse2", "avx512f", "avx512_bf16"}
    assert runtime.cpu_flags(str(tmp_path / "missing")) == set()


@pytest.mark.parametrize("gpus, flags, expected", [
    (0, {"avx512f", "avx512_bf16"}, "mixed_bfloat16"),
    (0, {"amx_bf16", "amx_tile"}, "mixed_bfloat16"),
    (0, {"avx2", "fma"}, "float32"),
    (1, {"avx512_bf16"}, "float32"),  # a GPU: float32 until bfloat16 is measured on one
])
def test_device_default_precision(gpus, flags, expected):
    precision, why = runtime.device_default_precision(gpus=gpus, flags=flags)
    assert precision == expected and why
