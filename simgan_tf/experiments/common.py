"""What the gaze and hand experiments share: progress lines, the settings fingerprint that
guards a resumed --out, the refiners (main and ablations) trained to the realism stopping
rule and cached as refined images, and one process per seed.

Each experiment module keeps only what is its own: where its data comes from, its estimator
rows, its label-preservation measure and its report specification.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import multiprocessing
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from simgan_tf.config import PSI_NAMES
from simgan_tf.experiments.layout import EXPERIMENT_FILE, REFINED_FILE, REFINER_DIR
from simgan_tf.experiments.settings import REFINER_VARIANTS, StudySettings


class Progress:
    """One line per unit of work with the elapsed time, flushed (the run is long and logged)."""

    def __init__(self, verbose: bool = True):
        self.verbose = verbose
        self.started = time.time()

    def elapsed(self) -> float:
        return time.time() - self.started

    def __call__(self, message: str) -> None:
        if self.verbose:
            minutes, seconds = divmod(int(self.elapsed()), 60)
            print(f"[{time.strftime('%H:%M:%S')} +{minutes:02d}m{seconds:02d}s] {message}", flush=True)


# ---------------------------------------------------------------------------------------
# Settings bookkeeping: a resumed run must have been started with the same settings.
def _fingerprint(settings: StudySettings, sources: Any) -> dict[str, Any]:
    settings_dict = settings.to_dict()
    settings_dict.pop("notes", None)
    settings_dict.pop("seeds", None)  # more seeds may be added to an existing run
    settings_dict["refiner"].pop("provenance", None)
    settings_dict["refiner"].pop("data", None)  # the preset's own domains: experiments take theirs from `sources`
    return json.loads(json.dumps({"settings": settings_dict, "sources": dataclasses.asdict(sources)}, default=str))


def _field_defaults(obj: Any) -> dict[str, Any]:
    """Default value of every field of a dataclass instance that has one, in JSON form."""
    defaults = {}
    for f in dataclasses.fields(obj):
        if f.default is not dataclasses.MISSING:
            defaults[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            defaults[f.name] = f.default_factory()  # type: ignore[misc]
    return json.loads(json.dumps({k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v
                                  for k, v in defaults.items()}, default=str))


def fingerprint_changes(obj: Any, current: Any, stored: Any, prefix: str = "") -> list[str]:
    """Dotted names of the settings that differ between `current` (the JSON form of `obj`, a
    dataclass) and `stored`; at any depth, a field missing from `stored` (added to the code
    later) that `obj` leaves at its default is not a change."""
    if not (isinstance(current, dict) and isinstance(stored, dict) and dataclasses.is_dataclass(obj)):
        return [] if current == stored else [prefix.rstrip(".")]
    defaults, changed = _field_defaults(obj), []
    for key in sorted(set(current) | set(stored)):
        if key not in stored:
            if not (key in defaults and defaults[key] == current[key]):
                changed.append(prefix + key)
        elif key not in current:
            changed.append(prefix + key)
        else:
            changed += fingerprint_changes(getattr(obj, key, None), current[key], stored[key], f"{prefix}{key}.")
    return changed


def check_or_write_experiment(out_dir: Path, settings: StudySettings, sources: Any) -> None:
    """First run: write experiment.json. Resume: refuse an --out started with other settings
    (a setting added to the code later and left at its default changes nothing)."""
    from simgan_tf.run_io import write_json_atomic  # imports TF: not at module level (--help stays fast)

    path = out_dir / EXPERIMENT_FILE
    current = _fingerprint(settings, sources)
    if path.exists():
        stored = json.loads(path.read_text())
        (stored.get("settings") or {}).get("refiner", {}).pop("data", None)  # recorded before it was dropped
        changed = sorted(
            fingerprint_changes(settings, current["settings"], stored.get("settings") or {}, "settings.")
            + fingerprint_changes(sources, current["sources"], stored.get("sources") or {}, "sources.")
        )
        if changed:
            raise ValueError(
                f"{path}: this --out holds an experiment with different settings ({', '.join(changed)}); "
                "rerun with the same preset and flags to resume, or choose a new --out"
            )
        return
    write_json_atomic(path, {**current, "preset": settings.name, "notes": settings.notes})


def with_refiner_overrides(settings: StudySettings, **overrides: Any) -> StudySettings:
    """`settings` with the command line's refiner overrides (None = keep the preset's; see
    `config.with_overrides`: architecture or training fields), and a note of each change beside
    the preset's refiner note, which describes the preset's values: experiment.json must not say
    lambda 0.05 for a run trained at 0.005."""
    from simgan_tf import config as cfg  # imports nothing heavy, but keeps this module's top light

    refiner = cfg.with_overrides(settings.refiner, **overrides)

    def value(preset, key):
        return getattr(preset.refiner if key in cfg.REFINER_FIELDS else preset.training, key)

    changed = [f"{key} {value(settings.refiner, key)} -> {value(refiner, key)}"
               for key in overrides if value(refiner, key) != value(settings.refiner, key)]
    notes = dict(settings.notes)
    if changed:
        notes["refiner_overrides"] = "set on the command line, replacing the preset's value: " + ", ".join(changed)
    return dataclasses.replace(settings, refiner=refiner, notes=notes)


# ---------------------------------------------------------------------------------------
# Refiners.
def refiner_preset(settings: StudySettings, variant: str, seed: int):
    """The main refiner's preset with the seed, and the ablation switch of `variant`."""
    from simgan_tf import config as cfg

    if variant not in REFINER_VARIANTS:
        raise ValueError(f"refiner variant {variant!r}; expected one of {REFINER_VARIANTS}")
    preset = cfg.with_overrides(settings.refiner, seed=seed, use_history=variant != "no_history")
    if variant == "global_adversarial":
        preset = dataclasses.replace(
            preset, discriminator=dataclasses.replace(preset.discriminator, head="global")
        )
    return dataclasses.replace(preset, name=f"{settings.refiner.name}_{variant}")


