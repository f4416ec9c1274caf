"""Does a refiner draw the camera's vignetting? Brightness by distance from the image centre.

A lens's vignetting darkens pixels by where they sit in the frame, which a fully convolutional
refiner with reflect padding cannot know unless it is given its position
(`RefinerConfig.position_channels`, `--position-channels`). This measures, label-free, the mean
grey level in rings of the normalised squared radius used by the suite cameras
(tfds_builders/procedural_eyes/camera_suite.py: 0 at the centre, 1 at a corner) for the
experiment's synthetic images, each refiner variant's refined versions of them and the unlabeled
camera images, and divides each ring by the centre ring. Eye crops are darker in the middle
(iris, pupil), so the content has a profile of its own; "falloff" divides that out: a ring's
falloff is (X ring / X centre) / (synthetic ring / synthetic centre), 1.0 when X has no
vignetting. The camera images are unpaired scenes from the same simulator, so their falloff is
the target. Needs a seed's refined.npy on this machine (not committed):

    python benchmarks/radial_profile.py --run-dir docs/results/gaze_converged/defocus_position \\
        --camera defocus --seed 0 --out docs/results/gaze_converged/defocus_position_radial_seed0.json
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

RING_EDGES = (0.0, 0.1, 0.3, 0.5, 0.7, 1.0001)


def normalised_radius2(height: int, width: int) -> np.ndarray:
    """Squared distance from the centre, aspect-corrected as the suite cameras do, 1.0 at a corner."""
    yy = np.linspace(-1.0, 1.0, height)[:, None] * (height / width)
    xx = np.linspace(-1.0, 1.0, width)[None, :]
    return (xx ** 2 + yy ** 2) / (1.0 + (height / width) ** 2)


def ring_means(images: np.ndarray, edges: tuple[float, ...] = RING_EDGES) -> np.ndarray:
    """Mean grey level of every ring [edges[i], edges[i + 1]) over all images and channels."""
    r2 = normalised_radius2(*images.shape[1:3])
    pixels = images.astype(np.float64).mean(axis=(0, 3))
    return np.array([pixels[(r2 >= lo) & (r2 < hi)].mean() for lo, hi in zip(edges[:-1], edges[1:])])


def falloff(images: np.ndarray, reference: np.ndarray, edges: tuple[float, ...] = RING_EDGES) -> np.ndarray:
    """Each ring's brightness relative to the centre ring, divided by the same for `reference`."""
    own, ref = ring_means(images, edges), ring_means(reference, edges)
    return (own / own[0]) / (ref / ref[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--run-dir", required=True, help="a gaze experiment's --out")
    parser.add_argument("--camera", required=True, help="that experiment's --camera")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="JSON file for the profiles")
    parser.add_argument("--data-dir", help="where TFDS stores prepared datasets")
    args = parser.parse_args(argv)

    from simgan_tf.experiments.layout import REFINED_FILE, REFINER_DIR
    from simgan_tf.experiments.settings import get_experiment_settings
    from simgan_tf.experiments.sources import SourceSpec, load_experiment_data
    from simgan_tf.run_io import write_json_atomic

    seed_dir = Path(args.run_dir) / f"seed_{args.seed}" / REFINER_DIR
    variants = {p.parent.name: p for p in sorted(seed_dir.glob(f"*/{REFINED_FILE}"))}
    if not variants:
        raise SystemExit(f"radial_profile: no {REFINED_FILE} under {seed_dir}: run (or resume) seed {args.seed} here")
    settings = get_experiment_settings("quick")
    d = load_experiment_data(SourceSpec(camera=args.camera, data_dir=args.data_dir), settings.refiner.image,
                             settings.train_images * settings.scale_factor, settings.real_images, 1, 1)
    refined = {name: np.load(path) for name, path in variants.items()}
    count = min(len(r) for r in refined.values())
    synthetic = d.synthetic[:count]
    sets = {"synthetic": synthetic, "camera (unpaired)": d.real, **{f"refined {k}": v for k, v in refined.items()}}
    result = {
        "run_dir": args.run_dir, "camera": args.camera, "seed": args.seed, "images": count,
        "camera_images": int(len(d.real)), "ring_edges_r2": list(RING_EDGES[:-1]) + [1.0],
        "ring_means": {k: [round(float(v), 2) for v in ring_means(x)] for k, x in sets.items()},
        "falloff": {k: [round(float(v), 4) for v in falloff(x, synthetic)] for k, x in sets.items()},
    }
    write_json_atomic(Path(args.out), result)
    for name, values in result["falloff"].items():
        print(f"{name:<28} falloff by ring: " + "  ".join(f"{v:.3f}" for v in values))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
