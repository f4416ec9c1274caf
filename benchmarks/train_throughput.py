"""Images/s of one refiner step and one discriminator step per preset, measured in one run.

    python benchmarks/train_throughput.py [--presets gaze_quick gaze_paper] [--batch-size N] [--repeats 5]

Uses random images (throughput does not depend on pixel values) and the presets' own
architectures; each figure is the median over `--repeats` timed steps after two warm-up
steps (tracing). Prints a table; `--out FILE` also writes JSON.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simgan_tf.runtime import configure_tf_runtime  # noqa: E402

configure_tf_runtime()

import tensorflow as tf  # noqa: E402

from simgan_tf import config as cfg  # noqa: E402
from simgan_tf.trainer import SimGAN  # noqa: E402


def _time(fn, repeats: int) -> float:
    fn(), fn()  # trace + warm up
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        out = fn()
        float(next(iter(out.values())).numpy())  # wait for the step to finish
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def measure(preset: cfg.Preset, batch_size: int | None, repeats: int) -> dict[str, float]:
    if batch_size:
        preset = cfg.with_overrides(preset, batch_size=batch_size, buffer_size=max(batch_size, preset.training.buffer_size))
    b = preset.training.batch_size
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = SimGAN.from_preset(preset, run_dir=run_dir)
        synthetic = tf.random.uniform((b, *preset.image.shape), -1, 1)
        real = tf.random.uniform((b, *preset.image.shape), -1, 1)
        r = _time(lambda: trainer.refiner_step(synthetic), repeats)
        d = _time(lambda: trainer.discriminator_step(synthetic, real), repeats)
    return {"preset": preset.name, "batch_size": b, "refiner_step_images_per_s": b / r,
            "discriminator_step_images_per_s": b / d, "refiner_step_s": r, "discriminator_step_s": d}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["gaze_quick", "gaze_paper"], choices=sorted(cfg.PRESETS))
    parser.add_argument("--batch-size", type=int, help="override every preset's batch size (default: the preset's)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    rows = [measure(cfg.PRESETS[name], args.batch_size, args.repeats) for name in args.presets]
    print(f"TensorFlow {tf.__version__}, devices: {[d.device_type for d in tf.config.list_physical_devices()]}")
    print(f"{'preset':<12} {'batch':>6} {'R step img/s':>13} {'D step img/s':>13} {'R/D time':>9}")
    for row in rows:
        print(f"{row['preset']:<12} {row['batch_size']:>6} {row['refiner_step_images_per_s']:>13.1f} "
              f"{row['discriminator_step_images_per_s']:>13.1f} {row['refiner_step_s'] / row['discriminator_step_s']:>9.2f}")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
