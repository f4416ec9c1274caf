"""Write the tiny NYU hand fixture: train/ and test/ with depth PNGs and joint_data.mat.

Run: `python tfds_builders/nyu_hand/dummy_data/make_dummy_data.py`. Files follow NYU's layout:
640 x 480 RGB PNGs with depth in mm = G * 256 + B (R carries no depth; here it is a constant 37
to prove it is ignored), `synthdepth_1_NNNNNNN.png` (rendered hand, background 0) beside
`depth_1_NNNNNNN.png` (Kinect frame), and `joint_data.mat` with joint_uvd / joint_xyz of shape
(3 cameras, N frames, 36 joints, 3) and joint_names (1 x 36 cell). Only camera 1 files are
written (the builder reads no others).

Train frame 1, used by the hand-computed tests: the synthetic hand fills rows 200-249, columns
300-349 at 690 mm (columns < 325) and 750 mm (columns >= 325), so its median depth is 720 mm and
its crop box is x0 = 295, y0 = 195, side 60. The real frame is the synthetic hand + 6 mm, a wall at
1500 mm, a 4 x 4 hole of missing depth (0) and a forearm at 800 mm below the hand.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

OUT = Path(__file__).resolve().parent
W, H = 640, 480
WALL_MM = 1500
RED = 37

# split: list of synthetic hands (row0, col0, height, width, depth left half, depth right half)
FRAMES = {
    "train": [(200, 300, 50, 50, 690, 750), (100, 400, 40, 60, 900, 930)],
    "test": [(300, 200, 60, 60, 1000, 1040)],
}


def write_depth_png(path: Path, depth_mm: np.ndarray) -> None:
    depth = depth_mm.astype(np.int32)
    rgb = np.stack([np.full_like(depth, RED), depth // 256, depth % 256], axis=-1).astype(np.uint8)
    Image.fromarray(rgb, mode="RGB").save(path, optimize=True)


def synthetic_hand(r0: int, c0: int, h: int, w: int, near: int, far: int) -> np.ndarray:
    depth = np.zeros((H, W), np.int32)
    depth[r0 : r0 + h, c0 : c0 + w // 2] = near
    depth[r0 : r0 + h, c0 + w // 2 : c0 + w] = far
    return depth


def real_frame(synth: np.ndarray, r0: int, c0: int, h: int, w: int) -> np.ndarray:
    real = np.full((H, W), WALL_MM, np.int32)
    real[r0 + h : r0 + h + 50, c0 - 10 : c0 + w + 10] = 800  # forearm below the hand
    hand = synth > 0
    real[hand] = synth[hand] + 6
    real[r0 + 30 : r0 + 34, c0 + 40 : c0 + 44] = 0  # missing readings inside the hand
    return real


def joints_for(r0: int, c0: int, synth: np.ndarray) -> np.ndarray:
    """36 uvd joints on a 6 x 6 grid inside the hand, d read from the synthetic frame."""
    uvd = np.zeros((36, 3))
    for j in range(36):
        u, v = c0 + 5 + (j % 6) * 8, r0 + 5 + (j // 6) * 6
        uvd[j] = (u, v, synth[v, u])
    return uvd


def main() -> None:
    names = np.empty((1, 36), dtype=object)
    names[0, :] = [f"J{j:02d}" for j in range(36)]  # placeholder names: the builder reads none
    for split, hands in FRAMES.items():
        folder = OUT / split
        folder.mkdir(parents=True, exist_ok=True)
        uvd = np.ones((3, len(hands), 36, 3))  # cameras 2 and 3: placeholders
        for n, (r0, c0, h, w, near, far) in enumerate(hands, start=1):
            synth = synthetic_hand(r0, c0, h, w, near, far)
            write_depth_png(folder / f"synthdepth_1_{n:07d}.png", synth)
            write_depth_png(folder / f"depth_1_{n:07d}.png", real_frame(synth, r0, c0, h, w))
            uvd[0, n - 1] = joints_for(r0, c0, synth)
        xyz = uvd.copy()
        xyz[..., :2] -= (320, 240)  # placeholder metric coordinates: the builder reads none
        scipy.io.savemat(
            folder / "joint_data.mat",
            {"joint_names": names, "joint_uvd": uvd, "joint_xyz": xyz},
            do_compression=True,
        )
    print(f"wrote {sum(len(f) for f in FRAMES.values())} frames under {OUT}")


if __name__ == "__main__":
    main()
