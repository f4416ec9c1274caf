"""`simgan-refine`: refine a folder of images or a TFDS split with an exported refiner.

This is how a simulator's output (e.g. 1.2M UnityEyes renders) becomes a refined training
set: MODEL is a SavedModel (`saved_models/NAME/VERSION`, or `saved_models/NAME` for its
newest version) or a `.tflite` file; images are refined in batches and written as PNGs.
For TFDS input the original labels are written beside the images in `labels.jsonl`, one
JSON object per image: {"file": "00000000.png", "index": 0, "gaze": [...], ...}.

Folder images must already have the model's H x W (labels in pixel coordinates would not
survive a silent resize); `--resize` resizes them (area interpolation, as the training
pipeline; nearest neighbour for 16-bit depth). They are converted to the model's channel
count (grayscale or RGB). A model exported from a uint16 (depth) run takes 16-bit PNGs and
writes 16-bit PNGs; an 8-bit image given to it (or a 16-bit one to a uint8 model) is an
error naming the file and the expected bit depth, never rescaled.
A file that cannot be read is reported on stderr by name and skipped; the others are
still written and the command exits with status 1 and a count at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from simgan_tf.runtime import configure_tf_runtime


TFDS_PREFIX = "tfds:"
LABELS_FILE = "labels.jsonl"
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


class ImageRefiner(Protocol):
    """What the refine command needs of a model (SavedModelRefiner, TFLiteRefiner).

    `image_dtype` (uint8, or uint16 depth) and `refine` (pixels of that dtype in and out)
    are optional: a model with only `refine_uint8` is taken as a uint8 model.
    """

    image_shape: tuple[int, int, int]

    def refine_uint8(self, images: Any) -> np.ndarray: ...


def model_dtype(model: ImageRefiner) -> np.dtype:
    """The pixels `model` takes and returns: uint8, or uint16 for a depth model."""
    dtype = np.dtype(getattr(model, "image_dtype", None) or np.uint8)
    if dtype not in (np.uint8, np.uint16):
        raise RefineError(f"MODEL {_model_name(model)} takes {dtype.name} images; expected uint8 or uint16")
    return dtype


def _refine(model: ImageRefiner, images: np.ndarray) -> np.ndarray:
    refine = getattr(model, "refine", None)
    return refine(images) if refine is not None else model.refine_uint8(images)


class RefineError(ValueError):
    """Unusable model or input (the whole command stops)."""


@dataclass
class RefineReport:
    written: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)


def load_model(path: str | os.PathLike, num_threads: int | None = None) -> ImageRefiner:
    """A `.tflite` file -> TFLiteRefiner; a SavedModel (or versioned root) dir -> SavedModelRefiner."""
    path = Path(path)
    if path.suffix == ".tflite":
        from simgan_tf.export.litert import TFLiteRefiner

        return TFLiteRefiner(path, num_threads=num_threads)
    if path.is_dir():
        from simgan_tf.export.saved_model import SavedModelRefiner

        return SavedModelRefiner(path)
    raise RefineError(f"MODEL {path}: expected a SavedModel directory (saved_models/NAME[/VERSION]) or a .tflite file")


# --------------------------------------------------------------------------------------
# Folder input
def list_images(folder: Path) -> list[Path]:
    from simgan_tf.data import IMAGE_EXTENSIONS

    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise RefineError(f"INPUT {folder} holds no images: expected files ending in {', '.join(IMAGE_EXTENSIONS)}")
    return files


def output_names(files: list[Path], root: Path) -> list[Path]:
    """Relative output path of each input: same subfolders and stem, .png suffix."""
    names = [f.relative_to(root).with_suffix(".png") for f in files]
    seen: dict[Path, Path] = {}
    for source, name in zip(files, names):
        if name in seen:
            raise RefineError(f"{seen[name]} and {source} would both be written as {name}: rename one")
        seen[name] = source
    return names


def output_path(out: Path, name: str | os.PathLike) -> Path:
    """`out / name`, refusing a name that would land outside `out` ('..', absolute, symlinks).

    Output names come from data (file paths, dataset fields); one such as '../../x.png' must
    never overwrite a file elsewhere.
    """
    target = out / name
    root = out.resolve()
    if Path(name).is_absolute() or not target.resolve().is_relative_to(root):
        raise RefineError(f"output name {str(name)!r} would be written outside OUTPUT_DIR {out}; "
                          "expected a path inside it")
    return target


def folder_model_shape(model: ImageRefiner) -> tuple[int, int, int]:
    """The model's H, W, C, checked once before any file is read: folder images are 1 or 3 channels."""
    height, width, channels = model.image_shape
    if channels not in (1, 3):
        raise RefineError(
            f"MODEL {_model_name(model)}: input [batch, {height}, {width}, {channels}]; folder input "
            "supports models with 1 (grayscale) or 3 (RGB) channels"
        )
    return height, width, channels


