#!/usr/bin/env python
"""Train a SimGAN refiner for gaze (UnityEyes-style -> camera eyes). See --help."""
import sys

from simgan_tf.train_cli import main

if __name__ == "__main__":
    sys.exit(main(task="gaze"))
