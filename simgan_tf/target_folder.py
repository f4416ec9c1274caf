"""Bring your own labeled eye images: a folder of images plus a CSV of 3-D gaze vectors.

Why: the gaze experiment must run on a user's own camera crops, not only on the embedded
procedural data. The CSV format is one row per image, `filename,x,y,z` (an optional header
row `filename,x,y,z` is recognised), with `filename` relative to the folder and (x, y, z)
the gaze vector in the MPIIGaze camera convention (see `tfds_builders.gaze_geometry`). Every
problem is reported with the CSV row number (1-based, as a text editor shows it) and the
file it concerns, because a bad row in a hand-made CSV is the most likely failure.
"""
from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simgan_tf.config import ImageSpec
from simgan_tf.data import IMAGE_EXTENSIONS, DataError

CSV_COLUMNS = ("filename", "x", "y", "z")


@dataclass(frozen=True)
class LabeledImages:
    """Images (uint8, N x H x W x C) with their unit gaze vectors (float32, N x 3)."""

    images: np.ndarray
    gaze: np.ndarray
    filenames: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.images)


def _is_header(row: list[str]) -> bool:
    return [c.strip().lower() for c in row] == list(CSV_COLUMNS)


def read_gaze_csv(labels_csv: str | os.PathLike) -> list[tuple[int, str, np.ndarray]]:
    """Parse the CSV into (row number, filename, unit gaze vector) triples, validating each row."""
    path = Path(labels_csv)
    if not path.is_file():
        raise DataError(f"{path}: gaze label CSV not found; expected a file with rows 'filename,x,y,z'")
    rows: list[tuple[int, str, np.ndarray]] = []
    seen: dict[str, int] = {}
    with path.open(newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or all(not c.strip() for c in row):
                continue
            if number == 1 and _is_header(row):
                continue
            where = f"{path} row {number}"
            if len(row) != 4:
                raise DataError(
                    f"{where}: has {len(row)} columns ({','.join(row)!r}); expected 4: filename,x,y,z"
                )
            name = row[0].strip()
            if not name:
                raise DataError(f"{where}: empty filename; expected filename,x,y,z")
            try:
                vector = np.array([float(c) for c in row[1:]], dtype=np.float64)
            except ValueError as err:
                raise DataError(
                    f"{where} (file {name}): gaze '{','.join(row[1:])}' is not three numbers ({err}); "
                    "expected filename,x,y,z with numeric x, y, z"
                ) from err
            if not all(math.isfinite(v) for v in vector):
                raise DataError(f"{where} (file {name}): gaze {vector.tolist()} is not finite")
            norm = float(np.linalg.norm(vector))
            if norm == 0.0:
                raise DataError(f"{where} (file {name}): gaze vector is zero; its direction is undefined")
            if name in seen:
                raise DataError(f"{where} (file {name}): duplicate of row {seen[name]}")
            seen[name] = number
            rows.append((number, name, (vector / norm).astype(np.float32)))
    if not rows:
        raise DataError(f"{path}: no label rows; expected one row 'filename,x,y,z' per image")
    return rows


def _load_image(path: Path, image: ImageSpec, where: str) -> np.ndarray:
    """Decode one image to uint8 H x W x C of the preset's size (area resize, like data.py)."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise DataError(f"{where}: image file {path} not found")
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise DataError(f"{where}: {path} is not an image file; expected one of {', '.join(IMAGE_EXTENSIONS)}")
    mode = {1: "L", 3: "RGB"}.get(image.channels)
    if mode is None:
        raise DataError(f"{where}: images with {image.channels} channels are not supported; expected 1 or 3")
    try:
        with Image.open(path) as img:
            img = img.convert(mode)
            if img.size != (image.width, image.height):
                img = img.resize((image.width, image.height), Image.BOX)
            array = np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise DataError(f"{where}: {path} is not a readable image ({err}); expected PNG/JPEG/BMP/GIF") from err
    return array.reshape(image.height, image.width, image.channels)


def load_labeled_folder(
    folder: str | os.PathLike, labels_csv: str | os.PathLike, image: ImageSpec
) -> LabeledImages:
    """Load every image listed in `labels_csv` (relative to `folder`) with its gaze vector.

    Gaze vectors are normalised to unit length. Images are converted to the preset's
    channels and resized to its H x W when they differ.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: labeled image folder not found")
    rows = read_gaze_csv(labels_csv)
    images, gaze, names = [], [], []
    for number, name, vector in rows:
        where = f"{labels_csv} row {number} (file {name})"
        images.append(_load_image(root / name, image, where))
        gaze.append(vector)
        names.append(name)
    return LabeledImages(np.stack(images), np.stack(gaze).astype(np.float32), tuple(names))


def load_image_folder(folder: str | os.PathLike, image: ImageSpec, limit: int | None = None) -> np.ndarray:
    """All images of a folder (recursive, sorted; at most `limit`) as uint8 N x H x W x C."""
    from simgan_tf.data import list_image_files

    files = list_image_files(folder)[: limit or None]
    return np.stack([_load_image(Path(f), image, f"{folder}") for f in files])


def write_labeled_folder(
    folder: str | os.PathLike, images: np.ndarray, gaze: np.ndarray, csv_name: str = "labels.csv"
) -> Path:
    """Write uint8 images as PNGs plus the CSV `load_labeled_folder` reads; returns the CSV path.

    Used by tests and to export a labeled split for inspection.
    """
    from PIL import Image

    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    csv_path = root / csv_name
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for index, (img, vec) in enumerate(zip(images, gaze)):
            name = f"{index:06d}.png"
            Image.fromarray(np.asarray(img, np.uint8).squeeze(-1) if img.shape[-1] == 1 else np.asarray(img, np.uint8)).save(root / name)
            writer.writerow([name, *(f"{float(v):.7f}" for v in vec)])
    return csv_path


__all__ = ["CSV_COLUMNS", "LabeledImages", "load_image_folder", "load_labeled_folder", "read_gaze_csv", "write_labeled_folder"]
