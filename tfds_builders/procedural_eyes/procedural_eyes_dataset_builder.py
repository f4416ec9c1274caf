"""procedural_eyes: an embedded, download-free stand-in for UnityEyes -> MPIIGaze.

Three configs share one geometry distribution (`render.sample_params`):
  * `simulator`: clean renders with labels (the synthetic domain, like UnityEyes);
  * `camera`: the same kind of eyes through `camera.apply_camera`, images only (the
    unlabeled real domain the refiner trains on: it carries no labels at all);
  * `camera_labeled`: the camera domain with labels, from disjoint seeds; `train` exists only
    to train a reference "oracle" estimator, `test` is the evaluation set.
Everything is deterministic from a fixed seed per (config, split), and the seeds differ
between all of them, so no image appears in two splits.

The v2 pair (`simulator_v2`, `camera_v2`, `camera_v2_labeled`) has the same geometry
distribution and the same three roles, but the simulator lights every image itself
(`lit_render.py`: light direction and intensity, ambient, exposure, skin tone, ...) and its
camera (`camera_v2.py`) adds only what a simulator lacks: material and sensor appearance.
The v1 configs are unchanged.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
from typing import Iterator

import numpy as np
import PIL.Image
import tensorflow_datasets as tfds

from tfds_builders.procedural_eyes import camera, camera_v2, lit_render, render

# (config, split) -> root seed of the split's random stream. Disjoint by construction.
SPLIT_SEEDS: dict[tuple[str, str], int] = {
    ("simulator", "train"): 101,
    ("simulator", "test"): 102,
    ("camera", "train"): 201,
    ("camera_labeled", "train"): 301,
    ("camera_labeled", "test"): 302,
    ("simulator_v2", "train"): 111,
    ("simulator_v2", "test"): 112,
    ("camera_v2", "train"): 211,
    ("camera_v2_labeled", "train"): 311,
    ("camera_v2_labeled", "test"): 312,
}
# Imaging processes: v1 (flat-lit simulator, camera with per-image lighting) and v2.
IMAGING = ("simulator", "camera", "simulator_v2", "camera_v2")

# Examples are rendered in batches of this size (vectorised numpy). Batch b of a split is
# drawn from np.random.default_rng([seed, b]); changing this changes the dataset.
RENDER_BATCH = 500


@dataclasses.dataclass
class ProceduralEyesConfig(tfds.core.BuilderConfig):
    """One domain of procedural eyes: imaging process and whether labels are exposed."""

    imaging: str = "simulator"  # one of IMAGING: "simulator" (clean), "camera", or their v2
    labeled: bool = True


class Builder(tfds.core.GeneratorBasedBuilder):
    """Procedural 35 x 55 grayscale eye images: simulator vs camera domain, same geometry."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = [
        ProceduralEyesConfig(
            name="simulator", imaging="simulator", labeled=True,
            description="Clean UnityEyes-like renders with gaze, pupil and eyelid labels.",
        ),
        ProceduralEyesConfig(
            name="camera", imaging="camera", labeled=False,
            description="Target camera domain, images only: what refiner training sees.",
        ),
        ProceduralEyesConfig(
            name="camera_labeled", imaging="camera", labeled=True,
            description="Target camera domain with labels (disjoint seeds): oracle training and evaluation.",
        ),
        ProceduralEyesConfig(
            name="simulator_v2", imaging="simulator_v2", labeled=True,
            description="v2 simulator: renders lit per image (light direction and intensity, ambient, exposure, "
                        "skin tone, ...), with gaze, pupil and eyelid labels.",
        ),
        ProceduralEyesConfig(
            name="camera_v2", imaging="camera_v2", labeled=False,
            description="v2 target camera, images only: lit scenes through material and sensor appearance.",
        ),
        ProceduralEyesConfig(
            name="camera_v2_labeled", imaging="camera_v2", labeled=True,
            description="v2 target camera with labels (disjoint seeds): oracle training and evaluation.",
        ),
    ]
    DEFAULT_BUILDER_CONFIG_NAME = "simulator"
    # config -> split -> number of examples. A class attribute so tests can shrink it.
    SPLIT_SIZES: dict[str, dict[str, int]] = {
        "simulator": {"train": 40_000, "test": 2_000},
        "camera": {"train": 20_000},
        "camera_labeled": {"train": 20_000, "test": 2_000},
        "simulator_v2": {"train": 40_000, "test": 2_000},
        "camera_v2": {"train": 20_000},
        "camera_v2_labeled": {"train": 20_000, "test": 2_000},
    }

    def _info(self) -> tfds.core.DatasetInfo:
        cfg = render.DEFAULT_RENDER_CONFIG
        image = tfds.features.Image(shape=(cfg.height, cfg.width, 1), dtype=np.uint8)
        if self.builder_config.labeled:
            features = tfds.features.FeaturesDict({
                "image": image,
                "gaze": tfds.features.Tensor(shape=(3,), dtype=np.float32,
                                             doc="unit gaze vector, MPIIGaze normalized camera coordinates"),
                "pitch_yaw": tfds.features.Tensor(shape=(2,), dtype=np.float32, doc="gaze pitch, yaw in radians"),
                "pupil_center": tfds.features.Tensor(shape=(2,), dtype=np.float32,
                                                     doc="x, y in pixels, origin top-left, pixel centres at integers"),
                "eyelid_landmarks": tfds.features.Tensor(
                    shape=(cfg.num_lid_landmarks, 2), dtype=np.float32,
                    doc="x, y in pixels: upper lid corner to corner, then lower lid back"),
            })
            supervised_keys = ("image", "gaze")
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
        """Yield `count` examples keyed by their index; rendered RENDER_BATCH at a time.

        The next batch renders in a worker thread while this one is serialised (numpy and
        PIL release the GIL); batches have their own seeds, so the output is deterministic.
        Images go to TFDS as PIL images: PIL's PNG encoder is several times faster here than
        the per-image TF op TFDS uses for numpy arrays.
        """
        name = self.builder_config.name
        seed = SPLIT_SEEDS[(name, split)]
        num_batches = -(-count // RENDER_BATCH)
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(render_domain_batch, seed, 0, self.builder_config.imaging)
            for batch in range(num_batches):
                images, labels = pending.result()
                if batch + 1 < num_batches:
                    pending = pool.submit(render_domain_batch, seed, batch + 1, self.builder_config.imaging)
                start = batch * RENDER_BATCH
                for i in range(min(RENDER_BATCH, count - start)):
                    example = {"image": PIL.Image.fromarray(images[i, :, :, 0], mode="L")}
                    if self.builder_config.labeled:
                        example.update({k: v[i] for k, v in labels.items()})
                    yield start + i, example


def batch_seed_sequences(seed: int, batch_index: int) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """The (geometry, camera) random streams of one render batch: separate, so the same scenes
    can be imaged again by another process (benchmarks/refiner_ceiling.py does)."""
    geometry_seq, camera_seq = np.random.SeedSequence([seed, batch_index]).spawn(2)
    return geometry_seq, camera_seq


def lighting_seed_sequence(seed: int, batch_index: int) -> np.random.SeedSequence:
    """The v2 simulator's lighting stream of one render batch: a third child of the batch's
    seed, beside `batch_seed_sequences`' geometry and camera streams (which it leaves as they are)."""
    return np.random.SeedSequence([seed, batch_index]).spawn(3)[2]


def render_v2_scenes(
    seed: int, batch_index: int
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray], np.random.SeedSequence]:
    """Batch `batch_index` of a v2 split before the camera: the lit renders float (RENDER_BATCH,
    35, 55), their material maps, the labels and the camera's seed sequence, so the same scenes
    can be imaged again by another process (benchmarks/refiner_ceiling.py does)."""
    geometry_seq, camera_seq = batch_seed_sequences(seed, batch_index)
    lighting_rng = np.random.default_rng(lighting_seed_sequence(seed, batch_index))
    images, maps, labels = lit_render.render_lit_batch(np.random.default_rng(geometry_seq), lighting_rng, RENDER_BATCH)
    return images, maps, labels, camera_seq


def render_domain_batch(seed: int, batch_index: int, imaging: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Batch `batch_index` of a split: uint8 images (RENDER_BATCH, 35, 55, 1) and labels.

    Always renders a full batch so the first k examples of a split do not depend on k.
    The camera process draws from its own child stream, so the geometry (and labels) of a
    batch depend only on (seed, batch_index), not on the imaging process.
    """
    if imaging not in IMAGING:
        raise ValueError(f"procedural_eyes: imaging {imaging!r}; expected one of {IMAGING}")
    if imaging in ("simulator_v2", "camera_v2"):
        lit, maps, labels, camera_seq = render_v2_scenes(seed, batch_index)
        if imaging == "camera_v2":
            return camera_v2.apply_sensor_camera(lit, maps, np.random.default_rng(camera_seq)), labels
        return render.to_uint8(lit), labels
    geometry_seq, camera_seq = batch_seed_sequences(seed, batch_index)
    images, skin, labels = render.render_batch(np.random.default_rng(geometry_seq), RENDER_BATCH)
    if imaging == "camera":
        return camera.apply_camera(images, skin, np.random.default_rng(camera_seq)), labels
    return render.to_uint8(images), labels
