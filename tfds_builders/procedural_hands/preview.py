"""Draw a grid of procedural hands, clean render above its sensor reading, with the joints.

    python -m tfds_builders.procedural_hands.preview docs/procedural_hands.png
    python -m tfds_builders.procedural_hands.preview docs/procedural_hands_v2.png --imaging sensor_v2
    python -m tfds_builders.procedural_hands.preview docs/procedural_hands_v3.png --imaging sensor_v3
    python -m tfds_builders.procedural_hands.preview docs/procedural_hands_v4.png --imaging sensor_v4

Renders directly (no TFDS build needed): columns are hands of one batch; rows alternate
`synthetic` (with the 14 joints: tips red, other joints yellow) and the sensor (`sensor`, or
`sensor_v2` / `sensor_v3` / `sensor_v4` with --imaging) of the same hand.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from tfds_builders.procedural_hands import procedural_hands_dataset_builder as phb
from tfds_builders.procedural_hands import render

PREVIEW_SEED = 42  # not a split seed: the figure shows none of the stored examples


def save_preview(path: str, columns: int = 8, pairs: int = 2, imaging: str = "sensor") -> None:
    """Write a PNG grid of `pairs` x 2 rows (synthetic, `imaging`) by `columns` hands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if columns * pairs > phb.RENDER_BATCH:
        raise ValueError(f"preview: at most {phb.RENDER_BATCH} hands, asked for {columns * pairs}")
    clean, labels = phb.render_domain_batch(PREVIEW_SEED, 0, "clean")
    sensed, _ = phb.render_domain_batch(PREVIEW_SEED, 0, imaging)
    uvd = labels["joints_uvd"]
    tips = np.zeros(len(render.JOINT_NAMES), bool)
    tips[list(render.TIP_JOINTS)] = True
    fig, axes = plt.subplots(2 * pairs, columns, figsize=(1.6 * columns, 1.7 * 2 * pairs))
    for p in range(pairs):
        for c in range(columns):
            i = p * columns + c
            for row, images, name in ((2 * p, clean, "synthetic"), (2 * p + 1, sensed, imaging)):
                ax = axes[row, c]
                # Show the hand's depth range with contrast; background (255) stays white.
                ax.imshow(images[i, ..., 0], cmap="gray", vmin=40, vmax=255, interpolation="nearest")
                if row == 2 * p:
                    ax.scatter(uvd[i, ~tips, 0], uvd[i, ~tips, 1], s=4, c="gold")
                    ax.scatter(uvd[i, tips, 0], uvd[i, tips, 1], s=4, c="red")
                ax.set_xticks([])
                ax.set_yticks([])
                if c == 0:
                    ax.set_ylabel(name, fontsize=9)
    fig.suptitle(f"procedural_hands: synthetic (clean render, joints) vs {imaging} (same hand)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="output PNG file")
    parser.add_argument("--columns", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--imaging", default="sensor", choices=[i for i in phb.IMAGINGS if i != "clean"])
    args = parser.parse_args(argv)
    save_preview(args.path, args.columns, args.pairs, args.imaging)
    print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
