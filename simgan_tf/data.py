"""Input pipelines: TFDS datasets or a folder of images -> batched float images in [-1, 1].

The refiner never sees labels of the real domain, so `image_dataset` strips every feature
but the image. Estimators use `labeled_dataset`, which keeps them.
"""
from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path
from typing import Any, Sequence, Union

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from simgan_tf.config import ImageSpec
from tfds_builders.common.errors import BadInputError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
# Builders shipped in tfds_builders/; importing a module registers its dataset with TFDS.
_BUILDER_MODULES = ("procedural_eyes", "procedural_hands", "unity_eyes", "mpii_gaze", "nyu_hand")


# Largest shuffle buffer, in bytes of stored images (see `training_stream`).
SHUFFLE_BUFFER_BYTES = 64 * 2**20
# What `SimGAN.fit` accepts for each domain (see `image_stream`).
ImageSource = Union[np.ndarray, tf.Tensor, tf.data.Dataset]


class DataError(ValueError):
    """Bad input data: the message names the file or dataset and what was expected."""


def to_model_range(images: tf.Tensor) -> tf.Tensor:
    """uint8 0..255 (or uint16 depth 0..65535) -> float32 -1..1, the refiner's tanh range."""
    half_range = 32767.5 if images.dtype == tf.uint16 else 127.5
    return tf.cast(images, tf.float32) / half_range - 1.0


def from_model_range(images: tf.Tensor, dtype: tf.DType = tf.uint8) -> tf.Tensor:
    """float32 -1..1 -> uint8 0..255 (or uint16 0..65535), rounded and clipped."""
    dtype = tf.as_dtype(dtype)
    if dtype not in (tf.uint8, tf.uint16):
        raise ValueError(f"from_model_range: dtype must be uint8 or uint16, got {dtype.name}")
    half_range = 32767.5 if dtype == tf.uint16 else 127.5
    scaled = (tf.clip_by_value(tf.cast(images, tf.float32), -1.0, 1.0) + 1.0) * half_range
    return tf.cast(tf.round(scaled), dtype)


def register_builders() -> None:
    """Import the project's TFDS builders so `tfds.builder(name)` can find them."""
    for module in _BUILDER_MODULES:
        try:
            importlib.import_module(f"tfds_builders.{module}")
        except ModuleNotFoundError as err:
            if err.name not in (f"tfds_builders.{module}", "tfds_builders"):
                raise


def is_image_folder(source: str) -> bool:
    return os.path.isdir(source)


def list_image_files(folder: str | os.PathLike, skip_bad: bool = False) -> list[str]:
    """All image files under `folder` (recursive, sorted), each decoded once to prove it reads.

    Decoding (not only the header) is what catches a truncated file here, naming it, instead
    of deep inside training. With `skip_bad` unreadable files are logged, counted and left out.
    """
    return [path for path, _ in _scan_image_files(folder, skip_bad)]


def image_files_and_dtype(folder: str | os.PathLike, skip_bad: bool = False) -> tuple[list[str], tf.DType]:
    """`list_image_files` and the folder's storage dtype: uint16 for 16-bit PNGs, else uint8.

    Every image must have the same bit depth: decoding an 8-bit file as uint16 (or the
    reverse) would rescale it silently, so a folder mixing them is an error naming one file
    of each kind.
    """
    scanned = _scan_image_files(folder, skip_bad)
    by_dtype: dict[str, str] = {}
    for path, dtype in scanned:
        by_dtype.setdefault(dtype, path)
    if len(by_dtype) > 1:
        raise DataError(
            f"image folder {folder} mixes 8-bit and 16-bit images ({by_dtype['uint8']} is 8-bit, "
            f"{by_dtype['uint16']} is a 16-bit PNG); expected one bit depth: every image 8-bit, or every "
            "image a 16-bit PNG (depth), since neither can be converted to the other without rescaling"
        )
    return [path for path, _ in scanned], tf.as_dtype(scanned[0][1])


