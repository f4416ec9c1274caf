"""Every kind of bad input stops with an error naming the file (or CSV row, or flag) and what
was expected, leaves nothing half-written behind, and, where skipping makes sense, is skipped
and counted with skip_bad / --skip-bad.

Fixtures are made in tmp_path (the builders' dummy_data copied and broken one file at a time).
Kinds covered elsewhere: a run directory made with other settings (tests/test_config.py::
test_resume_with_other_model_settings_is_refused), single bad CSV rows (tests/test_target_folder.py),
truncated MPIIGaze/NYU .mat files and wrong-size NYU PNGs (tests/test_real_datasets.py).
"""
from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from simgan_tf import data
from simgan_tf.config import GAZE_IMAGE
from simgan_tf.data import DataError
from simgan_tf.refine import RefineError, main as refine_main, output_path, refine_tfds
from simgan_tf.target_folder import load_labeled_folder
from tfds_builders.common import BadInputError, read_depth_png
from tfds_builders.mpii_gaze import mpii_gaze_dataset_builder as mpii
from tfds_builders.nyu_hand import nyu_hand_dataset_builder as nyu
from tfds_builders.unity_eyes import unity_eyes_dataset_builder as unity

BUILDERS = Path(__file__).resolve().parent.parent / "tfds_builders"
UNITY_DIR = BUILDERS / "unity_eyes" / "dummy_data"
MPII_DIR = BUILDERS / "mpii_gaze" / "dummy_data"
NYU_DIR = BUILDERS / "nyu_hand" / "dummy_data"
H, W, C = GAZE_IMAGE.shape


def copy_fixture(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.parent.name
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.py"))
    return dst


def write_gray(path: Path, size: tuple[int, int] = (W, H), value: int = 100) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size[::-1], value, np.uint8)).save(path)


def truncated_jpeg(path: Path) -> None:
    """A JPEG whose header is intact (Pillow's verify() accepts it) but whose data stops early."""
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (H, W), dtype=np.uint8)).save(path, quality=95)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def logged(caplog, text: str) -> bool:
    return any(text in record.getMessage() for record in caplog.records)


def fake_saved_model(path: Path, shape: tuple) -> Path:
    """A SavedModel with simgan-export's two signatures (identity) for an input of `shape`."""

    class Identity(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, *shape], tf.uint8, name="images")])
        def serve(self, images):
            return {"refined_images": images}

        @tf.function(input_signature=[tf.TensorSpec([None, *shape], tf.float32, name="images")])
        def refine_float(self, images):
            return {"refined_images": images}

    module = Identity()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve,
                                                       "refine_float": module.refine_float})
    return path


def store_tfds(data_dir: Path, name: str, images: np.ndarray, **extra: tuple) -> None:
    """A prepared TFDS dataset `name`/sim with split test: images plus (feature, values) extras."""
    features = {"image": tfds.features.Image(shape=images.shape[1:])}
    values = {"image": images}
    for key, (feature, column) in extra.items():
        features[key], values[key] = feature, column
    tfds.dataset_builders.store_as_tfds_dataset(
        name=name, config="sim", version="1.0.0", data_dir=str(data_dir),
        features=tfds.features.FeaturesDict(features),
        split_datasets={"test": tf.data.Dataset.from_tensor_slices(values)}, disable_shuffling=True,
    )


# --- 1. corrupt or truncated image -------------------------------------------------------------


def test_truncated_image_in_a_folder_is_named_and_skip_bad_counts_it(tmp_path, caplog):
    folder = tmp_path / "real"
    write_gray(folder / "a.png")
    write_gray(folder / "c.png")
    truncated_jpeg(folder / "b.jpg")
    with pytest.raises(DataError, match=r"b\.jpg: not a readable image .*; expected a complete"):
        data.list_image_files(folder)
    with caplog.at_level(logging.WARNING):
        files = data.list_image_files(folder, skip_bad=True)
    assert [Path(f).name for f in files] == ["a.png", "c.png"]
    assert logged(caplog, "skipped 1 of 3 images")
    ds = data.image_dataset(str(folder), "train", GAZE_IMAGE, skip_bad=True)
    assert len(list(ds)) == 2


def test_truncated_labeled_image_names_the_row_and_skip_bad_counts_it(tmp_path):
    for name in ("a.png", "c.png"):
        write_gray(tmp_path / name)
    truncated_jpeg(tmp_path / "b.jpg")
    csv = tmp_path / "labels.csv"
    csv.write_text("a.png,0,0,-1\nb.jpg,0,0,-1\nc.png,0,0,-1\n")
    with pytest.raises(DataError, match=r"labels\.csv row 2 \(file b\.jpg\): .*b\.jpg is not a readable image"):
        load_labeled_folder(tmp_path, csv, GAZE_IMAGE)
    loaded = load_labeled_folder(tmp_path, csv, GAZE_IMAGE, skip_bad=True)
    assert loaded.filenames == ("a.png", "c.png") and len(loaded.skipped) == 1


