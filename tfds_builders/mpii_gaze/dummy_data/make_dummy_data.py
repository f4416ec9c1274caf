"""Write the tiny MPIIGaze fixture: normalized .mat files and evaluation lists, in MPIIGaze's layout.

Run: `python tfds_builders/mpii_gaze/dummy_data/make_dummy_data.py`. Writes, next to this file,

    Data/Normalized/p00/day01.mat   3 frames, filenames as a cell array (N x 1), as MPIIGaze does
    Data/Normalized/p00/day02.mat   1 frame (the single-frame layout)
    Data/Normalized/p01/day01.mat   2 frames, filenames as a char matrix (the other MATLAB layout)
    Evaluation Subset/sample list for eye image/p00.txt, p01.txt

Each .mat holds the struct `data` with fields left/right, each with gaze (N x 3 double),
image (N x 36 x 60 uint8) and pose (N x 3 double), in that field order, plus `filenames`.
Images are two flat halves so the resize to 35 x 55 is hand-computable: the left eye of frame i
is 10 + 20 i (columns 0-29) | 250 (columns 30-59); every right eye is 200 | 40.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import scipy.io

OUT = Path(__file__).resolve().parent
H, W = 36, 60
LEFT_GAZE = (-0.1, 0.2, -math.sqrt(1 - 0.05))  # looks down (y is down) and to the image left
RIGHT_GAZE = (0.5, 0.0, -math.sqrt(0.75))  # looks to the image right (yaw -30 degrees)

# (person, day): (file names, filenames layout)
DAYS = {
    ("p00", "day01"): (["0001.jpg", "0002.jpg", "0003.jpg"], "cell"),
    ("p00", "day02"): (["0001.jpg"], "cell"),
    ("p01", "day01"): (["0001.jpg", "0002.jpg"], "char"),
}
EVAL_LISTS = {
    "p00": ["day01/0001.jpg left", "day01/0003.jpg right", "day02/0001.jpg right"],
    "p01": ["day01/0002.jpg left"],
}


def halves(left_value: int, right_value: int) -> np.ndarray:
    img = np.empty((H, W), np.uint8)
    img[:, : W // 2] = left_value
    img[:, W // 2 :] = right_value
    return img


def eye(n: int, left: bool) -> dict[str, np.ndarray]:
    images = np.stack([halves(10 + 20 * i, 250) if left else halves(200, 40) for i in range(n)])
    gaze = np.tile(np.array(LEFT_GAZE if left else RIGHT_GAZE), (n, 1))
    pose = np.tile(np.array([0.05, -0.1, 0.02]), (n, 1))  # head rotation vector (unused)
    return {"gaze": gaze, "image": images, "pose": pose}


def main() -> None:
    for (person, day), (names, layout) in DAYS.items():
        folder = OUT / "Data" / "Normalized" / person
        folder.mkdir(parents=True, exist_ok=True)
        if layout == "cell":
            filenames = np.empty((len(names), 1), dtype=object)
            filenames[:, 0] = names
        else:
            filenames = np.array(names)
        data = {"left": eye(len(names), True), "right": eye(len(names), False)}
        scipy.io.savemat(folder / f"{day}.mat", {"data": data, "filenames": filenames}, do_compression=True)
    list_dir = OUT / "Evaluation Subset" / "sample list for eye image"
    list_dir.mkdir(parents=True, exist_ok=True)
    for person, lines in EVAL_LISTS.items():
        (list_dir / f"{person}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(DAYS)} .mat files and {len(EVAL_LISTS)} lists under {OUT}")


if __name__ == "__main__":
    main()
