"""Figures written at the end of a run (matplotlib, headless)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def _to_display(images: np.ndarray) -> np.ndarray:
    """float [-1, 1] or uint8 -> float [0, 1] without channel axis for grayscale."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        images = images.astype(np.float32) / 255.0
    else:
        images = (np.clip(images, -1.0, 1.0) + 1.0) / 2.0
    if images.shape[-1] == 1:
        images = images[..., 0]
    return images


def save_image_rows(path: str | Path, rows: Sequence[np.ndarray], labels: Sequence[str], title: str | None = None) -> Path:
    """One row per image set (e.g. synthetic | refined | real), labelled on the left."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [_to_display(r) for r in rows]
    columns = max(len(r) for r in rows)
    height, width = rows[0].shape[1:3]
    fig, axes = plt.subplots(
        len(rows), columns, figsize=(columns * 1.2 * width / height, len(rows) * 1.25), squeeze=False
    )
    for r, (images, label) in enumerate(zip(rows, labels)):
        for c in range(columns):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(images):
                ax.imshow(images[c], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            if c == 0:
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
