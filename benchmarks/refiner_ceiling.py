"""How far could a refiner take the gaze experiment? Re-image the synthetic scenes and see.

The gaze experiment's refined rows train on R(synthetic). This benchmark replaces R with
imaging processes we control: the experiment's own N synthetic training scenes (same
geometry, same labels) are re-imaged with the target camera, or with parts of it switched
off, and the experiment's estimator (same settings, same seeds, same test split) is trained
on each. That shows what refinement can buy on this data, and which part of the camera
the estimator needs to have seen:

  simulator           the clean renders: reproduces the experiment's `synthetic` row
  camera              the full camera process with all its randomness: a perfect refiner,
                      whose output has the target's distribution
  camera_no_illum     camera without its per-image illumination (gradients, side light,
                      exposure errors and failures)
  camera_no_noise     camera without skin texture, grain and sensor noise
  camera_fixed        one fixed imaging process: every camera parameter at the middle of
                      its range, no randomness at all (blur, resolution, tone, JPEG,
                      auto-exposure): a deterministic refiner that learned the camera's
                      average look (R(x) has no random input: one x, one output)
  lit_simulator       the clean renders under the camera's random lighting and exposure
                      only (a simulator that randomises lighting, as UnityEyes does)

    python benchmarks/refiner_ceiling.py --seeds 0 1 2 --critic-seeds 0 --out runs/refiner_ceiling.json

With --camera NAME (a suite camera, tfds_builders/procedural_eyes/camera_suite.py) the target
is that camera's image of the simulator's scenes (the experiment's --camera NAME data) and the
rows are `simulator`, `camera` (the experiment's synthetic scenes imaged by NAME with all its
randomness: a perfect refiner) and `camera_fixed` (NAME's deterministic variant: mid-range
parameters, no noise); the JSON also gets the gap (simulator / camera error) and the share of
it the fixed camera recovers:

    python benchmarks/refiner_ceiling.py --camera webcam --seeds 0 1 2 --out runs/webcam_ceiling.json

With --camera embedded_v2 (the v2 pair: procedural_eyes/simulator_v2 lights every image itself,
camera_v2 adds material and sensor appearance) the experiment's synthetic scenes are the v2
simulator's, re-rendered and re-imaged with the v2 camera; the rows and the gap are a suite
camera's: `simulator`, `camera` (the v2 camera with its randomness: a perfect refiner) and
`camera_fixed` (`camera_v2.fixed()`: mid-range parameters, no texture or sensor noise):

    python benchmarks/refiner_ceiling.py --camera embedded_v2 --seeds 0 1 2 --out docs/results/embedded_v2_ceiling.json

Prints a table of mean angular error / % within 7 degrees per variant (mean over seeds);
with --critic-seeds also the realism critic's held-out accuracy, target vs each variant
(the experiment's critic: 50 % = indistinguishable). Every variant also gets the experiment's
label-preservation figure, the pupil-fit displacement from the simulator's image of the same
scene (`pupil_vs_simulator`): the camera row is what a perfect refiner would score, the floor
the experiment's refined figure is read against (with `--seeds` and nothing after it, only this
and the critic are measured):

    python benchmarks/refiner_ceiling.py --camera embedded_v2 --seeds --out docs/results/pupil_reference/embedded_v2.json
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simgan_tf.runtime import configure_tf_runtime  # noqa: E402

configure_tf_runtime()

import numpy as np  # noqa: E402

from simgan_tf.critic import critic_accuracy  # noqa: E402
from simgan_tf.experiments.gaze import train_and_evaluate  # noqa: E402
from simgan_tf.experiments.settings import get_experiment_settings  # noqa: E402
from simgan_tf.label_preservation import pupil_displacement  # noqa: E402
from simgan_tf.experiments.sources import (  # noqa: E402
    EMBEDDED_CAMERA,
    EMBEDDED_PAIRS,
    EMBEDDED_V2_CAMERA,
    SourceSpec,
    camera_names,
    load_experiment_data,
)
from simgan_tf.run_io import write_json_atomic  # noqa: E402
from tfds_builders.procedural_eyes import camera, camera_suite, camera_v2, lit_render, render  # noqa: E402
from tfds_builders.procedural_eyes.procedural_eyes_dataset_builder import (  # noqa: E402
    RENDER_BATCH,
    SPLIT_SEEDS,
    Builder as ProceduralEyes,
    batch_seed_sequences,
    render_v2_scenes,
)

_NO_ILLUMINATION = dict(gradient_strength=(0.0, 0.0), side_light_prob=0.0, exposure_log_sigma=0.0,
                        dark_prob=0.0, bright_prob=0.0)
_NO_NOISE = dict(mottle_amplitude=(0.0, 0.0), grain_amplitude=(0.0, 0.0), shot_noise=(0.0, 0.0),
                 read_noise=(0.0, 0.0))


def _fixed_camera() -> camera.CameraConfig:
    """Every (lo, hi) range of the camera collapsed to its midpoint; no noise, no illumination."""
    base = dataclasses.replace(camera.DEFAULT_CAMERA_CONFIG, **_NO_ILLUMINATION, **_NO_NOISE)
    mid = {}
    for f in dataclasses.fields(base):
        value = getattr(base, f.name)
        if f.name != "mottle_grid" and isinstance(value, tuple) and len(value) == 2:
            centre = (value[0] + value[1]) / 2
            centre = round(centre) if isinstance(value[0], int) else centre
            mid[f.name] = (centre, centre)
    return dataclasses.replace(base, **mid)


# (clean render, skin coverage or the v2 material maps, camera stream) -> uint8 images
Imaging = Callable[[np.ndarray, Any, np.random.Generator], np.ndarray]
FIXED_CAMERA = _fixed_camera()


def _with_camera(cfg: camera.CameraConfig) -> Imaging:
    return lambda clean, skin, rng: camera.apply_camera(clean, skin, rng, cfg)


def _illumination_only(clean: np.ndarray, skin: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The simulator with the camera's random light field and exposure, nothing else."""
    return render.to_uint8(camera.illuminate(clean, rng, camera.DEFAULT_CAMERA_CONFIG))


