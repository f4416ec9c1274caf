"""Training speed of SimGAN's steps against the machine's matmul peak and a naive Keras loop.

    python benchmarks/train_step.py --out docs/results/train_step.json

For each preset and precision: images/s of the refiner update (R step), the discriminator
update (D step, history buffer full) and a whole Algorithm-1 iteration (K_g R + K_d D
updates in one compiled call); the GFLOP/s those reach, counted from the models' layers
(a conv: 2 * out_h * out_w * k_h * k_w * c_in * c_out per image forward; an update ~3x the
forward of the trained network, plus 2x the frozen one it backpropagates through), against
the fp32 and bf16 matmul peak measured in the same run; the fraction of an iteration spent
waiting on input (the project's input pipeline against batches already in memory); and a
naive ~30-line Keras loop of the same architecture (zero padding, no history, no clipping,
no XLA) as the baseline. Every figure of one run comes from the same process and machine,
so ratios are comparable; absolute times are not across machines.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simgan_tf.runtime import configure_tf_runtime  # noqa: E402

configure_tf_runtime()

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from simgan_tf import config as cfg  # noqa: E402
from simgan_tf import data, losses  # noqa: E402
from simgan_tf.models.discriminator import build_discriminator  # noqa: E402
from simgan_tf.models.refiner import build_refiner  # noqa: E402
from simgan_tf.trainer import SimGAN  # noqa: E402

DEFAULT_BATCH = {"gaze_quick": 32, "gaze_paper": 64, "hand_quick": 16, "hand_paper": 2}


def timed(fn, repeats: int) -> float:
    """Median seconds of fn() after two warm-up calls; fn's result is fetched to the host."""
    for _ in range(2):
        _fetch(fn())
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        _fetch(fn())
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def _fetch(out) -> None:
    value = next(iter(out.values())) if isinstance(out, dict) else out
    np.asarray(value)


def matmul_peak(dtype: tf.DType, n: int = 2048, repeats: int = 5) -> float:
    a = tf.random.uniform((n, n), dtype=tf.float32)
    a = tf.cast(a, dtype)
    fn = tf.function(lambda: tf.matmul(a, a))
    return 2 * n**3 / timed(fn, repeats) / 1e9


def forward_flops(model: keras.Model) -> float:
    """Multiply-adds x 2 of one image through the model's Conv2D and Dense layers."""
    total = 0.0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            k_h, k_w = layer.kernel_size
            total += 2.0 * h * w * k_h * k_w * layer.input.shape[-1] * c_out
        elif isinstance(layer, keras.layers.Dense):
            total += 2.0 * layer.input.shape[-1] * layer.units
    return total


def naive_steps(preset: cfg.Preset):
    """The baseline: the paper's R (zero padding) and D, Adam, the losses, nothing else."""
    refiner = build_refiner(preset.image, dataclasses.replace(preset.refiner, padding="zero"))
    discriminator = build_discriminator(preset.image, preset.discriminator)
    r_opt, d_opt = keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3)
    lam = preset.training.lambda_reg

    @tf.function
    def r_step(x):
        with tf.GradientTape() as tape:
            refined = refiner(x, training=True)
            loss = losses.refiner_loss(discriminator(refined), refined, x, lam)["total"]
        r_opt.apply(tape.gradient(loss, refiner.trainable_variables), refiner.trainable_variables)
        return loss

    @tf.function
    def d_step(x, y):
        refined = refiner(x)
        with tf.GradientTape() as tape:
            loss = losses.discriminator_loss(discriminator(refined), discriminator(y))["total"]
        d_opt.apply(tape.gradient(loss, discriminator.trainable_variables), discriminator.trainable_variables)
        return loss

    def iteration(x, y):
        for _ in range(preset.training.k_g):
            r_step(x)
        return d_step(x, y)

    return r_step, d_step, iteration


