"""Refiner inference speed: LiteRT single-image latency per TFLite flavour, SavedModel throughput.

    python benchmarks/refine_latency.py --export-dir saved_models [--name NAME]
    python benchmarks/refine_latency.py --run-dir runs/gaze_quick          # exports to a temp dir
    python benchmarks/refine_latency.py --preset gaze_paper                # random weights

LiteRT: one image, `--threads` interpreter threads (default 1) with LiteRT's default
XNNPACK delegate; median and p90 of `--runs` timed `invoke()` calls after `--warmup`
untimed ones (the input tensor is set once, so only the interpreter is timed; the flavours
take turns call by call so that load from other processes is shared fairly).
SavedModel: the `serving_default` (uint8) signature through `tf.saved_model.load`, TF's
default thread pools, batches of `--batches` images; images/s = batch / median call time.
All figures come from one run of this script on one machine; the `vs float32` column is
the ratio that transfers between machines better than the milliseconds do, and `min` is the
least-disturbed call when other jobs share the CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simgan_tf.runtime import configure_tf_runtime  # noqa: E402

configure_tf_runtime()

import numpy as np  # noqa: E402


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = np.asarray(seconds) * 1e3
    return float(np.median(ms)), float(np.percentile(ms, 90))


def smooth_random_images(count: int, shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """Smoothly shaded uint8 images: int8 calibration stand-in when no dataset is at hand."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (count, max(2, shape[0] // 7), max(2, shape[1] // 7), shape[2])).astype(np.float32)
    fine = tf.image.resize(coarse, shape[:2], method="bicubic").numpy()
    return np.clip(np.round(fine), 0, 255).astype(np.uint8)


def litert_latency(paths: dict[str, Path], image: np.ndarray, threads: int, runs: int, warmup: int) -> dict[str, Any]:
    """Per flavour: median / p90 / min of `runs` invoke() calls. The flavours take turns
    call by call, so a burst of load from other processes hits all of them alike."""
    from simgan_tf.export.litert import TFLiteRefiner

    runners = {flavour: TFLiteRefiner(path, num_threads=threads) for flavour, path in paths.items()}
    for runner in runners.values():
        runner.refine_uint8(image[None])  # allocates for batch 1 and sets the input tensor
        for _ in range(warmup):
            runner.interpreter.invoke()
    times: dict[str, list[float]] = {flavour: [] for flavour in runners}
    for _ in range(runs):
        for flavour, runner in runners.items():
            start = time.perf_counter()
            runner.interpreter.invoke()
            times[flavour].append(time.perf_counter() - start)
    results = {}
    for flavour, seconds in times.items():
        median, p90 = _percentiles(seconds)
        # min: the least-disturbed call, closest to a quiet machine when other jobs share the CPU.
        results[flavour] = {"median_ms": median, "p90_ms": p90, "min_ms": min(seconds) * 1e3,
                            "runs": runs, "bytes": paths[flavour].stat().st_size}
    return results


def saved_model_throughput(path: Path, images: np.ndarray, batches: Sequence[int], min_seconds: float) -> dict[int, Any]:
    from simgan_tf.export.saved_model import SavedModelRefiner

    model = SavedModelRefiner(path)
    results = {}
    for batch in batches:
        data = np.resize(images, (batch, *images.shape[1:]))
        for _ in range(3):
            model.refine_uint8(data)
        times: list[float] = []
        while sum(times) < min_seconds or len(times) < 5:
            start = time.perf_counter()
            model.refine_uint8(data)  # serving_default: uint8 in, uint8 out
            times.append(time.perf_counter() - start)
        median, p90 = _percentiles(times)
        results[batch] = {"median_ms": median, "p90_ms": p90, "images_per_s": batch / (median / 1e3), "calls": len(times)}
    return results


def _export_for_benchmark(args: argparse.Namespace, out: Path) -> tuple[str, str]:
    """Export a run (or a random-weights preset refiner) into `out`; returns (name, what)."""
    import keras

    from simgan_tf import config as cfg
    from simgan_tf import run_io
    from simgan_tf.export import ExportConfig, export_refiner
    from simgan_tf.export.exporter import synthetic_images
    from simgan_tf.models.refiner import build_refiner

    if args.run_dir:
        refiner, preset, step = run_io.load_refiner(args.run_dir)
        what = f"run {args.run_dir} (step {step})"
    else:
        preset = cfg.get_preset(args.preset)
        keras.utils.set_random_seed(args.seed)
        refiner, step = build_refiner(preset.image, preset.refiner), 0
        what = f"preset {preset.name} with RANDOM weights (latency only; PSNR not meaningful)"
    settings = ExportConfig(representative_count=args.calibration_count, parity_count=32)
    if args.calibration == "random":
        images = smooth_random_images(settings.representative_count + 32, preset.image.shape, args.seed)
        what += ", calibrated on smooth random images"
    else:
        images = synthetic_images(preset, settings.representative_count + 32)
        what += f", calibrated on {preset.data.synthetic}"
    export_refiner(
        refiner, preset, "bench", step=step, out=out, settings=settings,
        representative=images[:-32], holdout=images[-32:], run_dir=args.run_dir,
    )
    refiner_cfg = preset.refiner
    what += (f"; refiner {refiner_cfg.filters} filters, {refiner_cfg.num_blocks} blocks, "
             f"{refiner_cfg.kernel}x{refiner_cfg.kernel}, input {'x'.join(map(str, preset.image.shape))}")
    return "bench", what


