"""Size on disk of one training checkpoint per preset, and what it is made of.

    python benchmarks/checkpoint_size.py --out docs/results/checkpoint_size.json

For each preset: builds its SimGAN, fills the history buffer to capacity, takes one batch
from input pipelines of uint8 images of the preset's size (so the shuffle buffers are full,
as in a real run) and writes one checkpoint, as `fit` does; with the history stored as uint8
(the default) and as float32. Parts: the networks with their Adam state, the history buffer,
the two data iterators (mostly their shuffle buffers).
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simgan_tf.runtime import configure_tf_runtime  # noqa: E402

configure_tf_runtime()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from simgan_tf import config as cfg  # noqa: E402
from simgan_tf import data  # noqa: E402
from simgan_tf.trainer import SimGAN  # noqa: E402


def _bytes(prefix: str) -> int:
    return sum(os.path.getsize(f) for f in glob.glob(prefix + "*"))


def measure(name: str, history_dtype: str, images: int) -> dict:
    preset = cfg.with_overrides(cfg.PRESETS[name], history_dtype=history_dtype)
    t = preset.training
    gan = SimGAN.from_preset(preset)
    buffer = gan.history_buffer
    buffer.images.assign(tf.zeros_like(buffer.images))
    buffer.size.assign(buffer.capacity)
    stored = np.random.default_rng(0).integers(0, 256, (images, *preset.image.shape), dtype=np.uint8)
    streams = {k: iter(data.image_stream(stored, preset.image.shape, t.batch_size, s, preset.data.shuffle_buffer, k))
               for k, s in (("synthetic", t.seed), ("real", t.seed + 1))}
    for it in streams.values():
        next(it)
    with tempfile.TemporaryDirectory() as tmp:
        sizes = {}
        parts = {"networks_and_optimizers": dict(refiner=gan.refiner, discriminator=gan.discriminator,
                                                 refiner_optimizer=gan.refiner_optimizer,
                                                 discriminator_optimizer=gan.discriminator_optimizer),
                 "history_buffer": dict(history=buffer),
                 "data_iterators": {f"{k}_iterator": v for k, v in streams.items()}}
        for part, objects in parts.items():
            sizes[part] = _bytes(tf.train.Checkpoint(**objects).save(os.path.join(tmp, part)))
        everything = {k: v for objects in parts.values() for k, v in objects.items()}
        sizes["whole_checkpoint"] = _bytes(tf.train.Checkpoint(step=gan.step, **everything).save(os.path.join(tmp, "all")))
    return {"preset": name, "history_dtype": history_dtype, "buffer_images": buffer.capacity,
            "image_shape": list(preset.image.shape), **{f"{k}_mb": round(v / 2**20, 1) for k, v in sizes.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["gaze_quick", "gaze_paper", "hand_quick", "hand_paper"])
    parser.add_argument("--images", type=int, default=5000, help="images in each input array")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    rows = [measure(name, dtype, args.images) for name in args.presets for dtype in ("uint8", "float32")]
    lines = ["| preset | history stored as | buffer images | networks + Adam MB | history MB | data iterators MB | checkpoint MB |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['preset']} | {r['history_dtype']} | {r['buffer_images']} | {r['networks_and_optimizers_mb']} | "
                     f"{r['history_buffer_mb']} | {r['data_iterators_mb']} | {r['whole_checkpoint_mb']} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        from simgan_tf.run_io import write_json_atomic

        write_json_atomic(args.out, {"command": "python benchmarks/checkpoint_size.py " + " ".join(argv or sys.argv[1:]),
                                     "rows": rows, "table": table})
    return 0


if __name__ == "__main__":
    sys.exit(main())
