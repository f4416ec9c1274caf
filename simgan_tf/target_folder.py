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
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np

from simgan_tf.config import ImageSpec
from simgan_tf.data import IMAGE_EXTENSIONS, DataError

CSV_COLUMNS = ("filename", "x", "y", "z")
log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class LabeledImages:
    """Images (uint8, N x H x W x C) with their unit gaze vectors (float32, N x 3).

    `skipped` holds one message per CSV row or image left out with skip_bad=True.
    """

    images: np.ndarray
    gaze: np.ndarray
    filenames: tuple[str, ...]
    skipped: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.images)


def _is_header(row: list[str]) -> bool:
    return [c.strip().lower() for c in row] == list(CSV_COLUMNS)


def _looks_like_header(row: list[str]) -> bool:
    """A first row whose x, y, z cells are all words: a header with other column names."""
    return len(row) >= 2 and all(c.strip() and not _is_number(c) for c in row[1:])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_row(row: list[str], where: str, seen: dict[str, int]) -> tuple[str, np.ndarray]:
    """One CSV row -> (filename, unit gaze vector); DataError naming `where` and the file."""
    if len(row) != 4:
        raise DataError(f"{where}: has {len(row)} columns ({','.join(row)!r}); expected 4: filename,x,y,z")
    name = row[0].strip()
    if not name:
        raise DataError(f"{where}: empty filename; expected filename,x,y,z")
    where = f"{where} (file {name})"
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise DataError(f"{where}: filename leaves the image folder; expected a path inside it, without '..'")
    try:
        vector = np.array([float(c) for c in row[1:]], dtype=np.float64)
    except ValueError as err:
        raise DataError(
            f"{where}: gaze '{','.join(row[1:])}' is not three numbers ({err}); "
            "expected filename,x,y,z with numeric x, y, z"
        ) from err
    if not all(math.isfinite(v) for v in vector):
        raise DataError(f"{where}: gaze {vector.tolist()} is not finite; expected three finite numbers")
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:
        raise DataError(f"{where}: gaze vector is zero; its direction is undefined; expected a non-zero vector")
    if name in seen:
        raise DataError(f"{where}: duplicate of row {seen[name]}; expected one row per image")
    return name, (vector / norm).astype(np.float32)


def _each_good(items: list[T], convert: Callable[[T], R], skip_bad: bool, skipped: list[str]) -> list[tuple[T, R]]:
    """(item, convert(item)) for each item; a DataError stops, or with skip_bad is logged and kept in `skipped`."""
    good = []
    for item in items:
        try:
            good.append((item, convert(item)))
        except DataError as err:
            if not skip_bad:
                raise
            skipped.append(str(err))
            log.warning("skipping %s", err)
    return good


def _read_rows(path: Path, skip_bad: bool) -> tuple[list[tuple[int, str, np.ndarray]], list[str]]:
    """(row number, filename, unit gaze) of every good row, and the messages of skipped ones."""
    with path.open(newline="") as handle:
        numbered = [(n, row) for n, row in enumerate(csv.reader(handle), start=1)
                    if row and any(c.strip() for c in row)]
    if numbered and numbered[0][0] == 1:
        first = numbered[0][1]
        if _is_header(first):
            numbered = numbered[1:]
        elif _looks_like_header(first):
            raise DataError(
                f"{path} row 1: header {','.join(first)!r} has other column names; "
                f"expected the header {','.join(CSV_COLUMNS)} (or no header)"
            )
    seen: dict[str, int] = {}

    def parse(item: tuple[int, list[str]]) -> tuple[str, np.ndarray]:
        number, row = item
        name, vector = _parse_row(row, f"{path} row {number}", seen)
        seen[name] = number
        return name, vector

    skipped: list[str] = []
    good = _each_good(numbered, parse, skip_bad, skipped)
    return [(number, name, vector) for (number, _), (name, vector) in good], skipped


def read_gaze_csv(labels_csv: str | os.PathLike, skip_bad: bool = False) -> list[tuple[int, str, np.ndarray]]:
    """Parse the CSV into (row number, filename, unit gaze vector) triples, validating each row.

    With `skip_bad` a malformed row is logged and left out instead of stopping the load.
    """
    path = _csv_file(labels_csv)
    rows, _ = _read_rows(path, skip_bad)
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
    mode = _pil_mode(image)
    try:
        with Image.open(path) as img:
            img = img.convert(mode)
            if img.size != (image.width, image.height):
                img = img.resize((image.width, image.height), Image.BOX)
            array = np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise DataError(f"{where}: {path} is not a readable image ({err}); expected PNG/JPEG/BMP/GIF") from err
    return array.reshape(image.height, image.width, image.channels)


