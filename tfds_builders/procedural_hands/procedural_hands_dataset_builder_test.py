"""TFDS tests of procedural_hands, one class per config, with split sizes shrunk to seconds.

The builder is procedural (no download), so `dummy_data/` holds only a README; the test
shrinks `Builder.SPLIT_SIZES` instead of reading fake files. Behaviour of the renderer and
the sensor (determinism, labels vs pixels, domain gap) is tested in tests/test_procedural_hands.py.
"""
from unittest import mock

import tensorflow_datasets as tfds

from tfds_builders.procedural_hands import procedural_hands_dataset_builder as phb

SMALL = {
    "synthetic": {"train": 4, "test": 2},
    "sensor": {"train": 3},
    "sensor_labeled": {"train": 2, "test": 2},
    "sensor_v2": {"train": 3},
    "sensor_v2_labeled": {"train": 2, "test": 2},
    "sensor_v3": {"train": 3},
    "sensor_v3_labeled": {"train": 2, "test": 2},
    "sensor_v4": {"train": 3},
    "sensor_v4_labeled": {"train": 2, "test": 2},
}


class _SmallSplits:
    """Mixin (not a TestCase itself, so it is not collected): shrinks the splits."""

    DATASET_CLASS = phb.Builder
    SKIP_CHECKSUMS = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._sizes = mock.patch.object(phb.Builder, "SPLIT_SIZES", SMALL)
        cls._sizes.start()

    @classmethod
    def tearDownClass(cls):
        cls._sizes.stop()
        super().tearDownClass()


class SyntheticTest(_SmallSplits, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["synthetic"]
    SPLITS = SMALL["synthetic"]


class SensorTest(_SmallSplits, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["sensor"]
    SPLITS = SMALL["sensor"]

    def test_sensor_has_no_labels(self):
        """Refiner training reads this config: it must expose the image and nothing else."""
        builder = self._make_builder(config="sensor")  # self.builder is the default config
        self.assertEqual(set(builder.info.features.keys()), {"image"})
        self.assertIsNone(builder.info.supervised_keys)


class SensorLabeledTest(_SmallSplits, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["sensor_labeled"]
    SPLITS = SMALL["sensor_labeled"]

    def test_labels_are_the_14_joints(self):
        builder = self._make_builder(config="sensor_labeled")
        self.assertEqual(builder.info.features["joints_uvd"].shape, (14, 3))
        self.assertEqual(builder.info.features["image"].shape, (224, 224, 1))
        self.assertEqual(builder.info.supervised_keys, ("image", "joints_uvd"))


class SensorV2Test(_SmallSplits, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["sensor_v2"]
    SPLITS = SMALL["sensor_v2"]

    def test_sensor_v2_has_no_labels(self):
        """The v2 pair's unlabeled real domain: the image and nothing else."""
        builder = self._make_builder(config="sensor_v2")
        self.assertEqual(set(builder.info.features.keys()), {"image"})
        self.assertIsNone(builder.info.supervised_keys)


class SensorV2LabeledTest(_SmallSplits, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["sensor_v2_labeled"]
    SPLITS = SMALL["sensor_v2_labeled"]

    def test_labels_are_the_14_joints(self):
        builder = self._make_builder(config="sensor_v2_labeled")
        self.assertEqual(builder.info.features["joints_uvd"].shape, (14, 3))
        self.assertEqual(builder.info.supervised_keys, ("image", "joints_uvd"))


class SensorV3Test(_SmallSplits, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["sensor_v3"]
    SPLITS = SMALL["sensor_v3"]

    def test_sensor_v3_has_no_labels(self):
        builder = self._make_builder(config="sensor_v3")
        self.assertEqual(set(builder.info.features.keys()), {"image"})
        self.assertIsNone(builder.info.supervised_keys)


class SensorV3LabeledTest(_SmallSplits, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["sensor_v3_labeled"]
    SPLITS = SMALL["sensor_v3_labeled"]

    def test_labels_are_the_14_joints(self):
        builder = self._make_builder(config="sensor_v3_labeled")
        self.assertEqual(builder.info.features["joints_uvd"].shape, (14, 3))
        self.assertEqual(builder.info.supervised_keys, ("image", "joints_uvd"))


class SensorV4Test(_SmallSplits, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["sensor_v4"]
    SPLITS = SMALL["sensor_v4"]

    def test_sensor_v4_has_no_labels(self):
        builder = self._make_builder(config="sensor_v4")
        self.assertEqual(set(builder.info.features.keys()), {"image"})
        self.assertIsNone(builder.info.supervised_keys)


class SensorV4LabeledTest(_SmallSplits, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["sensor_v4_labeled"]
    SPLITS = SMALL["sensor_v4_labeled"]

    def test_labels_are_the_14_joints(self):
        builder = self._make_builder(config="sensor_v4_labeled")
        self.assertEqual(builder.info.features["joints_uvd"].shape, (14, 3))
        self.assertEqual(builder.info.supervised_keys, ("image", "joints_uvd"))


if __name__ == "__main__":
    tfds.testing.test_main()
