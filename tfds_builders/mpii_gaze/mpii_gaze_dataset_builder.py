"""`mpii_gaze`: MPIIGaze's normalized eye images (`Data/Normalized/pNN/dayNN.mat`).

Right eyes are mirrored to look like left eyes and their gaze x negated (as MPIIGaze's own
MATLAB script and public loaders do), then every 36 x 60 image is resized to the gaze preset
(35 x 55). `train` holds every image (both eyes of every frame: the refiner's unlabeled real
domain); `test` is the official evaluation subset (`Evaluation Subset/sample list for eye
image/pNN.txt`), the labelled benchmark. Sources for each format detail are in README.md.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import scipy.io
import tensorflow_datasets as tfds

from tfds_builders.constants import GAZE_IMAGE_SHAPE
from tfds_builders.gaze_geometry import vector_to_pitch_yaw
from tfds_builders.common import (
    BadInputError,
    CropBox,
    crop_and_resize,
    find_data_root,
    iter_good,
)

SOURCE_HEIGHT, SOURCE_WIDTH = 36, 60  # MPIIGaze normalized eye images
EVAL_LIST_DIR = Path("Evaluation Subset") / "sample list for eye image"
NORMALIZED_DIR = Path("Data") / "Normalized"
SIDES = ("left", "right")
# Where MPIIGaze may sit inside --manual-dir (the archive extracts to MPIIGaze/).
ROOT_CANDIDATES = (".", "MPIIGaze", "mpii_gaze", "mpii_gaze/MPIIGaze")
_EXPECTED_MAT = (
    "an MPIIGaze normalized .mat (struct data.left/data.right with image N x 36 x 60 uint8 and "
    "gaze N x 3, plus filenames with N entries)"
)
_LIST_LINE = re.compile(r"^(day\d+)/(\S+)\s+(left|right)$")


def _field(struct: Any, name: str, path: Path, where: str) -> Any:
    """A MATLAB struct field, whether scipy loaded it as a record array or a mat_struct."""
    try:
        if isinstance(struct, np.ndarray) and struct.dtype.names is not None:
            return struct[name].reshape(-1)[0] if struct.size == 1 else struct[name]
        return getattr(struct, name)
    except (KeyError, ValueError, AttributeError, IndexError):
        raise BadInputError(path, f"struct {where} has no field '{name}'", _EXPECTED_MAT) from None


def _filenames(raw: Any, path: Path) -> list[str]:
    """`filenames` as a cell array (N x 1 or 1 x N) or a char matrix (N rows) -> N strings."""
    arr = np.asarray(raw)
    if arr.dtype == object:  # cell: each entry is a 1-element array holding the string
        cells = [np.asarray(e).reshape(-1) for e in arr.reshape(-1)]
        return [str(c[0]).strip() if c.size else "" for c in cells]
    if arr.dtype.kind == "U":
        return [str(s).strip() for s in arr.reshape(-1)]
    expected = "a cell array or char matrix of file names"
    raise BadInputError(path, f"filenames has dtype {arr.dtype}", expected)


def _eye_arrays(data: Any, side: str, count: int, path: Path) -> tuple[np.ndarray, np.ndarray]:
    eye = _field(data, side, path, "data")
    image = np.asarray(_field(eye, "image", path, f"data.{side}"))
    gaze = np.asarray(_field(eye, "gaze", path, f"data.{side}"), dtype=np.float64)
    if image.shape == (SOURCE_HEIGHT, SOURCE_WIDTH):  # one-frame file saved squeezed
        image = image[None]
    gaze = gaze.reshape(-1, 3) if gaze.size == 3 * count else gaze
    if image.shape != (count, SOURCE_HEIGHT, SOURCE_WIDTH):
        raise BadInputError(
            path, f"data.{side}.image has shape {image.shape}",
            f"({count}, {SOURCE_HEIGHT}, {SOURCE_WIDTH}) to match {count} filenames",
        )
    if gaze.shape != (count, 3):
        raise BadInputError(path, f"data.{side}.gaze has shape {gaze.shape}", f"({count}, 3)")
    if image.dtype.kind not in "uif":
        raise BadInputError(path, f"data.{side}.image has dtype {image.dtype}", "uint8 pixels")
    if image.dtype != np.uint8 and image.size and (image.min() < 0 or image.max() > 255):
        span = f"{image.min()}..{image.max()}"
        raise BadInputError(path, f"data.{side}.image values span {span}", "uint8 0..255")
    if not np.all(np.isfinite(gaze)) or np.any(np.linalg.norm(gaze, axis=1) == 0):
        raise BadInputError(path, f"data.{side}.gaze has zero or non-finite vectors", "unit gaze vectors")
    return image.astype(np.uint8), gaze


def load_day(path: Path) -> dict[str, Any]:
    """One dayNN.mat -> {'filenames': [...], 'left': (images, gazes), 'right': (images, gazes)}."""
    try:
        mat = scipy.io.loadmat(os.fspath(path))
    except FileNotFoundError:
        raise BadInputError(path, "file is missing", _EXPECTED_MAT) from None
    except Exception as err:  # scipy raises several types (MatReadError, OSError, ValueError, ...)
        problem = f"not a readable MATLAB .mat file ({type(err).__name__}: {err})"
        raise BadInputError(path, problem, _EXPECTED_MAT) from None
    for key in ("data", "filenames"):
        if key not in mat:
            raise BadInputError(path, f"variable '{key}' is missing", _EXPECTED_MAT)
    names = _filenames(mat["filenames"], path)
    day = {"filenames": names}
    for side in SIDES:
        day[side] = _eye_arrays(mat["data"], side, len(names), path)
    return day


def prepare_eye(image: np.ndarray, gaze: np.ndarray, side: str) -> dict[str, np.ndarray]:
    """A 36 x 60 eye image + gaze -> preset-size left-eye-looking image, gaze, pitch/yaw.

    A right eye is mirrored left-right; mirroring the image mirrors the camera x axis, so the
    gaze x component changes sign (equivalently yaw changes sign, pitch is unchanged).
    """
    if side == "right":
        image = image[:, ::-1]
        gaze = gaze * np.array([-1.0, 1.0, 1.0])
    gaze = gaze / np.linalg.norm(gaze)
    out_h, out_w = GAZE_IMAGE_SHAPE[:2]
    resized = crop_and_resize(
        image.astype(np.float32), CropBox(0, 0, SOURCE_WIDTH, SOURCE_HEIGHT), out_h, out_w, "box"
    )
    return {
        "image": np.clip(np.round(resized), 0, 255).astype(np.uint8)[..., None],
        "gaze": gaze.astype(np.float32),
        "pitch_yaw": vector_to_pitch_yaw(gaze).astype(np.float32),
    }


def _example(day_data: dict, index: int, side: str, person: str, day: str) -> dict[str, Any]:
    images, gazes = day_data[side]
    return {
        **prepare_eye(images[index], gazes[index], side),
        "person_id": person,
        "day": day,
        "file_name": f"{day}/{day_data['filenames'][index]}",
        "eye": side,
    }


def _persons(root: Path) -> list[Path]:
    folder = root / NORMALIZED_DIR
    persons = sorted(p for p in folder.glob("p*") if p.is_dir()) if folder.is_dir() else []
    if not persons:
        raise BadInputError(folder, "holds no pNN folders", "MPIIGaze's Data/Normalized/p00 .. p14")
    return persons


def all_examples(root: Path, skip_bad: bool = False) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every eye image of every frame, person by person, day by day (sorted)."""
    mats = [m for person in _persons(root) for m in sorted(person.glob("day*.mat"))]

    def load(mat_path: Path) -> list[tuple[str, dict[str, Any]]]:
        person, day = mat_path.parent.name, mat_path.stem
        data = load_day(mat_path)
        return [
            (f"{person}/{day}/{i:05d}/{side}", _example(data, i, side, person, day))
            for i in range(len(data["filenames"]))
            for side in SIDES
        ]

    for examples in iter_good(mats, load, skip_bad, "MPIIGaze .mat files"):
        yield from examples


