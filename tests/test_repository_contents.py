"""The repository holds code, docs and small result files, never model weights or checkpoints.

Why: experiments write checkpoints and refiner weights beside their result files inside
docs/results (so a run resumes piece by piece); committing them makes a change too big to land
and they can be made again by the command beside each figure.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_FILE_BYTES = 1 << 20  # the largest figure today is ~0.2 MB
MAX_TOTAL_BYTES = 32 << 20  # today ~4 MB
WEIGHT_SUFFIXES = (".h5", ".keras", ".index", ".ckpt", ".tflite", ".pb", ".npz", ".npy", ".tfrecord")


def _tracked_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in out.decode().split("\0") if name]


def test_no_weights_or_checkpoints_are_tracked():
    bad = [str(p.relative_to(ROOT)) for p in _tracked_files()
           if p.suffix in WEIGHT_SUFFIXES or ".data-" in p.name or "checkpoints" in p.parts]
    assert not bad, f"model weights / checkpoints are tracked (git rm --cached them): {bad[:10]}"


def test_tracked_files_are_small():
    sizes = {p: p.stat().st_size for p in _tracked_files() if p.is_file()}
    big = [f"{p.relative_to(ROOT)} ({size / 1e6:.1f} MB)" for p, size in sizes.items() if size > MAX_FILE_BYTES]
    assert not big, f"tracked files over {MAX_FILE_BYTES >> 20} MiB: {big}"
    assert sum(sizes.values()) <= MAX_TOTAL_BYTES, f"tracked files add up to {sum(sizes.values()) / 1e6:.0f} MB"