def _model_name(model: ImageRefiner) -> str:
    return str(getattr(model, "path", type(model).__name__))


def _resize(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize keeping the dtype: area for uint8 pixels, nearest for uint16 depth (as the
    training pipeline: no depth is invented between a hand and the background)."""
    import tensorflow as tf

    if array.dtype == np.uint16:
        return tf.image.resize(array, (height, width), method="nearest").numpy()
    resized = tf.image.resize(array, (height, width), method="area")
    return np.clip(np.round(resized.numpy()), 0, 255).astype(np.uint8)


def _bits(dtype: np.dtype) -> str:
    return f"{np.dtype(dtype).itemsize * 8}-bit ({np.dtype(dtype).name})"


def _read_16bit(path: Path, channels: int) -> np.ndarray:
    import tensorflow as tf

    try:
        return tf.io.decode_png(tf.io.read_file(str(path)), channels=channels, dtype=tf.uint16).numpy()
    except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as err:
        raise ValueError(f"cannot read image ({err.message}); expected a 16-bit PNG file") from err


def read_image(path: Path, shape: tuple[int, int, int], resize: bool, dtype: Any = np.uint8) -> np.ndarray:
    """Decode one file to H x W x C of the model's shape and dtype (uint8, or uint16 from a
    16-bit PNG); ValueError names what's wrong, e.g. an 8-bit image for a uint16 model."""
    from PIL import Image, UnidentifiedImageError

    from simgan_tf.data import image_file_dtype

    height, width, channels = shape
    dtype = np.dtype(dtype)
    if channels not in (1, 3):
        raise RefineError(f"model input has {channels} channels; folder input supports 1 or 3")
    try:
        with Image.open(path) as img:
            img.load()  # decodes the whole file: a truncated one fails here, by name
            array = np.asarray(img.convert("L" if channels == 1 else "RGB")) if dtype == np.uint8 else None
        stored = np.dtype(image_file_dtype(path))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"cannot read image ({err}); expected a PNG/JPEG/BMP/GIF file") from err
    if stored != dtype:
        raise ValueError(
            f"is a {_bits(stored)} image; the model takes {_bits(dtype)} images (input [batch, {height}, "
            f"{width}, {channels}] {dtype.name}, the dtype it was trained on): images are never rescaled "
            f"between bit depths; give it {'16-bit PNGs' if dtype == np.uint16 else '8-bit images'}, or use "
            f"a model exported from a {stored.name} run"
        )
    if dtype == np.uint16:
        array = _read_16bit(path, channels)
    if array.ndim == 2:
        array = array[..., np.newaxis]
    if array.shape[:2] != (height, width):
        if not resize:
            raise ValueError(
                f"image is {array.shape[0]} x {array.shape[1]} (H x W); the model expects "
                f"{height} x {width} (input [batch, {height}, {width}, {channels}]): pass --resize, "
                "or use a model exported for this image size"
            )
        array = _resize(array, height, width)
    return array