def measure(name: str, precision: str, xla: str, batch: int, repeats: int, peaks: dict[str, float]) -> dict:
    preset = cfg.with_overrides(cfg.PRESETS[name], batch_size=batch, buffer_size=max(batch, 4 * batch),
                                precision=precision, xla=xla, use_history=True)
    t = preset.training
    gan = SimGAN.from_preset(preset)
    rng = np.random.default_rng(0)
    stored = rng.integers(0, 256, (max(4 * batch, 64), *preset.image.shape), dtype=np.uint8)
    x = data.to_model_range(stored[:batch])
    y = data.to_model_range(stored[-batch:])
    for _ in range(4):  # fill the history buffer: the D step then refines only b/2 images
        gan.discriminator_step(x, y)
    r_s = timed(lambda: gan.refiner_step(x), repeats)
    d_s = timed(lambda: gan.discriminator_step(x, y), repeats)
    const_s, const_r = iter(tf.data.Dataset.from_tensors(x).repeat()), iter(tf.data.Dataset.from_tensors(y).repeat())
    it_s = timed(lambda: gan.run_steps("adversarial", const_s, const_r, 1), repeats)
    pipe_s = iter(data.image_stream(stored, preset.image.shape, batch, 0, 4096, "synthetic"))
    pipe_r = iter(data.image_stream(stored, preset.image.shape, batch, 1, 4096, "real"))
    it_pipe_s = timed(lambda: gan.run_steps("adversarial", pipe_s, pipe_r, 1), repeats)
    r_f, d_f = forward_flops(gan.refiner), forward_flops(gan.discriminator)
    r_flops = batch * (3 * r_f + 2 * d_f)
    d_flops = batch // 2 * r_f + 2 * batch * 3 * d_f
    it_images = batch * (t.k_g + t.k_d)
    peak = peaks["bf16" if precision == "mixed_bfloat16" else "fp32"]
    row = {
        "preset": name, "precision": precision, "xla": xla, "batch_size": batch,
        "r_step_images_per_s": batch / r_s, "d_step_images_per_s": batch / d_s,
        "iteration_images_per_s": it_images / it_s,
        "r_step_gflops_per_s": r_flops / r_s / 1e9, "r_step_pct_of_peak": 100 * r_flops / r_s / 1e9 / peak,
        "d_step_gflops_per_s": d_flops / d_s / 1e9,
        "input_wait_pct": max(0.0, 100 * (1 - it_s / it_pipe_s)),
        "refiner_forward_gflop_per_image": r_f / 1e9, "discriminator_forward_gflop_per_image": d_f / 1e9,
    }
    return row


def measure_naive(name: str, batch: int, repeats: int) -> dict:
    preset = cfg.with_overrides(cfg.PRESETS[name], batch_size=batch, buffer_size=max(batch, 4 * batch))
    r_step, d_step, iteration = naive_steps(preset)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(-1, 1, (batch, *preset.image.shape)), tf.float32)
    y = tf.constant(rng.uniform(-1, 1, (batch, *preset.image.shape)), tf.float32)
    t = preset.training
    return {"preset": name, "precision": "float32 (naive loop)", "xla": "off", "batch_size": batch,
            "r_step_images_per_s": batch / timed(lambda: r_step(x), repeats),
            "d_step_images_per_s": batch / timed(lambda: d_step(x, y), repeats),
            "iteration_images_per_s": batch * (t.k_g + t.k_d) / timed(lambda: iteration(x, y), repeats)}


def table(rows: list[dict], peaks: dict[str, float]) -> str:
    lines = [f"matmul peak in this run: fp32 {peaks['fp32']:.0f} GFLOP/s, bf16 {peaks['bf16']:.0f} GFLOP/s", "",
             "| preset | precision | XLA | batch | R step img/s | D step img/s | iteration img/s | R GFLOP/s (% of peak) | input wait % |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        gf = f"{r['r_step_gflops_per_s']:.0f} ({r['r_step_pct_of_peak']:.0f} %)" if "r_step_gflops_per_s" in r else "–"
        wait = f"{r['input_wait_pct']:.1f}" if "input_wait_pct" in r else "–"
        lines.append(f"| {r['preset']} | {r['precision']} | {r['xla']} | {r['batch_size']} | {r['r_step_images_per_s']:.1f} | "
                     f"{r['d_step_images_per_s']:.1f} | {r['iteration_images_per_s']:.1f} | {gf} | {wait} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=list(DEFAULT_BATCH), choices=sorted(cfg.PRESETS))
    parser.add_argument("--precisions", nargs="+", default=["float32", "mixed_bfloat16"], choices=cfg.PRECISIONS)
    parser.add_argument("--xla", nargs="+", default=["auto"], choices=["auto", "on", "off"])
    parser.add_argument("--batch-size", type=int, help="one batch size for every preset (default: per preset)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, help="JSON file for every figure")
    args = parser.parse_args(argv)
    peaks = {"fp32": matmul_peak(tf.float32), "bf16": matmul_peak(tf.bfloat16)}
    rows = []
    for name in args.presets:
        batch = args.batch_size or DEFAULT_BATCH.get(name, 8)
        rows.append(measure_naive(name, batch, args.repeats))
        print(table(rows[-1:], peaks).splitlines()[-1], flush=True)
        for precision in args.precisions:
            for xla in args.xla:
                rows.append(measure(name, precision, xla, batch, args.repeats, peaks))
                print(table(rows[-1:], peaks).splitlines()[-1], flush=True)
    text = table(rows, peaks)
    print("\n" + text)
    if args.out:
        from simgan_tf.run_io import write_json_atomic

        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(args.out, {"command": " ".join(["python", "benchmarks/train_step.py", *(argv or sys.argv[1:])]),
                                     "machine": platform.processor() or platform.machine(), "peaks_gflops": peaks,
                                     "rows": rows, "tensorflow": tf.__version__, "table": text})
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
