"""Draw docs/procedural_eyes.png: simulator renders above camera images of the same eyes.

    python -m tfds_builders.procedural_eyes.sample_grid --out docs/procedural_eyes.png
    python -m tfds_builders.procedural_eyes.sample_grid --pair v2 --pairs 1 --out docs/procedural_eyes_v2.png

Both rows of a pair come from one batch of the same seed, so column k shows the same eye
(same gaze, same geometry) in the two domains: the gap is appearance only.
"""
from __future__ import annotations

import argparse

import numpy as np

from tfds_builders.procedural_eyes.procedural_eyes_dataset_builder import render_domain_batch


def save_grid(out: str, columns: int = 8, pairs: int = 2, seed: int = 999, version: str = "v1") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suffix = "_v2" if version == "v2" else ""
    sim, labels = render_domain_batch(seed, 0, "simulator" + suffix)
    cam, _ = render_domain_batch(seed, 0, "camera" + suffix)
    fig, axes = plt.subplots(2 * pairs, columns, figsize=(1.6 * columns, 1.2 * 2 * pairs))
    for pair in range(pairs):
        for col in range(columns):
            k = pair * columns + col
            pitch, yaw = np.rad2deg(labels["pitch_yaw"][k])
            for row, (images, name) in enumerate(((sim, "simulator" + suffix), (cam, "camera" + suffix))):
                ax = axes[2 * pair + row, col]
                ax.imshow(images[k, :, :, 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                if col == 0:
                    ax.set_ylabel(name, fontsize=8)
                if row == 0:
                    ax.set_title(f"p {pitch:+.0f} y {yaw:+.0f}", fontsize=7)
    if version == "v2":
        fig.suptitle("procedural_eyes v2: simulator (lit per image) vs camera (material + sensor), "
                     "same eyes per column", fontsize=9)
    else:
        fig.suptitle("procedural_eyes: simulator (clean) vs camera (target), same eyes per column", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="docs/procedural_eyes.png")
    parser.add_argument("--columns", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=2, help="simulator/camera row pairs")
    parser.add_argument("--pair", choices=["v1", "v2"], default="v1",
                        help="v1: simulator + camera; v2: simulator_v2 + camera_v2")
    args = parser.parse_args()
    save_grid(args.out, args.columns, args.pairs, version=args.pair)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
