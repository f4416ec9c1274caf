"""What must a refiner draw to fool the realism critic? The fixed camera, one part switched off at a time.

A suite camera's deterministic variant (`SuiteCamera.fixed()`: every parameter at the middle of
its range, no noise) images the experiment's synthetic scenes; the experiment's realism critic
(same settings and seeds as its `critic_accuracy` row) is trained on the camera's unlabeled
images against them. Then each part of the camera is set to its neutral value (no blur, no
glare, ...) and the critic trained again: a part whose removal sends the critic towards 100 %
is one the refiner has to draw. With --run-dir the same critic also scores each refiner variant
of that run's seed (needs the seed's refined.npy, not committed), and every image set gets
label-free statistics that say which part is missing: mean grey level, within-image contrast
(standard deviation), edge sharpness (99th percentile of the gradient magnitude) and grain
(median absolute Laplacian):

    python benchmarks/critic_components.py --camera defocus --critic-seeds 0 1 2 \\
        --run-dir docs/results/gaze_converged/defocus_position --seed 0 \\
        --out docs/results/critic_reference/defocus_components.json

`--no-parts` scores only the synthetic images, the fixed camera and the run's refiners (another run, same camera).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

# camera -> part -> the parameters that switch it off. A disk of radius 0.2 px and a Gaussian of
# sigma 0.05 px are a single pixel (no blur); the suite cameras' code draws nothing else for them.
NEUTRAL_PARTS: dict[str, dict[str, dict[str, float]]] = {
    "defocus": {
        "blur": {"blur_radius": 0.2},
        "glare": {"glare": 0.0},
        "vignetting": {"vignetting": 0.0},
        "exposure and black level": {"exposure": 1.0, "black_level": 0.0},
    },
    "webcam": {
        "blur": {"blur_sigma": 0.05},
        "coarse pixels": {"downsample": 1.0},
        "tone curve": {"gain": 1.0, "gamma": 1.0, "black_level": 0.0, "white_level": 1.0},
        "jpeg": {"jpeg_quality": 100},
    },
}


def image_statistics(images: np.ndarray) -> dict[str, float]:
    """Label-free look of a set of uint8 images (n, H, W, 1): brightness, contrast, sharpness, grain."""
    x = images.astype(np.float64)[..., 0]
    gy, gx = np.gradient(x, axis=(1, 2))
    laplacian = ndimage.laplace(x, mode="nearest")[:, 2:-2, 2:-2]
    return {
        "mean_grey": round(float(x.mean()), 2),
        "contrast_std": round(float(x.std(axis=(1, 2)).mean()), 2),
        "gradient_p99": round(float(np.percentile(np.hypot(gx, gy), 99)), 2),
        "laplacian_median": round(float(np.median(np.abs(laplacian))), 2),
    }


def without_parts(camera, parts: dict[str, float]):
    """`camera.fixed()` with the given parameters pinned to a neutral value."""
    ranges = dict(camera.ranges)
    unknown = sorted(set(parts) - set(ranges))
    if unknown:
        raise ValueError(f"camera {camera.name!r} has no parameters {unknown}; it has {sorted(ranges)}")
    ranges.update({k: (v, v) for k, v in parts.items()})
    return dataclasses.replace(camera, ranges=ranges).fixed()


def _repo_relative(path: str | None) -> str | None:
    """A run folder as the repository names it (a worktree's copy of docs/results/... records the same)."""
    if path is None:
        return None
    parts = Path(path).resolve().parts
    return str(Path(*parts[parts.index("docs"):])) if "docs" in parts else path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--camera", required=True, choices=sorted(NEUTRAL_PARTS),
                        help="a suite camera whose parts this knows how to switch off (lowlight's fixed "
                             "variant already scores 100 %%: its noise is the whole look)")
    parser.add_argument("--critic-seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--run-dir", help="a gaze experiment's --out on this camera: also score its refiners")
    parser.add_argument("--seed", type=int, default=0, help="which seed of --run-dir")
    parser.add_argument("--images", type=int, default=1000, help="synthetic scenes per image set")
    parser.add_argument("--no-parts", action="store_true",
                        help="skip the fixed camera's switched-off parts: score only the fixed camera and --run-dir's refiners")
    parser.add_argument("--out", required=True, help="JSON file for the table")
    parser.add_argument("--data-dir", help="where TFDS stores prepared datasets")
    args = parser.parse_args(argv)

    from simgan_tf.critic import critic_accuracy
    from simgan_tf.experiments.layout import REFINED_FILE, REFINER_DIR
    from simgan_tf.experiments.settings import get_experiment_settings
    from simgan_tf.experiments.sources import SourceSpec, load_experiment_data
    from simgan_tf.run_io import write_json_atomic
    from tfds_builders.procedural_eyes.camera_suite import get_camera

    refined: dict[str, np.ndarray] = {}
    if args.run_dir:
        seed_dir = Path(args.run_dir) / f"seed_{args.seed}" / REFINER_DIR
        refined = {p.parent.name: np.load(p)[:args.images] for p in sorted(seed_dir.glob(f"*/{REFINED_FILE}"))}
        if not refined:
            raise SystemExit(f"critic_components: no {REFINED_FILE} under {seed_dir}: run (or resume) seed "
                             f"{args.seed} of that experiment on this machine")
    settings = get_experiment_settings("quick")
    image = settings.refiner.image
    d = load_experiment_data(SourceSpec(camera=args.camera, data_dir=args.data_dir), image,
                             settings.train_images * settings.scale_factor, settings.real_images, 1, 1)
    synthetic = d.synthetic[:args.images]
    camera = get_camera(args.camera)
    sets = {"synthetic": synthetic, "fixed camera": camera.fixed().apply(synthetic)}
    for part, neutral in ({} if args.no_parts else NEUTRAL_PARTS[args.camera]).items():
        sets[f"fixed camera, no {part}"] = without_parts(camera, neutral).apply(synthetic)
    sets.update({f"refined {k}": v for k, v in refined.items()})

    rows: dict[str, dict] = {"camera (unpaired scenes)": image_statistics(d.real[:args.images])}
    print(f"{'images':<36} {'critic %':>9}  per seed   | mean grey, contrast, gradient p99, laplacian median")
    print(f"{'camera (unpaired scenes)':<36} {'-':>9}  {'':<10} | {rows['camera (unpaired scenes)']}")
    for name, images in sets.items():
        per_seed = [round(float(critic_accuracy(d.real, images, image, settings.critic, s)["accuracy_pct"]), 2)
                    for s in args.critic_seeds]
        rows[name] = {"critic_pct": round(float(np.mean(per_seed)), 2), "critic_per_seed": per_seed,
                      **image_statistics(images)}
        stats = {k: v for k, v in rows[name].items() if not k.startswith("critic")}
        print(f"{name:<36} {np.mean(per_seed):>9.1f}  {' '.join(f'{v:.0f}' for v in per_seed):<10} | {stats}",
              flush=True)
    write_json_atomic(Path(args.out), {
        "camera": args.camera, "critic_seeds": args.critic_seeds, "images": int(len(synthetic)),
        "camera_images": int(len(d.real)), "run_dir": _repo_relative(args.run_dir), "seed": args.seed if args.run_dir else None,
        "neutral_parts": NEUTRAL_PARTS[args.camera], "rows": rows,
    })
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
