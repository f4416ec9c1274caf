"""Shared fixtures: tiny presets so trainer tests run in seconds on 2 CPU cores."""
import dataclasses
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

from simgan_tf import config as cfg

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_python(script: str, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    """Run `script` in a fresh CPU-only Python process (e.g. for device settings fixed at TF
    start-up) with the repository importable; returns its last stdout line, fails on a crash."""
    proc_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
                "CUDA_VISIBLE_DEVICES": "", **(env or {})}
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                          env=proc_env, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


def tiny_preset(**training) -> cfg.Preset:
    """A gaze-shaped preset scaled down: 12 x 16 images, 4-filter refiner, small D."""
    base = cfg.GAZE_QUICK
    return dataclasses.replace(
        base,
        name="tiny",
        image=cfg.ImageSpec(12, 16, 1),
        refiner=cfg.RefinerConfig(filters=4, kernel=3, num_blocks=1),
        discriminator=cfg.DiscriminatorConfig(
            layers=(cfg.LayerSpec("conv", 3, 2, 8), cfg.LayerSpec("conv", 1, 1, 2))
        ),
        training=dataclasses.replace(
            base.training,
            **{"steps": 4, "pretrain_r_steps": 2, "pretrain_d_steps": 2, "batch_size": 4, "buffer_size": 8,
               "checkpoint_every": 2, "log_every": 1, "stop_check_every": 0, **training},
        ),
    )


@pytest.fixture
def tiny():
    return tiny_preset()


@pytest.fixture(scope="module")
def ceiling():
    """benchmarks/refiner_ceiling.py as a module (benchmarks are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("refiner_ceiling", REPO_ROOT / "benchmarks" / "refiner_ceiling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
