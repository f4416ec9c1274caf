"""A builder-ready manual dir from the one genuine NYU frame that is public without the dataset.

The genuine files (`depth_1_0000001.png` of the test set and the release's
`test_predictions.mat`; see ../shared/real_samples/SOURCES.md next to the repository) lack the
two files the builder also needs: the renderer's `synthdepth_1_0000001.png`, from whose hand
mask the builder takes the crop, and `joint_data.mat`. `write_manual_dir` lays out a manual dir
with the genuine depth PNG symlinked in place (never copied) and writes stand-ins for both:

* synthdepth: the real hand itself, cleaned the way a render is clean: the Kinect pixels
  within `HAND_BAND_MM` of the hand's depth that are connected to the palm joint, cut
  `WRIST_STUB` x (palm - wrist distance) beyond the wrist (the forearm leaves the crop as it
  does from NYU's renders), with small gaps closed and holes filled; depths are the real ones
  median-filtered, holes filled from the nearest reading; background is the 2001 mm fill.
* joint_data.mat: `joint_uvd` of shape (1 camera, 1 frame, 36, 3) whose 14 evaluation
  joints hold frame 1's *predicted* u, v from `test_predictions.mat` (the release's own
  predictions, not ground truth) and d read from the stand-in synthdepth at (u, v).

Used by tests/test_nyu_real_frame.py and `tfds_builders.procedural_hands.compare_nyu`.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image
from scipy import ndimage

from tfds_builders.nyu_hand import nyu_hand_dataset_builder as nyu

FRAME = 1  # depth_1_0000001.png is test frame 1 (row 0 of the predictions)
PALM_JOINT = 13  # index of C (palm centre) among the 14 evaluation joints
WRIST_JOINTS = (11, 12)  # W1, W2
HAND_BAND_MM = 100.0  # hand pixels lie within this of the joints' median depth
WRIST_STUB = 0.5  # keep this fraction of the palm-wrist distance beyond the wrist


def predicted_joints_uv(predictions_mat: str | os.PathLike, frame: int = FRAME) -> np.ndarray:
    """(14, 2) float64 u, v of the evaluation joints that the release predicted for `frame`."""
    uvconf = scipy.io.loadmat(os.fspath(predictions_mat))["pred_joint_uvconf"]
    return uvconf[0, frame - 1, list(nyu.EVAL_JOINTS), :2].astype(np.float64)


def standin_synthetic_depth(real_mm: np.ndarray, joints_uv: np.ndarray) -> np.ndarray:
    """int32 (480, 640) stand-in for the renderer's frame: the cleaned real hand, 0 elsewhere.

    real_mm: the Kinect frame as `nyu.read_frame_depth` returns it (0 = no reading).
    """
    rows = np.clip(np.round(joints_uv[:, 1]).astype(int), 0, real_mm.shape[0] - 1)
    cols = np.clip(np.round(joints_uv[:, 0]).astype(int), 0, real_mm.shape[1] - 1)
    at_joints = real_mm[rows, cols]
    hand_mm = float(np.median(at_joints[at_joints > 0]))
    band = (real_mm > 0) & (np.abs(real_mm - hand_mm) <= HAND_BAND_MM)
    labels, _ = ndimage.label(band)
    palm = labels[rows[PALM_JOINT], cols[PALM_JOINT]]
    if palm == 0:
        raise ValueError("the palm joint is not on a hand pixel")
    mask = (labels == palm) & ~beyond_wrist(real_mm.shape, joints_uv)
    # A render has neither holes nor ragged edges: close 2 px gaps, fill holes, drop specks.
    disk = ndimage.generate_binary_structure(2, 1)
    mask = ndimage.binary_closing(mask, disk, iterations=2, border_value=0)
    mask = ndimage.binary_fill_holes(mask)
    mask = ndimage.binary_opening(mask, disk, iterations=1)
    # Depth: nearest reading where the mask has none, then a 5 x 5 median.
    valid = (real_mm > 0) & (np.abs(real_mm - hand_mm) <= HAND_BAND_MM)
    nearest = ndimage.distance_transform_edt(~valid, return_distances=False, return_indices=True)
    filled = real_mm[tuple(nearest)]
    smooth = ndimage.median_filter(filled, size=5)
    return np.where(mask, smooth, 0).astype(np.int32)


def beyond_wrist(shape: tuple[int, int], joints_uv: np.ndarray) -> np.ndarray:
    """Pixels past the stand-in render's forearm cut: a line across the palm-wrist axis,
    WRIST_STUB x |palm - wrist| beyond the wrist (the Kinect's forearm goes on past it)."""
    wrist = joints_uv[list(WRIST_JOINTS)].mean(axis=0)
    axis = joints_uv[PALM_JOINT] - wrist
    yy, xx = np.indices(shape)
    along = ((xx - wrist[0]) * axis[0] + (yy - wrist[1]) * axis[1]) / np.dot(axis, axis)
    return along < -WRIST_STUB


def write_depth_png(path: Path, depth_mm: np.ndarray) -> None:
    """NYU's packing: R = 0, G = depth // 256, B = depth % 256 (depth in mm)."""
    depth = depth_mm.astype(np.int32)
    rgb = np.stack([np.zeros_like(depth), depth // 256, depth % 256], axis=-1).astype(np.uint8)
    Image.fromarray(rgb, mode="RGB").save(path)


def write_split(folder: Path, depth_png: Path, predictions_mat: Path) -> dict[str, np.ndarray]:
    """One split folder holding frame 1: the genuine depth PNG (symlink) and the stand-ins.

    Returns what was written: `synth_mm` (the stand-in render, 0 = background) and
    `joint_uvd` (14, 3) of the evaluation joints as stored in joint_data.mat.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"depth_{nyu.CAMERA}_{FRAME:07d}.png").symlink_to(Path(depth_png).resolve())
    uv = predicted_joints_uv(predictions_mat)
    synth = standin_synthetic_depth(nyu.read_frame_depth(depth_png), uv)
    # The render's background gets the genuine frames' 2001 mm fill (read as "no depth").
    write_depth_png(folder / f"synthdepth_{nyu.CAMERA}_{FRAME:07d}.png", np.where(synth > 0, synth, nyu.NO_READING_MM))
    rows, cols = np.round(uv[:, 1]).astype(int), np.round(uv[:, 0]).astype(int)
    # d: the stand-in's depth at (u, v), or the nearest hand pixel's where (u, v) is off it.
    nearest = ndimage.distance_transform_edt(synth == 0, return_distances=False, return_indices=True)
    d = synth[nearest[0][rows, cols], nearest[1][rows, cols]].astype(np.float64)
    uvd = np.zeros((1, 1, nyu.NUM_JOINTS, 3))
    uvd[0, 0, list(nyu.EVAL_JOINTS), :2] = uv
    uvd[0, 0, list(nyu.EVAL_JOINTS), 2] = d
    scipy.io.savemat(folder / "joint_data.mat", {"joint_uvd": uvd})
    return {"synth_mm": synth, "joint_uvd": uvd[0, 0, list(nyu.EVAL_JOINTS)]}


def write_manual_dir(manual_dir: Path, depth_png: Path, predictions_mat: Path) -> Path:
    """manual_dir/nyu_hand_dataset_v2/dataset/{train,test}/ as the builder expects; both splits
    hold the same genuine test frame (the builder prepares both). Returns the dataset/ folder."""
    root = Path(manual_dir) / "nyu_hand_dataset_v2" / "dataset"
    for split in ("train", "test"):
        write_split(root / split, depth_png, predictions_mat)
    return root