VARIANTS: dict[str, Imaging] = {
    "simulator": lambda clean, skin, rng: render.to_uint8(clean),
    "camera": _with_camera(camera.DEFAULT_CAMERA_CONFIG),
    "camera_no_illum": _with_camera(dataclasses.replace(camera.DEFAULT_CAMERA_CONFIG, **_NO_ILLUMINATION)),
    "camera_no_noise": _with_camera(dataclasses.replace(camera.DEFAULT_CAMERA_CONFIG, **_NO_NOISE)),
    "camera_fixed": _with_camera(FIXED_CAMERA),
    "lit_simulator": _illumination_only,
}


# Rows for a suite camera: they image the experiment's synthetic (uint8) images directly.
SUITE_VARIANTS = ("simulator", "camera", "camera_fixed")

# Rows for the v2 pair: they image the v2 simulator's lit scenes (float render + material maps).
FIXED_CAMERA_V2 = camera_v2.fixed()
V2_VARIANTS: dict[str, Imaging] = {
    "simulator": lambda lit, maps, rng: render.to_uint8(lit),
    "camera": lambda lit, maps, rng: camera_v2.apply_sensor_camera(lit, maps, rng),
    "camera_fixed": lambda lit, maps, rng: camera_v2.apply_sensor_camera(lit, maps, None, FIXED_CAMERA_V2),
}


def suite_images(cam: camera_suite.SuiteCamera, variant: str, synthetic: np.ndarray) -> np.ndarray:
    """The experiment's first synthetic scenes (simulator[train] scenes 0, 1, ...) as `variant`
    shows them: as they are, through `cam` (each scene its own stream), or its fixed variant."""
    if variant == "simulator":
        return synthetic
    if variant == "camera":
        return camera_suite.image_scenes(cam, synthetic, "train", 0)
    if variant == "camera_fixed":
        return cam.fixed().apply(synthetic)
    raise ValueError(f"variant {variant!r} is not measured for a suite camera; expected one of {SUITE_VARIANTS}")


def gap_summary(runs: dict[str, dict]) -> dict[str, float]:
    """simulator / camera error (want >= 1.3: a look strong enough to need adaptation) and the
    percentage of the simulator-to-camera gap that the fixed camera closes."""
    if not all("mean_error_deg" in runs.get(v, {}) for v in SUITE_VARIANTS):
        return {}
    sim, cam, fixed = (runs[v]["mean_error_deg"] for v in SUITE_VARIANTS)
    return {"synthetic_over_camera": sim / cam,
            "fixed_recovers_pct": 100.0 * (sim - fixed) / (sim - cam) if sim != cam else float("nan")}


