"""Command line of train_gaze.py / train_hand.py: flags -> preset -> data -> trainer -> outputs."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Sequence

from simgan_tf import config as cfg
from simgan_tf.runtime import configure_tf_runtime

TASK_DEFAULT_PRESET = {"gaze": "gaze_quick", "hand": "hand_quick"}


def build_parser(task: str) -> argparse.ArgumentParser:
    presets = sorted(n for n in cfg.PRESETS if n.startswith(task + "_"))
    parser = argparse.ArgumentParser(
        prog=f"train_{task}.py",
        description=(
            f"Train a SimGAN refiner ({task}): Algorithm 1 of Shrivastava et al. 2017. "
            "Pretrains the refiner R with the self-regularization loss only, pretrains the "
            "local patch discriminator D, then alternates K_g refiner and K_d discriminator "
            "steps. With no arguments it trains the quick preset on the embedded procedural "
            "data (built on first use). Rerunning with the same --run-dir resumes."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    g = parser.add_argument_group("preset and schedule (unset flags keep the preset's value)")
    g.add_argument("--preset", default=TASK_DEFAULT_PRESET[task],
                   help=f"named configuration: {', '.join(presets)} (short names without '{task}_' work too)")
    g.add_argument("--steps", type=int, help="adversarial iterations (each K_g refiner + K_d discriminator steps)")
    g.add_argument("--pretrain-r-steps", type=int, help="refiner pretraining steps (self-regularization loss only)")
    g.add_argument("--pretrain-d-steps", type=int, help="discriminator pretraining steps")
    g.add_argument("--batch-size", type=int, help="images per step (even: D sees b/2 current + b/2 history)")
    g.add_argument("--lambda-reg", type=float, help="weight of the self-regularization L1 loss")
    g.add_argument("--psi", choices=list(cfg.PSI_NAMES),
                   help="feature transform psi of the self-regularization loss (low_pass: both images blurred "
                        "first, so R may blur edges or add grain; foreground: L1 only on the synthetic image's "
                        "non-background pixels, for depth sensors' silhouette defects)")
    g.add_argument("--buffer-size", type=int, help="history buffer capacity B (images)")
    g.add_argument("--no-history", action="store_true", help="ablation: D sees only current refined images")
    g.add_argument("--discriminator-head", choices=["local", "global"],
                   help="'local' patch map (paper) or 'global' single decision (ablation)")
    g.add_argument("--position-channels", action="store_true",
                   help="give the refiner x and y across the image as two more input channels (CoordConv), so it "
                        "can draw looks that depend on the position in the frame, such as a lens's vignetting")
    g.add_argument("--k-g", type=int, help="refiner steps per iteration (paper: 2; Algorithm 1 also prints 50)")
    g.add_argument("--k-d", type=int, help="discriminator steps per iteration")
    g.add_argument("--learning-rate", type=float, help="Adam learning rate of R and D")
    g.add_argument("--seed", type=int, help="random seed (weights, data order, history sampling)")
    g.add_argument("--checkpoint-every", type=int, help="steps between checkpoints")
    g.add_argument("--log-every", type=int, help="steps between fetching the losses (progress, TensorBoard, NaN check)")

    c = parser.add_argument_group(
        "stopping: a fresh critic on held-out real images vs refined ones (stopping.json in the run dir)")
    c.add_argument("--stop-check-every", type=int,
                   help="steps between realism checks (run at checkpoints); 0: no rule, train all --steps")
    c.add_argument("--stop-patience", type=int, help="checks without an improvement before stopping")
    c.add_argument("--stop-min-delta", type=float, help="critic accuracy points that count as an improvement")
    c.add_argument("--stop-min-steps", type=int, help="adversarial iterations before checks count")
    c.add_argument("--stop-saturated-pct", type=float,
                   help="a check at or above this critic accuracy ranks nothing (never the best); above 100: off")
    c.add_argument("--stop-heldout", type=int,
                   help="real images kept out of training for the checks (the first ones of --real)")

    e = parser.add_argument_group("speed and scale")
    e.add_argument("--strategy", choices=["default", "mirrored", "multiworker"], default="default",
                   help="tf.distribute strategy: one device; all local GPUs (MirroredStrategy); several machines "
                        "(MultiWorkerMirroredStrategy: start the same command on every machine with TF_CONFIG set). "
                        "--batch-size is the global batch, split across replicas")
    e.add_argument("--precision", choices=["auto", "float32", "mixed_bfloat16", "mixed_float16"], default="auto",
                   help="Keras dtype policy of R and D (losses stay float32; mixed_float16 adds loss scaling). "
                        "auto: a resumed run keeps its own; a new one gets mixed_bfloat16 on a CPU with bfloat16 "
                        "units (AVX512_BF16, AMX), float32 on a GPU or another CPU")
    e.add_argument("--xla", choices=["auto", "on", "off"],
                   help="XLA-compile the updates: auto = the refiner's on one replica; on = both; off = none")
    e.add_argument("--deterministic", action="store_true",
                   help="TensorFlow op determinism: a run killed at any moment and resumed ends with the weights "
                        "of an uninterrupted run, bit for bit (same machine and software)")
    e.add_argument("--steps-per-call", type=int,
                   help="steps run by one call of the compiled training function (fewer host round trips)")

    d = parser.add_argument_group("data")
    d.add_argument("--synthetic", help="synthetic (labeled) domain: TFDS name like 'procedural_eyes/simulator' "
                   "or 'unity_eyes', or a folder of images")
    d.add_argument("--real", help="real (unlabeled) domain: TFDS name like 'procedural_eyes/camera' or "
                   "'mpii_gaze', or any folder of images")
    d.add_argument("--synthetic-split", help="TFDS split of the synthetic domain")
    d.add_argument("--real-split", help="TFDS split of the real domain")
    d.add_argument("--manual-dir", help="folder holding manually downloaded datasets (UnityEyes, MPIIGaze, NYU hand), "
                   "one sub-folder per dataset name")
    d.add_argument("--skip-bad", action="store_true", help="real-data builders (unity_eyes, mpii_gaze, nyu_hand) and "
                   "image folders: log, skip and count malformed files instead of stopping at the first one")
    d.add_argument("--data-dir", help="where TFDS stores prepared datasets (default: ~/tensorflow_datasets)")

    o = parser.add_argument_group("outputs")
    o.add_argument("--run-dir", help="run directory (default: runs/<preset>-<time>); an existing one is resumed")
    o.add_argument("--quiet", action="store_true", help="no progress bar: one line per checkpoint instead")
    what = {"gaze": "gaze experiment (refined vs synthetic gaze estimators", "hand": "hand experiment (refined vs "
            "synthetic hourglass pose estimators"}[task]
    parser.add_argument(
        "--experiment", action="store_true",
        help=f"run the whole {what}, ablations, label preservation, realism critic) instead: every argument "
             f"after --experiment goes to `python -m simgan_tf.experiments.{task}` (see its --help; e.g. "
             "--experiment --out DIR)",
    )
    return parser


def resolve_preset(args: argparse.Namespace, task: str) -> cfg.Preset:
    """The preset named by --preset with every explicitly given flag applied."""
    preset = cfg.get_preset(args.preset, task)
    if preset.task != task:
        raise ValueError(f"--preset {args.preset} is a {preset.task} preset; train_{task}.py needs a {task} preset")
    preset = cfg.with_overrides(
        preset,
        steps=args.steps,
        pretrain_r_steps=args.pretrain_r_steps,
        pretrain_d_steps=args.pretrain_d_steps,
        batch_size=args.batch_size,
        lambda_reg=args.lambda_reg,
        psi=args.psi,
        buffer_size=args.buffer_size,
        use_history=False if args.no_history else None,
        k_g=args.k_g,
        k_d=args.k_d,
        learning_rate=args.learning_rate,
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
        log_every=args.log_every,
        precision=None if args.precision == "auto" else args.precision,
        xla=args.xla,
        steps_per_call=args.steps_per_call,
        stop_check_every=args.stop_check_every,
        stop_patience=args.stop_patience,
        stop_min_delta=args.stop_min_delta,
        stop_min_steps=args.stop_min_steps,
        stop_saturated_pct=args.stop_saturated_pct,
        stop_heldout=args.stop_heldout,
        position_channels=True if args.position_channels else None,
    )
    data_changes = {
        "synthetic": args.synthetic,
        "real": args.real,
        "synthetic_split": args.synthetic_split,
        "real_split": args.real_split,
        "manual_dir": args.manual_dir,
        "data_dir": args.data_dir,
        "skip_bad": True if args.skip_bad else None,
    }
    data = dataclasses.replace(preset.data, **{k: v for k, v in data_changes.items() if v is not None})
    disc = preset.discriminator
    if args.discriminator_head:
        disc = dataclasses.replace(disc, head=args.discriminator_head)
    return dataclasses.replace(preset, data=data, discriminator=disc)


def auto_precision(preset: cfg.Preset, run_dir: Path) -> tuple[cfg.Preset, str]:
    """--precision auto: a run being resumed keeps the precision it was started with; a new
    run gets the device's measured default (`runtime.device_default_precision`)."""
    from simgan_tf import run_io
    from simgan_tf.runtime import device_default_precision

    if (run_dir / run_io.CONFIG_FILE).exists():
        precision, why = run_io.load_run_config(run_dir).training.precision, f"the precision {run_dir} was started with"
    else:
        precision, why = device_default_precision()
    return cfg.with_overrides(preset, precision=precision), why


