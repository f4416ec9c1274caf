"""Real-data builders (UnityEyes, MPIIGaze, NYU hand): pixels and labels against hand-computed values.

The fixtures are the builders' committed dummy_data/ folders (see each make_dummy_data.py for
the geometry the expected numbers below are derived from). Bad-file tests copy a fixture into
tmp_path and break one file.
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import tensorflow_datasets as tfds
from PIL import Image

import tfds_builders.mpii_gaze  # noqa: F401  (registers mpii_gaze)
import tfds_builders.nyu_hand  # noqa: F401  (registers nyu_hand)
import tfds_builders.unity_eyes  # noqa: F401  (registers unity_eyes)
from simgan_tf.config import GAZE_IMAGE, HAND_IMAGE
from tfds_builders.gaze_geometry import pitch_yaw_to_vector
from tfds_builders.common import BadInputError, CropBox, crop_and_resize, parse_vector, read_depth_png
from tfds_builders.mpii_gaze import mpii_gaze_dataset_builder as mpii
from tfds_builders.nyu_hand import nyu_hand_dataset_builder as nyu
from tfds_builders.unity_eyes import unity_eyes_dataset_builder as unity

BUILDERS = Path(__file__).resolve().parent.parent / "tfds_builders"
UNITY_DIR = BUILDERS / "unity_eyes" / "dummy_data"
MPII_DIR = BUILDERS / "mpii_gaze" / "dummy_data"
NYU_DIR = BUILDERS / "nyu_hand" / "dummy_data"
PI_6 = math.pi / 6


def copy_fixture(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.parent.name
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.py"))
    return dst


# --- shared helpers ---------------------------------------------------------------------------


def test_parse_vector_reads_unity_strings_and_names_bad_ones():
    np.testing.assert_array_equal(parse_vector("(1.5000, -2.0000, 3.2500)", 3, "a.json", "x"), [1.5, -2.0, 3.25])
    with pytest.raises(BadInputError, match=r"a\.json: eye_details\.look_vec has 3 values"):
        parse_vector("(1, 2, 3)", 4, "a.json", "eye_details.look_vec")
    with pytest.raises(BadInputError, match=r"a\.json: iris_2d\[0\] holds a non-number"):
        parse_vector("(1, __import__, 3)", 3, "a.json", "iris_2d[0]")


def test_crop_and_resize_box_filter_averages_each_block():
    image = np.arange(64, dtype=np.float32).reshape(8, 8)  # value = 8 * row + col
    out = crop_and_resize(image, CropBox(2, 2, 4, 4), 2, 2, "box")
    # Output pixel (0, 0) averages rows 2-3, cols 2-3: (18 + 19 + 26 + 27) / 4 = 22.5, etc.
    np.testing.assert_allclose(out, [[22.5, 24.5], [38.5, 40.5]])


def test_crop_and_resize_fills_outside_with_pad_value_or_edge():
    image = np.arange(64, dtype=np.float32).reshape(8, 8)
    padded = crop_and_resize(image, CropBox(-2, -2, 4, 4), 2, 2, "box", pad_value=100.0)
    # Only output (1, 1) lies inside: rows/cols 0-1 -> (0 + 1 + 8 + 9) / 4 = 4.5.
    np.testing.assert_allclose(padded, [[100, 100], [100, 4.5]])
    edge = crop_and_resize(image, CropBox(-2, 0, 2, 1), 1, 1, "nearest")
    assert edge[0, 0] == 0.0  # replicated left edge of row 0


def test_crop_box_maps_points_like_the_pixels():
    box = CropBox(x0=47, y0=39, width=66, height=42)  # -> 55 x 35, scale 5/6
    # Output labels put pixel centres at integers: continuous (80, 60) -> (27.5, 17.5) - 0.5.
    continuous = box.map_points([[80, 60], [47, 39], [113, 81]], 55, 35, "continuous")
    np.testing.assert_allclose(continuous, [[27, 17], [-0.5, -0.5], [54.5, 34.5]])
    # A pixel-centre source point (79.5, 59.5) is the same place as continuous (80, 60).
    np.testing.assert_allclose(box.map_points([79.5, 59.5], 55, 35, "pixel_centres"), [27, 17])


# --- UnityEyes --------------------------------------------------------------------------------


def test_look_vec_becomes_mpiigaze_gaze_with_y_flipped():
    # Unity camera space has y up: looking up is +y there and -y in MPIIGaze's camera.
    up = unity.look_vec_to_gaze([0.0, 0.5, -math.sqrt(0.75), 0.0])
    np.testing.assert_allclose(up, [0.0, -0.5, -math.sqrt(0.75)], atol=1e-12)
    right = unity.look_vec_to_gaze([0.5, 0.0, -math.sqrt(0.75), 0.0])
    np.testing.assert_allclose(right, [0.5, 0.0, -math.sqrt(0.75)], atol=1e-12)


def test_unity_fixture_labels_match_hand_computed_values():
    # Render 4: iris centre (80, 57) from the top, look_vec (0, 0.5, -0.866): looking up.
    ex = unity.load_example(UNITY_DIR / "4.jpg", UNITY_DIR / "4.json")
    assert ex["image"].shape == GAZE_IMAGE.shape and ex["image"].dtype == np.uint8
    # Crop box x0 = 47, y0 = 39, 66 x 42 -> 55 x 35 (scale 5/6); output pixel centres at integers.
    np.testing.assert_allclose(ex["pupil_center"], [(80 - 47) * 5 / 6 - 0.5, (57 - 39) * 5 / 6 - 0.5], atol=1e-3)
    np.testing.assert_allclose(ex["pitch_yaw"], [PI_6, 0.0], atol=1e-4)
    np.testing.assert_allclose(ex["gaze"], pitch_yaw_to_vector(np.array([PI_6, 0.0])), atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(ex["gaze"]), 1.0, atol=1e-6)
    # Eyelid point 4 is the top of the opening: JSON y = 69 from the bottom = 51 from the top.
    # Without the y flip it would land at (69 - 39) * 5/6 - 0.5 = 24.5 instead of 9.5.
    np.testing.assert_allclose(ex["eyelid_landmarks"][4], [(80 - 47) * 5 / 6 - 0.5, (51 - 39) * 5 / 6 - 0.5], atol=1e-3)
    np.testing.assert_allclose(ex["eyelid_landmarks"][0], [(58 - 47) * 5 / 6 - 0.5, (60 - 39) * 5 / 6 - 0.5], atol=1e-3)
    assert ex["file_name"] == "4.jpg"


def test_unity_fixture_pixels_are_the_cropped_grayscale_render():
    ex = unity.load_example(UNITY_DIR / "1.jpg", UNITY_DIR / "1.json")
    image = ex["image"][..., 0].astype(int)
    # The pupil centre is the centre of output pixel (row 17, column 27): inside the iris (40).
    np.testing.assert_allclose(ex["pupil_center"], [27, 17], atol=1e-3)
    assert abs(image[17, 27] - 40) <= 3
    # Corners are skin, RGB (200, 150, 120): luma .299 * 200 + .587 * 150 + .114 * 120 = 161.5.
    for corner in (image[0, 0], image[0, -1], image[-1, 0], image[-1, -1]):
        assert abs(corner - 161.5) <= 3  # JPEG quality 95 error
    # The eye opening is white (230) left and right of the iris, on the pupil's row.
    assert abs(image[17, 12] - 230) <= 3 and abs(image[17, 42] - 230) <= 3


def test_unity_splits_are_deterministic_and_disjoint():
    train = [k for k, _ in unity.generate_examples(UNITY_DIR, "train")]
    test = [k for k, _ in unity.generate_examples(UNITY_DIR, "test")]
    assert train == ["1", "2", "3", "4"] and test == ["63"]


def test_unity_json_missing_key_names_the_file(tmp_path):
    folder = copy_fixture(UNITY_DIR, tmp_path)
    (folder / "2.json").write_text('{"interior_margin_2d": [], "eye_details": {}}')
    with pytest.raises(BadInputError, match=r"2\.json: 'eye_details\.look_vec' is missing"):
        list(unity.generate_examples(folder, "train"))


def test_unity_corrupt_jpg_names_the_file_and_skip_bad_skips_it(tmp_path):
    folder = copy_fixture(UNITY_DIR, tmp_path)
    data = (folder / "3.jpg").read_bytes()
    (folder / "3.jpg").write_bytes(data[: len(data) // 3])  # truncated JPEG
    with pytest.raises(BadInputError, match=r"3\.jpg: not a readable JPEG image"):
        list(unity.generate_examples(folder, "train"))
    keys = [k for k, _ in unity.generate_examples(folder, "train", skip_bad=True)]
    assert keys == ["1", "2", "4"]


def test_unity_unpaired_file_is_reported(tmp_path):
    folder = copy_fixture(UNITY_DIR, tmp_path)
    (folder / "2.jpg").unlink()
    with pytest.raises(BadInputError, match=r"2\.jpg: is missing \(found 2\.json\)"):
        list(unity.generate_examples(folder, "train"))


# --- MPIIGaze ---------------------------------------------------------------------------------


def halves(left: int, right: int) -> np.ndarray:
    img = np.empty((36, 60), np.uint8)
    img[:, :30], img[:, 30:] = left, right
    return img


def test_right_eye_is_mirrored_and_gaze_x_negated():
    gaze = np.array([0.5, 0.0, -math.sqrt(0.75)])  # looks to the image right: yaw -30 degrees
    left = mpii.prepare_eye(halves(200, 40), gaze, "left")
    right = mpii.prepare_eye(halves(200, 40), gaze, "right")
    # 60 -> 55 columns: column j covers source [j * 12/11, (j + 1) * 12/11); the halves' border
    # (source 30) is the centre of output column 27, which averages both halves equally.
    expected_right = np.array([40] * 27 + [120] + [200] * 27)
    np.testing.assert_array_equal(right["image"][..., 0], np.tile(expected_right, (35, 1)))
    np.testing.assert_array_equal(left["image"][..., 0], np.tile(expected_right[::-1], (35, 1)))
    np.testing.assert_allclose(right["gaze"], [-0.5, 0.0, -math.sqrt(0.75)], atol=1e-7)
    np.testing.assert_allclose(left["pitch_yaw"], [0.0, -PI_6], atol=1e-6)
    np.testing.assert_allclose(right["pitch_yaw"], [0.0, PI_6], atol=1e-6)  # yaw sign flips


def test_mpii_fixture_train_split_holds_every_eye_of_every_frame():
    examples = dict(mpii.all_examples(MPII_DIR))
    assert len(examples) == 12  # 2 eyes x (3 + 1 + 2) frames
    # p01 stores filenames as a char matrix, p00/day02 holds a single frame: both load.
    assert examples["p01/day01/00001/left"]["file_name"] == "day01/0002.jpg"
    assert examples["p00/day02/00000/right"]["person_id"] == "p00"
    frame_2 = examples["p00/day01/00002/left"]  # left half 10 + 20 * 2 = 50, right half 250
    np.testing.assert_array_equal(frame_2["image"][0, [0, 26, 27, 28, 54], 0], [50, 50, 150, 250, 250])
    expected_left = [-0.1, 0.2, -math.sqrt(0.95)]
    np.testing.assert_allclose(frame_2["gaze"], expected_left, atol=1e-7)
    np.testing.assert_allclose(frame_2["pitch_yaw"], [math.asin(-0.2), math.atan2(0.1, math.sqrt(0.95))], atol=1e-6)


def test_mpii_fixture_test_split_is_the_evaluation_subset():
    examples = list(mpii.eval_subset_examples(MPII_DIR))
    described = [(k, e["file_name"], e["eye"]) for k, e in examples]
    assert described == [
        ("p00/00001", "day01/0001.jpg", "left"),
        ("p00/00002", "day01/0003.jpg", "right"),
        ("p00/00003", "day02/0001.jpg", "right"),
        ("p01/00001", "day01/0002.jpg", "left"),
    ]
    right = examples[1][1]
    np.testing.assert_array_equal(right["image"][0, [0, 27, 54], 0], [40, 120, 200])  # mirrored 200 | 40
    np.testing.assert_allclose(right["gaze"], [-0.5, 0.0, -math.sqrt(0.75)], atol=1e-7)


def test_mpii_struct_fields_read_from_both_scipy_layouts():
    path = MPII_DIR / "Data" / "Normalized" / "p00" / "day01.mat"
    records = scipy.io.loadmat(path)["data"]
    objects = scipy.io.loadmat(path, struct_as_record=False, squeeze_me=True)["data"]
    for data in (records, objects):
        image = mpii._field(mpii._field(data, "right", path, "data"), "image", path, "data.right")
        assert image.shape == (3, 36, 60)


def test_mpii_truncated_mat_names_the_file_and_skip_bad_skips_it(tmp_path):
    root = copy_fixture(MPII_DIR, tmp_path)
    mat = root / "Data" / "Normalized" / "p00" / "day01.mat"
    mat.write_bytes(mat.read_bytes()[:200])
    with pytest.raises(BadInputError, match=r"p00/day01\.mat: not a readable MATLAB \.mat file"):
        list(mpii.all_examples(root))
    assert len(list(mpii.all_examples(root, skip_bad=True))) == 12 - 6
    # The evaluation entries that need that day fail one by one; the others remain.
    kept = [e["file_name"] for _, e in mpii.eval_subset_examples(root, skip_bad=True)]
    assert kept == ["day02/0001.jpg", "day01/0002.jpg"]


def test_mpii_wrong_image_shape_and_bad_list_line_are_named(tmp_path):
    root = copy_fixture(MPII_DIR, tmp_path)
    mat = root / "Data" / "Normalized" / "p01" / "day01.mat"
    data = scipy.io.loadmat(mat)
    left = {k: data["data"]["left"][0, 0][k][0, 0] for k in ("gaze", "image", "pose")}
    left["image"] = left["image"][:, :, :59]  # 36 x 59 instead of 36 x 60
    right = {k: data["data"]["right"][0, 0][k][0, 0] for k in ("gaze", "image", "pose")}
    scipy.io.savemat(mat, {"data": {"left": left, "right": right}, "filenames": data["filenames"]})
    with pytest.raises(BadInputError, match=r"p01/day01\.mat: data\.left\.image has shape \(2, 36, 59\)"):
        list(mpii.all_examples(root))
    list_file = root / mpii.EVAL_LIST_DIR / "p00.txt"
    list_file.write_text("day01/0001.jpg left\nday01/0003.jpg middle\n")
    with pytest.raises(BadInputError, match=r"p00\.txt:2: line reads 'day01/0003\.jpg middle'"):
        list(mpii.eval_subset_examples(root))


# --- NYU hand ---------------------------------------------------------------------------------


def write_rgb_png(path: Path, rgb: np.ndarray) -> None:
    Image.fromarray(rgb.astype(np.uint8), mode="RGB").save(path)


def test_depth_is_green_times_256_plus_blue(tmp_path):
    rgb = np.zeros((480, 640, 3), np.uint8)
    rgb[0, 0] = (99, 5, 220)  # red is ignored: 5 * 256 + 220 = 1500
    rgb[0, 1] = (0, 255, 255)  # 65535
    rgb[0, 2] = (7, 0, 3)  # 3
    write_rgb_png(tmp_path / "d.png", rgb)
    depth = read_depth_png(tmp_path / "d.png", (640, 480))
    assert depth[0, :4].tolist() == [1500, 65535, 3, 0]


def test_wrong_size_or_mode_png_is_named(tmp_path):
    write_rgb_png(tmp_path / "small.png", np.zeros((240, 320, 3)))
    with pytest.raises(BadInputError, match=r"small\.png: is 320 x 240 pixels; expected 640 x 480"):
        read_depth_png(tmp_path / "small.png", (640, 480))
    Image.fromarray(np.zeros((480, 640), np.uint8)).save(tmp_path / "gray.png")
    with pytest.raises(BadInputError, match=r"gray\.png: has colour mode L"):
        read_depth_png(tmp_path / "gray.png", (640, 480))


def test_encode_depth_is_hand_centred_over_the_cube():
    depth = np.array([690.0, 750.0, 720.0, 570.0, 500.0, 871.0, 0.0])
    # (d - 720) / 150 in [-1, 1] -> (x + 1) * 65535 / 2; beyond the cube clips; 0 is background.
    assert nyu.encode_depth(depth, 720.0).tolist() == [26214, 39321, 32768, 0, 0, 65535, 65535]


def test_real_depth_keeps_only_pixels_near_the_synthetic_hand():
    mask = np.zeros((11, 11), bool)
    mask[5, 5] = True
    real = np.full((11, 11), 700.0)
    real[5, 6] = 900.0  # beyond the 150 mm half cube
    real[6, 5] = 0.0  # no reading
    kept = nyu.real_hand_depth(real, mask, 700.0)
    rows, cols = np.indices(mask.shape)
    near = np.abs(rows - 5) + np.abs(cols - 5) <= nyu.REAL_MASK_DILATION_PX  # 4 dilation steps
    expected = np.where(near, real, 0.0)
    expected[5, 6] = 0.0
    np.testing.assert_array_equal(kept, expected)


def test_nyu_fixture_crop_and_labels_match_hand_computed_values():
    real = dict(nyu.generate_examples(NYU_DIR / "train", "depth"))["0000001"]
    synth = dict(nyu.generate_examples(NYU_DIR / "train", "synthdepth"))["0000001"]
    for ex in (real, synth):
        assert ex["image"].shape == HAND_IMAGE.shape and ex["image"].dtype == np.uint16
        # Hand mask x 300-349, y 200-249 -> square side 1.2 * 50 = 60 centred at (325, 225).
        np.testing.assert_allclose(ex["crop_box"], [295, 195, 60, 60])
        assert ex["depth_center_mm"] == 720.0  # median of 690 (left half) and 750 (right half)
        # Joint 0 at pixel (305, 205), i.e. continuous (305.5, 205.5): (10.5 * 224 / 60 - 0.5, ...).
        expected_uv = 10.5 * 224 / 60 - 0.5
        np.testing.assert_allclose(ex["joints_uvd"][0], [expected_uv, expected_uv, 690], rtol=1e-6)
        assert ex["image"][112, 0, 0] == 65535  # x = 295.1: left of the hand, background
    # Output column 56 samples source x = 310.1 (690 mm), column 168 x = 340.1 (750 mm).
    assert synth["image"][112, [56, 168], 0].tolist() == [26214, 39321]
    # The real frame reads 6 mm deeper: (696 - 720) / 150 = -0.16 -> 0.84 * 32767.5 = 27524.7.
    assert real["image"][112, [56, 168], 0].tolist() == [27525, 40632]
    # Source rows 230-233, cols 340-343 have no reading in the real frame (output ~ (138, 175)).
    assert real["image"][138, 175, 0] == 65535 and synth["image"][138, 175, 0] == 39321
    assert real["frame_id"] == 1 and real["file_name"] == "depth_1_0000001.png"


def test_nyu_bad_frame_is_named_and_skip_bad_skips_it(tmp_path):
    root = copy_fixture(NYU_DIR, tmp_path)
    write_rgb_png(root / "train" / "depth_1_0000002.png", np.zeros((240, 320, 3)))
    with pytest.raises(BadInputError, match=r"depth_1_0000002\.png: is 320 x 240 pixels"):
        list(nyu.generate_examples(root / "train", "depth"))
    assert [k for k, _ in nyu.generate_examples(root / "train", "depth", skip_bad=True)] == ["0000001"]
    # The synthetic config does not read the broken real frame.
    assert len(list(nyu.generate_examples(root / "train", "synthdepth"))) == 2


def test_nyu_truncated_joint_data_and_empty_hand_are_named(tmp_path):
    root = copy_fixture(NYU_DIR, tmp_path)
    mat = root / "test" / "joint_data.mat"
    mat.write_bytes(mat.read_bytes()[:300])
    with pytest.raises(BadInputError, match=r"test/joint_data\.mat: not a readable MATLAB \.mat file"):
        list(nyu.generate_examples(root / "test", "depth"))
    write_rgb_png(root / "train" / "synthdepth_1_0000001.png", np.zeros((480, 640, 3)))
    with pytest.raises(BadInputError, match=r"synthdepth_1_0000001\.png: has no hand pixels"):
        list(nyu.generate_examples(root / "train", "synthdepth"))


def test_one_manual_dir_can_hold_every_dataset(tmp_path):
    shutil.copytree(UNITY_DIR, tmp_path / "UnityEyes" / "imgs")
    shutil.copytree(MPII_DIR, tmp_path / "MPIIGaze")
    shutil.copytree(NYU_DIR, tmp_path / "nyu_hand_dataset_v2" / "dataset")
    assert unity.find_root(tmp_path) == tmp_path / "UnityEyes" / "imgs"
    assert mpii.find_root(tmp_path) == tmp_path / "MPIIGaze"
    assert nyu.find_root(tmp_path) == tmp_path / "nyu_hand_dataset_v2" / "dataset"
    assert unity.find_root(UNITY_DIR) == UNITY_DIR / "."
    with pytest.raises(BadInputError, match="holds no dataset in any of"):
        mpii.find_root(tmp_path / "UnityEyes")


# --- wiring: tfds.builder(name) with a manual dir, as simgan_tf.data does ---------------------


@pytest.mark.parametrize(
    "name, manual_dir, splits",
    [
        ("unity_eyes", UNITY_DIR, {"train": 4, "test": 1}),
        ("mpii_gaze", MPII_DIR, {"train": 12, "test": 4}),
        ("nyu_hand/real", NYU_DIR, {"train": 2, "test": 1}),
    ],
)
def test_tfds_builder_by_name_prepares_from_manual_dir(tmp_path, name, manual_dir, splits):
    builder = tfds.builder(name, data_dir=tmp_path)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
    assert {s: builder.info.splits[s].num_examples for s in splits} == splits
    image = next(iter(builder.as_dataset(split="train").take(1)))["image"]
    expected = HAND_IMAGE if name.startswith("nyu_hand") else GAZE_IMAGE
    assert tuple(image.shape) == expected.shape


def test_unity_split_without_renders_is_left_out(tmp_path):
    folder = tmp_path / "renders"
    folder.mkdir()
    for stem in ("1", "2"):  # both hash into train
        for ext in (".jpg", ".json"):
            shutil.copy(UNITY_DIR / f"{stem}{ext}", folder)
    builder = tfds.builder("unity_eyes", data_dir=tmp_path / "data")
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=folder))
    assert {s: i.num_examples for s, i in builder.info.splits.items()} == {"train": 2}


def test_tfds_builder_skip_bad_keyword(tmp_path):
    folder = copy_fixture(UNITY_DIR, tmp_path)
    (folder / "2.json").write_text("{not json")
    config = tfds.download.DownloadConfig(manual_dir=folder)
    with pytest.raises(BadInputError, match=r"2\.json: not valid JSON"):
        tfds.builder("unity_eyes", data_dir=tmp_path / "strict").download_and_prepare(download_config=config)
    builder = tfds.builder("unity_eyes", data_dir=tmp_path / "lenient", skip_bad=True)
    builder.download_and_prepare(download_config=config)
    assert builder.info.splits["train"].num_examples == 3


# --- genuine files from the real datasets (../shared/real_samples; skipped in a user's clone) -----

REAL_SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "real_samples"


def real_sample(relative: str) -> Path:
    """A genuine dataset file, read in place (never copied; see its SOURCES.md for licences)."""
    path = REAL_SAMPLES / relative
    if not path.exists():
        pytest.skip(f"{path} is absent (real samples live outside the project)")
    return path


def test_genuine_unity_json_crops_an_800x600_render(tmp_path):
    json_path = real_sample("unity_eyes/imgs/1.json")
    data = unity.read_json(json_path)
    # Unity writes tiny floats in E-notation; the vector parser reads them as numbers.
    tiny = data["eye_region_details"]["pca_shape_coeffs"][-1]
    assert tiny == "1.924006E-17"
    np.testing.assert_array_equal(parse_vector(f"({tiny}, 0, 1)", 3, json_path, "x"), [1.924006e-17, 0, 1])
    # The matching render (not committed upstream) is 800 x 600; a flat one stands in for it.
    jpg = tmp_path / "1.jpg"
    Image.fromarray(np.full((600, 800, 3), 128, np.uint8)).save(jpg)
    ex = unity.load_example(jpg, json_path)
    look = np.array([0.3404, -0.3879, -0.8566])  # "(0.3404, 0.3879, -0.8566, 0.0000)", y flipped
    np.testing.assert_allclose(ex["gaze"], look / np.linalg.norm(look), atol=1e-6)
    # The crop is 1.5 x the eyelid width: the eyelid spans output x 55/6 - 0.5 .. 5 * 55/6 - 0.5.
    eyelid_x = ex["eyelid_landmarks"][:, 0]
    np.testing.assert_allclose([eyelid_x.min(), eyelid_x.max()], [55 / 6 - 0.5, 5 * 55 / 6 - 0.5], atol=1e-3)
    assert np.all((ex["pupil_center"] > 0) & (ex["pupil_center"] < [55, 35]))
    # Landmark y runs bottom-up: the iris (y about 350 of 600 from the bottom) sits above the middle
    # of the eyelid box (y 275-358 from the bottom); unflipped it would sit below.
    assert ex["image"].shape == GAZE_IMAGE.shape and ex["pupil_center"][1] < (35 - 1) / 2


def test_genuine_mpii_evaluation_lists_parse(tmp_path):
    list_dir = real_sample("mpii_gaze") / mpii.EVAL_LIST_DIR
    lists = sorted(list_dir.glob("p*.txt"))
    assert [p.stem for p in lists] == [f"p{i:02d}" for i in range(15)]
    for path in lists:
        entries = [mpii.parse_eval_line(line, f"{path}:{n}") for n, line in mpii.read_eval_list(path)]
        assert len(entries) == 3000 and sum(side == "left" for _, _, side in entries) == 1500
    first = mpii.read_eval_list(lists[0])[0]
    assert mpii.parse_eval_line(first[1], "p00.txt:1") == ("day08", "0069.jpg", "left")

    # The genuine p00 list against .mat files holding exactly the images it names.
    root = tmp_path / "MPIIGaze"
    (root / mpii.EVAL_LIST_DIR).mkdir(parents=True)
    (root / mpii.EVAL_LIST_DIR / "p00.txt").symlink_to(lists[0])
    by_day: dict[str, list[str]] = {}
    for _, line in mpii.read_eval_list(lists[0]):
        day, name, _ = mpii.parse_eval_line(line, "p00.txt")
        by_day.setdefault(day, []).append(name)
    folder = root / mpii.NORMALIZED_DIR / "p00"
    folder.mkdir(parents=True)
    for day, names in by_day.items():
        names = sorted(set(names))
        cells = np.empty((len(names), 1), dtype=object)
        cells[:, 0] = names
        eye = {"gaze": np.tile([0.0, 0.0, -1.0], (len(names), 1)), "image": np.zeros((len(names), 36, 60), np.uint8)}
        scipy.io.savemat(folder / f"{day}.mat", {"data": {"left": eye, "right": eye}, "filenames": cells})
    examples = mpii.eval_subset_examples(root)
    described = [(key, ex["file_name"], ex["eye"]) for key, ex in (next(examples) for _ in range(2))]
    assert described[0] == ("p00/00001", "day08/0069.jpg", "left")


def test_genuine_matlab_files_of_another_kind_are_named():
    face_model = real_sample("mpii_gaze/6 points-based face model.mat")
    with pytest.raises(BadInputError, match=r"face model\.mat: variable 'data' is missing; expected an MPIIGaze"):
        mpii.load_day(face_model)
    predictions = real_sample("nyu_hand/dataset/test/test_predictions.mat")
    with pytest.raises(BadInputError, match=r"test_predictions\.mat: variable 'joint_uvd' is missing"):
        nyu.load_joints(predictions)


def write_depth(path: Path, depth_mm: np.ndarray) -> None:
    depth = depth_mm.astype(np.int32)
    write_rgb_png(path, np.stack([np.zeros_like(depth), depth // 256, depth % 256], axis=-1))


def test_genuine_nyu_depth_fill_is_background(tmp_path):
    png = real_sample("nyu_hand/dataset/test/depth_1_0000001.png")
    raw = read_depth_png(png, nyu.FRAME_SIZE)
    assert raw.min() == 731 and raw.max() == nyu.NO_READING_MM and not np.any(raw == 0)
    depth = nyu.read_frame_depth(png)
    np.testing.assert_array_equal(depth == 0, raw == nyu.NO_READING_MM)  # 61 % of the frame
    # NYU's own predictions for this frame put the evaluation joints on the hand (735-778 mm);
    # two fingertip estimates fall just off its silhouette, onto the fill (read as 0 now).
    predictions = scipy.io.loadmat(real_sample("nyu_hand/dataset/test/test_predictions.mat"))
    uv = predictions["pred_joint_uvconf"][0, 0, nyu.EVAL_JOINTS, :2]
    on_hand = depth[np.round(uv[:, 1]).astype(int), np.round(uv[:, 0]).astype(int)]
    hand = (on_hand > 700) & (on_hand < 800)
    assert hand.sum() == 12 and np.all(hand | (on_hand == 0))

    # One test frame: the genuine Kinect depth, a stand-in synthetic hand (the near blob) with the
    # same 2001 mm fill as background, and joint_data.mat built from the predictions.
    folder = tmp_path / "test"
    folder.mkdir()
    (folder / "depth_1_0000001.png").symlink_to(png)
    near = (depth > 0) & (depth < 900)
    write_depth(folder / "synthdepth_1_0000001.png", np.where(near, depth, nyu.NO_READING_MM))
    uvd = np.zeros((1, 1, nyu.NUM_JOINTS, 3))
    uvd[0, 0, :, :2] = predictions["pred_joint_uvconf"][0, 0, :, :2]
    uvd[0, 0, nyu.EVAL_JOINTS, 2] = np.where(hand, on_hand, np.median(on_hand[hand]))
    scipy.io.savemat(folder / "joint_data.mat", {"joint_uvd": uvd})
    (key, ex), = nyu.generate_examples(folder, "depth")
    rows, cols = np.nonzero(near)
    side = nyu.CROP_SCALE * max(np.ptp(rows) + 1, np.ptp(cols) + 1)
    np.testing.assert_allclose(ex["crop_box"][2:], [side, side])  # the near blob's box, not the frame's
    assert 731 <= ex["depth_center_mm"] < 900
    image = ex["image"][..., 0]
    assert np.mean(image == nyu.BACKGROUND) > 0.3 and np.mean(image < nyu.BACKGROUND) > 0.05
    assert np.all((ex["joints_uvd"][:, :2] >= 0) & (ex["joints_uvd"][:, :2] < 224))
