"""The hand experiment: does training a pose estimator on refined depth beat synthetic depth?

The paper's Table 4 and Fig. 9 (Sec. 4.3), plus the gaze experiment's ablations, from one command:

    python -m simgan_tf.experiments.hand --out docs/results/hands/quick        # 3 seeds, quick
    python -m simgan_tf.experiments.hand --out /tmp/smoke --smoke               # ~1 minute
    python train_hand.py --experiment --out runs/hands                          # the same runner

Per seed: train the SimGAN refiner (and the no-history and global-adversarial ablations) on
labeled synthetic depth and *unlabeled* sensor depth, each stopped by the held-out realism
rule; refine the synthetic training set; train one stacked-hourglass estimator per row
(synthetic, refined, real = labeled sensor data as in the paper, synthetic 3x, refined 3x, the
two ablations), each to convergence on a held-out slice of its own images; evaluate on the
sensor test split (% of joints within 5 px of the 224 x 224 crop, and the cumulative curve).
Then measure label preservation (depth change at the joints, silhouette IoU) and realism (a
fresh critic). Writes results.json, table.md, curves.png and per-seed files into --out;
rerunning with the same --out skips every finished piece and resumes refiners from checkpoints.
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

from simgan_tf.experiments.common import (
    Progress,
    RefinerBank,
    add_run_flags,
    check_or_write_experiment,
    with_refiner_overrides,
    run_from_cli,
    run_seeds,
)
from simgan_tf.experiments.hand_settings import HAND_EXPERIMENT_PRESETS, HAND_ROWS, HandExperimentSettings, get_hand_settings
from simgan_tf.experiments.hand_sources import DEFAULT_TARGET, TARGETS, HandData, HandSourceSpec
from simgan_tf.experiments.layout import CRITIC_FILE, ROW_DIR, TABLE_FILE


def train_and_evaluate(settings: HandExperimentSettings, train_images: np.ndarray, train_joints: np.ndarray,
                       test_images: np.ndarray, test_joints: np.ndarray, seed: int,
                       log: Callable[[str], None] | None = None, log_every_steps: int = 500) -> dict[str, Any]:
    """Train the hourglass to convergence on the row's own held-out slice, evaluate on the test set.

    The rule (never a test label): a held-out `estimator_validation_fraction` of the row's
    training images, validation heatmap loss every `estimator_eval_every` steps, stop after
    `estimator_patience` checks without improvement (at most `estimator_steps`), best weights kept.
    """
    from simgan_tf.estimators.hand import evaluate_hand_estimator, train_hand_estimator

    order = np.random.default_rng(seed).permutation(len(train_images))  # the held-out slice is a random tenth
    model, info = train_hand_estimator(
        train_images[order], train_joints[order], settings.estimator, seed=seed, max_steps=settings.estimator_steps,
        eval_every=min(settings.estimator_eval_every, settings.estimator_steps), patience=settings.estimator_patience,
        validation_fraction=settings.estimator_validation_fraction, log=log,
        log_every_checks=max(1, log_every_steps // max(1, settings.estimator_eval_every)),
    )
    metrics = evaluate_hand_estimator(model, test_images, test_joints, crop_px=settings.crop_px,
                                      threshold_px=settings.threshold_px, curve_max_px=settings.curve_max_px,
                                      curve_points=settings.curve_points)
    errors = np.asarray(metrics["errors_px"], dtype=np.float64)
    return {
        "pck_5px_pct": float(metrics["pck_percent"]),
        "mean_error_px": float(metrics["mean_error_px"]),
        "median_error_px": float(metrics["median_error_px"]),
        "per_joint_pck_pct": [round(float(v), 3) for v in metrics["per_joint_pck"]],
        "threshold_px": settings.threshold_px,
        "num_test": int(metrics["num_images"]),
        "train_images": int(len(train_images)),
        "fit_images": int(info["train_images"]),
        "validation_images": int(info["val_images"]),
        "estimator_steps": int(info["steps_trained"]),
        "best_step": int(info["best_step"]),
        "stop_reason": (f"no validation improvement for {settings.estimator_patience} checks"
                        if info["steps_trained"] < settings.estimator_steps else "reached estimator_steps"),
        "val_loss_curve": [round(float(v), 6) for v in info["history"]],
        "train_seconds": round(float(info["train_seconds"]), 1),
        "train_images_per_second": round(float(info["images_per_second"]), 1),
        "errors_px": [round(float(e), 3) for e in errors.ravel()],
    }


def run_seed(settings: HandExperimentSettings, d: HandData, seed: int, out_dir: Path, log: Progress,
             label: str) -> None:
    """Everything of one seed; each finished piece is a file, so a rerun skips it."""
    from simgan_tf.critic import critic_accuracy
    from simgan_tf.experiments.hand_report import JOINT_DEPTH_FILE
    from simgan_tf.joint_preservation import joint_depth_change, silhouette_change
    from simgan_tf.run_io import write_json_atomic

    seed_dir = out_dir / f"seed_{seed}"
    (seed_dir / ROW_DIR).mkdir(parents=True, exist_ok=True)
    n, n_scaled = settings.train_images, settings.train_images * settings.scale_factor
    refined = RefinerBank(settings, seed, seed_dir, d.synthetic, d.real, log, label)
    row_data: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {
        "synthetic": lambda: (d.synthetic[:n], d.synthetic_joints[:n]),
        "refined": lambda: (refined("main", n_scaled)[:n], d.synthetic_joints[:n]),
        "real": lambda: (d.labeled[:n], d.labeled_joints[:n]),
        "synthetic_3x": lambda: (d.synthetic[:n_scaled], d.synthetic_joints[:n_scaled]),
        "refined_3x": lambda: (refined("main", n_scaled), d.synthetic_joints[:n_scaled]),
        "no_history": lambda: (refined("no_history", n), d.synthetic_joints[:n]),
        "global_adversarial": lambda: (refined("global_adversarial", n), d.synthetic_joints[:n]),
    }
    for row in HAND_ROWS:
        path = seed_dir / ROW_DIR / f"{row}.json"
        if path.exists():
            log(f"{label} | {row}: done earlier ({path}), skipped")
            continue
        if row == "real" and d.labeled is None:
            continue
        images, joints = row_data[row]()
        log(f"{label} | {row}: training the hand pose estimator on {len(images)} images (batch "
            f"{settings.estimator.batch_size}, early stopping, at most {settings.estimator_steps} steps)")
        started = time.time()
        result = train_and_evaluate(settings, images, joints, d.test, d.test_joints, seed,
                                    log=lambda message, row=row: log(f"{label} | {row}: {message}"))
        result.update(row=row, seed=seed, wall_seconds=round(time.time() - started, 1))
        write_json_atomic(path, result)
        log(f"{label} | {row}: {result['pck_5px_pct']:.1f}% of joints within {settings.threshold_px:g} px, mean "
            f"{result['mean_error_px']:.2f} px (stopped at step {result['estimator_steps']}, best "
            f"{result['best_step']}; {result['train_seconds']:.0f}s at {result['train_images_per_second']:.0f} img/s)")

    label_path = seed_dir / JOINT_DEPTH_FILE
    if not label_path.exists():
        count = min(settings.label_images, len(d.synthetic))
        started = time.time()
        refined_main = refined("main", n_scaled)[:count]
        res = joint_depth_change(d.synthetic[:count], refined_main, d.synthetic_joints[:count], d.level_mm)
        res.pop("changes_levels")
        # label-free: hand drawn / erased, against the unlabeled target's hand share
        res["silhouette"] = silhouette_change(d.synthetic[:count], refined_main, d.real)
        res["wall_seconds"] = round(time.time() - started, 1)
        write_json_atomic(label_path, res)
        mm = f" ({res['mean_mm']:.2f} mm)" if res["mean_mm"] is not None else ""
        log(f"{label} | label preservation: depth change at the joints {res['mean_levels']:.2f} levels{mm}, "
            f"{res['joints_lost_pct']:.2f}% of joints lost, silhouette IoU {res['silhouette_iou']:.3f}; hand pixels "
            f"{100 * res['silhouette']['hand_share_synthetic']:.1f}% synthetic, "
            f"{100 * res['silhouette']['hand_share_refined']:.1f}% refined, "
            f"{100 * res['silhouette']['hand_share_target']:.1f}% target")

    critic_path = seed_dir / CRITIC_FILE
    if not critic_path.exists():
        log(f"{label} | realism critic: sensor vs refined, sensor vs synthetic")
        refined_main = refined("main", n_scaled)
        image = settings.refiner.image
        started = time.time()
        res = {
            "refined_vs_real": critic_accuracy(d.real, refined_main, image, settings.critic, seed),
            "synthetic_vs_real": critic_accuracy(d.real, d.synthetic[:n_scaled], image, settings.critic, seed),
        }
        res["wall_seconds"] = round(time.time() - started, 1)
        write_json_atomic(critic_path, res)
        log(f"{label} | realism critic: refined vs real {res['refined_vs_real']['accuracy_pct']:.1f}%, "
            f"synthetic vs real {res['synthetic_vs_real']['accuracy_pct']:.1f}% held-out accuracy")


def run_experiment(settings: HandExperimentSettings, out_dir: str | os.PathLike,
                   sources: HandSourceSpec = HandSourceSpec(), seeds: int | None = None,
                   verbose: bool = True) -> dict[str, Any]:
    """Run (or resume) the whole hand experiment; returns results.json's content."""
    from simgan_tf.experiments import hand_report
    from simgan_tf.experiments.hand_sources import describe_sizes, load_hand_data

    log = Progress(verbose)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seeds = settings.seeds if seeds is None else seeds
    if seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {seeds}")
    settings = dataclasses.replace(settings, seeds=seeds)
    sources.validate()
    check_or_write_experiment(out_dir, settings, sources)
    n = settings.train_images
    log(f"hand experiment '{settings.name}', {seeds} seed(s), into {out_dir}: loading data")
    d = load_hand_data(sources, settings.refiner.image, n * settings.scale_factor, settings.real_images, n,
                       settings.test_images)
    log(f"data: {describe_sizes(d)} images; " + "; ".join(f"{k}: {v}" for k, v in d.described.items()))
    run_seeds(run_seed, seeds, lambda seed, label: (settings, d, seed, out_dir, log, label))
    results = hand_report.aggregate(out_dir, settings, list(range(seeds)), wall_seconds=log.elapsed(),
                                    extra_details={"data": {"sizes": describe_sizes(d), "sources": d.described}})
    hand_report.write_outputs(out_dir, results, settings)
    log(f"done: {out_dir / 'results.json'}, {out_dir / TABLE_FILE}, {out_dir / 'curves.png'}")
    return results


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simgan_tf.experiments.hand",
        description=(
            "The SimGAN hand experiment (paper Table 4, Fig. 9, plus ablations): per seed, train the refiner "
            "(+ no-history and global-adversarial ablations) on labeled synthetic and unlabeled sensor depth, "
            "train a stacked-hourglass pose estimator on synthetic / refined / real (labeled sensor) / "
            "synthetic 3x / refined 3x / ablation data, evaluate on the sensor test split (%% of joints within "
            "5 px of the 224 x 224 crop), and measure label preservation and realism. Rerun with the same "
            "--out to resume."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_run_flags(parser, list(HAND_EXPERIMENT_PRESETS), default_seeds=3,
                  preset_help="experiment size: quick (64 x 64, sized for a 2-core CPU), paper (224 x 224, GPU), smoke (tests)",
                  refiner_steps_help="adversarial iterations of every refiner (a ceiling)")
    d = parser.add_argument_group("data")
    d.add_argument("--target", default=DEFAULT_TARGET, choices=sorted(TARGETS),
                   help="the pair of depth domains: the embedded procedural hands through a sensor whose defects "
                        "follow the geometry (sensor_v2), the same after the matching window's foreground fattening "
                        "(sensor_v3), the same plus flying pixels around the silhouette (sensor_v4, a defect a "
                        "discriminator can see), "
                        "or the v1 sensor with per-image random defects "
                        "(sensor; tfds_builders/procedural_hands/README.md), or NYU hand pose (nyu: needs "
                        "--manual-dir with the dataset; uint16 depth end to end)")
    d.add_argument("--data-dir", help="where TFDS stores prepared datasets")
    d.add_argument("--manual-dir", help="folder with manually downloaded datasets (NYU)")
    d.add_argument("--skip-bad", action="store_true", help="leave out malformed NYU files instead of stopping")
    return parser


def settings_from_args(args: argparse.Namespace) -> HandExperimentSettings:
    settings = get_hand_settings("smoke" if args.smoke else args.preset)
    return with_refiner_overrides(settings, steps=args.refiner_steps, lambda_reg=args.lambda_reg, psi=args.psi,
                                  learning_rate=args.learning_rate, precision=args.precision,
                                  position_channels=args.position_channels)


def main(argv: Sequence[str] | None = None) -> int:
    from simgan_tf.runtime import configure_tf_runtime

    configure_tf_runtime()  # log level and CPU allocator, before TF starts
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
        sources = HandSourceSpec(target=args.target, data_dir=args.data_dir, manual_dir=args.manual_dir,
                                 skip_bad=args.skip_bad)
        sources.validate()
    except ValueError as err:
        parser.error(str(err))
    return run_from_cli(lambda: run_experiment(settings, args.out, sources, seeds=args.seeds, verbose=not args.quiet),
                        args.out, args.quiet)


if __name__ == "__main__":
    sys.exit(main())
