"""`unity_eyes`: the UnityEyes generator's output folder (`N.jpg` + `N.json`) as eye crops.

Each render is cropped around its eyelid (interior-margin) landmarks, converted to grayscale and
resized to the gaze preset (35 x 55); landmarks move with the crop. The look vector is turned
into the MPIIGaze camera convention so synthetic and real labels can be compared directly.
Format details and their public sources are listed in README.md next to this file.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import tensorflow_datasets as tfds

from tfds_builders.constants import GAZE_IMAGE_SHAPE
from tfds_builders.gaze_geometry import vector_to_pitch_yaw
from tfds_builders.common import (
    BadInputError,
    CropBox,
    crop_and_resize,
    find_data_root,
    iter_good,
    parse_vector,
    read_rgb_image,
)
from tfds_builders.common.imaging import to_gray

# Crop width = this x the width of the interior-margin bounding box (GazeML crops 1.5 x the
# eye-corner distance); the height follows from the preset's aspect ratio.
EYE_CROP_SCALE = 1.5
NUM_EYELID_LANDMARKS = 16  # interior_margin_2d entries per render
# Deterministic held-out split: a file is in `test` iff sha1(stem) % 100 < TEST_PERCENT, so
# adding renders never moves existing ones between splits.
TEST_PERCENT = 5
# Where the renders may sit inside --manual-dir (UnityEyes writes them to its imgs/ folder).
ROOT_CANDIDATES = (".", "imgs", "unity_eyes", "unity_eyes/imgs", "UnityEyes", "UnityEyes/imgs")

_UNITY_KEYS = ("interior_margin_2d", "iris_2d", "eye_details")
_EXPECTED_JSON = (
    "UnityEyes JSON with interior_margin_2d (16 '(x, y, z)' strings), iris_2d ('(x, y, z)' "
    "strings) and eye_details.look_vec '(x, y, z, w)'"
)


def split_of(stem: str) -> str:
    """'test' for about TEST_PERCENT % of file stems (by hash), else 'train'."""
    bucket = int(hashlib.sha1(stem.encode("utf-8")).hexdigest(), 16) % 100
    return "test" if bucket < TEST_PERCENT else "train"


def look_vec_to_gaze(look_vec: np.ndarray) -> np.ndarray:
    """UnityEyes camera-space look vector -> unit gaze vector in the MPIIGaze convention.

    Unity's camera space has y up (x right, z forward); MPIIGaze's normalized camera has y down,
    so only y changes sign. GazeML's UnityEyes loader gives the same pitch/yaw.
    """
    v = np.asarray(look_vec, dtype=np.float64)[:3] * np.array([1.0, -1.0, 1.0])
    norm = np.linalg.norm(v)
    if not norm > 0:
        raise ValueError(f"zero-length look vector {look_vec}")
    return v / norm


def _landmarks(data: dict, key: str, path: Path, image_height: int) -> np.ndarray:
    """List of '(x, y, z)' strings with y from the bottom -> (n, 2) x, y from the top."""
    entries = data.get(key)
    if not isinstance(entries, list) or not entries:
        raise BadInputError(path, f"'{key}' is missing or empty", _EXPECTED_JSON)
    points = np.stack([parse_vector(e, 3, path, f"{key}[{i}]") for i, e in enumerate(entries)])
    # Unity's WorldToScreenPoint measures y up from the bottom edge of the render.
    return np.stack([points[:, 0], image_height - points[:, 1]], axis=-1)


def read_json(path: Path) -> dict:
    """A render's JSON as a dict; BadInputError naming the file if it is missing or not JSON."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise BadInputError(path, "file is missing", "a JSON file beside each render") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BadInputError(path, f"not valid JSON ({err})", _EXPECTED_JSON) from None
    if not isinstance(data, dict):
        raise BadInputError(path, f"top level is a {type(data).__name__}", _EXPECTED_JSON)
    return data


def check_schema(data: dict, path: Path) -> None:
    """Reject a JSON with none of UnityEyes' keys, naming what it holds instead.

    Other generators write JSON beside their renders too (the UnityEyes2 fork writes only
    {"ground_truth": {"iris_center", "gaze_vec"}}, with no landmarks to crop by); a list of
    missing fields would hide that the whole file is of another kind.
    """
    if any(key in data for key in _UNITY_KEYS):
        return
    found = ", ".join(sorted(data)) or "none"
    hint = " (the UnityEyes2 fork's format, which has no landmarks)" if "ground_truth" in data else ""
    raise BadInputError(path, f"is not a UnityEyes annotation: top-level keys {found}{hint}", _EXPECTED_JSON)


