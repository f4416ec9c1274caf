"""The gaze experiment: does training on refined images beat training on synthetic ones?

The paper's Table 2/3 and Fig. 7, plus its ablations, from one command:

    python -m simgan_tf.experiments.gaze --out docs/results/gaze_quick            # 5 seeds, quick
    python -m simgan_tf.experiments.gaze --out /tmp/smoke --smoke                  # ~1 minute
    python -m simgan_tf.experiments.gaze --out runs/mine --real-dir my_eyes/ \\
        --test-dir my_test/ --test-labels my_test/labels.csv                      # your camera

Per seed: train the SimGAN refiner (and the two ablation refiners: no history buffer,
global instead of local adversarial loss) on synthetic + *unlabeled* target images, refine
the synthetic training set, train one gaze estimator per row (synthetic, synthetic 4x,
refined, refined 4x, oracle on labeled target images, and the two ablations), and evaluate
every one on the target test split. Then measure label preservation (pupil-centre shift) and
realism (a fresh critic's held-out accuracy). Writes into --out: results.json, table.md,
curves.png, and per seed everything needed to resume: rerunning with the same --out skips
every (seed, row) whose result file exists and resumes refiner training from checkpoints.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from simgan_tf.experiments.settings import (
    EXPERIMENT_PRESETS,
    ROWS,
    ExperimentSettings,
    get_experiment_settings,
)
from simgan_tf.experiments.layout import (
    CRITIC_FILE,
    PUPIL_FILE,
    ROW_DIR,
)
from simgan_tf.experiments.common import (  # noqa: F401  (refiner_preset, train_refiner, split_real, refine_images: public here too)
    Progress,
    add_run_flags,
    RefinerBank,
    check_or_write_experiment,
    with_refiner_overrides,
    refine_images,
    refiner_preset,
    run_from_cli,
    run_seeds,
    split_real,
    train_refiner,
)
from simgan_tf.experiments.sources import ExperimentData, SourceSpec


# ---------------------------------------------------------------------------------------
# Estimators.
def train_and_evaluate(
    settings: ExperimentSettings,
    image,
    train_images: np.ndarray,
    train_gaze: np.ndarray,
    test_images: np.ndarray,
    test_gaze: np.ndarray,
    seed: int,
) -> dict[str, Any]:
    """Train the gaze CNN to convergence on its own held-out slice, then evaluate on the test set.

    A seeded `estimator_validation_fraction` of the row's training images is held out; the
    loss there is measured every `estimator_eval_every` steps, training stops after
    `estimator_patience` measurements without improvement (at most `estimator_steps` steps)
    and the best weights are kept (Keras EarlyStopping). The rule never reads a test label.
    """
    import keras
    import tensorflow as tf

    from simgan_tf import data
    from simgan_tf.estimators.gaze import build_gaze_estimator, evaluate_gaze_estimator

    keras.utils.set_random_seed(seed)
    model = build_gaze_estimator(image, settings.estimator)
    batch = settings.estimator.batch_size
    gaze = train_gaze.astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(train_images))
    n_val = max(1, int(round(len(train_images) * settings.estimator_validation_fraction)))
    val_idx, fit_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    if len(fit_idx) < batch:
        raise ValueError(f"a row of {len(train_images)} images leaves {len(fit_idx)} for training after the "
                         f"held-out slice; the estimator's batch is {batch}")
    train = (
        tf.data.Dataset.from_tensor_slices((train_images[fit_idx], gaze[fit_idx]))
        .shuffle(len(fit_idx), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch, drop_remainder=True)
        .map(lambda x, y: (data.to_model_range(x), y), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    val = (tf.data.Dataset.from_tensor_slices((train_images[val_idx], gaze[val_idx])).batch(256)
           .map(lambda x, y: (data.to_model_range(x), y)).cache())
    every = min(settings.estimator_eval_every, settings.estimator_steps)
    max_evals = max(1, settings.estimator_steps // every)
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=settings.estimator_patience,
                                            restore_best_weights=True)
    started = time.time()
    history = model.fit(train, epochs=max_evals, steps_per_epoch=every, validation_data=val,
                        callbacks=[stopper], shuffle=False, verbose=0)
    train_seconds = time.time() - started
    val_losses = [float(v) for v in history.history["val_loss"]]
    best = int(np.argmin(val_losses))
    steps_run = len(val_losses) * every
    test = tf.data.Dataset.from_tensor_slices((test_images, test_gaze.astype(np.float32)))
    metrics = evaluate_gaze_estimator(model, test, within_deg=settings.threshold_deg)
    return {
        "mean_error_deg": metrics["mean_error_deg"],
        "within_7_deg_pct": metrics["percent_within"],
        "median_error_deg": metrics["median_error_deg"],
        "num_test": metrics["num_examples"],
        "train_images": int(len(train_images)),
        "fit_images": int(len(fit_idx)),
        "validation_images": int(n_val),
        "estimator_steps": steps_run,
        "best_step": (best + 1) * every,
        "stop_reason": "no val_loss improvement for {} checks".format(settings.estimator_patience)
        if len(val_losses) < max_evals else "reached estimator_steps",
        "val_loss_curve": [round(v, 6) for v in val_losses],
        "final_train_loss": float(history.history["loss"][best]),
        "train_seconds": round(train_seconds, 1),
        "train_images_per_second": round(steps_run * batch / max(train_seconds, 1e-9), 1),
        "errors_deg": [round(float(e), 4) for e in metrics["errors_deg"]],
    }


# ---------------------------------------------------------------------------------------
def run_seed(settings: ExperimentSettings, d: ExperimentData, image, seed: int, out_dir: Path,
             log: Progress, label: str) -> None:
    """Everything of one seed; each finished piece is a file, so a rerun skips it."""
    from simgan_tf.critic import critic_accuracy
    from simgan_tf.label_preservation import pupil_displacement
    from simgan_tf.run_io import write_json_atomic

    seed_dir = out_dir / f"seed_{seed}"
    (seed_dir / ROW_DIR).mkdir(parents=True, exist_ok=True)
    n = settings.train_images
    n_scaled = n * settings.scale_factor
    refined = RefinerBank(settings, seed, seed_dir, d.synthetic, d.real, log, label)

    row_data: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {
        "synthetic": lambda: (d.synthetic[:n], d.synthetic_gaze[:n]),
        "synthetic_4x": lambda: (d.synthetic[:n_scaled], d.synthetic_gaze[:n_scaled]),
        "refined": lambda: (refined("main", n_scaled)[:n], d.synthetic_gaze[:n]),
        "refined_4x": lambda: (refined("main", n_scaled), d.synthetic_gaze[:n_scaled]),
        "oracle": lambda: (d.oracle.images[:n], d.oracle.gaze[:n]),
        "no_history": lambda: (refined("no_history", n), d.synthetic_gaze[:n]),
        "global_adversarial": lambda: (refined("global_adversarial", n), d.synthetic_gaze[:n]),
    }
    for row in ROWS:
        path = seed_dir / ROW_DIR / f"{row}.json"
        if path.exists():
            log(f"{label} | {row}: done earlier ({path}), skipped")
            continue
        if d.test is None or (row == "oracle" and d.oracle is None):
            continue
        images, gaze = row_data[row]()
        log(f"{label} | {row}: training the gaze estimator on {len(images)} images "
            f"(batch {settings.estimator.batch_size}, early stopping, at most {settings.estimator_steps} steps)")
        started = time.time()
        result = train_and_evaluate(settings, image, images, gaze, d.test.images, d.test.gaze, seed)
        result.update(row=row, seed=seed, wall_seconds=round(time.time() - started, 1))
        write_json_atomic(path, result)
        log(f"{label} | {row}: mean error {result['mean_error_deg']:.2f} deg, "
            f"{result['within_7_deg_pct']:.1f}% within {settings.threshold_deg:g} deg "
            f"(train {result['train_seconds']:.0f}s at {result['train_images_per_second']:.0f} img/s)")

    pupil_path = seed_dir / PUPIL_FILE
    if not pupil_path.exists():
        count = min(settings.pupil_images, len(d.synthetic))
        log(f"{label} | label preservation: pupil centres of {count} synthetic/refined pairs")
        truth = d.synthetic_pupil[:count] if d.synthetic_pupil is not None else None
        refined_main = refined("main", n_scaled)[:count]
        started = time.time()
        res = pupil_displacement(d.synthetic[:count], refined_main, truth, settings.pupil_fit)
        res["displacements_px"] = [round(float(v), 4) for v in res["displacements_px"]]
        res["wall_seconds"] = round(time.time() - started, 1)
        write_json_atomic(pupil_path, res)
        log(f"{label} | label preservation: {res['mean']:.2f} +- {res['std']:.2f} px over {res['num_measured']} images")

    critic_path = seed_dir / CRITIC_FILE
    if not critic_path.exists():
        log(f"{label} | realism critic: target vs refined, target vs synthetic")
        refined_main = refined("main", n_scaled)
        started = time.time()
        res = {
            "refined_vs_real": critic_accuracy(d.real, refined_main, image, settings.critic, seed),
            "synthetic_vs_real": critic_accuracy(d.real, d.synthetic[:n_scaled], image, settings.critic, seed),
        }
        res["wall_seconds"] = round(time.time() - started, 1)
        write_json_atomic(critic_path, res)
        log(f"{label} | realism critic: refined vs real {res['refined_vs_real']['accuracy_pct']:.1f}%, "
            f"synthetic vs real {res['synthetic_vs_real']['accuracy_pct']:.1f}% held-out accuracy")


def run_experiment(
    settings: ExperimentSettings,
    out_dir: str | os.PathLike,
    sources: SourceSpec = SourceSpec(),
    seeds: int | None = None,
    verbose: bool = True,
) -> dict[str, Any]:
    """Run (or resume) the whole experiment and write results.json, table.md, curves.png.

    Returns the results dictionary (the content of results.json).
    """
    from simgan_tf.experiments import report
    from simgan_tf.experiments.sources import describe_shapes, load_experiment_data

    log = Progress(verbose)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seeds = settings.seeds if seeds is None else seeds
    if seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {seeds}")
    settings = dataclasses.replace(settings, seeds=seeds)
    sources.validate()
    sources = sources.resolved()  # --camera embedded_v2: the v2 TFDS names, also in experiment.json
    check_or_write_experiment(out_dir, settings, sources)
    image = settings.refiner.image
    n = settings.train_images
    log(f"gaze experiment '{settings.name}', {seeds} seed(s), into {out_dir}: loading data")
    d = load_experiment_data(sources, image, n * settings.scale_factor, settings.real_images, settings.test_images, n)
    log(f"data: {describe_shapes(d)} images; " + "; ".join(f"{k}: {v}" for k, v in d.described.items()))
    for what, why in d.skipped.items():
        log(f"note: {why}")
    run_seeds(run_seed, seeds, lambda seed, label: (settings, d, image, seed, out_dir, log, label))
    results = report.aggregate(out_dir, settings, list(range(seeds)), wall_seconds=log.elapsed(), skipped=d.skipped)
    results["details"]["data"] = {"sizes": describe_shapes(d), "sources": d.described}
    report.write_outputs(out_dir, results, settings)
    log(f"done: {out_dir / report.RESULTS_FILE}, {out_dir / report.TABLE_FILE}, {out_dir / report.CURVES_FILE}")
    return results


# ---------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simgan_tf.experiments.gaze",
        description=(
            "The SimGAN gaze experiment (paper Table 2/3, Fig. 7, ablations): per seed, train the "
            "refiner (+ no-history and global-adversarial ablations) on synthetic and unlabeled target "
            "images, train the paper's gaze CNN on synthetic / synthetic 4x / refined / refined 4x / "
            "oracle (labeled target, reference only) / ablation data, evaluate on the target test "
            "split, and measure label preservation and realism. Rerun with the same --out to resume."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    g = add_run_flags(parser, list(EXPERIMENT_PRESETS), default_seeds=5,
                      preset_help="experiment size: quick (sized for a 2-core CPU), paper (GPU), smoke (tests)")
    g.add_argument("--buffer-size", type=int, help="history buffer capacity (images)")

    d = parser.add_argument_group("data (default: the embedded procedural_eyes TFDS data)")
    from simgan_tf.experiments.sources import EMBEDDED_CAMERA, camera_names

    d.add_argument("--camera", default=EMBEDDED_CAMERA, choices=camera_names(),
                   help="target camera: the embedded pair (procedural_eyes/simulator + camera), its v2 "
                        "(embedded_v2: a simulator that lights each image, a camera that adds material and sensor "
                        "appearance; procedural_eyes/simulator_v2 + camera_v2), or a suite camera that images "
                        "the simulator's own scenes for the real, test and oracle domains "
                        "(tfds_builders/procedural_eyes/camera_suite.py; not with --real/test/oracle-dir)")
    d.add_argument("--real-dir", help="your target domain: any folder of (unlabeled) eye images; the refiner trains on it")
    d.add_argument("--test-dir", help="folder of labeled target images to evaluate on (with --test-labels)")
    d.add_argument("--test-labels", help="CSV of filename,x,y,z (gaze vector) for --test-dir")
    d.add_argument("--oracle-dir", help="optional folder of labeled target training images for the oracle row")
    d.add_argument("--oracle-labels", help="CSV of filename,x,y,z for --oracle-dir")
    d.add_argument("--synthetic-dir", help="labeled synthetic images instead of procedural_eyes/simulator")
    d.add_argument("--synthetic-labels", help="CSV of filename,x,y,z for --synthetic-dir")
    d.add_argument("--data-dir", help="where TFDS stores prepared datasets")
    d.add_argument("--manual-dir", help="folder with manually downloaded datasets")
    return parser


def settings_from_args(args: argparse.Namespace) -> ExperimentSettings:
    settings = get_experiment_settings("smoke" if args.smoke else args.preset)
    return with_refiner_overrides(settings, steps=args.refiner_steps, lambda_reg=args.lambda_reg, psi=args.psi,
                                  learning_rate=args.learning_rate, buffer_size=args.buffer_size,
                                  precision=args.precision, position_channels=args.position_channels)


def sources_from_args(args: argparse.Namespace) -> SourceSpec:
    spec = SourceSpec(
        real_dir=args.real_dir, test_dir=args.test_dir, test_labels=args.test_labels,
        oracle_dir=args.oracle_dir, oracle_labels=args.oracle_labels,
        synthetic_dir=args.synthetic_dir, synthetic_labels=args.synthetic_labels,
        data_dir=args.data_dir, manual_dir=args.manual_dir, camera=args.camera,
    )
    spec.validate()
    return spec


def main(argv: Sequence[str] | None = None) -> int:
    from simgan_tf.runtime import configure_tf_runtime

    configure_tf_runtime()  # log level and CPU allocator, before TF starts
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
        sources = sources_from_args(args)
    except ValueError as err:
        parser.error(str(err))
    return run_from_cli(lambda: run_experiment(settings, args.out, sources, seeds=args.seeds, verbose=not args.quiet),
                        args.out, args.quiet)


if __name__ == "__main__":
    sys.exit(main())
