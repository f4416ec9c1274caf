"""Process-wide TensorFlow settings that the command-line tools apply before TF starts.

Why: both settings are read from the environment once, when TensorFlow loads (log level)
or allocates its first CPU tensor (allocator), so they cannot be passed as arguments.
Every entry point calls `configure_tf_runtime()` first; a value the user has already set
in the environment always wins.
"""
from __future__ import annotations

import os

TF_RUNTIME_DEFAULTS: dict[str, str] = {
    # Hide TF's start-up INFO lines (CUDA stubs, CPU flags).
    "TF_CPP_MIN_LOG_LEVEL": "2",
    # TF's default CPU allocator gives large freed buffers back to the OS and faults them in
    # again, which made identical trainings run at very different speeds by chance; the BFC
    # allocator keeps freed memory for reuse (docs/results/README.md, "Training throughput").
    # TF_CPU_ALLOCATOR_USE_BFC=false restores TF's default.
    "TF_CPU_ALLOCATOR_USE_BFC": "true",
}


def configure_tf_runtime() -> None:
    """Set each of TF_RUNTIME_DEFAULTS that the environment does not set already.

    Call before TensorFlow allocates its first tensor (importing it is fine for the
    allocator, not for the log level): later calls change nothing in this process.
    """
    for name, value in TF_RUNTIME_DEFAULTS.items():
        os.environ.setdefault(name, value)


def enable_determinism() -> None:
    """TensorFlow's op determinism (`--deterministic`): the same seed and data give the same
    weights bit for bit on the same machine and software, also across a kill and resume.
    Process-wide and permanent, so only the command lines call it."""
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()


__all__ = ["TF_RUNTIME_DEFAULTS", "configure_tf_runtime", "enable_determinism"]
