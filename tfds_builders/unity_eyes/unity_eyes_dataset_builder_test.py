"""TFDS builder test: prepares `unity_eyes` from dummy_data/ (5 renders) and checks the splits."""
import tensorflow_datasets as tfds

from tfds_builders.unity_eyes import unity_eyes_dataset_builder


class UnityEyesTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = unity_eyes_dataset_builder.Builder
    # Stems 1-4 hash into train, 63 into test (sha1(stem) % 100 < 5).
    SPLITS = {"train": 4, "test": 1}


if __name__ == "__main__":
    tfds.testing.test_main()
