"""procedural_hands: an embedded, download-free stand-in for NYU hand pose (synthetic -> Kinect).

Nine configs share one geometry distribution (`render.sample_params`):
  * `synthetic`: clean depth renders with joint labels (the simulator domain);
  * `sensor`: the same kind of hands through `sensor.apply_sensor` (v1), images only (the
    unlabeled real domain the refiner trains on: it carries no labels at all);
  * `sensor_labeled`: the sensor domain with labels, from disjoint seeds; `train` exists only
    to train a reference "oracle" estimator, `test` is the evaluation set;
  * `sensor_v2`, `sensor_v2_labeled`: the same two roles through `sensor_v2.apply_sensor_v2`,
    whose defects follow the geometry as a genuine NYU frame's do (README.md explains why v1's
    random holes cannot be drawn by a refiner; v1's images are unchanged);
  * `sensor_v3`, `sensor_v3_labeled`: sensor_v2 after the matching window's foreground
    fattening (`sensor_v3.py`): v2's defects are too small for the quick pose estimator to
    notice (a 1.07x gap), v3's change the hand's shape at the scale it sees;
  * `sensor_v4`, `sensor_v4_labeled`: v3 plus a band of flying pixels around the silhouette
    (`sensor_v4.py`): v3's fattening costs the estimator but a critic barely sees it (73-77 %),
    so a refiner had nothing to learn; the halo is visible (85-94 %) and still deterministic.
Everything is deterministic from a fixed seed per (config, split), and the seeds differ
between all of them, so no hand appears in two splits. README.md documents the depth encoding.
"""
from __future__ import annotations

import dataclasses
import io
from typing import Iterator

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from tfds_builders.procedural_hands import render, sensor, sensor_v2, sensor_v3, sensor_v4

# (config, split) -> root seed of the split's random stream. Disjoint by construction.
SPLIT_SEEDS: dict[tuple[str, str], int] = {
    ("synthetic", "train"): 1101,
    ("synthetic", "test"): 1102,
    ("sensor", "train"): 1201,
    ("sensor_labeled", "train"): 1301,
    ("sensor_labeled", "test"): 1302,
    ("sensor_v2", "train"): 1401,
    ("sensor_v2_labeled", "train"): 1501,
    ("sensor_v2_labeled", "test"): 1502,
    ("sensor_v3", "train"): 1601,
    ("sensor_v3_labeled", "train"): 1701,
    ("sensor_v3_labeled", "test"): 1702,
    ("sensor_v4", "train"): 1801,
    ("sensor_v4_labeled", "train"): 1901,
    ("sensor_v4_labeled", "test"): 1902,
}
# imaging -> the function turning a rendered batch into stored images (sensor ones take the
# batch's sensor Generator); "clean" is the renderer itself.
SENSORS = {"sensor": sensor.sensor_images, "sensor_v2": sensor_v2.sensor_images,
           "sensor_v3": sensor_v3.sensor_images, "sensor_v4": sensor_v4.sensor_images}
IMAGINGS = ("clean", *SENSORS)

# Examples are rendered in batches of this size (vectorised numpy). Batch b of a split is
# drawn from np.random.default_rng(SeedSequence([seed, b])); changing this changes the dataset.
RENDER_BATCH = 100
# PNG compression level of the stored images: 1 encodes ~5x faster than TFDS' default path
# (a TF graph per image) and the files are only ~15% larger.
PNG_COMPRESS_LEVEL = 1


@dataclasses.dataclass
class ProceduralHandsConfig(tfds.core.BuilderConfig):
    """One domain of procedural hands: imaging process and whether labels are exposed."""

    imaging: str = "clean"  # "clean" (the renderer) or one of SENSORS
    labeled: bool = True