def default_run_dir(preset: cfg.Preset) -> Path:
    return Path("runs") / f"{preset.name}-{time.strftime('%Y%m%d-%H%M%S')}"


def realism_stopping(preset: cfg.Preset, run_dir: Path, synthetic, real):
    """(training real images, RealismStopping): the first `stop_heldout` real images are kept
    out of training for the checks; the checks refine as many synthetic training images."""
    from simgan_tf import data, run_io
    from simgan_tf.convergence import RealismStopping

    t = preset.training
    heldout = data.take_images(real, t.stop_heldout)
    available = int(real.cardinality())
    if len(heldout) < t.stop_heldout or (available >= 0 and available - t.stop_heldout < t.batch_size):
        raise data.DataError(
            f"--stop-heldout {t.stop_heldout}: the real domain {preset.data.real!r} has "
            f"{available if available >= 0 else len(heldout)} images; the realism checks need that many held out "
            f"and training at least a batch more. Use a smaller --stop-heldout or --stop-check-every 0"
        )
    stopping = RealismStopping(
        data.take_images(synthetic, t.stop_heldout), heldout, run_dir / run_io.STOPPING_FILE,
        patience=t.stop_patience, min_delta=t.stop_min_delta,
        start_step=t.pretrain_r_steps + t.pretrain_d_steps + t.stop_min_steps, every=t.stop_check_every,
        seed=t.seed, saturated=t.stop_saturated_pct if t.stop_saturated_pct <= 100 else None,
    )
    return real.skip(t.stop_heldout), stopping


