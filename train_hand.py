#!/usr/bin/env python
"""Train a SimGAN refiner for hand depth images (synthetic -> sensor depth). See --help."""
import sys

from simgan_tf.train_cli import main

if __name__ == "__main__":
    sys.exit(main(task="hand"))
