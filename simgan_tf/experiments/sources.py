"""Where the gaze experiment's images come from: the embedded TFDS data or your own folders.

Everything is loaded once into memory as uint8 arrays (the quick experiment holds ~20k
35 x 55 images, ~40 MB): every seed and row then trains on exactly the same images.

Domains:
  synthetic  labeled simulator images (gaze, and pupil centres when the source has them)
  real       unlabeled target images: the only target data the refiner ever sees
  test       labeled target images, evaluation only
  oracle     labeled target training images, only for the "oracle" reference row
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from simgan_tf import data
from simgan_tf.config import ImageSpec
from simgan_tf.target_folder import LabeledImages, load_image_folder, load_labeled_folder

DEFAULT_SYNTHETIC = "procedural_eyes/simulator"
DEFAULT_REAL = "procedural_eyes/camera"
DEFAULT_TARGET_LABELED = "procedural_eyes/camera_labeled"


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

    def validate(self) -> None:
        """Folder and CSV come in pairs; a custom real domain needs its own test/oracle data."""
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
        return self.real_dir is not None or self.real != DEFAULT_REAL


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
    described: dict[str, str] = {}
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