def _write_png(path: Path, image: np.ndarray) -> None:
    """An 8-bit PNG for uint8 images, a 16-bit PNG for uint16 (depth) ones."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if image.dtype == np.uint16:
        import tensorflow as tf

        path.write_bytes(tf.io.encode_png(image).numpy())
        return
    from PIL import Image

    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(path)


def _progress(total: int | None):
    import keras

    return keras.utils.Progbar(total, unit_name="image")


def refine_folder(
    model: ImageRefiner,
    input_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    batch_size: int = 64,
    resize: bool = False,
    progress: bool = True,
) -> RefineReport:
    """Refine every image under `input_dir` into `output_dir` (same relative paths, .png)."""
    root, out = Path(input_dir), Path(output_dir)
    if not root.is_dir():
        raise RefineError(f"INPUT {root}: no such folder (or use tfds:NAME/CONFIG:SPLIT)")
    shape = folder_model_shape(model)
    dtype = model_dtype(model)
    files = list_images(root)
    names = [output_path(out, name) for name in output_names(files, root)]
    report = RefineReport()
    bar = _progress(len(files)) if progress else None
    pending: list[tuple[Path, np.ndarray]] = []

    def flush() -> None:
        if not pending:
            return
        refined = _refine(model, np.stack([img for _, img in pending]))
        for (target, _), image in zip(pending, refined):
            _write_png(target, image)
        report.written += len(pending)
        pending.clear()

    for done, (source, target) in enumerate(zip(files, names), start=1):
        try:
            pending.append((target, read_image(source, shape, resize, dtype)))
        except ValueError as err:
            report.failed.append((str(source), str(err)))
            print(f"\nerror: {source}: {err}", file=sys.stderr, flush=True)
        if len(pending) >= batch_size:
            flush()
        if bar is not None:
            bar.update(done)
    flush()
    return report


# --------------------------------------------------------------------------------------
# TFDS input
def parse_tfds_spec(spec: str) -> tuple[str, str]:
    """'tfds:NAME[/CONFIG][:VERSION]:SPLIT' -> (name, split); the split defaults to train."""
    body = spec[len(TFDS_PREFIX):]
    if not body:
        raise RefineError(f"INPUT {spec!r}: expected tfds:NAME/CONFIG:SPLIT, e.g. tfds:procedural_eyes/simulator:test")
    cut = body.split("[", 1)[0].rfind(":")  # a split slice such as train[:100] has its own ':'
    if cut < 0 or _VERSION.match(body[cut + 1 :]):
        return body, "train"
    return body[:cut], body[cut + 1 :]


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value] if value.dtype == object else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _image_key(features: Any) -> str:
    import tensorflow_datasets as tfds

    if "image" in features:
        return "image"
    for key, feature in features.items():
        if isinstance(feature, tfds.features.Image):
            return key
    raise RefineError(f"dataset has no image feature (features: {sorted(features)})")


def refine_tfds(
    model: ImageRefiner,
    spec: str,
    output_dir: str | os.PathLike,
    batch_size: int = 64,
    resize: bool = False,
    data_dir: str | None = None,
    manual_dir: str | None = None,
    progress: bool = True,
    skip_bad: bool = False,
) -> RefineReport:
    """Refine a TFDS split; images as NNNNNNNN.png plus every other feature in labels.jsonl.

    Images are named by index, never by a `file_name` feature, so no dataset field picks an
    output path. labels.jsonl appears only once every image is written: a run that stops
    early leaves no labels file that looks complete.
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    from simgan_tf.data import DataError, load_tfds_builder

    name, split = parse_tfds_spec(spec)
    try:
        builder = load_tfds_builder(name, data_dir, manual_dir, skip_bad)
    except DataError as err:
        raise RefineError(f"INPUT {spec}: {err}") from err
    key = _image_key(builder.info.features)
    height, width, channels = model.image_shape
    dtype = model_dtype(model)
    feature_shape = tuple(builder.info.features[key].shape)
    if feature_shape[-1] != channels:
        raise RefineError(f"INPUT {spec}: images have {feature_shape[-1]} channels; the model expects {channels}")
    stored = np.dtype(tf.as_dtype(builder.info.features[key].dtype).as_numpy_dtype)
    if stored != dtype:
        raise RefineError(
            f"INPUT {spec}: images are {stored.name}; MODEL {_model_name(model)} takes {dtype.name} images "
            f"(input [batch, {height}, {width}, {channels}] {dtype.name}, the dtype it was trained on): images "
            "are never rescaled between bit depths; use a model exported from a run on this dataset"
        )
    if feature_shape[:2] != (height, width):
        if not resize:
            raise RefineError(
                f"INPUT {spec}: images are {feature_shape[:2]} (H x W); the model expects {height} x {width} "
                f"(input [batch, {height}, {width}, {channels}]): pass --resize (pixel-coordinate labels are "
                "then NOT rescaled)"
            )
        print(f"warning: resizing {spec} to {height} x {width}; pixel-coordinate labels are not rescaled",
              file=sys.stderr)
    try:
        ds = builder.as_dataset(split=split, shuffle_files=False)
        total = builder.info.splits[split].num_examples
    except (ValueError, KeyError) as err:
        raise RefineError(f"INPUT {spec}: bad split {split!r} ({err}); splits: {sorted(builder.info.splits)}") from err
    if resize and dtype == np.uint16:  # depth: nearest neighbour, as the training pipeline
        ds = ds.map(lambda ex: {**ex, key: tf.image.resize(ex[key], (height, width), method="nearest")})
    elif resize:
        ds = ds.map(lambda ex: {**ex, key: tf.cast(tf.clip_by_value(tf.round(
            tf.image.resize(ex[key], (height, width), method="area")), 0, 255), tf.uint8)})
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = RefineReport()
    bar = _progress(total) if progress else None
    index = 0
    partial = out / (LABELS_FILE + ".partial")
    with open(partial, "w") as labels:
        for batch in tfds.as_numpy(ds.batch(batch_size)):
            refined = _refine(model, batch[key])
            for i, image in enumerate(refined):
                file = f"{index:08d}.png"
                _write_png(output_path(out, file), image)
                row = {"file": file, "index": index}
                row.update({k: _jsonable(v[i]) for k, v in batch.items() if k != key})
                labels.write(json.dumps(row) + "\n")
                index += 1
            report.written += len(refined)
            if bar is not None:
                bar.update(index)
    os.replace(partial, out / LABELS_FILE)
    return report


