"""`nyu_hand`: NYU hand pose depth frames, cropped around the hand and resized to 224 x 224.

Configs: `real` (the Kinect's `depth_1_NNNNNNN.png`) and `synthetic` (the renderer's
`synthdepth_1_NNNNNNN.png` of the same labelled pose). Both crops come from the synthetic
frame's hand mask, as the SimGAN paper does, so a real frame and its synthetic twin share the
crop and the labels. Depth is stored hand-centred (see `encode_depth`); sources for each format
detail are in README.md next to this file.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import scipy.io
import scipy.ndimage
import tensorflow_datasets as tfds

from tfds_builders.constants import HAND_IMAGE_SHAPE
from tfds_builders.common import (
    BadInputError,
    CropBox,
    crop_and_resize,
    find_data_root,
    iter_good,
    read_depth_png,
)

FRAME_SIZE = (640, 480)  # (width, height) of every NYU depth PNG
CAMERA = 1  # front view: files *_1_NNNNNNN.png, joint_uvd[0]
NUM_JOINTS = 36
# The 14 joints NYU evaluations use (Tompson et al.'s subset), as listed in DeepPrior++'s
# NYUImporter.restrictedJointsEval.
EVAL_JOINTS = (0, 3, 6, 9, 12, 15, 18, 21, 24, 25, 27, 30, 31, 32)
CUBE_MM = 300.0  # depth range kept around the hand centre (DeepPrior's NYU cube)
CROP_SCALE = 1.2  # square crop side = this x the longer side of the hand mask's bounding box
REAL_MASK_DILATION_PX = 4  # real pixels kept up to this far (city-block) outside the synthetic mask
BACKGROUND = np.iinfo(np.uint16).max  # stored value for background / missing / beyond the cube
# NYU's Kinect frames hold 2001 mm (not 0) where the sensor has no reading or the scene lies
# beyond its far plane; such values, and anything larger, are read as "no depth" (0).
NO_READING_MM = 2001
# Where NYU's train/ and test/ may sit inside --manual-dir (the zip extracts to dataset/).
ROOT_CANDIDATES = (".", "dataset", "nyu_hand", "nyu_hand/dataset", "nyu_hand_dataset_v2/dataset")
_EXPECTED_MAT = "NYU joint_data.mat with joint_uvd of shape (cameras, N, 36, 3)"
log = logging.getLogger(__name__)


@dataclasses.dataclass
class NyuHandConfig(tfds.core.BuilderConfig):
    """Which depth frames become the images: the Kinect's (`real`) or the renderer's."""

    prefix: str = "depth"


def load_joints(path: Path) -> np.ndarray:
    """joint_data.mat -> float32 (N, 14, 3) uvd of the front camera's evaluation joints."""
    try:
        # Read every variable (not variable_names=...): scipy skips unread ones by seeking,
        # which would let a truncated file pass as "joint_uvd missing".
        mat = scipy.io.loadmat(os.fspath(path))
    except FileNotFoundError:
        raise BadInputError(path, "file is missing", _EXPECTED_MAT) from None
    except Exception as err:  # scipy raises several types (MatReadError, OSError, ValueError, ...)
        problem = f"not a readable MATLAB .mat file ({type(err).__name__}: {err})"
        raise BadInputError(path, problem, _EXPECTED_MAT) from None
    uvd = mat.get("joint_uvd")
    if uvd is None:
        raise BadInputError(path, "variable 'joint_uvd' is missing", _EXPECTED_MAT)
    uvd = np.asarray(uvd)
    if uvd.ndim != 4 or uvd.shape[0] < CAMERA or uvd.shape[1] == 0 or uvd.shape[2:] != (NUM_JOINTS, 3):
        raise BadInputError(path, f"joint_uvd has shape {uvd.shape}", _EXPECTED_MAT + ", N > 0")
    if uvd.dtype.kind not in "uif":
        raise BadInputError(path, f"joint_uvd has dtype {uvd.dtype}", "numeric joint_uvd")
    return uvd[CAMERA - 1][:, EVAL_JOINTS, :].astype(np.float32)


