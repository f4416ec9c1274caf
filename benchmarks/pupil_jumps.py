"""Where does the pupil fit jump on refined images? Show the worst pairs beside the camera's view.

The experiment's label-preservation figure averages the pupil-fit displacement between each
synthetic image and its refined version. A fit that leaves the pupil (jumps > 3 px) dominates
that mean; this script shows the refined images with the largest jumps, with the fitted centres
marked (green: on the synthetic image, red: on the refined one), beside the v2 camera's image of
the same scene, so one can see whether the refiner painted a dark region or the fit misread.
Needs a finished seed of an `--camera embedded_v2` run on this machine (its refined.npy files
are not committed):

    python benchmarks/pupil_jumps.py --run-dir docs/results/gaze_converged/embedded_v2 --seed 2 \
        --out docs/results/gaze_converged/embedded_v2_pupil_jumps.png
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from refiner_ceiling import V2_VARIANTS, render_experiment_scenes, reimage  # noqa: E402

from simgan_tf.experiments.layout import PUPIL_FILE, REFINED_FILE, REFINER_DIR  # noqa: E402
from simgan_tf.experiments.settings import get_experiment_settings  # noqa: E402
from simgan_tf.experiments.sources import EMBEDDED_V2_CAMERA, SourceSpec, load_experiment_data  # noqa: E402
from simgan_tf.label_preservation import JUMP_PX, displacement_summary, measured_mask, pupil_centers  # noqa: E402


def pupil_contrast(images: np.ndarray, centres: np.ndarray, inner_px: float = 1.5, ring_px: tuple = (4.0, 7.0)) -> np.ndarray:
    """Per image: mean grey level of a ring around the true pupil centre minus that of the pupil
    disk (grey levels, 0..255): how dark the pupil still stands out where the label says it is."""
    h, w = images.shape[1:3]
    ys, xs = np.mgrid[0:h, 0:w]
    out = np.empty(len(images))
    for i, (x, y) in enumerate(centres):
        r = np.hypot(xs - x, ys - y)
        img = images[i, :, :, 0].astype(np.float64)
        out[i] = img[(r >= ring_px[0]) & (r <= ring_px[1])].mean() - img[r <= inner_px].mean()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", required=True, help="the experiment's --out (an --camera embedded_v2 run)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=8, help="how many of the largest jumps to show")
    parser.add_argument("--out", required=True, help="PNG to write")
    args = parser.parse_args(argv)
    refined_path = Path(args.run_dir) / f"seed_{args.seed}" / REFINER_DIR / "main" / REFINED_FILE
    if not refined_path.is_file():
        raise SystemExit(f"pupil_jumps: {refined_path} not found: run (or resume) the experiment's seed {args.seed} here")
    settings = get_experiment_settings("quick")
    k = settings.pupil_images
    d = load_experiment_data(SourceSpec(camera=EMBEDDED_V2_CAMERA), settings.refiner.image, k, 1, 1, 1)
    synthetic, truth = d.synthetic[:k], d.synthetic_pupil[:k]
    refined = np.load(refined_path)[:k]
    batches, where = render_experiment_scenes(truth, pair=EMBEDDED_V2_CAMERA)
    camera_view = reimage(batches, where, V2_VARIANTS["camera"])
    fit_s, fit_r, fit_c = (pupil_centers(x, settings.pupil_fit) for x in (synthetic, refined, camera_view))
    measured = measured_mask(fit_s, truth, settings.pupil_fit)  # the experiment's rule
    jump_r = np.linalg.norm(fit_r - fit_s, axis=1)
    jump_c = np.linalg.norm(fit_c - fit_s, axis=1)
    for name, jumps in (("refined", jump_r), ("camera", jump_c)):
        s = displacement_summary(jumps[measured])
        print(f"{name:<8} vs synthetic: mean {s['mean']:.2f} px, median {s['median']:.2f}, "
              f"{s['jumps_pct']:.1f}% jumps > {JUMP_PX:g} px ({measured.sum()} measured)")
    both = measured & (jump_r > JUMP_PX)
    print(f"of the refined jumps, {np.mean(jump_c[both] > JUMP_PX) * 100:.0f}% are jumps on the camera's image too")
    for name, images in (("synthetic", synthetic), ("refined", refined), ("camera", camera_view)):
        c = pupil_contrast(images, truth)
        print(f"pupil contrast (ring - pupil, grey levels) on {name:<9}: all measured {c[measured].mean():.1f}, "
              f"refined-jump images {c[both].mean():.1f}")
    order = np.argsort(np.where(measured, jump_r, -1.0))[::-1][: args.show]

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = (("synthetic", synthetic), ("refined", refined), ("camera, same scene", camera_view))
    fig, axes = plt.subplots(len(order), 3, figsize=(6, 1.35 * len(order)), squeeze=False)
    for row, i in enumerate(order):
        for col, (title, images) in enumerate(columns):
            ax = axes[row, col]
            ax.imshow(images[i, :, :, 0], cmap="gray", vmin=0, vmax=255)
            ax.plot(*fit_s[i], "+", color="lime", ms=8)
            if col:
                ax.plot(*(fit_r if col == 1 else fit_c)[i], "x", color="red", ms=7)
            ax.set_xticks([]), ax.set_yticks([])
            if row == 0:
                ax.set_title(title, fontsize=8)
        axes[row, 1].set_ylabel(f"{jump_r[i]:.1f} px", fontsize=7)
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
