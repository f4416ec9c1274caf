"""TFDS builder test: prepares `mpii_gaze` from dummy_data/ and checks the splits."""
import tensorflow_datasets as tfds

from tfds_builders.mpii_gaze import mpii_gaze_dataset_builder


class MpiiGazeTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = mpii_gaze_dataset_builder.Builder
    # train: 2 eyes x (3 + 1 + 2) frames; test: the 4 lines of the evaluation lists.
    SPLITS = {"train": 12, "test": 4}
    # The evaluation subset is drawn from the same images as `train` (unlabeled use).
    OVERLAPPING_SPLITS = ["test"]


if __name__ == "__main__":
    tfds.testing.test_main()