def _find_name(export_dir: Path, name: str | None) -> str:
    if name:
        return name
    names = sorted(p.parent.name for p in export_dir.glob("*/export.json"))
    if len(names) != 1:
        raise SystemExit(f"--export-dir {export_dir}: found exports {names}; pass --name")
    return names[0]


def format_table(result: dict[str, Any]) -> str:
    lines = [
        f"# {result['what']}",
        f"# {result['cpu']} ({result['cpus']} logical CPUs), load avg {result['loadavg']}, "
        f"TF {result['tensorflow']}, ai-edge-litert {result['litert_version']}",
        "",
        f"LiteRT interpreter, {result['threads']} thread(s), XNNPACK, batch 1 "
        f"({result['runs']} runs after {result['warmup']} warm-up)",
        "| flavour | size KiB | median ms | p90 ms | min ms | median vs float32 | PSNR dB vs Keras |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    base = result["litert_latency"].get("float32", {}).get("median_ms")
    for flavour, r in result["litert_latency"].items():
        ratio = f"{base / r['median_ms']:.2f}x" if base else "-"
        if "psnr_db" not in r:
            psnr_text = "-"  # float flavours are judged by max abs diff, not PSNR
        else:
            psnr_text = "inf" if r["psnr_db"] is None else f"{r['psnr_db']:.1f}"
        lines.append(
            f"| {flavour} | {r['bytes'] / 1024:.0f} | {r['median_ms']:.2f} | {r['p90_ms']:.2f} | "
            f"{r['min_ms']:.2f} | {ratio} | {psnr_text} |"
        )
    lines += [
        "",
        "SavedModel serving_default (uint8), tf.saved_model.load, TF default threads",
        "| batch | median ms / call | p90 ms | images/s |",
        "|---:|---:|---:|---:|",
    ]
    for batch, r in result["saved_model"].items():
        lines.append(f"| {batch} | {r['median_ms']:.2f} | {r['p90_ms']:.2f} | {r['images_per_s']:.0f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--export-dir", type=Path, help="export root written by simgan-export (holds NAME/ and NAME_*.tflite)")
    source.add_argument("--run-dir", help="training run: exported to a temporary directory first")
    source.add_argument("--preset", help="preset name: its refiner with random weights (latency only)")
    parser.add_argument("--name", help="export name inside --export-dir (default: the only one)")
    parser.add_argument("--threads", type=int, default=1, help="LiteRT interpreter threads")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--batches", default="1,64,256", help="SavedModel batch sizes")
    parser.add_argument("--min-seconds", type=float, default=2.0, help="minimum timed seconds per SavedModel batch size")
    parser.add_argument("--calibration", choices=["dataset", "random"], default="dataset",
                        help="int8 calibration images for --run-dir/--preset: the preset's synthetic dataset or smooth random images")
    parser.add_argument("--calibration-count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json-out", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)

    import tensorflow as tf
    from importlib.metadata import version

    tmp = None
    if args.export_dir:
        export_dir, name = args.export_dir, _find_name(args.export_dir, args.name)
        what = f"export {export_dir}/{name}"
    else:
        tmp = tempfile.TemporaryDirectory(prefix="simgan-bench-")
        export_dir = Path(tmp.name)
        name, what = _export_for_benchmark(args, export_dir)
    record = json.loads((export_dir / name / "export.json").read_text())
    shape = tuple(record["input_shape"])
    images = smooth_random_images(8, shape, args.seed)
    from simgan_tf.export.settings import FLAVOURS

    docs = dict(sorted(record["tflite"].items(), key=lambda kv: FLAVOURS.index(kv[0])))
    latency = litert_latency({f: export_dir / d["path"] for f, d in docs.items()}, images[0],
                             args.threads, args.runs, args.warmup)
    for flavour, doc in docs.items():
        if "psnr_goal_db" in doc["parity"]:
            latency[flavour]["psnr_db"] = doc["parity"]["psnr_db"]
    throughput = saved_model_throughput(
        export_dir / record["saved_model"]["path"], images, [int(b) for b in args.batches.split(",")], args.min_seconds
    )
    result = {
        "what": what,
        "cpu": _cpu_name(),
        "cpus": os.cpu_count(),
        "loadavg": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "tensorflow": tf.__version__,
        "litert_version": version("ai-edge-litert"),
        "threads": args.threads,
        "runs": args.runs,
        "warmup": args.warmup,
        "litert_latency": latency,
        "saved_model": throughput,
    }
    print(format_table(result))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2, default=str))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