def read_eval_list(path: Path) -> list[tuple[int, str]]:
    """pNN.txt -> [(line number, line)] of its non-blank lines (parsed one by one later)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise BadInputError(path, "file is missing", "one evaluation list per person") from None
    except UnicodeDecodeError as err:
        raise BadInputError(path, f"not text ({err})", "lines like 'day08/0069.jpg left'") from None
    return [(number, line.strip()) for number, line in enumerate(lines, start=1) if line.strip()]


def parse_eval_line(line: str, where: str) -> tuple[str, str, str]:
    """'day08/0069.jpg left' -> ('day08', '0069.jpg', 'left')."""
    match = _LIST_LINE.match(line)
    if not match:
        raise BadInputError(where, f"line reads {line!r}", "'dayNN/NNNN.jpg left' or '... right'")
    day, file_name, side = match.groups()
    return day, file_name, side


def eval_subset_examples(root: Path, skip_bad: bool = False) -> Iterator[tuple[str, dict[str, Any]]]:
    """The official evaluation subset, in list order, person by person."""
    list_dir = root / EVAL_LIST_DIR
    if not list_dir.is_dir():
        raise BadInputError(list_dir, "is missing", "MPIIGaze's evaluation subset lists pNN.txt")
    lists = sorted(list_dir.glob("p*.txt"))
    if not lists:
        raise BadInputError(list_dir, "holds no pNN.txt lists", "one evaluation list per person")
    days: dict[Path, dict | BadInputError] = {}

    def cached_day(mat_path: Path) -> dict:
        if mat_path not in days:  # each day is read once; a bad one fails each of its entries
            try:
                days[mat_path] = load_day(mat_path)
            except BadInputError as err:
                days[mat_path] = err
        result = days[mat_path]
        if isinstance(result, BadInputError):
            raise result
        return result

    entries = [(path, number, line) for path in lists for number, line in read_eval_list(path)]
    if not entries:
        raise BadInputError(list_dir, "lists hold no entries", "lines like 'day08/0069.jpg left'")

    def load(entry: tuple[Path, int, str]) -> tuple[str, dict[str, Any]]:
        list_path, number, line = entry
        where = f"{list_path}:{number}"
        day, file_name, side = parse_eval_line(line, where)
        person = list_path.stem
        data = cached_day(root / NORMALIZED_DIR / person / f"{day}.mat")
        try:
            index = data["filenames"].index(file_name)
        except ValueError:
            raise BadInputError(
                where, f"{day}/{file_name} is not in {person}/{day}.mat",
                "every listed image among its day's filenames",
            ) from None
        return f"{person}/{number:05d}", _example(data, index, side, person, day)

    yield from iter_good(entries, load, skip_bad, "evaluation-subset images")


def find_root(manual_dir: Path) -> Path:
    """MPIIGaze's root (holding Data/Normalized), in manual_dir or a subfolder in ROOT_CANDIDATES."""
    return find_data_root(
        manual_dir, ROOT_CANDIDATES, lambda p: (p / NORMALIZED_DIR).is_dir(),
        "MPIIGaze's folder with Data/Normalized/ and Evaluation Subset/",
    )


