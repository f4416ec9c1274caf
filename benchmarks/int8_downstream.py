"""Does a refined training set made with the full-integer int8 TFLite refiner train as good a
gaze estimator as one made with the float Keras refiner? (the goal: within 0.3 degrees)

    python benchmarks/int8_downstream.py --experiment-dir docs/results/gaze_quick [--seeds 0 1 2]

For each seed it takes the main refiner the gaze experiment trained, exports it (int8
calibrated on synthetic images outside the estimator's training set), refines the "refined
1x" training images both ways, trains the paper's gaze CNN on each with the same seed and
estimator settings as the experiment, and evaluates both on the target test split.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simgan_tf.runtime import configure_tf_runtime  # noqa: E402

configure_tf_runtime()

import numpy as np  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    from simgan_tf import run_io
    from simgan_tf.experiments.gaze import refine_images, train_and_evaluate
    from simgan_tf.experiments.settings import get_experiment_settings
    from simgan_tf.experiments.sources import SourceSpec, load_experiment_data
    from simgan_tf.export.exporter import export_refiner
    from simgan_tf.export.litert import TFLiteRefiner

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment-dir", required=True, help="--out of a finished quick gaze experiment")
    parser.add_argument("--preset", default="quick", help="its experiment preset")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", help="also write the rows as JSON here")
    args = parser.parse_args(argv)

    settings = get_experiment_settings(args.preset)
    image = settings.refiner.image
    n = settings.train_images
    d = load_experiment_data(SourceSpec(), image, n * settings.scale_factor, settings.real_images,
                             settings.test_images, n)
    # calibration / parity images: synthetic images the 1x estimator never trains on
    calibration, holdout = d.synthetic[n : n + 200], d.synthetic[n + 200 : n + 264]
    rows = []
    for seed in args.seeds:
        run_dir = Path(args.experiment_dir) / f"seed_{seed}" / "refiners" / "main"
        refiner, preset, step = run_io.load_refiner(run_dir)
        with tempfile.TemporaryDirectory() as out:
            record = export_refiner(refiner, preset, "gaze", step=step, out=out,
                                    representative=calibration, holdout=holdout)
            int8 = TFLiteRefiner(str(Path(out) / "gaze_int8.tflite"), num_threads=2)
            refined_int8 = np.concatenate([int8.refine_uint8(d.synthetic[i : min(i + 256, n)]) for i in range(0, n, 256)])

        class _Float:  # refine_images wants an object with .refine(float images)
            def refine(self, images, batch_size=256):
                return np.concatenate([refiner(images[i : i + batch_size], training=False).numpy()
                                       for i in range(0, len(images), batch_size)])

        refined_float = refine_images(_Float(), d.synthetic[:n])
        diff = np.abs(refined_int8.astype(int) - refined_float.astype(int))
        results = {}
        for name, images in (("float", refined_float), ("int8", refined_int8)):
            r = train_and_evaluate(settings, image, images, d.synthetic_gaze[:n], d.test.images, d.test.gaze, seed)
            results[name] = {k: r[k] for k in ("mean_error_deg", "within_7_deg_pct")}
        row = {"seed": seed, "step": step, "pixel_max_abs_diff": int(diff.max()),
               "pixel_mean_abs_diff": float(diff.mean()),
               "int8_psnr_db": record["tflite"]["int8"]["parity"].get("psnr_db"), **results,
               "delta_mean_error_deg": results["int8"]["mean_error_deg"] - results["float"]["mean_error_deg"]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"{'seed':>4} {'float err':>10} {'int8 err':>9} {'delta':>7} {'float %<7':>9} {'int8 %<7':>9} {'px diff mean/max':>17}")
    for r in rows:
        print(f"{r['seed']:>4} {r['float']['mean_error_deg']:>10.2f} {r['int8']['mean_error_deg']:>9.2f} "
              f"{r['delta_mean_error_deg']:>+7.2f} {r['float']['within_7_deg_pct']:>9.1f} {r['int8']['within_7_deg_pct']:>9.1f} "
              f"{r['pixel_mean_abs_diff']:>8.2f}/{r['pixel_max_abs_diff']}")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
