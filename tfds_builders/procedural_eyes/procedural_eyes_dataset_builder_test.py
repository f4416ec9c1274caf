"""TFDS tests of procedural_eyes, one class per config, with split sizes shrunk to seconds.

The builder is procedural (no download), so `dummy_data/` holds only a README; the test
shrinks `Builder.SPLIT_SIZES` instead of reading fake files.
"""
from unittest import mock

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tfds_builders.procedural_eyes import procedural_eyes_dataset_builder as peb

SMALL = {
    "simulator": {"train": 6, "test": 3},
    "camera": {"train": 5},
    "camera_labeled": {"train": 4, "test": 3},
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
