"""TFDS tests of procedural_eyes, one class per config, with split sizes shrunk to seconds.

The builder is procedural (no download), so `dummy_data/` holds only a README; the test
shrinks `Builder.SPLIT_SIZES` instead of reading fake files.
"""
import hashlib
from unittest import mock

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tfds_builders.procedural_eyes import procedural_eyes_dataset_builder as peb

SMALL = {
    "simulator": {"train": 6, "test": 3},
    "camera": {"train": 5},
    "camera_labeled": {"train": 4, "test": 3},
    "simulator_v2": {"train": 6, "test": 3},
    "camera_v2": {"train": 5},
    "camera_v2_labeled": {"train": 4, "test": 3},
}


class _SmallSplits:
    """Mixin (not a TestCase itself, so it is not collected): shrinks the splits."""

    DATASET_CLASS = peb.Builder
    SKIP_CHECKSUMS = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._sizes = mock.patch.object(peb.Builder, "SPLIT_SIZES", SMALL)
        cls._sizes.start()

    @classmethod
    def tearDownClass(cls):
        cls._sizes.stop()
        super().tearDownClass()


class SimulatorTest(_SmallSplits, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["simulator"]
    SPLITS = SMALL["simulator"]


class CameraTest(_SmallSplits, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["camera"]
    SPLITS = SMALL["camera"]

    def test_camera_has_no_labels(self):
        """Refiner training reads this config: it must expose the image and nothing else."""
        builder = self._make_builder(config="camera")
        self.assertEqual(set(builder.info.features.keys()), {"image"})
        self.assertIsNone(builder.info.supervised_keys)


class CameraLabeledTest(_SmallSplits, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["camera_labeled"]
    SPLITS = SMALL["camera_labeled"]


class SimulatorV2Test(_SmallSplits, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["simulator_v2"]
    SPLITS = SMALL["simulator_v2"]


class CameraV2Test(_SmallSplits, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["camera_v2"]
    SPLITS = SMALL["camera_v2"]

    def test_camera_has_no_labels(self):
        builder = self._make_builder(config="camera_v2")
        self.assertEqual(set(builder.info.features.keys()), {"image"})
        self.assertIsNone(builder.info.supervised_keys)


class CameraV2LabeledTest(_SmallSplits, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["camera_v2_labeled"]
    SPLITS = SMALL["camera_v2_labeled"]


# sha256 of the first 64 images and of their labels (sorted keys) of batch 0 of every v1 split,
# recorded before the v2 configs were added: the v1 data must never change (an experiment
# resumes from the prepared TFDS data).
V1_CHECKSUMS = {
    ("simulator", "train"): ("d569c1b6d88daa3a67d438cd45b6f619716e5a5838bb054fcd9b8ad8727e32a2",
                             "2efca0761250045d59fc3d5b3eabcc9ab2d34a85032414795fc6cfcc5e82538a"),
    ("simulator", "test"): ("91ebc7cc27da6158a6c70e2111e2dc8041cf3bc2b6ebef61ca9c5efb6c036a9b",
                            "fcb12ee7ec4394e325084141e720ab741ca5c61d36f4233f5da27ea31eb13bb1"),
    ("camera", "train"): ("af059a5a81e4c41ef63aee2afdde9a33f7845df56e28c3c7210639fe1cca4a61",
                          "062b4d79df377e858f1755c8838b7cf448e2a547476512a8919e48ba6cb1c81f"),
    ("camera_labeled", "train"): ("ca6be6a0195bec4fdef86174ec931cabad5db7203c7075be05689fd3dbefdd1b",
                                  "0856c8d7c1a155b26690f8ccd5ba74847b965b33727f441acf95617bd5095f9a"),
    ("camera_labeled", "test"): ("7f8ff2d48bff93f12e8a7b9e35cb86b92492a8b489668d3b3215bdd7b5a3629a",
                                 "9c3ab8f1ff0a7272e47972cf5470a470d25fe6a172a9ae134291045a408b48b7"),
}


@pytest.mark.parametrize("config_split", sorted(V1_CHECKSUMS), ids="/".join)
def test_v1_configs_are_unchanged(config_split):
    images, labels = peb.render_domain_batch(peb.SPLIT_SEEDS[config_split], 0,
                                             "simulator" if config_split[0] == "simulator" else "camera")
    image_sha = hashlib.sha256(images[:64].tobytes()).hexdigest()
    label_sha = hashlib.sha256(b"".join(labels[k][:64].tobytes() for k in sorted(labels))).hexdigest()
    assert (image_sha, label_sha) == V1_CHECKSUMS[config_split]
    assert peb.Builder.VERSION == "1.0.0"  # a new version would make TFDS prepare the v1 data again


def test_seeds_are_disjoint_and_cover_every_split():
    seeds = list(peb.SPLIT_SEEDS.values())
    assert len(set(seeds)) == len(seeds)
    expected = {(c, s) for c, splits in peb.Builder.SPLIT_SIZES.items() for s in splits}
    assert set(peb.SPLIT_SEEDS) == expected


def test_batches_are_deterministic_and_domains_share_geometry():
    """Same (seed, batch) -> same pixels; simulator and camera imaging of one batch share labels."""
    sim_a, labels_a = peb.render_domain_batch(11, 0, "simulator")
    sim_b, labels_b = peb.render_domain_batch(11, 0, "simulator")
    cam, labels_c = peb.render_domain_batch(11, 0, "camera")
    np.testing.assert_array_equal(sim_a, sim_b)
    for key in labels_a:
        np.testing.assert_array_equal(labels_a[key], labels_b[key])
        np.testing.assert_array_equal(labels_a[key], labels_c[key])
    assert sim_a.shape == cam.shape == (peb.RENDER_BATCH, 35, 55, 1)
    assert not np.array_equal(sim_a, cam)
    other, _ = peb.render_domain_batch(11, 1, "simulator")
    assert not np.array_equal(sim_a, other)


def test_unknown_imaging_is_rejected():
    with pytest.raises(ValueError, match="imaging"):
        peb.render_domain_batch(1, 0, "infrared")


if __name__ == "__main__":
    tfds.testing.test_main()