def read_frame_depth(path: Path) -> np.ndarray:
    """An NYU depth PNG -> int32 depth in mm with 0 wherever there is no reading.

    The far fill (NO_READING_MM) must not count as depth: a hand mask built from it would
    cover the whole frame, and a hand near 2 m would keep the fill inside its depth cube.
    """
    depth = read_depth_png(path, FRAME_SIZE)
    return np.where(depth >= NO_READING_MM, 0, depth)


def hand_crop(synth_depth: np.ndarray, path: Path) -> tuple[CropBox, float, np.ndarray]:
    """Square crop box around the synthetic hand, its median depth (mm) and its mask."""
    mask = synth_depth > 0
    if not mask.any():
        raise BadInputError(path, "has no hand pixels (every depth is 0 or the 2001 mm fill)", "a rendered hand")
    rows, cols = np.nonzero(mask)
    x0, x1, y0, y1 = cols.min(), cols.max() + 1, rows.min(), rows.max() + 1
    side = CROP_SCALE * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    centre_mm = float(np.median(synth_depth[mask]))
    return CropBox(cx - side / 2, cy - side / 2, side, side), centre_mm, mask


def real_hand_depth(real_depth: np.ndarray, synth_mask: np.ndarray, centre_mm: float) -> np.ndarray:
    """Keep the real pixels near the synthetic hand (mask dilated) and within the depth cube.

    The dilation lets the sensor's ragged edges through (what the refiner must learn), while
    the body and room behind the hand, which the renderer never draws, become background (0).
    """
    near = scipy.ndimage.binary_dilation(synth_mask, iterations=REAL_MASK_DILATION_PX)
    keep = near & (real_depth > 0) & (np.abs(real_depth - centre_mm) <= CUBE_MM / 2)
    return np.where(keep, real_depth, 0)


def encode_depth(depth_mm: np.ndarray, centre_mm: float) -> np.ndarray:
    """Depth in mm (0 = none) -> uint16 with 0..65535 <-> centre - 150 mm .. centre + 150 mm.

    Linear, so value / 65535 * 2 - 1 is the hand-centred depth in [-1, 1]; background, missing
    readings and anything beyond the cube read 65535 (+1, i.e. far).
    """
    normalized = np.clip((depth_mm - centre_mm) / (CUBE_MM / 2), -1.0, 1.0)
    encoded = np.round((normalized + 1.0) * (BACKGROUND / 2.0))
    encoded[depth_mm <= 0] = BACKGROUND
    return encoded.astype(np.uint16)


def load_frame(folder: Path, frame: int, uvd: np.ndarray, prefix: str) -> dict[str, Any]:
    """One frame -> the TFDS example for `prefix` 'depth' (real) or 'synthdepth' (synthetic)."""
    if not np.all(np.isfinite(uvd)):
        raise BadInputError(folder / "joint_data.mat", f"joint_uvd of frame {frame} is not finite", "finite u, v, d")
    synth_path = folder / f"synthdepth_{CAMERA}_{frame:07d}.png"
    synth = read_frame_depth(synth_path)
    box, centre_mm, mask = hand_crop(synth, synth_path)
    if prefix == "depth":
        path = folder / f"depth_{CAMERA}_{frame:07d}.png"
        depth = real_hand_depth(read_frame_depth(path), mask, centre_mm)
    else:
        path, depth = synth_path, synth
    out_h, out_w = HAND_IMAGE_SHAPE[:2]
    cropped = crop_and_resize(depth.astype(np.float32), box, out_h, out_w, "nearest", pad_value=0.0)
    joints = uvd.copy()
    joints[:, :2] = box.map_points(uvd[:, :2], out_w, out_h, "pixel_centres")
    return {
        "image": encode_depth(cropped, centre_mm)[..., None],
        "joints_uvd": joints.astype(np.float32),
        "frame_id": frame,
        "file_name": path.name,
        "depth_center_mm": np.float32(centre_mm),
        "crop_box": np.array([box.x0, box.y0, box.width, box.height], np.float32),
    }