# --------------------------------------------------------------------------------------
# Command line
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simgan-refine",
        description=(
            "Refine images with an exported SimGAN refiner. MODEL: a SavedModel directory "
            "(saved_models/NAME/VERSION, or saved_models/NAME for its newest version) or a .tflite "
            "file. INPUT: a folder of PNG/JPEG/BMP/GIF images (written to OUTPUT_DIR with the same "
            "relative paths, as .png) or tfds:NAME/CONFIG:SPLIT (written as NNNNNNNN.png plus "
            f"{LABELS_FILE} with the original labels). A model exported from a uint16 (depth) run "
            "takes 16-bit PNGs and writes 16-bit PNGs. Unreadable images, and images of another bit "
            "depth than the model's, are reported by name and skipped; the exit status is then 1."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL")
    parser.add_argument("input", metavar="INPUT")
    parser.add_argument("output_dir", metavar="OUTPUT_DIR")
    parser.add_argument("--batch-size", type=int, default=64, help="images per model call")
    parser.add_argument("--resize", action="store_true",
                        help="resize images of another size to the model's H x W (area interpolation; "
                        "nearest neighbour for 16-bit depth)")
    parser.add_argument("--threads", type=int, help="TFLite interpreter threads (default: LiteRT's)")
    parser.add_argument("--data-dir", help="TFDS data directory for tfds: input")
    parser.add_argument("--manual-dir", help="TFDS manual directory (UnityEyes, MPIIGaze, ...) for tfds: input")
    parser.add_argument("--skip-bad", action="store_true",
                        help="tfds: input prepared from --manual-dir: log and leave out malformed source files "
                        "instead of stopping at the first one")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    configure_tf_runtime()  # log level and CPU allocator, before TF starts
    args = build_parser().parse_args(argv)
    if args.batch_size < 1:
        print(f"simgan-refine: error: --batch-size must be >= 1; got {args.batch_size}", file=sys.stderr)
        return 2
    try:
        model = load_model(args.model, args.threads)
        if args.input.startswith(TFDS_PREFIX):
            report = refine_tfds(model, args.input, args.output_dir, args.batch_size, args.resize,
                                 args.data_dir, args.manual_dir, progress=not args.quiet, skip_bad=args.skip_bad)
        else:
            report = refine_folder(model, args.input, args.output_dir, args.batch_size, args.resize,
                                   progress=not args.quiet)
    except (RefineError, FileNotFoundError, ValueError) as err:
        print(f"simgan-refine: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {report.written} refined images to {args.output_dir}")
    if report.failed:
        rest = "the others were written" if report.written else "none was written"
        print(f"simgan-refine: {len(report.failed)} of {report.written + len(report.failed)} images "
              f"failed (named above); {rest}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
