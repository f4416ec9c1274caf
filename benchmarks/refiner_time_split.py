"""Where the gaze experiment's refiner time goes: adversarial iterations vs the realism checks.

    python benchmarks/refiner_time_split.py --steps 400 --precisions float32 mixed_bfloat16 \
        --out docs/results/refiner_time_split.json

Trains the quick experiment's main refiner (embedded_v2 data, seed 0, the experiment's
stopping callback with its patience raised so every check runs) for `--steps` adversarial
iterations per precision, one after the other in this process, and splits the CPU and wall
seconds into the checks' parts (refining the held-out synthetic images, D's held-out accuracy,
the fresh realism critic, the best-weights file) and the rest (pretraining, iterations,
checkpoints). CPU seconds are the steadier figure on a shared machine.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simgan_tf import config as cfg  # noqa: E402
from simgan_tf import convergence  # noqa: E402
from simgan_tf.experiments import common  # noqa: E402
from simgan_tf.experiments.settings import get_experiment_settings  # noqa: E402
from simgan_tf.experiments.sources import EMBEDDED_V2_CAMERA, SourceSpec, load_experiment_data  # noqa: E402
from simgan_tf.run_io import write_json_atomic  # noqa: E402
from simgan_tf.trainer import SimGAN  # noqa: E402

PARTS = {"critic": (convergence, "critic_accuracy"), "heldout_d": (convergence, "heldout_d_accuracy"),
         "refine": (SimGAN, "refine"), "best_weights": (convergence.RealismStopping, "_save_best_weights")}


def _timed(seconds: dict[str, list[float]], name: str, fn):
    def wrapped(*args, **kwargs):
        cpu, wall = time.process_time(), time.time()
        try:
            return fn(*args, **kwargs)
        finally:
            seconds[name][0] += time.process_time() - cpu
            seconds[name][1] += time.time() - wall
    return wrapped


def split_one(precision: str, steps: int, data, settings) -> dict:
    """Train one refiner; CPU and wall seconds of each part of its checks and of the whole."""
    settings = dataclasses.replace(settings, refiner=cfg.with_overrides(settings.refiner, steps=steps,
                                                                        precision=precision))
    seconds = {name: [0.0, 0.0] for name in PARTS}
    originals = {name: getattr(owner, attr) for name, (owner, attr) in PARTS.items()}
    for name, (owner, attr) in PARTS.items():
        setattr(owner, attr, _timed(seconds, name, originals[name]))
    try:
        preset = common.refiner_preset(settings, "main", 0)
        t = preset.training
        real_train, real_heldout = common.split_real(data.real, settings.refiner_heldout_real)
        with tempfile.TemporaryDirectory() as tmp:
            stopping = convergence.RealismStopping(
                data.synthetic[: settings.refiner_heldout_synthetic], real_heldout, Path(tmp) / "stopping.json",
                patience=10_000, min_delta=settings.refiner_min_delta,
                start_step=t.pretrain_r_steps + t.pretrain_d_steps + settings.refiner_min_steps,
                every=settings.refiner_check_every, critic=settings.critic, seed=0)
            cpu, wall = time.process_time(), time.time()
            gan = common.train_refiner(preset, Path(tmp), data.synthetic, real_train, common.Progress(False), stopping)
            total = [time.process_time() - cpu, time.time() - wall]
            rates = gan.throughput()
    finally:
        for name, (owner, attr) in PARTS.items():
            setattr(owner, attr, originals[name])
    checks = [sum(v[i] for v in seconds.values()) for i in (0, 1)]
    return {"precision": precision, "adversarial_steps": steps, "checks": len(stopping.trace),
            "cpu_seconds": {"total": round(total[0], 1), "checks": round(checks[0], 1),
                            "training": round(total[0] - checks[0], 1), **{k: round(v[0], 1) for k, v in seconds.items()}},
            "wall_seconds": {"total": round(total[1], 1), "checks": round(checks[1], 1),
                             "training": round(total[1] - checks[1], 1), **{k: round(v[1], 1) for k, v in seconds.items()}},
            "checks_share_of_cpu_pct": round(100.0 * checks[0] / total[0], 1),
            "trainer_images_per_second": rates}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=400, help="adversarial iterations per precision")
    parser.add_argument("--precisions", nargs="+", default=["float32", "mixed_bfloat16"],
                        choices=["float32", "mixed_bfloat16", "mixed_float16"])
    parser.add_argument("--out", required=True, help="JSON file for every figure")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    settings = get_experiment_settings("quick")
    data = load_experiment_data(SourceSpec(camera=EMBEDDED_V2_CAMERA).resolved(), settings.refiner.image,
                                settings.train_images * settings.scale_factor, settings.real_images, 1, 1)
    runs = []
    for precision in args.precisions:
        runs.append(split_one(precision, args.steps, data, settings))
        r = runs[-1]
        print(f"{precision}: {r['checks']} checks; CPU s total {r['cpu_seconds']['total']}, training "
              f"{r['cpu_seconds']['training']}, checks {r['cpu_seconds']['checks']} ({r['checks_share_of_cpu_pct']} %; "
              f"critic {r['cpu_seconds']['critic']}); wall s {r['wall_seconds']['total']}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, {"command": "python benchmarks/refiner_time_split.py " + " ".join(argv or sys.argv[1:]),
                            "runs": runs})
    print(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
