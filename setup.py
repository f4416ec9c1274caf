"""simgan-tf: SimGAN (Shrivastava et al., CVPR 2017) in TensorFlow 2 / Keras 3."""
from setuptools import find_packages, setup

setup(
    name="simgan-tf",
    version="0.2.0",
    description="SimGAN reference implementation: refine simulated images with unlabeled real ones",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10,<3.14",
    packages=find_packages(include=["simgan_tf", "simgan_tf.*", "tfds_builders", "tfds_builders.*"]),
    package_data={"tfds_builders": ["*/README.md", "*/CITATIONS.bib", "*/checksums.tsv", "*/dummy_data/**/*"]},
    include_package_data=True,
    py_modules=["train_gaze", "train_hand"],
    # Ranges: from the versions the tests passed with up to the next major release, so the
    # package installs beside other projects; constraints.txt pins the exact tested set (CI).
    install_requires=[
        # Plain tensorflow: a CPU machine must not pull gigabytes of CUDA (see the gpu extra).
        "tensorflow>=2.21,<3",
        "keras>=3.15,<4",
        "tensorflow-datasets>=4.9.10,<5",
        "numpy>=2.4,<3",
        "scipy>=1.17,<2",
        "pillow>=13,<14",
        "matplotlib>=3.11,<4",
        "tensorboard>=2.21,<3",  # tf.summary needs it; tensorflow 2.21 no longer depends on it
        "ai-edge-litert>=2.3,<3",
    ],
    extras_require={
        "gpu": ["tensorflow[and-cuda]>=2.21,<3"],
        "serving": ["tensorflow-serving-api>=2.21,<3"],
        # dill and importlib_resources: needed by tfds.testing (the builders' own test cases)
        # tensorflow-serving-api: so the TF Serving warm-up records are tested too
        "test": ["pytest>=9,<10", "dill>=0.4.1,<1", "importlib_resources>=7.1,<8", "tensorflow-serving-api>=2.21,<3"],
    },
    entry_points={
        "console_scripts": [
            "simgan-train-gaze=simgan_tf.train_cli:gaze_main",
            "simgan-train-hand=simgan_tf.train_cli:hand_main",
            "simgan-export=simgan_tf.export.cli:main",
            "simgan-refine=simgan_tf.refine:main",
        ]
    },
)