def load_example(jpg_path: Path, json_path: Path) -> dict[str, Any]:
    """One render + its JSON -> the TFDS example (image, gaze, pitch_yaw, pupil_center, ...)."""
    data = read_json(json_path)
    check_schema(data, json_path)
    details = data.get("eye_details")
    if not isinstance(details, dict) or "look_vec" not in details:
        raise BadInputError(json_path, "'eye_details.look_vec' is missing", _EXPECTED_JSON)
    look_vec = parse_vector(details["look_vec"], 4, json_path, "eye_details.look_vec")
    try:
        gaze = look_vec_to_gaze(look_vec)
    except ValueError as err:
        raise BadInputError(json_path, str(err), "a non-zero look vector") from None

    rgb = read_rgb_image(jpg_path, "JPEG")
    height = rgb.shape[0]
    margin = _landmarks(data, "interior_margin_2d", json_path, height)
    if len(margin) != NUM_EYELID_LANDMARKS:
        raise BadInputError(
            json_path, f"interior_margin_2d has {len(margin)} points", f"{NUM_EYELID_LANDMARKS}"
        )
    iris = _landmarks(data, "iris_2d", json_path, height)

    lo, hi = margin.min(axis=0), margin.max(axis=0)
    if not hi[0] - lo[0] > 0:
        raise BadInputError(json_path, "interior_margin_2d has zero width", "an open eye outline")
    out_h, out_w = GAZE_IMAGE_SHAPE[:2]
    width = EYE_CROP_SCALE * (hi[0] - lo[0])
    box_height = width * out_h / out_w
    centre = (lo + hi) / 2
    box = CropBox(centre[0] - width / 2, centre[1] - box_height / 2, width, box_height)

    gray = crop_and_resize(to_gray(rgb), box, out_h, out_w, resample="box")
    image = np.clip(np.round(gray), 0, 255).astype(np.uint8)[..., None]
    return {
        "image": image,
        "gaze": gaze.astype(np.float32),
        "pitch_yaw": vector_to_pitch_yaw(gaze).astype(np.float32),
        # Unity screen points are continuous (the render's corner is 0), hence "continuous".
        "pupil_center": box.map_points(iris.mean(axis=0), out_w, out_h, "continuous").astype(np.float32),
        "eyelid_landmarks": box.map_points(margin, out_w, out_h, "continuous").astype(np.float32),
        "file_name": jpg_path.name,
    }


def find_pairs(folder: Path) -> list[str]:
    """Sorted stems of `N.jpg` / `N.json` pairs; an unpaired file is reported by `load_pair`."""
    if not folder.is_dir():
        raise BadInputError(folder, "is not a folder", "the UnityEyes output folder (N.jpg + N.json)")
    stems = {p.stem for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".json")}
    if not stems:
        raise BadInputError(folder, "holds no .jpg/.json files", "UnityEyes renders N.jpg with N.json")
    return sorted(stems)


def generate_examples(
    folder: str | os.PathLike, split: str, skip_bad: bool = False
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(key, example) for every render of `split` in `folder`, in sorted file order."""
    folder = Path(folder)
    stems = [s for s in find_pairs(folder) if split_of(s) == split]

    def load_pair(stem: str) -> tuple[str, dict[str, Any]]:
        jpg, js = folder / f"{stem}.jpg", folder / f"{stem}.json"
        for path, other in ((jpg, js), (js, jpg)):
            if not path.exists():
                raise BadInputError(path, f"is missing (found {other.name})", "N.jpg and N.json in pairs")
        return stem, load_example(jpg, js)

    yield from iter_good(stems, load_pair, skip_bad, "UnityEyes renders")


def find_root(manual_dir: Path) -> Path:
    """The folder holding the renders, in manual_dir or a subfolder named as in ROOT_CANDIDATES."""
    return find_data_root(
        manual_dir, ROOT_CANDIDATES, lambda p: any(p.glob("*.json")), "UnityEyes renders N.jpg + N.json"
    )


class Builder(tfds.core.GeneratorBasedBuilder):
    """UnityEyes synthetic eye renders, cropped and labelled like MPIIGaze."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    Generate renders with the UnityEyes application
    (https://www.cl.cam.ac.uk/research/rainbow/projects/unityeyes/): it writes N.jpg with N.json
    beside it into its `imgs/` folder. Pass that folder (or its parent) as the manual dir:
    `--manual-dir /path/to/UnityEyes/imgs`.
    """

    def __init__(self, *, skip_bad: bool = False, **kwargs: Any):
        """skip_bad=True logs and leaves out malformed renders instead of stopping."""
        self._skip_bad = skip_bad
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        h, w, c = GAZE_IMAGE_SHAPE
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(h, w, c), dtype=np.uint8),
                "gaze": tfds.features.Tensor(shape=(3,), dtype=np.float32),
                "pitch_yaw": tfds.features.Tensor(shape=(2,), dtype=np.float32),
                "pupil_center": tfds.features.Tensor(shape=(2,), dtype=np.float32),
                "eyelid_landmarks": tfds.features.Tensor(
                    shape=(NUM_EYELID_LANDMARKS, 2), dtype=np.float32
                ),
                "file_name": tfds.features.Text(),
            }),
            supervised_keys=("image", "gaze"),
            homepage="https://www.cl.cam.ac.uk/research/rainbow/projects/unityeyes/",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        root = find_root(Path(dl_manager.manual_dir))
        # A handful of renders may hash into one split only; TFDS cannot write an empty split.
        present = {split_of(stem) for stem in find_pairs(root)}
        return {s: self._generate_examples(root, s) for s in ("train", "test") if s in present}

    def _generate_examples(self, root: Path, split: str):
        yield from generate_examples(root, split, self._skip_bad)
