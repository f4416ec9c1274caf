"""TFDS builder test: prepares both `nyu_hand` configs from dummy_data/ and checks the splits."""
import tensorflow_datasets as tfds

from tfds_builders.nyu_hand import nyu_hand_dataset_builder


class NyuHandTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = nyu_hand_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["real", "synthetic"]
    SPLITS = {"train": 2, "test": 1}  # frames in dummy_data/train and dummy_data/test


if __name__ == "__main__":
    tfds.testing.test_main()
