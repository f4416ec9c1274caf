"""Where the hand experiment's depth images come from: the embedded procedural hands or NYU.

Loaded once into memory at the preset's resolution (nearest neighbour: no depth is invented
between the hand and the background) with the joints' (u, v) scaled the same way, so every
seed and row trains on exactly the same images.

Domains:
  synthetic  labeled simulator renders (joints)
  real       unlabeled target (sensor) images: the only target data the refiner sees
  labeled    labeled target training images: the paper's "real" row only
  test       labeled target images, evaluation only
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from simgan_tf import data
from simgan_tf.config import ImageSpec

# --target name -> (synthetic, real, labeled-target) TFDS datasets. The labeled target's train
# split feeds the "real" row, its test split the evaluation. `sensor_v2`: a sensor whose defects
# follow the geometry (edges, shadows, grazing angles) as a real structured-light sensor's do;
# `sensor` (v1): defects drawn per image independently of the hand, which no deterministic
# refiner can reproduce (tfds_builders/procedural_hands/README.md, "How `sensor` differs");
# `sensor_v3`: sensor_v2 after the matching window's foreground fattening, a shape change the
# quick estimator notices (sensor_v2's gap for it is 1.07x); `sensor_v4`: v3 plus a band of
# flying pixels around the silhouette, so that a critic (and a refiner's discriminator) can see
# the difference (v3: 73-77 % from clean renders).
TARGETS: dict[str, tuple[str, str, str]] = {
    "sensor_v2": ("procedural_hands/synthetic", "procedural_hands/sensor_v2", "procedural_hands/sensor_v2_labeled"),
    "sensor_v3": ("procedural_hands/synthetic", "procedural_hands/sensor_v3", "procedural_hands/sensor_v3_labeled"),
    "sensor_v4": ("procedural_hands/synthetic", "procedural_hands/sensor_v4", "procedural_hands/sensor_v4_labeled"),
    "sensor": ("procedural_hands/synthetic", "procedural_hands/sensor", "procedural_hands/sensor_labeled"),
    "nyu": ("nyu_hand/synthetic", "nyu_hand/real", "nyu_hand/real"),
}
DEFAULT_TARGET = "sensor_v4"
# procedural_hands' 8-bit encoding: 150 mm either side of the hand's median depth over 126.5 levels.
PROCEDURAL_LEVEL_MM = 150.0 / 126.5


@dataclass(frozen=True)
class HandSourceSpec:
    """Which pair of depth domains, and where TFDS keeps / finds them."""

    target: str = DEFAULT_TARGET
    data_dir: str | None = None
    manual_dir: str | None = None
    skip_bad: bool = False

    def validate(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"--target {self.target!r}: expected one of {', '.join(TARGETS)}")

    @property
    def datasets(self) -> tuple[str, str, str]:
        return TARGETS[self.target]


@dataclass
class HandData:
    """Every domain as arrays: images (n, s, s, 1) uint8/uint16, joints (n, 14, 2) in their pixels."""

    synthetic: np.ndarray
    synthetic_joints: np.ndarray
    real: np.ndarray
    labeled: np.ndarray | None
    labeled_joints: np.ndarray | None
    test: np.ndarray
    test_joints: np.ndarray
    level_mm: float | None
    described: dict[str, str] = field(default_factory=dict)


def _take(spec: HandSourceSpec, name: str, split: str, image: ImageSpec, count: int | None,
          labeled: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """First `count` examples of a TFDS split: images at the preset's size, joints (u, v) scaled to it."""
    from simgan_tf.estimators.hand import scale_joints

    builder = data.load_tfds_builder(name, spec.data_dir, spec.manual_dir, spec.skip_bad)
    stored = builder.info.features["image"].shape[0]
    ds = data.raw_dataset(name, split, image, spec.data_dir, spec.manual_dir, skip_bad=spec.skip_bad,
                          resize_method="nearest")
    if labeled and "joints_uvd" not in ds.element_spec:
        raise data.DataError(f"dataset {name}[{split}] has no 'joints_uvd' labels: it has {sorted(ds.element_spec)}")
    keys = ("image", "joints_uvd") if labeled else ("image",)
    ds = ds.map(lambda ex: {k: ex[k] for k in keys})
    if count is not None:
        ds = ds.take(count)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for batch in tfds.as_numpy(ds.batch(512)):
        for k in keys:
            parts[k].append(batch[k])
    if not parts["image"]:
        raise data.DataError(f"dataset {name}[{split}] is empty")
    images = np.concatenate(parts["image"])
    if count is not None and len(images) < count:
        raise data.DataError(f"dataset {name}[{split}] holds {len(images)} examples; the experiment needs {count}")
    if not labeled:
        return images, None
    joints = np.concatenate(parts["joints_uvd"])[..., :2].astype(np.float32)
    return images, scale_joints(joints, stored, image.height).astype(np.float32)


def load_hand_data(spec: HandSourceSpec, image: ImageSpec, synthetic_count: int, real_count: int,
                   labeled_count: int, test_count: int | None) -> HandData:
    """Load every domain the experiment needs (sizes from the HandExperimentSettings)."""
    spec.validate()
    if image.height != image.width:
        raise ValueError(f"the hand experiment needs square images; the preset has {image.height} x {image.width}")
    synthetic_name, real_name, labeled_name = spec.datasets
    synthetic, synthetic_joints = _take(spec, synthetic_name, "train", image, synthetic_count, labeled=True)
    real, _ = _take(spec, real_name, "train", image, real_count, labeled=False)
    labeled, labeled_joints = _take(spec, labeled_name, "train", image, labeled_count, labeled=True)
    test, test_joints = _take(spec, labeled_name, "test", image, test_count, labeled=True)
    level = PROCEDURAL_LEVEL_MM if synthetic.dtype == np.uint8 and synthetic_name.startswith("procedural_hands") else None
    described = {
        "target": spec.target,
        "synthetic": f"{synthetic_name}[train] first {len(synthetic)}",
        "real": f"{real_name}[train] first {len(real)} (images only)",
        "labeled": f"{labeled_name}[train] first {len(labeled)} (the 'real' row only)",
        "test": f"{labeled_name}[test] first {len(test)}",
        "resolution": f"{image.height} x {image.width}, nearest neighbour; joints scaled centre-aligned",
        "dtype": str(synthetic.dtype),
    }
    return HandData(synthetic, synthetic_joints, real, labeled, labeled_joints, test, test_joints, level, described)


def describe_sizes(d: HandData) -> dict[str, Any]:
    return {k: int(len(getattr(d, k))) for k in ("synthetic", "real", "labeled", "test") if getattr(d, k) is not None}


__all__ = ["DEFAULT_TARGET", "HandData", "HandSourceSpec", "TARGETS", "describe_sizes", "load_hand_data"]

