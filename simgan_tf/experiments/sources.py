"""Where the gaze experiment's images come from: the embedded TFDS data or your own folders.

Everything is loaded once into memory as uint8 arrays (the quick experiment holds ~20k
35 x 55 images, ~40 MB): every seed and row then trains on exactly the same images.

Domains:
  synthetic  labeled simulator images (gaze, and pupil centres when the source has them)
  real       unlabeled target images: the only target data the refiner ever sees
  test       labeled target images, evaluation only
  oracle     labeled target training images, only for the "oracle" reference row

The target domains come from an embedded pair of TFDS configs (`SourceSpec.camera`, --camera:
`embedded` = procedural_eyes/simulator, camera, camera_labeled; `embedded_v2` = their v2
configs, a simulator that lights every image itself and a camera that adds material and
sensor appearance), from your folders, or from a suite camera: a suite camera images the
simulator's own scenes, disjoint ranges of them per domain (`camera_scene_ranges`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from simgan_tf import data
from simgan_tf.config import ImageSpec
from simgan_tf.target_folder import LabeledImages, load_image_folder, load_labeled_folder
from tfds_builders.procedural_eyes import camera_suite

DEFAULT_SYNTHETIC = "procedural_eyes/simulator"
DEFAULT_REAL = "procedural_eyes/camera"
DEFAULT_TARGET_LABELED = "procedural_eyes/camera_labeled"
# The target camera of the embedded TFDS data; other names are suite cameras (camera_suite.CAMERAS).
EMBEDDED_CAMERA = "embedded"
EMBEDDED_V2_CAMERA = "embedded_v2"


@dataclass(frozen=True)
class EmbeddedPair:
    """An embedded simulator/camera pair: its TFDS dataset names and where it is made."""

    synthetic: str
    real: str
    target_labeled: str
    made_by: str


# --camera name -> embedded pair. `embedded` (v1): a flat-lit simulator and a camera with per-image
# lighting randomness; `embedded_v2`: the simulator lights each image, the camera adds material and
# sensor appearance (tfds_builders/procedural_eyes/README.md, "The v2 pair").
EMBEDDED_PAIRS: dict[str, EmbeddedPair] = {
    EMBEDDED_CAMERA: EmbeddedPair(DEFAULT_SYNTHETIC, DEFAULT_REAL, DEFAULT_TARGET_LABELED,
                                  "tfds_builders/procedural_eyes/camera.py"),
    EMBEDDED_V2_CAMERA: EmbeddedPair("procedural_eyes/simulator_v2", "procedural_eyes/camera_v2",
                                     "procedural_eyes/camera_v2_labeled",
                                     "tfds_builders/procedural_eyes/lit_render.py, camera_v2.py"),
}


def camera_names() -> tuple[str, ...]:
    """Every --camera choice: the embedded pairs, then the registered suite cameras."""
    return (*EMBEDDED_PAIRS, *camera_suite.CAMERAS)


@dataclass(frozen=True)
class SourceSpec:
    """Where to read each domain: TFDS names/splits, or folders (+ CSV of filename,x,y,z)."""

    synthetic: str = DEFAULT_SYNTHETIC
    synthetic_split: str = "train"
    synthetic_dir: str | None = None
    synthetic_labels: str | None = None
    real: str = DEFAULT_REAL
    real_split: str = "train"
    real_dir: str | None = None
    test: str = DEFAULT_TARGET_LABELED
    test_split: str = "test"
    test_dir: str | None = None
    test_labels: str | None = None
    oracle: str = DEFAULT_TARGET_LABELED
    oracle_split: str = "train"
    oracle_dir: str | None = None
    oracle_labels: str | None = None
    data_dir: str | None = None
    manual_dir: str | None = None
    skip_bad: bool = False  # leave out (and log) bad files and CSV rows instead of stopping
    # "embedded": the TFDS camera configs above; "embedded_v2": the v2 configs (`resolved()` puts
    # their names in the fields left at the defaults above); a suite camera's name: real, test and
    # oracle are that camera's images of the synthetic dataset's own scenes (see camera_scene_ranges).
    camera: str = EMBEDDED_CAMERA

    def resolved(self) -> "SourceSpec":
        """The spec with the TFDS names of its embedded pair: fields still at the `embedded`
        defaults switch to the pair's datasets (a suite camera or `embedded`: unchanged)."""
        pair = EMBEDDED_PAIRS.get(self.camera)
        if pair is None or self.camera == EMBEDDED_CAMERA:
            return self
        switch = {"synthetic": (DEFAULT_SYNTHETIC, pair.synthetic), "real": (DEFAULT_REAL, pair.real),
                  "test": (DEFAULT_TARGET_LABELED, pair.target_labeled),
                  "oracle": (DEFAULT_TARGET_LABELED, pair.target_labeled)}
        return dataclasses.replace(self, **{k: new for k, (old, new) in switch.items() if getattr(self, k) == old})

    def validate(self) -> None:
        """Folder and CSV come in pairs; a custom real domain needs its own test/oracle data;
        a suite camera makes every target domain itself, so it takes no target folders."""
        if self.camera not in EMBEDDED_PAIRS:
            if self.camera not in camera_suite.CAMERAS:
                raise ValueError(f"--camera {self.camera!r}: expected one of {', '.join(camera_names())}")
            clashes = [flag for flag, given in (
                ("--synthetic-dir", self.synthetic_dir), ("--real-dir", self.real_dir),
                ("--test-dir", self.test_dir), ("--oracle-dir", self.oracle_dir),
                (f"real={self.real!r}", self.real != DEFAULT_REAL),
                (f"test={self.test!r}", self.test != DEFAULT_TARGET_LABELED),
                (f"oracle={self.oracle!r}", self.oracle != DEFAULT_TARGET_LABELED),
            ) if given]
            if clashes:
                raise ValueError(
                    f"--camera {self.camera} images the simulator's own scenes to make the real, test and "
                    f"oracle domains, so it cannot be combined with {', '.join(clashes)}; use "
                    f"--camera {EMBEDDED_CAMERA} (the default) with your own folders"
                )
        for name in ("synthetic", "test", "oracle"):
            folder, labels = getattr(self, f"{name}_dir"), getattr(self, f"{name}_labels")
            if (folder is None) != (labels is None):
                raise ValueError(
                    f"--{name}-dir and --{name}-labels go together (a folder of images and its CSV of "
                    f"filename,x,y,z); got --{name}-dir={folder!r}, --{name}-labels={labels!r}"
                )

    @property
    def custom_target(self) -> bool:
        """True when the user brings their own real domain (then the embedded labels don't apply)."""
        pair = EMBEDDED_PAIRS.get(self.camera, EMBEDDED_PAIRS[EMBEDDED_CAMERA])
        return self.real_dir is not None or self.real not in (DEFAULT_REAL, pair.real)