class Builder(tfds.core.GeneratorBasedBuilder):
    """MPIIGaze normalized eye images, right eyes mirrored, resized to the gaze preset."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    Download MPIIGaze.tar.gz (2.1 GB) from
    https://www.mpi-inf.mpg.de/departments/computer-vision-and-machine-learning/research/gaze-based-human-computer-interaction/appearance-based-gaze-estimation-in-the-wild
    and extract it. Pass the extracted `MPIIGaze/` folder (the one holding `Data/Normalized/`
    and `Evaluation Subset/`), or its parent, as the manual dir.
    """

    def __init__(self, *, skip_bad: bool = False, **kwargs: Any):
        """skip_bad=True logs and leaves out malformed .mat files / list entries."""
        self._skip_bad = skip_bad
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        h, w, c = GAZE_IMAGE_SHAPE
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(h, w, c), dtype=np.uint8),
                "gaze": tfds.features.Tensor(shape=(3,), dtype=np.float32),
                "pitch_yaw": tfds.features.Tensor(shape=(2,), dtype=np.float32),
                "person_id": tfds.features.Text(),
                "day": tfds.features.Text(),
                "file_name": tfds.features.Text(),
                "eye": tfds.features.Text(),
            }),
            supervised_keys=("image", "gaze"),
            homepage="https://www.mpi-inf.mpg.de/departments/computer-vision-and-machine-learning/research/gaze-based-human-computer-interaction/appearance-based-gaze-estimation-in-the-wild",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        root = find_root(Path(dl_manager.manual_dir))
        return {
            "train": self._generate_examples(root, "train"),
            "test": self._generate_examples(root, "test"),
        }

    def _generate_examples(self, root: Path, split: str):
        generate = all_examples if split == "train" else eval_subset_examples
        yield from generate(root, self._skip_bad)