class Builder(tfds.core.GeneratorBasedBuilder):
    """Procedural 224 x 224 hand depth images: clean renders vs depth sensor, same geometry."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = [
        ProceduralHandsConfig(
            name="synthetic", imaging="clean", labeled=True,
            description="Clean depth renders of an articulated hand with 14 joint labels (uvd).",
        ),
        ProceduralHandsConfig(
            name="sensor", imaging="sensor", labeled=False,
            description="Target depth-sensor domain, images only: what refiner training sees.",
        ),
        ProceduralHandsConfig(
            name="sensor_labeled", imaging="sensor", labeled=True,
            description="Target depth-sensor domain with labels (disjoint seeds): oracle training and evaluation.",
        ),
        ProceduralHandsConfig(
            name="sensor_v2", imaging="sensor_v2", labeled=False,
            description="v2 depth sensor (defects follow the geometry, as NYU's Kinect), images only: "
                        "the unlabeled real domain of the v2 pair.",
        ),
        ProceduralHandsConfig(
            name="sensor_v2_labeled", imaging="sensor_v2", labeled=True,
            description="v2 depth sensor with labels (disjoint seeds): oracle training and evaluation.",
        ),
        ProceduralHandsConfig(
            name="sensor_v3", imaging="sensor_v3", labeled=False,
            description="v3 depth sensor (v2 after the matching window's foreground fattening), images only: "
                        "the unlabeled real domain of the v3 pair.",
        ),
        ProceduralHandsConfig(
            name="sensor_v3_labeled", imaging="sensor_v3", labeled=True,
            description="v3 depth sensor with labels (disjoint seeds): oracle training and evaluation.",
        ),
        ProceduralHandsConfig(
            name="sensor_v4", imaging="sensor_v4", labeled=False,
            description="v4 depth sensor (v3 plus a flying-pixel halo around the silhouette), images only: "
                        "the unlabeled real domain of the v4 pair.",
        ),
        ProceduralHandsConfig(
            name="sensor_v4_labeled", imaging="sensor_v4", labeled=True,
            description="v4 depth sensor with labels (disjoint seeds): oracle training and evaluation.",
        ),
    ]
    DEFAULT_BUILDER_CONFIG_NAME = "synthetic"
    # config -> split -> number of examples. A class attribute so tests can shrink it.
    SPLIT_SIZES: dict[str, dict[str, int]] = {
        "synthetic": {"train": 6_000, "test": 1_000},
        "sensor": {"train": 6_000},
        "sensor_labeled": {"train": 6_000, "test": 1_000},
        "sensor_v2": {"train": 6_000},
        "sensor_v2_labeled": {"train": 6_000, "test": 1_000},
        "sensor_v3": {"train": 6_000},
        "sensor_v3_labeled": {"train": 6_000, "test": 1_000},
        "sensor_v4": {"train": 6_000},
        "sensor_v4_labeled": {"train": 6_000, "test": 1_000},
    }

    def _info(self) -> tfds.core.DatasetInfo:
        size = render.DEFAULT_RENDER_CONFIG.size
        image = tfds.features.Image(
            shape=(size, size, 1), dtype=np.uint8,
            doc="hand-centred depth: c - 150 mm .. c + 150 mm -> 1 .. 254, 255 = background / missing / farther")
        if self.builder_config.labeled:
            features = tfds.features.FeaturesDict({
                "image": image,
                "joints_uvd": tfds.features.Tensor(
                    shape=(len(render.JOINT_NAMES), 3), dtype=np.float32,
                    doc="14 NYU evaluation joints (P1 P2 R1 R2 M1 M2 I1 I2 T1 T2 T3 W1 W2 C): u, v in "
                        "pixels (centres at integers), d in the image's depth units (unrounded)"),
            })
            supervised_keys = ("image", "joints_uvd")
        else:
            features = tfds.features.FeaturesDict({"image": image})
            supervised_keys = None
        return self.dataset_info_from_configs(
            features=features,
            supervised_keys=supervised_keys,
            homepage="https://arxiv.org/abs/1612.07828",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        del dl_manager  # procedural: nothing to download
        name = self.builder_config.name
        return {split: self._generate_examples(split, count) for split, count in self.SPLIT_SIZES[name].items()}

    def _generate_examples(self, split: str, count: int) -> Iterator[tuple[int, dict]]:
        """Yield `count` examples keyed by their index; rendered RENDER_BATCH at a time."""
        seed = SPLIT_SEEDS[(self.builder_config.name, split)]
        for start in range(0, count, RENDER_BATCH):
            images, labels = render_domain_batch(seed, start // RENDER_BATCH, self.builder_config.imaging)
            for i in range(min(RENDER_BATCH, count - start)):
                example = {"image": encode_png(images[i])}
                if self.builder_config.labeled:
                    example.update({k: v[i] for k, v in labels.items()})
                yield start + i, example


def encode_png(image: np.ndarray) -> bytes:
    """uint8 (224, 224, 1) -> PNG bytes (what tfds.features.Image stores), checked first
    because TFDS does not check the shape of pre-encoded images."""
    size = render.DEFAULT_RENDER_CONFIG.size
    if image.shape != (size, size, 1) or image.dtype != np.uint8:
        raise ValueError(f"procedural_hands: image {image.shape} {image.dtype}; expected ({size}, {size}, 1) uint8")
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0]).save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def render_domain_batch(seed: int, batch_index: int, imaging: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Batch `batch_index` of a split: uint8 images (RENDER_BATCH, 224, 224, 1) and labels.

    Always renders a full batch so the first k examples of a split do not depend on k.
    The sensor draws from its own child stream, so the geometry (and labels) of a batch
    depend only on (seed, batch_index), not on the imaging process.
    """
    if imaging not in IMAGINGS:
        raise ValueError(f"procedural_hands: imaging {imaging!r}; expected one of {IMAGINGS}")
    geometry_rng, sensor_rng = (np.random.default_rng(s) for s in np.random.SeedSequence([seed, batch_index]).spawn(2))
    batch = render.render_batch(geometry_rng, RENDER_BATCH)
    labels = {"joints_uvd": batch.joints_uvd}
    if imaging in SENSORS:
        return SENSORS[imaging](batch, sensor_rng), labels
    return render.to_uint8(batch), labels