def train_refiner(preset, run_dir: Path, synthetic: np.ndarray, real: np.ndarray, log: Progress,
                  stopping=None):
    """Train (or resume, or just load when finished) a refiner on in-memory images.

    `stopping`: an optional `RealismStopping` callback (it must not see `real`'s images).
    """
    import keras

    from simgan_tf import run_io
    from simgan_tf.trainer import SimGAN

    gan = SimGAN.from_preset(preset, run_dir=run_dir)
    report_every = max(1, gan.total_steps // 4)
    started = time.time()
    shown_keys = ("r_self_reg", "r_adversarial", "d_total", "d_acc_refined", "d_acc_real")

    class ProgressLines(keras.callbacks.Callback):
        """A log line every quarter of the run, and one per realism check (no progress bar)."""

        def on_train_batch_end(self, batch, logs=None):
            step = int(gan.step.numpy())
            if step % report_every == 0 or step == gan.total_steps:
                shown = ", ".join(f"{k} {v:.3g}" for k, v in (logs or {}).items() if k in shown_keys)
                log(f"    refiner step {step}/{gan.total_steps} ({gan.phase_of(step - 1)}; "
                    f"{time.time() - started:.0f}s) {shown}")

        def on_epoch_end(self, epoch, logs=None):
            if stopping is not None and stopping.trace and stopping.trace[-1]["step"] == int(gan.step.numpy()):
                entry = stopping.trace[-1]
                log(f"    refiner step {entry['step']}: critic {entry['critic_accuracy_pct']:.1f}% on held-out "
                    f"real vs refined; D {entry['heldout_d_accuracy']:.3f} (refined {entry['d_acc_refined']:.3f}, "
                    f"real {entry['d_acc_real']:.3f})"
                    + (f"; stopping: {stopping.decision['reason']}" if stopping.decision else ""))

    callbacks = ([stopping] if stopping is not None else []) + [ProgressLines()]
    gan.fit(synthetic, real, callbacks=callbacks, verbose=False)
    run_io.write_run_outputs(gan, dict(gan.last_losses), synthetic[:8], real[:8], started)
    return gan


def split_real(real: np.ndarray, heldout: int) -> tuple[np.ndarray, np.ndarray]:
    """(training, held-out) unlabeled real images: the last `heldout` are for the stopping rule only."""
    if heldout < 1 or heldout >= len(real):
        raise ValueError(f"refiner_heldout_real={heldout} needs 1 <= it < the {len(real)} real images")
    return real[:-heldout], real[-heldout:]


def refine_images(trainer, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Synthetic images -> refined images of the same dtype (stored like any image dataset)."""
    return trainer.refine(images, batch_size=batch_size)


class RefinerBank:
    """The refined synthetic images of each refiner variant of one seed.

    The first request of a variant trains its refiner (or resumes it from its checkpoints) to
    the realism stopping rule, refines the first `count` synthetic images and stores them as
    refiners/<variant>/refined.npy with timing.json; later requests read that file.
    """

    def __init__(self, settings: StudySettings, seed: int, seed_dir: Path, synthetic: np.ndarray,
                 real: np.ndarray, log: Progress, label: str):
        self.settings, self.seed, self.seed_dir = settings, seed, seed_dir
        self.synthetic, self.real, self.log, self.label = synthetic, real, log, label
        self._cache: dict[str, np.ndarray] = {}

    def __call__(self, variant: str, count: int) -> np.ndarray:
        """Refined versions of the first `count` synthetic images (trains the refiner if needed)."""
        from simgan_tf import run_io
        from simgan_tf.convergence import RealismStopping
        from simgan_tf.run_io import write_json_atomic

        if variant in self._cache and len(self._cache[variant]) >= count:
            return self._cache[variant][:count]
        settings, log, label = self.settings, self.log, self.label
        run_dir = self.seed_dir / REFINER_DIR / variant
        path = run_dir / REFINED_FILE
        if path.exists():
            cached = np.load(path)
            if len(cached) >= count:
                self._cache[variant] = cached
                return cached[:count]
        preset = refiner_preset(settings, variant, self.seed)
        t = preset.training
        log(f"{label} | refiner '{variant}': training {preset.name} ({t.pretrain_r_steps} + {t.pretrain_d_steps} "
            f"pretraining, at most {t.steps} adversarial steps, history={'on' if t.use_history else 'off'}, "
            f"D head={preset.discriminator.head})")
        started = time.time()
        real_train, real_heldout = split_real(self.real, settings.refiner_heldout_real)
        stopping = RealismStopping(
            self.synthetic[: settings.refiner_heldout_synthetic], real_heldout, run_dir / run_io.STOPPING_FILE,
            patience=settings.refiner_patience, min_delta=settings.refiner_min_delta,
            start_step=t.pretrain_r_steps + t.pretrain_d_steps + settings.refiner_min_steps,
            every=settings.refiner_check_every, critic=settings.critic, seed=self.seed,
            saturated=settings.refiner_saturated_pct,
        )
        trainer = train_refiner(preset, run_dir, self.synthetic, real_train, log, stopping)
        trained = time.time() - started
        log(f"{label} | refiner '{variant}': refining {count} synthetic images")
        started = time.time()
        out = refine_images(trainer, self.synthetic[:count])
        np.save(path, out)
        write_json_atomic(run_dir / "timing.json", {
            "train_seconds": round(trained, 1), "refine_seconds": round(time.time() - started, 1),
            "refined_images": count,
            "adversarial_steps": int(trainer.step.numpy()) - t.pretrain_r_steps - t.pretrain_d_steps,
        })
        self._cache[variant] = out
        return out


# ---------------------------------------------------------------------------------------
def _exit_when_orphaned(parent: int, poll_seconds: float = 2.0) -> None:
    """End this process once its parent is gone: a seed's process outliving a killed runner
    would go on writing into the --out that the resumed runner's own seed process writes."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        os._exit(143)

    threading.Thread(target=watch, name="exit-when-orphaned", daemon=True).start()


def _call_in_child(parent: int, run_seed: Callable[..., None], *args: Any) -> None:
    from simgan_tf.runtime import configure_tf_runtime

    _exit_when_orphaned(parent)
    configure_tf_runtime()
    run_seed(*args)


def run_seeds(run_seed: Callable[..., None], seeds: int, args_of: Callable[[int, str], tuple]) -> None:
    """`run_seed(*args_of(seed, label))` for every seed, each in a process of its own: its graphs
    and allocator pools go when it ends, so the experiment's peak memory does not grow with the
    number of seeds (within one process it grew by ~110 MB a seed on the gaze smoke preset)."""
    spawn = multiprocessing.get_context("spawn")
    for seed in range(seeds):
        with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=spawn) as child:
            child.submit(_call_in_child, os.getpid(), run_seed, *args_of(seed, f"seed {seed + 1}/{seeds}")).result()


def add_run_flags(parser: argparse.ArgumentParser, presets: list[str], preset_help: str, default_seeds: int,
                  refiner_steps_help: str = "adversarial iterations of every refiner") -> argparse._ArgumentGroup:
    """The flags both experiment runners share (--out, --preset, --smoke, --seeds, --quiet and the
    refiner-side overrides); returns the refiner group so a runner can add its own overrides."""
    parser.add_argument("--out", required=True, help="output folder: results.json, table.md, curves.png, per-seed files")
    parser.add_argument("--preset", default="quick", choices=sorted(presets), help=preset_help)
    parser.add_argument("--smoke", action="store_true", help="same as --preset smoke: tiny everything, ~1 minute")
    parser.add_argument("--seeds", type=int, help=f"number of seeds (default: the preset's, {default_seeds} for quick/paper)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    g = parser.add_argument_group("refiner-side overrides (unset keeps the preset's value)")
    g.add_argument("--refiner-steps", type=int, help=refiner_steps_help)
    g.add_argument("--lambda-reg", type=float, help="self-regularization weight")
    g.add_argument("--psi", choices=list(PSI_NAMES),
                   help="feature transform of the self-regularization loss (low_pass: both images blurred first, "
                        "so R may blur edges or add grain; foreground: only the synthetic image's non-background "
                        "pixels count; for depth)")
    g.add_argument("--learning-rate", type=float, help="Adam learning rate of R and D")
    g.add_argument("--precision", choices=["float32", "mixed_bfloat16", "mixed_float16"],
                   help="Keras dtype policy of every refiner and discriminator (estimators and critics stay float32)")
    g.add_argument("--position-channels", action="store_true", default=None,
                   help="give every refiner x and y across the image as two more input channels, so it can draw "
                        "looks that depend on the position in the frame (a lens's vignetting)")
    return g


def run_from_cli(run: Callable[[], dict[str, Any]], out: str, quiet: bool) -> int:
    """The runners' exit codes: 0 done (the table printed unless quiet), 130 on Ctrl-C (resume
    with the same command), 2 on bad data, a non-finite loss or a bad setting (message on stderr)."""
    import sys

    from simgan_tf.data import DataError
    from simgan_tf.experiments.layout import TABLE_FILE
    from simgan_tf.trainer import NonFiniteLossError

    try:
        results = run()
    except KeyboardInterrupt:
        print(f"Stopped. Resume with the same command (--out {out}).", file=sys.stderr)
        return 130
    except (DataError, NonFiniteLossError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not quiet:
        print((Path(out) / TABLE_FILE).read_text())
    return 0 if results else 1


__all__ = ["Progress", "RefinerBank", "check_or_write_experiment", "refine_images", "refiner_preset",
           "run_from_cli", "run_seeds", "split_real", "train_refiner"]
