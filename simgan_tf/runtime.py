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


# CPU flags (Linux /proc/cpuinfo names) of bfloat16 matrix units that oneDNN uses.
CPU_BF16_FLAGS: tuple[str, ...] = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str]:
    """The first processor's feature flags (empty where the file is missing, as on macOS)."""
    try:
        with open(cpuinfo, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def device_default_precision(gpus: int | None = None, flags: set[str] | None = None) -> tuple[str, str]:
    """(precision, why) for a run that names none: the measured choice per device type.

    A CPU with bfloat16 units trains mixed_bfloat16 (1.5-1.7x the float32 iteration in
    benchmarks/train_step.py, and the converged gaze experiment's quality within seed noise,
    docs/results/README.md); a GPU trains float32 until a GPU run has measured the same; any
    other CPU float32. `gpus` / `flags` default to this machine's.
    """
    if gpus is None:
        import tensorflow as tf

        gpus = len(tf.config.list_physical_devices("GPU"))
    if gpus:
        return "float32", "GPU: float32 until bfloat16 is measured on one (--precision mixed_bfloat16 to try it)"
    flags = cpu_flags() if flags is None else flags
    units = sorted(flags & set(CPU_BF16_FLAGS))
    if units:
        return "mixed_bfloat16", f"this CPU has bfloat16 units ({', '.join(units)}); --precision float32 to change"
    return "float32", "this CPU has no bfloat16 units"


__all__ = ["CPU_BF16_FLAGS", "TF_RUNTIME_DEFAULTS", "configure_tf_runtime", "cpu_flags", "device_default_precision",
           "enable_determinism"]