def _pil_mode(image: ImageSpec) -> str:
    """Pillow's mode for the preset's channel count (grayscale or RGB; nothing else is read)."""
    mode = {1: "L", 3: "RGB"}.get(image.channels)
    if mode is None:
        raise DataError(f"image preset {image.shape}: {image.channels} channels are not supported; expected 1 or 3")
    return mode


def _unlisted_images(root: Path, listed: set[str]) -> list[str]:
    """Image files under `root` (recursive) that no CSV row names, as relative POSIX paths."""
    on_disk = (p.relative_to(root).as_posix() for p in root.rglob("*")
               if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    return sorted(name for name in on_disk if name not in listed)


def _check_counts(root: Path, labels_csv: str | os.PathLike, listed: set[str], skip_bad: bool) -> list[str]:
    """Images the CSV does not list are an error (with skip_bad: left out, one message each).

    A folder with more images than label rows usually means a CSV from another folder or an
    export cut short; training on the listed subset would hide that.
    """
    unlisted = _unlisted_images(root, listed)
    if not unlisted:
        return []
    shown = ", ".join(unlisted[:3]) + (", ..." if len(unlisted) > 3 else "")
    message = (f"{root}: {len(unlisted)} images are not listed in {labels_csv} ({shown}); "
               f"expected one CSV row per image ({len(listed)} rows)")
    if not skip_bad:
        raise DataError(message)
    log.warning("skipping %s", message)
    return [f"{root / name}: not listed in {labels_csv}" for name in unlisted]


def _csv_file(labels_csv: str | os.PathLike) -> Path:
    path = Path(labels_csv)
    if not path.is_file():
        raise DataError(f"{path}: gaze label CSV not found; expected a file with rows 'filename,x,y,z'")
    return path


def load_labeled_folder(
    folder: str | os.PathLike, labels_csv: str | os.PathLike, image: ImageSpec, skip_bad: bool = False
) -> LabeledImages:
    """Load every image listed in `labels_csv` (relative to `folder`) with its gaze vector.

    Gaze vectors are normalised to unit length. Images are converted to the preset's
    channels and resized to its H x W when they differ. Every image in the folder must have
    a row. With `skip_bad`, bad rows and missing, unreadable or unlisted images are left out
    and reported in `skipped` instead of stopping the load.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: labeled image folder not found")
    _pil_mode(image)
    rows, skipped = _read_rows(_csv_file(labels_csv), skip_bad)
    if not rows:
        problem = f"all {len(skipped)} label rows are bad" if skipped else "no label rows"
        raise DataError(f"{labels_csv}: {problem}; expected one row 'filename,x,y,z' per image")

    def where(number: int, name: str) -> str:
        return f"{labels_csv} row {number} (file {name})"

    def require_file(row: tuple[int, str, np.ndarray]) -> None:
        number, name, _ = row
        if not (root / name).is_file():
            raise DataError(f"{where(number, name)}: image file {root / name} not found")

    # Cheap checks (files exist, none unlisted) before decoding anything.
    present = [row for row, _ in _each_good(rows, require_file, skip_bad, skipped)]
    skipped += _check_counts(root, labels_csv, {Path(name).as_posix() for _, name, _ in rows}, skip_bad)
    decoded = _each_good(present, lambda r: _load_image(root / r[1], image, where(r[0], r[1])), skip_bad, skipped)
    if not decoded:
        raise DataError(f"{labels_csv}: none of its {len(rows)} images could be read; expected readable images")
    if skipped:
        log.warning("skipped %d bad rows or images of %s (skip_bad)", len(skipped), labels_csv)
    return LabeledImages(
        np.stack([img for _, img in decoded]),
        np.stack([row[2] for row, _ in decoded]).astype(np.float32),
        tuple(row[1] for row, _ in decoded),
        tuple(skipped),
    )


def load_image_folder(
    folder: str | os.PathLike, image: ImageSpec, limit: int | None = None, skip_bad: bool = False
) -> np.ndarray:
    """All images of a folder (recursive, sorted; at most `limit`) as uint8 N x H x W x C.

    With `skip_bad` unreadable files are logged and left out (see `data.list_image_files`).
    """
    from simgan_tf.data import list_image_files

    files = list_image_files(folder, skip_bad)[: limit or None]
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