def generate_examples(
    folder: str | os.PathLike, prefix: str, skip_bad: bool = False
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(key, example) for every labelled frame of one split folder (train/ or test/), in order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInputError(folder, "is missing", "NYU's train/ and test/ folders")
    uvd = load_joints(folder / "joint_data.mat")
    check_all_frames_labelled(folder, prefix, len(uvd), skip_bad)

    def load(frame: int) -> tuple[str, dict[str, Any]]:
        return f"{frame:07d}", load_frame(folder, frame, uvd[frame - 1], prefix)

    yield from iter_good(range(1, len(uvd) + 1), load, skip_bad, "NYU frames")


def check_all_frames_labelled(folder: Path, prefix: str, labelled: int, skip_bad: bool) -> None:
    """Frames on disk beyond joint_data.mat's N are an error (logged with skip_bad).

    More PNGs than labels means the folder and its joint_data.mat do not belong together
    (e.g. train/ frames copied into test/); preparing only the first N would hide that.
    """
    extra = sorted(
        p for p in folder.glob(f"{prefix}_{CAMERA}_*.png")
        if p.stem.rsplit("_", 1)[-1].isdigit() and int(p.stem.rsplit("_", 1)[-1]) > labelled
    )
    if not extra:
        return
    error = BadInputError(
        folder / "joint_data.mat",
        f"labels {labelled} frames but {len(extra)} more are on disk (first: {extra[0].name})",
        f"one joint_uvd entry per {prefix}_{CAMERA}_NNNNNNN.png",
    )
    if not skip_bad:
        raise error
    log.warning("skipping %d unlabelled frames (skip_bad=True): %s", len(extra), error)


def find_root(manual_dir: Path) -> Path:
    """The folder holding train/ and test/, in manual_dir or a subfolder in ROOT_CANDIDATES."""
    return find_data_root(
        manual_dir, ROOT_CANDIDATES, lambda p: (p / "train").is_dir(), "NYU's dataset/ with train/ and test/"
    )


class Builder(tfds.core.GeneratorBasedBuilder):
    """NYU hand pose depth crops (real or synthetic) with the 14 evaluation joints."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = [
        NyuHandConfig(name="real", prefix="depth", description="Kinect depth frames depth_1_*.png."),
        NyuHandConfig(name="synthetic", prefix="synthdepth", description="Rendered frames synthdepth_1_*.png."),
    ]
    DEFAULT_CONFIG_NAME = "real"
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    Download nyu_hand_dataset_v2.zip from https://jonathantompson.github.io/NYU_Hand_Pose_Dataset.htm
    and extract it. Pass the folder holding `train/` and `test/` (or its parent `dataset/`'s
    parent) as the manual dir. Only the front camera's files are read: depth_1_*, synthdepth_1_*
    and joint_data.mat.
    """

    def __init__(self, *, skip_bad: bool = False, **kwargs: Any):
        """skip_bad=True logs and leaves out malformed frames instead of stopping."""
        self._skip_bad = skip_bad
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=HAND_IMAGE_SHAPE, dtype=np.uint16),
                "joints_uvd": tfds.features.Tensor(shape=(len(EVAL_JOINTS), 3), dtype=np.float32),
                "frame_id": tfds.features.Scalar(dtype=np.int32),
                "file_name": tfds.features.Text(),
                "depth_center_mm": tfds.features.Scalar(dtype=np.float32),
                "crop_box": tfds.features.Tensor(shape=(4,), dtype=np.float32),
            }),
            supervised_keys=("image", "joints_uvd"),
            homepage="https://jonathantompson.github.io/NYU_Hand_Pose_Dataset.htm",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        root = find_root(Path(dl_manager.manual_dir))
        return {split: self._generate_examples(root / split) for split in ("train", "test")}

    def _generate_examples(self, folder: Path):
        yield from generate_examples(folder, self.builder_config.prefix, self._skip_bad)
