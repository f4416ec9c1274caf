"""`python -m simgan_tf.export` == `simgan-export`."""
import sys

from simgan_tf.export.cli import main

sys.exit(main())
