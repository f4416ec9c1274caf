"""Several replicas train like one device with the same global batch.

Each run is a fresh process (TF fixes its devices at start). 2 logical CPUs under
MirroredStrategy, and 2 worker processes on loopback under MultiWorkerMirroredStrategy,
must reach the losses of 1 replica: the same global batch, one synchronized history buffer,
and gradient clipping on the all-reduced gradient (the clip is set low enough to act at
every update, so clipping each replica's gradient would show). Tolerance: 1e-3 relative
(summation order differs across replicas; measured differences are ~1e-6).
"""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO_ROOT, run_python

_RUN = r"""
import json, os, sys
import numpy as np
mode = sys.argv[1]
import tensorflow as tf
if mode == "mirrored":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
sys.path.insert(0, os.path.join(os.environ["PYTHONPATH"], "tests"))
from conftest import tiny_preset
import simgan_tf

strategy = {"one": None, "mirrored": lambda: tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]),
            "multiworker": lambda: tf.distribute.MultiWorkerMirroredStrategy()}[mode]
strategy = strategy() if strategy else None
preset = tiny_preset(steps=3, batch_size=8, buffer_size=8, grad_clip_norm=0.05, log_every=1,
                     checkpoint_every=100, xla="off")
rng = np.random.default_rng(0)
synthetic = rng.integers(0, 128, (64, 12, 16, 1), dtype=np.uint8)
real = rng.integers(80, 256, (64, 12, 16, 1), dtype=np.uint8)
gan = simgan_tf.SimGAN.from_preset(preset, strategy=strategy)
records = []
class Record(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        records.append(dict(logs))
gan.fit(synthetic, real, callbacks=[Record()], verbose=0)
print(json.dumps({"logs": records, "replicas": gan.strategy.num_replicas_in_sync,
                  "history_size": int(gan.history_buffer.size.numpy() if not hasattr(gan.history_buffer.size, "values")
                                      else gan.history_buffer.size.values[0].numpy())}))
"""


def _compare(reference, other):
    assert len(reference["logs"]) == len(other["logs"]) == 7  # 2 + 2 pretraining steps, 3 iterations
    worst = 0.0
    for ref, got in zip(reference["logs"], other["logs"]):
        assert set(ref) == set(got)
        for key in ref:
            np.testing.assert_allclose(got[key], ref[key], rtol=1e-3, atol=1e-3, err_msg=key)
            worst = max(worst, abs(got[key] - ref[key]) / max(abs(ref[key]), 1e-6))
    assert other["history_size"] == reference["history_size"] == 8
    return worst


@pytest.fixture(scope="module")
def one_replica():
    return json.loads(run_python(_RUN, "one", timeout=300))


def test_two_logical_cpus_match_one_replica(one_replica):
    mirrored = json.loads(run_python(_RUN, "mirrored", timeout=300))
    assert mirrored["replicas"] == 2 and one_replica["replicas"] == 1
    _compare(one_replica, mirrored)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_on_loopback_match_one_replica(one_replica):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    workers = []
    for index in range(2):
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "",
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        workers.append(subprocess.Popen([sys.executable, "-c", _RUN, "multiworker"], env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    results = []
    try:
        for proc in workers:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err[-3000:]
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.kill()
    for result in results:
        assert result["replicas"] == 2
        _compare(one_replica, result)