def _scan_image_files(folder: str | os.PathLike, skip_bad: bool) -> list[tuple[str, str]]:
    """(path, "uint8" / "uint16") of every readable image under `folder` (see list_image_files)."""
    folder = Path(folder)
    files = sorted(
        str(p) for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    if not files:
        raise DataError(
            f"image folder {folder} holds no images: expected files ending in {', '.join(IMAGE_EXTENSIONS)}"
        )
    good, bad = [], []
    for path in files:
        problem = _unreadable(path)
        if problem is None:
            good.append((path, image_file_dtype(path)))
        elif not skip_bad:
            raise DataError(f"{path}: {problem} (or pass --skip-bad to leave such files out)")
        else:
            bad.append(path)
            log.warning("skipping %s: %s", path, problem)
    if bad:
        log.warning("skipped %d of %d images in %s (skip_bad)", len(bad), len(files), folder)
    if not good:
        raise DataError(f"{folder}: all {len(files)} images are unreadable (first: {bad[0]}); expected readable images")
    return good


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def image_file_dtype(path: str | os.PathLike) -> str:
    """"uint16" for a 16-bit PNG (bit depth in its IHDR header), "uint8" for any other image.

    PNG is the only format of IMAGE_EXTENSIONS with 16 bits per sample (depth maps such as
    NYU's); the header is read rather than PIL's mode, which reports 16-bit RGB as 8-bit.
    """
    with open(path, "rb") as handle:
        head = handle.read(26)
    if head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR" and len(head) == 26 and head[24] == 16:
        return "uint16"
    return "uint8"


def _unreadable(path: str) -> str | None:
    """What keeps `path` from decoding here and in TensorFlow ('problem; expected ...'), or None."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            fmt, mode = img.format, img.mode
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        return f"not a readable image ({err}); expected a complete PNG/JPEG/BMP/GIF image"
    if fmt == "JPEG" and mode not in ("L", "RGB"):  # tf.io.decode_image reads 1- and 3-channel JPEGs only
        return f"is a {mode} JPEG, which TensorFlow cannot decode; expected a grayscale or RGB image"
    return None


def _looks_like_path(source: str) -> bool:
    """TFDS names are `name` or `name/config`; anything else is meant as a folder."""
    return source.startswith(("/", ".", "~")) or source.count("/") > 1 or "\\" in source


def _decode_file(path: tf.Tensor, image: ImageSpec, dtype: tf.DType = tf.uint8) -> tf.Tensor:
    """One file as stored: uint8, or uint16 for 16-bit PNGs (`image_files_and_dtype` has
    checked that every file of the folder has `dtype`'s bit depth: nothing is rescaled)."""
    raw = tf.io.read_file(path)
    decoded = tf.io.decode_image(raw, channels=image.channels, dtype=dtype, expand_animations=False)
    decoded.set_shape([None, None, image.channels])
    return decoded


def _fit_size(images: tf.Tensor, image: ImageSpec, method: str = "area") -> tf.Tensor:
    """Resize to the preset's H x W if they differ, keeping the dtype.

    Photos are area-averaged; depth maps (and any uint16 image) use nearest neighbour so
    that no depth value is invented between the hand and the background.
    """
    static = images.shape
    if static[-3] == image.height and static[-2] == image.width:
        return images
    size = (image.height, image.width)
    if method == "nearest" or images.dtype != tf.uint8:
        return tf.image.resize(images, size, method="nearest")
    resized = tf.image.resize(images, size, method="area")
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)


def load_tfds_builder(
    name: str, data_dir: str | None = None, manual_dir: str | None = None, skip_bad: bool = False
):
    """Get (and build on first use) a TFDS dataset, with a clear error for unknown names.

    `skip_bad` is passed to the real-data builders (unity_eyes, mpii_gaze, nyu_hand): they
    then log and skip malformed files instead of stopping at the first one.
    """
    register_builders()
    kwargs = {"skip_bad": True} if skip_bad else {}
    try:
        builder = tfds.builder(name, data_dir=data_dir, **kwargs)
    except Exception as err:  # TFDS raises several registry error types
        raise DataError(
            f"unknown dataset {name!r}: expected a TFDS name such as 'procedural_eyes/simulator', "
            f"'unity_eyes', 'mpii_gaze', 'nyu_hand/real', or an existing folder of images ({err})"
        ) from err
    if not builder.is_prepared():
        print(f"Preparing dataset {name} in {builder.data_dir} (first use only)...", flush=True)
        config = tfds.download.DownloadConfig(manual_dir=manual_dir) if manual_dir else None
        try:
            builder.download_and_prepare(download_config=config)
        except AssertionError as err:  # TFDS's "manual directory ... does not exist" message
            raise DataError(f"dataset {name}: {err}") from err
        except BadInputError as err:  # TFDS removes its incomplete folder: nothing half-built stays
            hint = "" if skip_bad else " (pass --skip-bad to leave such files out)"
            raise DataError(f"dataset {name}: {err}{hint}") from err
    return builder


def _tfds_split(builder, split: str, seed: int):
    if split not in builder.info.splits and "[" not in split:
        raise DataError(
            f"dataset {builder.info.full_name} has no split {split!r}: expected one of {sorted(builder.info.splits)}"
        )
    # no auto-cache: the training stream shuffles itself, and sample grids read a few images only
    read_config = tfds.ReadConfig(shuffle_seed=seed, try_autocache=False)
    return builder.as_dataset(split=split, shuffle_files=False, read_config=read_config)


def raw_dataset(
    source: str,
    split: str,
    image: ImageSpec,
    data_dir: str | None = None,
    manual_dir: str | None = None,
    seed: int = 0,
    skip_bad: bool = False,
    resize_method: str = "area",
) -> tf.data.Dataset:
    """Unbatched dicts with an integer `image` of the preset's shape (plus labels for TFDS).

    Images keep their storage dtype: uint8, or uint16 (depth: 16-bit PNGs, NYU hand).
    """
    if is_image_folder(source):
        files, dtype = image_files_and_dtype(source, skip_bad)
        ds = tf.data.Dataset.from_tensor_slices(files)
        return ds.map(
            lambda p: {"image": _fit_size(_decode_file(p, image, dtype), image, resize_method), "file_name": p},
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    if _looks_like_path(source):
        raise DataError(f"{source}: no such folder of images (and not a TFDS dataset name)")
    builder = load_tfds_builder(source, data_dir, manual_dir, skip_bad)
    feature = builder.info.features["image"] if "image" in builder.info.features else None
    if feature is None:
        raise DataError(f"dataset {source} has no 'image' feature: expected one")
    channels = feature.shape[-1]
    if tf.as_dtype(feature.dtype) not in (tf.uint8, tf.uint16):
        raise DataError(f"dataset {source} stores {tf.as_dtype(feature.dtype).name} images: expected uint8 or uint16")
    if channels != image.channels:
        raise DataError(
            f"dataset {source} has {channels}-channel images; the preset expects {image.channels}"
        )
    ds = _tfds_split(builder, split, seed)
    return ds.map(lambda ex: {**ex, "image": _fit_size(ex["image"], image, resize_method)},
                  num_parallel_calls=tf.data.AUTOTUNE)


def image_dataset(
    source: str,
    split: str,
    image: ImageSpec,
    data_dir: str | None = None,
    manual_dir: str | None = None,
    seed: int = 0,
    skip_bad: bool = False,
    resize_method: str = "area",
) -> tf.data.Dataset:
    """Unbatched integer images only (labels dropped: refiner training never sees them)."""
    ds = raw_dataset(source, split, image, data_dir, manual_dir, seed, skip_bad, resize_method)
    return ds.map(lambda ex: ex["image"], num_parallel_calls=tf.data.AUTOTUNE)


def training_stream(
    images: tf.data.Dataset,
    batch_size: int,
    seed: int,
    shuffle_buffer: int = 4096,
) -> tf.data.Dataset:
    """Endless shuffled batches of float images in [-1, 1] (uint8 kept until after shuffle).

    The shuffle buffer is part of every training checkpoint (it is what makes a resumed run
    draw the same images), so it is capped at SHUFFLE_BUFFER_BYTES: 4096 gaze crops are
    8 MB, 4096 depth images of 224 x 224 would be 400 MB a checkpoint.
    """
    spec = images.element_spec
    if isinstance(spec, tf.TensorSpec) and spec.shape.is_fully_defined():
        image_bytes = max(1, spec.shape.num_elements() * spec.dtype.size)
        shuffle_buffer = max(min(shuffle_buffer, SHUFFLE_BUFFER_BYTES // image_bytes), batch_size)
    ds = images.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(batch_size, drop_remainder=True)
    return ds.map(_as_model_float, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)


def labeled_dataset(
    source: str,
    split: str,
    image: ImageSpec,
    label_keys: tuple[str, ...] = ("gaze",),
    data_dir: str | None = None,
    manual_dir: str | None = None,
    seed: int = 0,
    skip_bad: bool = False,
) -> tf.data.Dataset:
    """Unbatched (float image in [-1, 1], labels dict) pairs for estimators and evaluation."""
    ds = raw_dataset(source, split, image, data_dir, manual_dir, seed, skip_bad)
    spec = ds.element_spec
    missing = [k for k in label_keys if k not in spec]
    if missing:
        raise DataError(f"dataset {source}[{split}] lacks labels {missing}: it has {sorted(spec)}")
    return ds.map(lambda ex: (to_model_range(ex["image"]), {k: ex[k] for k in label_keys}),
                  num_parallel_calls=tf.data.AUTOTUNE)


def take_images(ds: tf.data.Dataset, count: int) -> tf.Tensor:
    """First `count` images of an image dataset, as stored (uint8/uint16), for sample grids."""
    return next(iter(ds.batch(count).take(1)))


def _element_images(ds: tf.data.Dataset, name: str) -> tf.data.Dataset:
    """A dataset of images: dict elements keep their "image", (image, label) pairs their image."""
    spec = ds.element_spec
    if isinstance(spec, dict):
        if "image" not in spec:
            raise DataError(f"{name}: dataset elements are dicts without an 'image' key (keys: {sorted(spec)})")
        return ds.map(lambda ex: ex["image"])
    if isinstance(spec, tuple):
        return ds.map(lambda *parts: parts[0])
    return ds


def storage_dtype(source: ImageSource, name: str = "images") -> str | None:
    """"uint8" or "uint16" for integer images (array, tensor or dataset as `image_stream`
    takes), None for float images in [-1, 1] (they carry no storage dtype)."""
    if isinstance(source, tf.data.Dataset):
        dtype = tf.as_dtype(_element_images(source, name).element_spec.dtype)
    else:
        dtype = tf.as_dtype(source.dtype if tf.is_tensor(source) else np.asarray(source).dtype)
    if dtype in (tf.uint8, tf.uint16):
        return dtype.name
    return None


def training_image_dtype(synthetic: ImageSource, real: ImageSource) -> str | None:
    """The storage dtype of a run's images ("uint8" or "uint16"; None if both are float).

    Both domains are mapped to [-1, 1] by their own dtype's range (0..255 or 0..65535), so a
    uint8 domain trained against a uint16 one would silently compare images on different
    scales: that is an error here, naming both.
    """
    dtypes = {"synthetic": storage_dtype(synthetic, "synthetic"), "real": storage_dtype(real, "real")}
    known = {d for d in dtypes.values() if d is not None}
    if len(known) > 1:
        raise DataError(
            f"the synthetic images are {dtypes['synthetic']} and the real images {dtypes['real']}: expected "
            "both domains stored alike (both uint8, or both uint16 depth). Each is scaled to [-1, 1] by its "
            "own range (0..255 vs 0..65535), so mixing them would rescale one silently; convert one first"
        )
    return known.pop() if known else None


def image_stream(
    source: ImageSource,
    image_shape: Sequence[int],
    batch_size: int,
    seed: int,
    shuffle_buffer: int = 4096,
    name: str = "images",
) -> tf.data.Dataset:
    """Endless batches of `batch_size` float images in [-1, 1] from what a user has at hand.

    `source` may be an array or tensor (N, H, W, C), or a tf.data.Dataset of such images
    (unbatched; dict elements with an "image" key and (image, label) pairs work too). uint8
    (0-255) and uint16 (depth) images are scaled to [-1, 1]; float images must already be
    in [-1, 1]. Unbatched sources are shuffled with `seed`, repeated and batched here. A
    dataset that is already batched is only repeated, and its batch must be `batch_size`
    with a static size (`drop_remainder=True`): a different batch would change the losses'
    scale silently. `name` ("synthetic", "real") names the source in errors.
    """
    image_shape = tuple(int(d) for d in image_shape)
    if isinstance(source, tf.data.Dataset):
        ds = _element_images(source, name)
    else:
        if not tf.is_tensor(source):
            source = np.asarray(source)
            if source.dtype.kind == "f":
                lo, hi = (float(source.min()), float(source.max())) if source.size else (0.0, 0.0)
                if lo < -1.0 - 1e-6 or hi > 1.0 + 1e-6:
                    raise DataError(f"{name}: float images must lie in [-1, 1], got values in [{lo:g}, {hi:g}]; "
                                    "pass uint8 (0-255) images or scale with simgan_tf.data.to_model_range")
        if len(source.shape) != 4:
            raise DataError(f"{name}: expected an array of images (N, H, W, C), got shape {tuple(source.shape)}")
        if int(source.shape[0]) < batch_size:
            raise DataError(f"{name}: {int(source.shape[0])} images are fewer than one batch of {batch_size}")
        shuffle_buffer = min(shuffle_buffer, int(source.shape[0]))
        ds = tf.data.Dataset.from_tensor_slices(source)
    spec = ds.element_spec
    if not isinstance(spec, tf.TensorSpec) or spec.shape.rank not in (3, 4):
        raise DataError(f"{name}: expected images of shape (H, W, C) or batches (B, H, W, C), got {spec}")
    if tuple(spec.shape[-3:]) != image_shape:
        raise DataError(f"{name}: images of shape {tuple(spec.shape[-3:])} do not match the refiner's input "
                        f"{image_shape}; resize them (simgan_tf.data._fit_size) or build the models for this size")
    if spec.dtype not in (tf.uint8, tf.uint16, tf.float16, tf.bfloat16, tf.float32, tf.float64):
        raise DataError(f"{name}: images of dtype {spec.dtype.name}; expected uint8, uint16 or float in [-1, 1]")
    if spec.shape.rank == 3:
        return training_stream(ds, batch_size, seed, shuffle_buffer)
    if spec.shape[0] != batch_size:
        raise DataError(f"{name}: the dataset is batched by {spec.shape[0]} but training uses batch_size "
                        f"{batch_size}; batch it with .batch({batch_size}, drop_remainder=True) or pass it unbatched")
    return ds.repeat().map(_as_model_float, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)


def _as_model_float(images: tf.Tensor) -> tf.Tensor:
    if images.dtype.is_integer:
        return to_model_range(images)
    return tf.cast(images, tf.float32)