# --- 2. wrong size or channels ---------------------------------------------------------------------


def test_tfds_images_with_other_channels_are_refused(tmp_path):
    store_tfds(tmp_path, "rgb_fixture", np.zeros((2, H, W, 3), np.uint8))
    with pytest.raises(DataError, match=r"rgb_fixture/sim has 3-channel images; the preset expects 1"):
        data.raw_dataset("rgb_fixture/sim", "test", GAZE_IMAGE, data_dir=str(tmp_path))


def test_cmyk_jpeg_in_a_folder_is_named(tmp_path):
    write_gray(tmp_path / "a.png")
    Image.fromarray(np.full((H, W, 4), 100, np.uint8), mode="CMYK").save(tmp_path / "print.jpg")
    with pytest.raises(DataError, match=r"print\.jpg: is a CMYK JPEG, which TensorFlow cannot decode; "
                                        r"expected a grayscale or RGB image"):
        data.list_image_files(tmp_path)
    assert [Path(f).name for f in data.list_image_files(tmp_path, skip_bad=True)] == ["a.png"]


def test_model_with_unsupported_channels_stops_before_reading_a_file(tmp_path, capsys):
    model = fake_saved_model(tmp_path / "model", (H, W, 4))
    write_gray(tmp_path / "in" / "a.png")
    out = tmp_path / "out"
    assert refine_main([str(model), str(tmp_path / "in"), str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"MODEL {model}" in err and f"[batch, {H}, {W}, 4]" in err and "1 (grayscale) or 3 (RGB)" in err
    assert not out.exists()


# --- 3. empty folder ---------------------------------------------------------------------------------


def test_empty_folders_are_named(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    named = re.escape(str(empty))
    with pytest.raises(DataError, match=rf"image folder {named} holds no images: expected files ending in"):
        data.image_dataset(str(empty), "train", GAZE_IMAGE)
    with pytest.raises(BadInputError, match=rf"{named}: holds no \.jpg/\.json files; expected UnityEyes"):
        list(unity.generate_examples(empty, "train"))
    with pytest.raises(BadInputError, match=rf"{named}: holds no dataset in any of"):
        unity.find_root(empty)


# --- 4. UnityEyes JSON with a missing key or a non-numeric point -------------------------------------


def test_unity_missing_landmarks_are_named_and_skip_bad_counts_them(tmp_path, caplog):
    folder = copy_fixture(UNITY_DIR, tmp_path)
    text = (folder / "3.json").read_text()
    (folder / "3.json").write_text(text.replace('"iris_2d"', '"iris_2d_renamed"'))
    with pytest.raises(BadInputError, match=r"3\.json: 'iris_2d' is missing or empty; expected UnityEyes JSON"):
        list(unity.generate_examples(folder, "train"))
    with caplog.at_level(logging.WARNING):
        keys = [k for k, _ in unity.generate_examples(folder, "train", skip_bad=True)]
    assert keys == ["1", "2", "4"] and logged(caplog, "skipped 1 of 4 UnityEyes renders")


def test_unity_non_numeric_point_is_named(tmp_path):
    folder = copy_fixture(UNITY_DIR, tmp_path)
    path = folder / "4.json"
    data_text = path.read_text()
    first = data_text.index('"(', data_text.index("interior_margin_2d"))
    end = data_text.index(')"', first) + 2
    path.write_text(data_text[:first] + '"(58.0, abc, 9.0)"' + data_text[end:])
    with pytest.raises(BadInputError, match=r"4\.json: interior_margin_2d\[0\] holds a non-number \('\(58\.0, abc"):
        list(unity.generate_examples(folder, "train"))
    assert [k for k, _ in unity.generate_examples(folder, "train", skip_bad=True)] == ["1", "2", "3"]


# --- 5. JSON of another schema; a failed TFDS preparation leaves nothing prepared ---------------------


def test_unityeyes2_json_is_named_as_another_format_and_nothing_is_prepared(tmp_path):
    folder = copy_fixture(UNITY_DIR, tmp_path)
    (folder / "2.json").write_text('{"ground_truth": {"iris_center": [1, 2], "gaze_vec": [0, 0, -1]}}')
    with pytest.raises(BadInputError, match=r"2\.json: is not a UnityEyes annotation: top-level keys ground_truth "
                                            r"\(the UnityEyes2 fork's format"):
        unity.load_example(folder / "2.jpg", folder / "2.json")

    data_dir = tmp_path / "tfds"
    with pytest.raises(DataError, match=r"dataset unity_eyes: .*2\.json: is not a UnityEyes.*pass --skip-bad"):
        data.load_tfds_builder("unity_eyes", str(data_dir), str(folder))
    leftovers = [p for p in data_dir.rglob("*") if p.is_dir() and ("incomplete" in p.name or p.name == "1.0.0")]
    assert leftovers == []
    assert not tfds.builder("unity_eyes", data_dir=data_dir).is_prepared()

    builder = data.load_tfds_builder("unity_eyes", str(data_dir), str(folder), skip_bad=True)
    assert builder.info.splits["train"].num_examples == 3


def test_refine_names_the_bad_source_file_and_skip_bad_prepares_the_rest(tmp_path, capsys):
    folder = copy_fixture(UNITY_DIR, tmp_path)
    (folder / "2.json").write_text('{"ground_truth": {}}')
    model = fake_saved_model(tmp_path / "model", (H, W, C))
    argv = [str(model), "tfds:unity_eyes:train", str(tmp_path / "out"), "--data-dir", str(tmp_path / "tfds"),
            "--manual-dir", str(folder), "--quiet"]
    assert refine_main(argv) == 2
    assert "2.json: is not a UnityEyes annotation" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert refine_main([*argv, "--skip-bad"]) == 0
    assert len(list((tmp_path / "out").glob("*.png"))) == 3


# --- 6. truncated or wrong-shape .mat ---------------------------------------------------------------


def test_nyu_joint_data_of_the_wrong_shape_is_named(tmp_path):
    root = copy_fixture(NYU_DIR, tmp_path)
    mat = root / "train" / "joint_data.mat"
    uvd = scipy.io.loadmat(mat)["joint_uvd"]
    scipy.io.savemat(mat, {"joint_uvd": uvd[:, :, :14]})
    with pytest.raises(BadInputError, match=r"train/joint_data\.mat: joint_uvd has shape \(3, 2, 14, 3\); "
                                            r"expected NYU joint_data\.mat"):
        list(nyu.generate_examples(root / "train", "depth"))


def test_nyu_non_finite_joints_name_the_frame_and_skip_bad_skips_it(tmp_path):
    root = copy_fixture(NYU_DIR, tmp_path)
    mat = root / "train" / "joint_data.mat"
    contents = {k: v for k, v in scipy.io.loadmat(mat).items() if not k.startswith("__")}
    contents["joint_uvd"][0, 1, 0, 0] = np.nan  # frame 2, joint 0 (an evaluation joint)
    scipy.io.savemat(mat, contents)
    with pytest.raises(BadInputError, match=r"joint_data\.mat: joint_uvd of frame 2 is not finite"):
        list(nyu.generate_examples(root / "train", "depth"))
    assert [k for k, _ in nyu.generate_examples(root / "train", "depth", skip_bad=True)] == ["0000001"]


def test_mpii_mat_without_its_variables_is_named(tmp_path):
    root = copy_fixture(MPII_DIR, tmp_path)
    mat = root / "Data" / "Normalized" / "p00" / "day02.mat"
    scipy.io.savemat(mat, {"model": np.zeros((3, 6))})  # a MATLAB file of another kind
    with pytest.raises(BadInputError, match=r"p00/day02\.mat: variable 'data' is missing; expected an MPIIGaze"):
        list(mpii.all_examples(root))
    assert len(list(mpii.all_examples(root, skip_bad=True))) == 12 - 2


# --- 7. NYU PNG that is not G * 256 + B depth --------------------------------------------------------


def test_grayscale_picture_is_not_read_as_packed_depth(tmp_path):
    gray = np.zeros((480, 640, 3), np.uint8)
    gray[200:250, 300:350] = 180  # R = G = B: a depth visualisation saved as RGB
    Image.fromarray(gray, mode="RGB").save(tmp_path / "depth_1_0000001.png")
    with pytest.raises(BadInputError, match=r"depth_1_0000001\.png: has R = G = B on every pixel.*expected depth "
                                            r"in mm packed as G \* 256 \+ B"):
        read_depth_png(tmp_path / "depth_1_0000001.png", (640, 480))
    # Named like NYU frames but 389 x 389 RGBA renderings (seen in a public repository).
    Image.fromarray(np.full((389, 389, 4), 90, np.uint8), mode="RGBA").save(tmp_path / "depth_1_0000002.png")
    with pytest.raises(BadInputError, match=r"depth_1_0000002\.png: has colour mode RGBA; expected an 8-bit RGB"):
        read_depth_png(tmp_path / "depth_1_0000002.png", (640, 480))


def test_far_fill_in_a_synthetic_frame_is_background(tmp_path):
    root = copy_fixture(NYU_DIR, tmp_path)
    synth = root / "train" / "synthdepth_1_0000001.png"
    rgb = np.asarray(Image.open(synth)).copy()
    empty = (rgb[..., 1].astype(int) * 256 + rgb[..., 2]) == 0
    rgb[empty, 1], rgb[empty, 2] = nyu.NO_READING_MM // 256, nyu.NO_READING_MM % 256
    Image.fromarray(rgb, mode="RGB").save(synth)
    example = dict(nyu.generate_examples(root / "train", "synthdepth"))["0000001"]
    np.testing.assert_allclose(example["crop_box"], [295, 195, 60, 60])  # the hand's box, not the frame's
    assert example["depth_center_mm"] == 720.0 and example["image"][112, 0, 0] == nyu.BACKGROUND


# --- 8. label CSV: wrong header; every bad row skipped and counted with skip_bad ---------------------


def test_csv_header_with_other_column_names_is_named(tmp_path):
    write_gray(tmp_path / "a.png")
    csv = tmp_path / "labels.csv"
    csv.write_text("file,gx,gy,gz\na.png,0,0,-1\n")
    with pytest.raises(DataError, match=r"labels\.csv row 1: header 'file,gx,gy,gz' has other column names; "
                                        r"expected the header filename,x,y,z"):
        load_labeled_folder(tmp_path, csv, GAZE_IMAGE)


def test_bad_csv_rows_are_skipped_and_counted(tmp_path):
    names = ["a.png", "b.png", "c.png", "d.png", "e.png"]
    for name in names:
        write_gray(tmp_path / name)
    csv = tmp_path / "labels.csv"
    csv.write_text("filename,x,y,z\na.png,0,0,-1\nb.png,0,up,-1\nc.png,nan,0,-1\nd.png,0,0,0\n"
                   "e.png,0.1,0,-1,extra\na.png,0,0,-1\n")
    with pytest.raises(DataError, match=r"labels\.csv row 3 \(file b\.png\): gaze '0,up,-1' is not three numbers"):
        load_labeled_folder(tmp_path, csv, GAZE_IMAGE)
    loaded = load_labeled_folder(tmp_path, csv, GAZE_IMAGE, skip_bad=True)
    assert loaded.filenames == ("a.png",)
    # 5 bad rows (non-number, NaN, zero, 5 columns, duplicate) + 4 images left without a row
    assert len(loaded.skipped) == 9
    assert any("row 7 (file a.png): duplicate of row 2" in s for s in loaded.skipped)


# --- 9. images vs labels count mismatch --------------------------------------------------------------


def test_images_without_a_csv_row_are_named(tmp_path):
    for name in ("a.png", "b.png", "sub/c.png"):
        write_gray(tmp_path / name)
    csv = tmp_path / "labels.csv"
    csv.write_text("a.png,0,0,-1\n")
    expected = (f"{tmp_path}: 2 images are not listed in {csv} (b.png, sub/c.png); "
                "expected one CSV row per image")
    with pytest.raises(DataError, match=re.escape(expected)):
        load_labeled_folder(tmp_path, csv, GAZE_IMAGE)
    loaded = load_labeled_folder(tmp_path, csv, GAZE_IMAGE, skip_bad=True)
    assert loaded.filenames == ("a.png",) and len(loaded.skipped) == 2


def test_nyu_frames_beyond_joint_data_are_named(tmp_path, caplog):
    root = copy_fixture(NYU_DIR, tmp_path)
    shutil.copy(root / "train" / "depth_1_0000002.png", root / "train" / "depth_1_0000003.png")
    with pytest.raises(BadInputError, match=r"train/joint_data\.mat: labels 2 frames but 1 more are on disk "
                                            r"\(first: depth_1_0000003\.png\)"):
        list(nyu.generate_examples(root / "train", "depth"))
    with caplog.at_level(logging.WARNING):
        keys = [k for k, _ in nyu.generate_examples(root / "train", "depth", skip_bad=True)]
    assert keys == ["0000001", "0000002"] and logged(caplog, "skipping 1 unlabelled frames")


def test_mpii_list_entry_missing_from_its_day_is_named(tmp_path):
    root = copy_fixture(MPII_DIR, tmp_path)
    (root / mpii.EVAL_LIST_DIR / "p01.txt").write_text("day01/0002.jpg left\nday01/0099.jpg right\n")
    with pytest.raises(BadInputError, match=r"p01\.txt:2: day01/0099\.jpg is not in p01/day01\.mat"):
        list(mpii.eval_subset_examples(root))
    kept = [k for k, _ in mpii.eval_subset_examples(root, skip_bad=True)]
    assert kept == ["p00/00001", "p00/00002", "p00/00003", "p01/00001"]


# --- 10. an exported model of another input shape passed to simgan-refine -----------------------------


def test_model_for_another_image_size_writes_nothing(tmp_path, capsys):
    model = fake_saved_model(tmp_path / "hand_model", (224, 224, 1))
    for name in ("a.png", "b.png"):
        write_gray(tmp_path / "in" / name)
    out = tmp_path / "out"
    assert refine_main([str(model), str(tmp_path / "in"), str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "a.png" in err and f"image is {H} x {W} (H x W); the model expects 224 x 224" in err and "--resize" in err
    assert "2 of 2 images failed (named above); none was written" in err
    assert list(out.rglob("*.png")) == []

    store_tfds(tmp_path / "tfds", "eyes_fixture", np.zeros((3, H, W, C), np.uint8))
    tfds_out = tmp_path / "tfds_out"
    argv = [str(model), "tfds:eyes_fixture/sim:test", str(tfds_out), "--data-dir", str(tmp_path / "tfds"), "--quiet"]
    assert refine_main(argv) == 2
    assert f"INPUT tfds:eyes_fixture/sim:test: images are ({H}, {W})" in capsys.readouterr().err
    assert not tfds_out.exists()


def test_saved_model_with_unknown_dims_is_refused(tmp_path, capsys):
    model = fake_saved_model(tmp_path / "model", (None, None, 1))
    write_gray(tmp_path / "in" / "a.png")
    assert refine_main([str(model), str(tmp_path / "in"), str(tmp_path / "out"), "--quiet"]) == 2
    assert f"{model}: input images has unknown dims" in capsys.readouterr().err


# --- 11. output paths that would leave the output folder -------------------------------------------


def test_csv_filename_leaving_the_folder_is_named(tmp_path):
    write_gray(tmp_path / "outside.png")
    folder = tmp_path / "labeled"
    write_gray(folder / "a.png")
    csv = folder / "labels.csv"
    csv.write_text("a.png,0,0,-1\n../outside.png,0,0,-1\n")
    with pytest.raises(DataError, match=r"row 2 \(file \.\./outside\.png\): filename leaves the image folder"):
        load_labeled_folder(folder, csv, GAZE_IMAGE)


def test_output_names_never_leave_the_output_folder(tmp_path):
    out = tmp_path / "out"
    assert output_path(out, "sub/a.png") == out / "sub" / "a.png"
    for name in ("../escape.png", "sub/../../escape.png", str(tmp_path / "abs.png")):
        with pytest.raises(RefineError, match="would be written outside OUTPUT_DIR"):
            output_path(out, name)


def test_tfds_file_name_never_picks_an_output_path(tmp_path):
    model = fake_saved_model(tmp_path / "model", (H, W, C))
    names = np.array([b"../../escape.png", b"/tmp/abs.png"])
    store_tfds(tmp_path / "tfds", "named_fixture", np.zeros((2, H, W, C), np.uint8),
               file_name=(tfds.features.Text(), names))
    out = tmp_path / "run" / "out"
    argv = [str(model), "tfds:named_fixture/sim:test", str(out), "--data-dir", str(tmp_path / "tfds"), "--quiet"]
    assert refine_main(argv) == 0
    assert sorted(p.name for p in out.iterdir()) == ["00000000.png", "00000001.png", "labels.jsonl"]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["out"]
    assert '"file_name": "../../escape.png"' in (out / "labels.jsonl").read_text()


# --- 12. a refine run that stops early leaves no complete-looking labels file --------------------------


class FailsOnSecondBatch:
    image_shape = (H, W, C)

    def __init__(self) -> None:
        self.calls = 0

    def refine_uint8(self, images):
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("device lost")
        return np.asarray(images)


def test_interrupted_tfds_refine_leaves_no_labels_file(tmp_path):
    store_tfds(tmp_path / "tfds", "long_fixture", np.zeros((5, H, W, C), np.uint8))
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="device lost"):
        refine_tfds(FailsOnSecondBatch(), "tfds:long_fixture/sim:test", out, batch_size=2,
                    data_dir=str(tmp_path / "tfds"), progress=False)
    assert not (out / "labels.jsonl").exists()
