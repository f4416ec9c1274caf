"""A run stopped and resumed ends with the weights of an unbroken run, bit for bit.

Each case runs in a fresh process with TensorFlow's op determinism on (`--deterministic`),
as the command line does. The kill harness (benchmarks/kill_resume.py) does the same with
SIGKILL at random moments on the real `train_gaze.py`; its test is marked slow.
"""
import json
import os
import sys

import pytest

from conftest import REPO_ROOT, run_python

_SCRIPT = r"""
import json, os, sys
import numpy as np
import tensorflow as tf
tf.config.experimental.enable_op_determinism()
sys.path.insert(0, os.path.join(os.environ["PYTHONPATH"], "tests"))
from conftest import tiny_preset
import simgan_tf

run_dir, stops = sys.argv[1], [int(s) for s in sys.argv[2:]]
preset = tiny_preset(steps=8, checkpoint_every=3, log_every=1, buffer_size=8)
rng = np.random.default_rng(0)
synthetic = rng.integers(0, 128, (40, 12, 16, 1), dtype=np.uint8)
real = rng.integers(80, 256, (40, 12, 16, 1), dtype=np.uint8)
for stop in stops:  # each piece is a new model restored from the newest checkpoint
    gan = simgan_tf.SimGAN.from_preset(preset, run_dir=run_dir)
    gan.fit(synthetic, real, verbose=0, max_steps=stop)
gan = simgan_tf.SimGAN.from_preset(preset, run_dir=run_dir)
gan.fit(synthetic, real, verbose=0)
weights = [w.numpy().tolist() for w in gan.refiner.weights + gan.discriminator.weights]
print(json.dumps({"step": int(gan.step.numpy()), "weights": weights,
                  "history": gan.history_buffer.images.numpy().tolist()}))
"""


def test_stopped_and_resumed_run_matches_unbroken_run_bit_for_bit(tmp_path):
    unbroken = json.loads(run_python(_SCRIPT, str(tmp_path / "unbroken")))
    # stops at steps 2 (before the first checkpoint at 3: the piece is saved at its end),
    # 5 and 9: pretraining, the phase change and the adversarial iterations
    pieces = json.loads(run_python(_SCRIPT, str(tmp_path / "pieces"), "2", "3", "4"))
    assert unbroken["step"] == pieces["step"] == 12
    assert unbroken["weights"] == pieces["weights"]
    assert unbroken["history"] == pieces["history"]


@pytest.mark.slow
def test_kill_harness_resumes_exactly(tmp_path):
    """Two SIGKILLs of a real train_gaze.py (minutes: builds the embedded datasets if needed)."""
    import subprocess

    out = tmp_path / "kill_resume.json"
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "kill_resume.py"), "--kills", "2",
                           "--work-dir", str(tmp_path / "work"), "--out", str(out)],
                          capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["bit_identical"] and result["unreadable_checkpoints"] == 0
    assert result["lost_steps_beyond_last_checkpoint"] == 0
