"""How does a procedural_hands imaging look next to a genuine NYU Kinect frame? Measured.

    python -m tfds_builders.procedural_hands.compare_nyu [--images 300] \
        [--figure docs/procedural_hands_vs_nyu.png] [--json docs/results/hands/sensor_vs_nyu.json]

The real side is NYU test frame 1 (`depth_1_0000001.png`, read in place from
../shared/real_samples; see tfds_builders/nyu_hand/real_frame.py for the stand-in synthetic
mask the builder needs), cropped by the `nyu_hand` builder's own functions and re-encoded with
procedural_hands' 8-bit cube around the same centre c (the builder's `depth_center_mm`). The
procedural side is `--images` hands (batches of `COMPARE_SEED`, no stored split) through each
imaging process: the same hands in every row.

Every statistic is computed from the image alone, the same way for every row, on the sensor's
own pixel grid: the procedural renderer's 112 x 112 grid (every second pixel of the stored
224 x 224 image, which repeats each pixel 2 x 2) and, for the real frame, both the Kinect's grid
(the crop box at source resolution, ~250 px) and the same hand-relative grid as procedural (every
second pixel of the builder's stored 224 x 224 crop). See `image_stats` for the definitions.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
from scipy import ndimage

from tfds_builders.common import CropBox, crop_and_resize
from tfds_builders.procedural_hands import procedural_hands_dataset_builder as phb
from tfds_builders.procedural_hands import render

REAL_SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "real_samples"
REAL_TEST_DIR = REAL_SAMPLES / "nyu_hand" / "dataset" / "test"
COMPARE_SEED = 4242  # not a split seed: the comparison uses none of the stored examples
MM_PER_UNIT = render.DEFAULT_RENDER_CONFIG.cube_mm / (render.FAR_VALUE - render.NEAR_VALUE)
INTERIOR_PX = 3  # interior: farther than this from the silhouette (pixels)
BAND_PX = 2  # silhouette band: within this of the silhouette, either side
FLYING_MM = 15.0  # a reading this far from its 3 x 3 neighbourhood's median is an outlier
_CROSS = ndimage.generate_binary_structure(2, 1)


def _neighbour_median(depth: np.ndarray) -> np.ndarray:
    """Median of the finite values in each pixel's 3 x 3 neighbourhood (nan where none)."""
    padded = np.pad(depth, 1, constant_values=np.nan)
    h, w = depth.shape
    stack = np.stack([padded[i:i + h, j:j + w] for i in range(3) for j in range(3)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-nan neighbourhoods
        return np.nanmedian(stack, axis=0)


def image_stats(image: np.ndarray, mask: np.ndarray, ignore: np.ndarray | None = None) -> dict[str, float]:
    """Statistics of one uint8 hand image (H, W) in procedural_hands' encoding (255 = none).

    M (`mask`) is the simulator's silhouette of the same hand: for procedural images the clean
    render's hand pixels, for the real frame the stand-in render's (the real hand with small
    gaps closed and holes filled, see nyu_hand/real_frame.py), cropped like the image.
    Distances are Euclidean pixels to M's outline. Pixels in `ignore` count nowhere (the real
    frame's forearm past the stand-in render's cut, which the renderer would have drawn).
      interior_missing   share of M's interior (> INTERIOR_PX inside) with no reading
      band_missing       share of M's rim (<= BAND_PX inside) with no reading
      outer_band_present share of the ring just outside M (<= BAND_PX) that has a reading
      stray_outside      readings farther than BAND_PX outside M, per pixel of M
      missing_at_rim     share of M's missing pixels that lie within INTERIOR_PX of the outline
      roughness_mm       sd (mm) of each interior reading minus its 3 x 3 neighbourhood's median,
                         leaving out |difference| > FLYING_MM; a smooth surface in the 8-bit
                         encoding (1.19 mm steps) gives ~0.4 mm
      raggedness         reading/no-reading transitions within INTERIOR_PX of the outline /
                         M's own transitions (1 = an outline as smooth as the render's)
      flying             share of readings within BAND_PX of the outline (either side) that
                         differ from their 3 x 3 neighbourhood's median by > FLYING_MM
      hand_px            pixels in M (the scale of the grid)
    """
    valid = image < render.BACKGROUND
    keep = np.ones_like(mask) if ignore is None else ~ignore
    inside = ndimage.distance_transform_edt(mask)
    outside = ndimage.distance_transform_edt(~mask)
    interior = keep & (inside > INTERIOR_PX)
    rim = keep & mask & (inside <= BAND_PX)
    ring = keep & ~mask & (outside <= BAND_PX)
    depth = np.where(valid, image.astype(np.float64) * MM_PER_UNIT, np.nan)

    median = _neighbour_median(depth)
    residual = (depth - median)[interior & valid]
    residual = residual[np.abs(residual) <= FLYING_MM]  # outliers are counted as flying, not here
    roughness = float(np.std(residual)) if residual.size > 20 else np.nan

    near_outline = keep & ((mask & (inside <= INTERIOR_PX)) | (~mask & (outside <= INTERIOR_PX)))
    transitions = lambda a, keep: (  # noqa: E731 - neighbour pairs that differ, both in `keep`
        np.sum((a[:, 1:] != a[:, :-1]) & keep[:, 1:] & keep[:, :-1])
        + np.sum((a[1:] != a[:-1]) & keep[1:] & keep[:-1]))
    ragged = transitions(valid, near_outline) / max(transitions(mask, keep), 1)

    band_readings = valid & (rim | ring)
    flying = np.abs(depth - median) > FLYING_MM
    missing_in_hand = keep & mask & ~valid
    return {
        "interior_missing": float(np.mean(~valid[interior])) if interior.any() else np.nan,
        "band_missing": float(np.mean(~valid[rim])) if rim.any() else np.nan,
        "outer_band_present": float(np.mean(valid[ring])) if ring.any() else np.nan,
        "stray_outside": float(np.sum(keep & valid & (outside > BAND_PX)) / max(mask.sum(), 1)),
        "missing_at_rim": float(np.sum(missing_in_hand & (inside <= INTERIOR_PX)) / missing_in_hand.sum())
        if missing_in_hand.any() else np.nan,
        "roughness_mm": float(roughness),
        "raggedness": float(ragged),
        "flying": float(np.mean(flying[band_readings])) if band_readings.any() else np.nan,
        "hand_px": float(mask.sum()),
    }


STAT_NAMES = ("interior_missing", "band_missing", "outer_band_present", "stray_outside", "missing_at_rim",
              "roughness_mm", "raggedness", "flying", "hand_px")


def summarize(images: np.ndarray, masks: np.ndarray, ignore: np.ndarray | None = None) -> dict[str, dict]:
    """Per statistic: mean, 10th and 90th percentile over images (n, H, W) with their masks."""
    ignores = [None] * len(images) if ignore is None else ignore
    rows = [image_stats(im, m, ig) for im, m, ig in zip(images, masks, ignores)]
    out = {}
    for name in STAT_NAMES:
        values = np.array([r[name] for r in rows], dtype=np.float64)
        values = values[np.isfinite(values)]  # e.g. no missing pixel: no share at the rim
        if values.size == 0:
            out[name] = {"mean": None, "p10": None, "p90": None, "n": 0}
            continue
        out[name] = {"mean": float(values.mean()), "p10": float(np.percentile(values, 10)),
                     "p90": float(np.percentile(values, 90)), "n": int(values.size)}
    return out


# --- the two sides --------------------------------------------------------------------------


def real_images(test_dir: Path = REAL_TEST_DIR) -> dict[str, np.ndarray]:
    """NYU test frame 1 through the nyu_hand builder, in procedural_hands' 8-bit encoding.

    Returns `kinect` (the crop box at source resolution), `stored` (the builder's 224 x 224
    crop), `grid112` (every second pixel of `stored`: procedural's hand-relative grid), each
    with its `*_mask` (the stand-in render's hand pixels, cropped the same way) and `*_ignore`
    (past the stand-in's forearm cut), and `centre_mm`. Raises FileNotFoundError when the genuine files are absent.
    """
    import tempfile

    from tfds_builders.nyu_hand import nyu_hand_dataset_builder as nyu
    from tfds_builders.nyu_hand import real_frame

    png, mat = test_dir / "depth_1_0000001.png", test_dir / "test_predictions.mat"
    if not (png.exists() and mat.exists()):
        raise FileNotFoundError(f"{test_dir} does not hold the genuine NYU frame (see SOURCES.md)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "test"
        written = real_frame.write_split(folder, png, mat)
        cut = real_frame.beyond_wrist(nyu.FRAME_SIZE[::-1], real_frame.predicted_joints_uv(mat))
        (_, example), = nyu.generate_examples(folder, "depth")
        (_, synthetic), = nyu.generate_examples(folder, "synthdepth")
    c = float(example["depth_center_mm"])
    stored16 = example["image"][..., 0]
    stored_mm = np.where(stored16 < nyu.BACKGROUND, c + (stored16 / nyu.BACKGROUND * 2 - 1) * nyu.CUBE_MM / 2, np.inf)
    cube = render.DEFAULT_RENDER_CONFIG.cube_mm
    stored = render.encode_depth(stored_mm[None], np.array([c]), cube)[0]
    stored_mask = synthetic["image"][..., 0] < nyu.BACKGROUND
    box = CropBox(*(float(v) for v in example["crop_box"]))
    stored_ignore = crop_and_resize(cut.astype(np.float32), box, *stored16.shape, "nearest", pad_value=1.0) > 0.5
    # Source resolution: the builder's kept real pixels, the crop box cut out 1:1.
    kept = nyu.real_hand_depth(nyu.read_frame_depth(png), written["synth_mm"] > 0, c).astype(np.float64)
    x0, y0, side, _ = example["crop_box"]
    x0, y0, n = int(round(x0)), int(round(y0)), int(round(side))
    window = lambda a: np.pad(a, n)[y0 + n:y0 + 2 * n, x0 + n:x0 + 2 * n]  # noqa: E731
    kinect = render.encode_depth(np.where(window(kept) > 0, window(kept), np.inf)[None], np.array([c]), cube)[0]
    return {"kinect": kinect, "kinect_mask": window(written["synth_mm"]) > 0, "kinect_ignore": window(cut),
            "stored": stored, "stored_mask": stored_mask, "stored_ignore": stored_ignore,
            "grid112": stored[::2, ::2], "grid112_mask": stored_mask[::2, ::2],
            "grid112_ignore": stored_ignore[::2, ::2], "centre_mm": c}


class HeldFixed:
    """Stands in for a numpy Generator with every draw at its middle: per-image ranges at
    their midpoint, Gaussian fields at 0, per-pixel uniforms at 1/2 (a pixel is dropped only
    where its probability exceeds 1/2). A sensor run with it is the sensor with its
    randomness held fixed: one clean render, one output, the most a deterministic refiner
    (R(x), no random input) could draw."""

    def uniform(self, low=0.0, high=1.0, size=None):
        return np.full(size, (low + high) / 2) if size is not None else (low + high) / 2

    def random(self, size=None, dtype=np.float64):
        return np.full(size, 0.5, dtype=dtype)

    def standard_normal(self, size=None, dtype=np.float64):
        return np.zeros(size, dtype=dtype)

    def integers(self, low, high=None, size=None):
        low, high = (0, low) if high is None else (low, high)
        return np.full(size, (low + high - 1) // 2, dtype=np.int64)


HELD_FIXED = " (randomness held fixed)"


def procedural_images(imaging: str, count: int, seed: int = COMPARE_SEED) -> np.ndarray:
    """`count` stored 224 x 224 images (n, 224, 224) of one imaging, same hands for every imaging.

    `imaging` is one of `phb.IMAGINGS`, or a sensor's name + HELD_FIXED (run with `HeldFixed`).
    """
    n_batches = -(-count // phb.RENDER_BATCH)
    if imaging.endswith(HELD_FIXED):
        apply = phb.SENSORS[imaging[:-len(HELD_FIXED)]]
        batches = []
        for b in range(n_batches):  # the geometry stream of render_domain_batch, same hands
            geometry = np.random.default_rng(np.random.SeedSequence([seed, b]).spawn(2)[0])
            batches.append(apply(render.render_batch(geometry, phb.RENDER_BATCH), HeldFixed())[..., 0])
    else:
        batches = [phb.render_domain_batch(seed, b, imaging)[0][..., 0] for b in range(n_batches)]
    return np.concatenate(batches)[:count]


def compare(count: int = 300, imagings: tuple[str, ...] | None = None) -> dict[str, dict]:
    """Statistics of the real frame (two grids) and of `count` images of every imaging."""
    imagings = imagings or phb.IMAGINGS
    real = real_images()
    rows: dict[str, dict] = {
        f"real NYU frame ({grid} grid)": summarize(*(real[key + part][None] for part in ("", "_mask", "_ignore")))
        for key, grid in (("kinect", "Kinect"), ("grid112", "112"))}
    masks = procedural_images("clean", count)[:, ::2, ::2] < render.BACKGROUND
    for imaging in imagings:
        rows[imaging] = summarize(procedural_images(imaging, count)[:, ::2, ::2], masks)
    return rows


def markdown_table(rows: dict[str, dict]) -> str:
    head = ("| images | interior missing | rim missing | ring present | missing at rim "
            "| roughness (mm) | raggedness | flying | hand px |")
    lines = [head, "|---" + "|---:" * 8 + "|"]
    for name, stats in rows.items():
        cells = []
        for key in STAT_NAMES:
            if key == "stray_outside":  # 0.0 % everywhere so far: in the JSON only
                continue
            m = stats[key]["mean"]
            if m is None:
                cells.append("–")
                continue
            fmt = "{:.2f}" if key in ("roughness_mm", "raggedness") else ("{:.0f}" if key == "hand_px" else "{:.1%}")
            cell = fmt.format(m)
            if stats[key]["n"] > 1 and key != "hand_px":
                cell += " (" + fmt.format(stats[key]["p10"]) + "-" + fmt.format(stats[key]["p90"]) + ")"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def save_figure(path: str, imagings: tuple[str, ...], columns: int = 4) -> None:
    """Real crop | `columns` hands through each imaging (rows), as stored (224 x 224)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    real = real_images()
    images = {name: procedural_images(name, columns) for name in imagings}
    fig, axes = plt.subplots(len(imagings), columns + 1, figsize=(1.9 * (columns + 1), 2.0 * len(imagings)))
    axes = np.atleast_2d(axes)

    def show(ax, image, title=None):
        valid = image < render.BACKGROUND
        lo = np.percentile(image[valid], 1) if valid.any() else 0
        hi = np.percentile(image[valid], 99) if valid.any() else 255
        shown = np.ma.masked_where(~valid, image.astype(np.float32))
        cmap = matplotlib.colormaps["gray"].copy()
        cmap.set_bad("#f4e6c8")  # no reading: pale orange, so holes stand out from dark depth
        ax.imshow(shown, cmap=cmap, vmin=lo, vmax=max(hi, lo + 1), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        if title:
            ax.set_title(title, fontsize=8)

    for r, name in enumerate(imagings):
        show(axes[r, 0], real["stored"], "real NYU (test frame 1)" if r == 0 else None)
        axes[r, 0].set_ylabel(name, fontsize=9)
        for c in range(columns):
            show(axes[r, c + 1], images[name][c], f"hand {c}" if r == 0 else None)
    fig.suptitle(f"genuine NYU Kinect crop (left) vs procedural_hands imagings of the same {columns} hands "
                 "(no reading = pale; contrast per image)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=300, help="procedural images per imaging")
    parser.add_argument("--imagings", nargs="+", default=list(phb.IMAGINGS) + [f"{s}{HELD_FIXED}" for s in phb.SENSORS],
                        help="rows: imagings of procedural_hands, or a sensor + '%(default)s'-style held-fixed name")
    parser.add_argument("--figure", help="write the side-by-side PNG here")
    parser.add_argument("--json", help="write the statistics here")
    args = parser.parse_args(argv)
    try:
        rows = compare(args.images, tuple(args.imagings))
    except FileNotFoundError as err:
        print(f"compare_nyu: {err}", file=sys.stderr)
        return 2
    print(markdown_table(rows))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"images_per_imaging": args.images, "seed": COMPARE_SEED,
                                               "rows": rows}, indent=1) + "\n")
    if args.figure:
        save_figure(args.figure, tuple(i for i in args.imagings if not i.endswith(HELD_FIXED)))
        print(f"wrote {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