@dataclass
class ExperimentData:
    """The experiment's images as uint8 (n, H, W, C) arrays, with gaze as unit (n, 3) vectors."""

    synthetic: np.ndarray
    synthetic_gaze: np.ndarray
    synthetic_pupil: np.ndarray | None
    real: np.ndarray
    test: LabeledImages | None
    oracle: LabeledImages | None
    described: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _take_tfds(name: str, split: str, image: ImageSpec, count: int | None, keys: tuple[str, ...],
               spec: SourceSpec, optional_keys: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The first `count` examples of a TFDS split as numpy arrays of `keys` (+ image, + those
    of `optional_keys` the dataset has)."""
    ds = data.raw_dataset(name, split, image, spec.data_dir, spec.manual_dir, skip_bad=spec.skip_bad)
    missing = [k for k in keys if k not in ds.element_spec]
    if missing:
        raise data.DataError(f"dataset {name}[{split}] lacks labels {missing}: it has {sorted(ds.element_spec)}")
    keys = keys + tuple(k for k in optional_keys if k in ds.element_spec)
    ds = ds.map(lambda ex: {k: ex[k] for k in ("image", *keys)})
    if count is not None:
        ds = ds.take(count)
    arrays: dict[str, list[np.ndarray]] = {k: [] for k in ("image", *keys)}
    for batch in tfds.as_numpy(ds.batch(1024)):
        for k in arrays:
            arrays[k].append(batch[k])
    if not arrays["image"]:
        raise data.DataError(f"dataset {name}[{split}] is empty")
    out = {k: np.concatenate(v) for k, v in arrays.items()}
    if count is not None and len(out["image"]) < count:
        raise data.DataError(
            f"dataset {name}[{split}] holds {len(out['image'])} examples; the experiment needs {count}"
        )
    return out


def _unit(gaze: np.ndarray) -> np.ndarray:
    gaze = np.asarray(gaze, dtype=np.float32)
    return gaze / np.linalg.norm(gaze, axis=-1, keepdims=True)


def _first(labeled: LabeledImages, count: int | None, what: str) -> LabeledImages:
    if count is None:
        return labeled
    if len(labeled) < count:
        raise data.DataError(f"{what}: {len(labeled)} labeled images; the experiment needs {count}")
    return LabeledImages(labeled.images[:count], labeled.gaze[:count], labeled.filenames[:count], labeled.skipped)


def camera_scene_ranges(synthetic_count: int, real_count: int, oracle_count: int) -> dict[str, tuple[int, int]]:
    """[start, stop) of each domain's scenes in the synthetic split (read order) under a suite
    camera: the synthetic images first (the same images as with the embedded camera), then
    the refiner's unlabeled real images, then the oracle's labeled ones. Disjoint, so no scene
    is seen by two domains; the test set is the camera's image of the simulator's test split."""
    real_start = synthetic_count
    oracle_start = real_start + real_count
    return {"synthetic": (0, synthetic_count), "real": (real_start, oracle_start),
            "oracle": (oracle_start, oracle_start + oracle_count)}


def _split_size(spec: SourceSpec, split: str) -> int | None:
    """Examples in a split (or slice) of the synthetic TFDS dataset; None when TFDS cannot tell
    (then loading names what is missing)."""
    builder = data.load_tfds_builder(spec.synthetic, spec.data_dir, spec.manual_dir, spec.skip_bad)
    try:
        return int(builder.info.splits[split].num_examples)
    except (KeyError, ValueError, TypeError):
        return None


def _load_suite_camera(spec: SourceSpec, image: ImageSpec, synthetic_count: int, real_count: int,
                       test_count: int | None, oracle_count: int) -> ExperimentData:
    """Synthetic from the simulator; real, oracle and test are a suite camera's images of the
    simulator's own scenes (labels of the scene kept for oracle and test)."""
    cam = camera_suite.get_camera(spec.camera)
    ranges = camera_scene_ranges(synthetic_count, real_count, oracle_count)
    needed = ranges["oracle"][1]
    source = f"{spec.synthetic}[{spec.synthetic_split}]"
    available = _split_size(spec, spec.synthetic_split)
    if available is not None and available < needed:
        layout = ", ".join(f"{what} [{a}, {b})" for what, (a, b) in ranges.items())
        raise data.DataError(
            f"--camera {cam.name}: {source} holds {available} scenes, but this preset needs {needed} different "
            f"ones ({layout}): a suite camera images the simulator's own scenes and gives each domain its "
            f"own. Use a smaller preset (quick) or --camera {EMBEDDED_CAMERA}"
        )
    arrays = _take_tfds(spec.synthetic, spec.synthetic_split, image, needed, ("gaze",), spec,
                        optional_keys=("pupil_center",))
    if image.channels != 1:
        raise data.DataError(f"--camera {cam.name}: suite cameras image grayscale scenes; the preset has "
                             f"{image.channels} channels")
    gaze = _unit(arrays["gaze"])

    def take(what: str) -> slice:
        return slice(*ranges[what])

    def imaged(what: str) -> np.ndarray:
        start, stop = ranges[what]
        return camera_suite.image_scenes(cam, arrays["image"][start:stop], spec.synthetic_split, start)

    synthetic = arrays["image"][take("synthetic")]
    pupil = arrays["pupil_center"][take("synthetic")].astype(np.float32) if "pupil_center" in arrays else None
    real = imaged("real")
    oracle = LabeledImages(imaged("oracle"), gaze[take("oracle")], ())
    test_arrays = _take_tfds(spec.synthetic, spec.test_split, image, test_count, ("gaze",), spec)
    test = LabeledImages(camera_suite.image_scenes(cam, test_arrays["image"], spec.test_split, 0),
                         _unit(test_arrays["gaze"]), ())

    def scenes(what: str) -> str:
        return f"scenes [{ranges[what][0]}, {ranges[what][1]})"

    described = {
        "camera": f"{cam.name}: {cam.description} (tfds_builders/procedural_eyes/camera_suite.py)",
        "synthetic": f"tfds {source} {scenes('synthetic')}",
        "real": f"camera {cam.name} of {source} {scenes('real')} (images only)",
        "test": f"camera {cam.name} of {spec.synthetic}[{spec.test_split}] scenes [0, {len(test)})",
        "oracle": f"camera {cam.name} of {source} {scenes('oracle')} (labels used by the oracle row only)",
    }
    return ExperimentData(synthetic, gaze[take("synthetic")], pupil, real, test, oracle, described, {})


def load_experiment_data(
    spec: SourceSpec,
    image: ImageSpec,
    synthetic_count: int,
    real_count: int,
    test_count: int | None,
    oracle_count: int,
) -> ExperimentData:
    """Load every domain the experiment needs (sizes from the ExperimentSettings)."""
    spec.validate()
    if spec.camera not in EMBEDDED_PAIRS:
        return _load_suite_camera(spec, image, synthetic_count, real_count, test_count, oracle_count)
    spec = spec.resolved()
    pair = EMBEDDED_PAIRS[spec.camera]
    described: dict[str, str] = {}
    if not spec.custom_target:
        described["camera"] = f"{spec.camera}: {pair.real}, {pair.target_labeled} ({pair.made_by})"
    skipped: dict[str, str] = {}

    if spec.synthetic_dir:
        labeled = _first(load_labeled_folder(spec.synthetic_dir, spec.synthetic_labels, image, spec.skip_bad),
                         synthetic_count, f"--synthetic-dir {spec.synthetic_dir}")
        synthetic, synthetic_gaze, synthetic_pupil = labeled.images, labeled.gaze, None
        described["synthetic"] = f"folder {spec.synthetic_dir} + {spec.synthetic_labels}"
    else:
        arrays = _take_tfds(spec.synthetic, spec.synthetic_split, image, synthetic_count, ("gaze",), spec,
                            optional_keys=("pupil_center",))
        synthetic, synthetic_gaze = arrays["image"], _unit(arrays["gaze"])
        # Without pupil labels (e.g. another simulator) label preservation measures every image.
        synthetic_pupil = arrays["pupil_center"].astype(np.float32) if "pupil_center" in arrays else None
        described["synthetic"] = f"tfds {spec.synthetic}[{spec.synthetic_split}]"

    if spec.real_dir:
        real = load_image_folder(spec.real_dir, image, limit=real_count, skip_bad=spec.skip_bad)
        described["real"] = f"folder {spec.real_dir} (unlabeled)"
    else:
        ds = data.image_dataset(spec.real, spec.real_split, image, spec.data_dir, spec.manual_dir,
                                skip_bad=spec.skip_bad)
        real = np.concatenate(list(tfds.as_numpy(ds.take(real_count).batch(1024))))
        described["real"] = f"tfds {spec.real}[{spec.real_split}] (images only)"

    def labeled_target(what: str, folder, labels, name: str, split: str, count, flag: str,
                       missing: str, note: str = "") -> LabeledImages | None:
        """The test or oracle set: the user's folder + CSV, nothing for a custom target, or TFDS."""
        if folder:
            described[what] = f"folder {folder} + {labels}"
            return _first(load_labeled_folder(folder, labels, image, spec.skip_bad), count, f"{flag} {folder}")
        if spec.custom_target:
            skipped[what] = missing
            return None
        arrays = _take_tfds(name, split, image, count, ("gaze",), spec)
        described[what] = f"tfds {name}[{split}]{note}"
        return LabeledImages(arrays["image"], _unit(arrays["gaze"]), ())

    test = labeled_target("test", spec.test_dir, spec.test_labels, spec.test, spec.test_split, test_count,
                          "--test-dir", "no labeled test set for the custom real domain (--test-dir/--test-labels)")
    oracle = labeled_target(
        "oracle", spec.oracle_dir, spec.oracle_labels, spec.oracle, spec.oracle_split, oracle_count, "--oracle-dir",
        "no labeled target training set for the custom real domain (--oracle-dir/--oracle-labels)",
        " (labels used by the oracle row only)",
    )

    return ExperimentData(synthetic, synthetic_gaze, synthetic_pupil, real, test, oracle, described, skipped)


def describe_shapes(d: ExperimentData) -> dict[str, Any]:
    return {
        "synthetic": len(d.synthetic),
        "real": len(d.real),
        "test": len(d.test) if d.test is not None else 0,
        "oracle": len(d.oracle) if d.oracle is not None else 0,
    }
