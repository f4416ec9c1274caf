"""Measure the simulator -> camera domain gap of procedural_eyes with the paper's gaze CNN.

(a) an estimator trained on simulator images ("synthetic 1x"), (b) an oracle trained on
labeled camera images; both tested on camera_labeled/test, (a) also on simulator/test.
The gap that SimGAN refinement has to close is (a) vs (b) on the camera test set.

    python benchmarks/domain_gap.py --out runs/domain_gap.json

Prints a table; `--out` also writes the figures and settings as JSON.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simgan_tf.runtime import configure_tf_runtime  # noqa: E402

configure_tf_runtime()

from simgan_tf.config import get_preset  # noqa: E402
from simgan_tf.data import labeled_dataset  # noqa: E402
from simgan_tf.estimators.gaze import evaluate_gaze_estimator, train_gaze_estimator  # noqa: E402
from simgan_tf.metrics import PAPER_GAZE_THRESHOLD_DEG  # noqa: E402
from simgan_tf.run_io import write_json_atomic  # noqa: E402

SIM = "procedural_eyes/simulator"
CAM = "procedural_eyes/camera_labeled"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="gaze_quick", help="preset whose gaze_estimator settings to use")
    parser.add_argument("--train-size", type=int, default=10_000, help="training images per estimator (the '1x' set)")
    parser.add_argument("--epochs", type=int, default=None, help="override the preset's estimator epochs")
    parser.add_argument("--batch-size", type=int, default=None, help="override the preset's estimator batch size")
    parser.add_argument("--threshold", type=float, default=PAPER_GAZE_THRESHOLD_DEG, help="degrees for '%% within'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None, help="TFDS data dir (default: TFDS's)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument("--verbose", type=int, default=0, help="Keras fit verbosity")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    preset = get_preset(args.preset, "gaze")
    if preset.gaze_estimator is None:
        raise SystemExit(f"domain_gap: preset {preset.name} has no gaze_estimator settings")
    changes = {k: v for k, v in (("epochs", args.epochs), ("batch_size", args.batch_size)) if v is not None}
    cfg = dataclasses.replace(preset.gaze_estimator, **changes)
    image = preset.image

    def data(name: str, split: str):
        return labeled_dataset(name, split, image, label_keys=("gaze",), data_dir=args.data_dir, seed=args.seed)

    train_split = f"train[:{args.train_size}]"
    runs = {}
    for label, source in (("synthetic", SIM), ("oracle", CAM)):
        start = time.perf_counter()
        model = train_gaze_estimator(data(source, train_split), cfg, image, seed=args.seed, verbose=args.verbose)
        train_s = time.perf_counter() - start
        results = {"train_data": f"{source}[{train_split}]", "train_seconds": round(train_s, 1)}
        for test_name, test_source in (("camera_test", CAM), ("simulator_test", SIM)):
            metrics = evaluate_gaze_estimator(model, data(test_source, "test"), within_deg=args.threshold)
            metrics.pop("errors_deg")
            results[test_name] = metrics
        runs[label] = results
        print(f"trained {label} on {results['train_data']} in {train_s:.0f} s", flush=True)

    syn, orc = runs["synthetic"]["camera_test"], runs["oracle"]["camera_test"]
    summary = {
        "preset": preset.name,
        "estimator": dataclasses.asdict(cfg),
        "train_size": args.train_size,
        "seed": args.seed,
        "threshold_deg": args.threshold,
        "runs": runs,
        "gap_ratio_mean_error": syn["mean_error_deg"] / orc["mean_error_deg"],
        "command": " ".join(["python", "benchmarks/domain_gap.py"] + (argv if argv is not None else sys.argv[1:])),
    }
    within = f"% within {args.threshold:g} deg"
    print(f"\n{'trained on':<46} {'tested on':<28} {'mean error (deg)':>17} {within:>18}")
    for label in ("synthetic", "oracle"):
        for test_name, test_source in (("camera_test", CAM), ("simulator_test", SIM)):
            m = runs[label][test_name]
            print(f"{runs[label]['train_data']:<46} {test_source + '[test]':<28} "
                  f"{m['mean_error_deg']:>17.2f} {m['percent_within']:>18.1f}")
    print(f"\ngap: synthetic-trained / oracle mean error on the camera test set = {summary['gap_ratio_mean_error']:.2f}x")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(args.out, summary)
        print(f"wrote {args.out}")
    return summary


if __name__ == "__main__":
    main()