def run(preset: cfg.Preset, run_dir: Path, verbose: int = 1, strategy: str = "default") -> dict:
    """Train (or resume) and write samples.png and summary.json; returns the summary.

    `verbose`: 0 silent, 1 a progress bar, 2 one line per checkpoint (Keras conventions).
    """
    from simgan_tf import data, run_io, strategies
    from simgan_tf.trainer import SimGAN

    started = time.time()
    d, t = preset.data, preset.training
    distribution = strategies.make_strategy(strategy)
    run_dir = strategies.writer_dir(run_dir, distribution)
    run_io.prepare_run_dir(run_dir, preset)  # before the datasets: a wrong run dir fails fast
    synthetic = data.image_dataset(d.synthetic, d.synthetic_split, preset.image, d.data_dir, d.manual_dir,
                                   t.seed, d.skip_bad, d.resize_method)
    real = data.image_dataset(d.real, d.real_split, preset.image, d.data_dir, d.manual_dir, t.seed + 1,
                              d.skip_bad, d.resize_method)
    callbacks = []
    if t.stop_check_every:
        real, stopping = realism_stopping(preset, run_dir, synthetic, real)
        callbacks.append(stopping)
    gan = SimGAN.from_preset(preset, run_dir=run_dir, strategy=distribution)
    gan.fit(synthetic, real, callbacks=callbacks, verbose=verbose if strategies.is_chief(distribution) else 0)
    if callbacks and callbacks[0].decision and verbose:
        decision = callbacks[0].decision
        kept = f"; the refiner of step {decision['restored_step']}, its best check, is kept" if decision.get("restored_step") else ""
        print(f"Stopped at step {decision['stopped_step']}: {decision['reason']}{kept} "
              f"(trace: {run_dir / run_io.STOPPING_FILE})", flush=True)
    return run_io.write_run_outputs(gan, dict(gan.last_losses), data.take_images(synthetic, 8),
                                    data.take_images(real, 8), started)


def main(argv: Sequence[str] | None = None, task: str = "gaze") -> int:
    configure_tf_runtime()  # log level and CPU allocator, before TF starts
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--experiment" in argv:  # the paper's downstream experiment of this task (its own --help)
        if task == "gaze":
            from simgan_tf.experiments import gaze as experiment
        else:
            from simgan_tf.experiments import hand as experiment

        return experiment.main(argv[argv.index("--experiment") + 1 :])
    parser = build_parser(task)
    args = parser.parse_args(argv)
    try:
        preset = resolve_preset(args, task)
    except ValueError as err:
        parser.error(str(err))
    if args.deterministic:
        from simgan_tf.runtime import enable_determinism

        enable_determinism()
    run_dir = Path(args.run_dir) if args.run_dir else default_run_dir(preset)
    print(f"Run directory: {run_dir}", flush=True)
    from simgan_tf.data import DataError
    from simgan_tf.trainer import NonFiniteLossError

    try:
        if args.precision == "auto":
            preset, why = auto_precision(preset, run_dir)
            print(f"Precision: {preset.training.precision} ({why})", flush=True)
        summary = run(preset, run_dir, verbose=2 if args.quiet else 1, strategy=args.strategy)
    except KeyboardInterrupt:
        print(f"Stopped. Resume with: python train_{task}.py --run-dir {run_dir} (same flags)", file=sys.stderr)
        return 130
    except (DataError, NonFiniteLossError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps({k: summary[k] for k in ("steps_done", "final_losses", "images_per_second")}, indent=2))
    print(f"Done. Run directory: {run_dir} (samples.png, summary.json, checkpoints/, logs/)", flush=True)
    return 0


def gaze_main() -> int:
    return main(task="gaze")


def hand_main() -> int:
    return main(task="hand")
