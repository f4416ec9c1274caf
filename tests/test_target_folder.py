"""Bring-your-own target domain: folder of images + CSV of filename,x,y,z."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from simgan_tf.config import GAZE_IMAGE, ImageSpec
from simgan_tf.data import DataError
from simgan_tf.target_folder import load_image_folder, load_labeled_folder, read_gaze_csv, write_labeled_folder


def _folder(tmp_path, rows: list[str], images=("a.png", "b.png"), size=(55, 35)):
    for name in images:
        Image.fromarray(np.full(size[::-1], 100, np.uint8)).save(tmp_path / name)
    csv = tmp_path / "labels.csv"
    csv.write_text("\n".join(rows) + "\n")
    return csv


def test_round_trip_with_header_normalises_gaze(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 35, 55, 1), dtype=np.uint8)
    gaze = rng.normal(size=(5, 3)) * 3.0
    csv = write_labeled_folder(tmp_path, images, gaze)
    loaded = load_labeled_folder(tmp_path, csv, GAZE_IMAGE)
    assert loaded.images.dtype == np.uint8 and loaded.images.shape == (5, 35, 55, 1)
    np.testing.assert_array_equal(loaded.images, images)
    np.testing.assert_allclose(loaded.gaze, gaze / np.linalg.norm(gaze, axis=1, keepdims=True), atol=1e-6)
    assert loaded.filenames == tuple(f"{i:06d}.png" for i in range(5))


def test_headerless_csv_and_resize(tmp_path):
    csv = _folder(tmp_path, ["a.png,0,0,-1", "b.png,0.1,-0.2,-0.9"], size=(110, 70))
    loaded = load_labeled_folder(tmp_path, csv, GAZE_IMAGE)
    assert loaded.images.shape == (2, 35, 55, 1)
    assert loaded.images[0, 10, 10, 0] == 100


@pytest.mark.parametrize(
    "rows, expected",
    [
        (["filename,x,y,z", "a.png,0,0,-1", "b.png,0,0"], r"labels.csv row 3: has 3 columns .*expected 4"),
        (["a.png,0,0,-1", "b.png,0,up,-1"], r"labels.csv row 2 \(file b.png\): gaze .* is not three numbers"),
        (["a.png,0,0,-1", "b.png,0,0,0"], r"labels.csv row 2 \(file b.png\): gaze vector is zero"),
        (["a.png,0,0,-1", "b.png,nan,0,-1"], r"labels.csv row 2 \(file b.png\): gaze .* not finite"),
        (["a.png,0,0,-1", "a.png,0,0,-1"], r"labels.csv row 2 \(file a.png\): duplicate of row 1"),
        (["a.png,0,0,-1", "missing.png,0,0,-1"], r"labels.csv row 2 \(file missing.png\): image file .* not found"),
        (["a.png,0,0,-1", ",0,0,-1"], r"labels.csv row 2: empty filename"),
        (["filename,x,y,z"], r"labels.csv: no label rows"),
    ],
)
def test_bad_rows_name_the_row_and_file(tmp_path, rows, expected):
    csv = _folder(tmp_path, rows)
    with pytest.raises(DataError, match=expected):
        load_labeled_folder(tmp_path, csv, GAZE_IMAGE)


def test_corrupt_image_names_the_row(tmp_path):
    csv = _folder(tmp_path, ["a.png,0,0,-1", "b.png,0,0,-1"])
    (tmp_path / "b.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"row 2 \(file b.png\): .*b.png is not a readable image"):
        load_labeled_folder(tmp_path, csv, GAZE_IMAGE)


def test_missing_csv_and_folder(tmp_path):
    with pytest.raises(DataError, match="gaze label CSV not found"):
        read_gaze_csv(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="labeled image folder not found"):
        load_labeled_folder(tmp_path / "nope", tmp_path / "nope.csv", GAZE_IMAGE)


def test_unlabeled_folder_loader(tmp_path):
    _folder(tmp_path, [], images=("x.png", "y.jpg", "z.png"))
    images = load_image_folder(tmp_path, ImageSpec(35, 55, 1), limit=2)
    assert images.shape == (2, 35, 55, 1) and images.dtype == np.uint8
    with pytest.raises(DataError, match="holds no images"):
        load_image_folder(tmp_path / "empty_sub" if (tmp_path / "empty_sub").mkdir() is None else tmp_path, GAZE_IMAGE)