def render_experiment_scenes(pupil_centres: np.ndarray, max_batches: int | None = None,
                             pair: str = EMBEDDED_CAMERA) -> tuple[list[tuple], np.ndarray]:
    """Re-render the simulator[train] batches that hold the experiment's synthetic images.

    TFDS stores examples in hashed-key order, so the experiment's first N images are spread
    over the split; each is found by its pupil-centre label (float32 x, y, unique per scene).
    Returns the batches as (clean, skin, camera seed sequence) and, per experiment image, the
    flat index into their concatenation. Searches at most `max_batches` batches (default:
    the whole split). With pair="embedded_v2" the scenes are simulator_v2[train]'s and each
    batch is (lit render, material maps, camera seed sequence).
    """
    config = "simulator_v2" if pair == EMBEDDED_V2_CAMERA else "simulator"
    seed = SPLIT_SEEDS[(config, "train")]
    wanted = {p.tobytes(): k for k, p in enumerate(np.asarray(pupil_centres, np.float32))}
    batches, where = [], np.full(len(wanted), -1)
    split_size = ProceduralEyes.SPLIT_SIZES[config]["train"]
    for batch in range(max_batches or -(-split_size // RENDER_BATCH)):
        if pair == EMBEDDED_V2_CAMERA:
            clean, skin, labels, camera_seq = render_v2_scenes(seed, batch)  # skin: the material maps
        else:
            geometry_seq, camera_seq = batch_seed_sequences(seed, batch)
            clean, skin, labels = render.render_batch(np.random.default_rng(geometry_seq), RENDER_BATCH)
        keys = [p.tobytes() for p in labels["pupil_center"].astype(np.float32)]
        hits = [(i, wanted[key]) for i, key in enumerate(keys) if key in wanted]
        if hits:
            for i, k in hits:
                where[k] = len(batches) * RENDER_BATCH + i
            batches.append((clean, skin, camera_seq))
        if (where >= 0).all():
            break
    if (where < 0).any():
        raise SystemExit(f"refiner_ceiling: {(where < 0).sum()} experiment images not found among the simulator's scenes")
    return batches, where


def reimage(batches: list[tuple], where: np.ndarray, imaging: Imaging) -> np.ndarray:
    """The experiment's synthetic scenes imaged by `imaging` (each batch with its own camera stream)."""
    images = [imaging(clean, skin, np.random.default_rng(camera_seq)) for clean, skin, camera_seq in batches]
    return np.concatenate(images)[where]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="quick", help="experiment preset whose estimator settings to use")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0], help="estimator seeds (none: skip the estimators)")
    parser.add_argument("--critic-seeds", type=int, nargs="*", default=[],
                        help="also train the experiment's realism critic (target vs each variant) with these seeds")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS),
                        help=f"rows to measure (default: all; a suite camera and embedded_v2 have only "
                             f"{', '.join(SUITE_VARIANTS)})")
    parser.add_argument("--camera", default=EMBEDDED_CAMERA, choices=camera_names(),
                        help="target camera: the embedded pair, its v2 (embedded_v2), "
                             "or a suite camera (camera_suite.py)")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args(argv)
    suite = args.camera not in EMBEDDED_PAIRS
    v2 = args.camera == EMBEDDED_V2_CAMERA
    if args.variants is None:
        args.variants = list(SUITE_VARIANTS if suite or v2 else VARIANTS)
    elif (suite or v2) and set(args.variants) - set(SUITE_VARIANTS):
        parser.error(f"--camera {args.camera} measures only {', '.join(SUITE_VARIANTS)}")

    settings = get_experiment_settings(args.preset)
    n = settings.train_images
    # A suite camera's real images follow the synthetic scenes: load as many synthetic images as
    # the experiment does, so the critic sees the experiment's real images.
    d = load_experiment_data(SourceSpec(camera=args.camera), settings.refiner.image,
                             n * settings.scale_factor if suite else n,
                             settings.real_images if args.critic_seeds else 1, settings.test_images, 1)
    gaze = d.synthetic_gaze[:n]
    if suite:
        cam = camera_suite.get_camera(args.camera)
    else:
        batches, where = render_experiment_scenes(d.synthetic_pupil[:n], pair=args.camera)
    runs: dict[str, dict] = {}
    for variant in args.variants:
        if suite:
            images = suite_images(cam, variant, d.synthetic[:n])
        else:
            images = reimage(batches, where, (V2_VARIANTS if v2 else VARIANTS)[variant])
        if variant == "simulator" and not np.array_equal(images, d.synthetic[:n]):
            raise SystemExit("refiner_ceiling: re-rendered scenes differ from the experiment's synthetic images")
        k = min(settings.pupil_images, n)
        pupil = pupil_displacement(d.synthetic[:k], images[:k], d.synthetic_pupil[:k], settings.pupil_fit)
        pupil = {key: value for key, value in pupil.items() if key != "displacements_px"}
        print(f"{variant:<16} pupil fit vs the simulator's image: mean {pupil['mean']:.2f} px, median "
              f"{pupil['median']:.2f}, {pupil['jumps_pct']:.1f}% jumps ({pupil['num_measured']} of {k} measured)", flush=True)
        per_seed = []
        for seed in args.seeds:
            started = time.time()
            res = train_and_evaluate(settings, settings.refiner.image, images, gaze, d.test.images, d.test.gaze, seed)
            per_seed.append({"seed": seed, "mean_error_deg": res["mean_error_deg"],
                             "within_7_deg_pct": res["within_7_deg_pct"]})
            print(f"{variant:<16} seed {seed}: {res['mean_error_deg']:.2f} deg, {res['within_7_deg_pct']:.1f}% "
                  f"within 7 ({time.time() - started:.0f} s)", flush=True)
        runs[variant] = {"per_seed": per_seed, "pupil_vs_simulator": pupil}
        if per_seed:
            errors = [r["mean_error_deg"] for r in per_seed]
            # Sample std (ddof 1), as the experiment's results.json reports it.
            spread = float(np.std(errors, ddof=1)) if len(errors) > 1 else 0.0
            runs[variant].update(mean_error_deg=float(np.mean(errors)), mean_error_std=spread,
                                 within_7_deg_pct=float(np.mean([r["within_7_deg_pct"] for r in per_seed])))
        critic = [critic_accuracy(d.real, images, settings.refiner.image, settings.critic, seed)["accuracy_pct"]
                  for seed in args.critic_seeds]
        if critic:
            runs[variant].update(critic_vs_real_pct=float(np.mean(critic)), critic_per_seed=critic)
            print(f"{variant:<16} critic (target vs these images): {np.mean(critic):.1f}% held-out accuracy", flush=True)

    print(f"\n{'training images':<18} {'mean error (deg)':>18} {'% within 7':>12} {'critic %':>10}")
    for variant, r in runs.items():
        error = f"{r['mean_error_deg']:>11.2f} +- {r['mean_error_std']:.2f}" if "mean_error_deg" in r else f"{'-':>18}"
        within = f"{r['within_7_deg_pct']:>12.1f}" if "within_7_deg_pct" in r else f"{'-':>12}"
        critic = f"{r['critic_vs_real_pct']:>10.1f}" if "critic_vs_real_pct" in r else f"{'-':>10}"
        print(f"{variant:<18} {error} {within} {critic}")
    summary = {"preset": settings.name, "train_images": n, "estimator_steps": settings.estimator_steps,
               "seeds": args.seeds, "critic_seeds": args.critic_seeds, "runs": runs,
               "camera_fixed": dataclasses.asdict(FIXED_CAMERA),
               "command": " ".join(["python", "benchmarks/refiner_ceiling.py"] + (argv if argv is not None else sys.argv[1:]))}
    if v2:
        gap = gap_summary(runs)
        summary.update(camera=args.camera, camera_parameters=dataclasses.asdict(camera_v2.DEFAULT_SENSOR_CAMERA),
                       camera_fixed=dataclasses.asdict(FIXED_CAMERA_V2),
                       simulator_lighting=dataclasses.asdict(lit_render.DEFAULT_LIGHTING_CONFIG),
                       data=d.described, gap=gap)
        if gap:
            print(f"\n{args.camera}: simulator / camera error {gap['synthetic_over_camera']:.2f}x; the fixed camera "
                  f"recovers {gap['fixed_recovers_pct']:.0f}% of the gap")
    if suite:
        gap = gap_summary(runs)
        summary.update(camera=cam.name, camera_description=cam.description, camera_parameters=cam.parameters(),
                       camera_fixed=cam.fixed().parameters(), data=d.described, gap=gap)
        if gap:
            print(f"\n{cam.name}: simulator / camera error {gap['synthetic_over_camera']:.2f}x; the fixed camera "
                  f"recovers {gap['fixed_recovers_pct']:.0f}% of the gap")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(args.out, summary)
        print(f"wrote {args.out}")
    return summary


if __name__ == "__main__":
    main()
