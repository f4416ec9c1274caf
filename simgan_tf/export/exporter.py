"""Export a trained refiner: SavedModel (TF Serving layout), four TFLite flavours, export.json.

Everything is written into a hidden staging directory first and checked against the Keras
refiner on held-out synthetic images; only when every float artefact is within tolerance
is it moved into place. A failed export therefore leaves no half-written version that TF
Serving could pick up.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from simgan_tf import data as data_lib
from simgan_tf import run_io
from simgan_tf.config import Preset
from simgan_tf.export import parity
from simgan_tf.export.contract import image_doc, pixel_dtype, pixel_max, signature_doc
from simgan_tf.export.litert import TFLiteRefiner
from simgan_tf.export.saved_model import (
    ASSETS_EXTRA,
    ExportError,
    SavedModelRefiner,
    resolve_version,
    write_saved_model,
    write_warmup_requests,
)
from simgan_tf.export.settings import FLOAT_FLAVOURS, ExportConfig
from simgan_tf.export.tflite import convert_refiner

EXPORT_JSON = "export.json"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_REFERENCE_BATCH = 64


def tflite_path(out: str | os.PathLike, name: str, flavour: str) -> Path:
    """Where a flavour lands: OUT/NAME_FLAVOUR.tflite (next to the versioned SavedModel root)."""
    return Path(out) / f"{name}_{flavour}.tflite"


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def synthetic_images(
    preset: Preset, count: int, data_dir: str | None = None, manual_dir: str | None = None
) -> np.ndarray:
    """The first `count` images of the preset's synthetic dataset (in file order), in their
    storage dtype (uint8, or uint16 depth)."""
    ds = data_lib.image_dataset(
        preset.data.synthetic,
        preset.data.synthetic_split,
        preset.image,
        data_dir or preset.data.data_dir,
        manual_dir or preset.data.manual_dir,
        resize_method=preset.data.resize_method,
    )
    images = np.stack(list(ds.take(count).as_numpy_iterator())) if count else np.zeros((0, *preset.image.shape), np.uint8)
    if len(images) < count:
        raise ExportError(
            f"synthetic dataset {preset.data.synthetic}[{preset.data.synthetic_split}] holds "
            f"{len(images)} images; export needs {count} (calibration + held-out parity): lower "
            "--representative-count / --parity-count"
        )
    return images


def as_pixel_images(images: Any, shape: tuple[int, int, int], dtype: str, what: str) -> np.ndarray:
    """A numpy array or tf.data.Dataset (batched or not) of `dtype` images -> [N, H, W, C].

    `dtype` is the run's image dtype; images of another dtype are an ExportError naming the
    expected one (uint8 pixels are never rescaled to uint16 depth, nor the reverse).
    """
    if isinstance(images, tf.data.Dataset):
        parts = [np.asarray(x) for x in images.as_numpy_iterator()]
        images = np.concatenate([p if p.ndim == 4 else p[None] for p in parts]) if parts else np.zeros((0, *shape))
    array = np.asarray(images)
    if array.ndim != 4 or tuple(array.shape[1:]) != tuple(shape) or array.dtype != np.dtype(dtype) or len(array) == 0:
        values = "pixels 0..255" if dtype == "uint8" else f"depth 0..{pixel_max(dtype)}, the run's image dtype"
        raise ExportError(
            f"{what}: expected {dtype} images of shape [N >= 1, {', '.join(map(str, shape))}] "
            f"({values}); got {array.dtype.name} {list(array.shape)}"
        )
    return array


def as_uint8_images(images: Any, shape: tuple[int, int, int], what: str) -> np.ndarray:
    """A numpy array or tf.data.Dataset (batched or not) of uint8 images -> [N, H, W, C] uint8."""
    return as_pixel_images(images, shape, "uint8", what)


def _given_dtype(images: Any) -> str | None:
    """"uint8" / "uint16" of caller-given images (array or dataset), else None."""
    if images is None:
        return None
    if isinstance(images, tf.data.Dataset):
        dtype = images.element_spec.dtype
    else:
        dtype = getattr(images, "dtype", None)
        if dtype is None:
            dtype = np.asarray(images).dtype
    try:
        return pixel_dtype(dtype).name
    except ValueError:
        return None


def _reference(refiner: keras.Model, images: np.ndarray, dtype: str = "uint8") -> tuple[np.ndarray, np.ndarray]:
    """The Keras refiner's float output in [-1, 1] and its pixels of `dtype` (uint8 / uint16)."""
    outputs = [
        np.asarray(refiner(data_lib.to_model_range(images[i : i + _REFERENCE_BATCH]), training=False))
        for i in range(0, len(images), _REFERENCE_BATCH)
    ]
    refined = np.concatenate(outputs)
    return refined, data_lib.from_model_range(refined, tf.as_dtype(dtype)).numpy()


def _tflite_figures(runner: TFLiteRefiner, holdout: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pixels = runner.refine_pixels(holdout)
    dtype = runner.image_dtype
    return pixels / runner.half_range - 1.0, np.clip(np.round(pixels), 0, np.iinfo(dtype).max).astype(dtype)


def _tensor_doc(details: dict[str, Any]) -> dict[str, Any]:
    scale, zero_point = details["quantization"]
    doc: dict[str, Any] = {"dtype": np.dtype(details["dtype"]).name, "shape": [int(d) for d in details["shape"]]}
    if scale:
        doc["quantization"] = {"scale": float(scale), "zero_point": int(zero_point)}
    return doc


def _previous_versions(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return dict(json.loads(path.read_text()).get("versions", {}))
    except (ValueError, AttributeError) as err:
        warnings.warn(f"{path} is not valid JSON ({err}); its version history is dropped", stacklevel=3)
        return {}


def export_refiner(
    refiner: keras.Model,
    preset: Preset,
    name: str,
    *,
    step: int = 0,
    version: int | None = None,
    out: str | os.PathLike = "saved_models",
    overwrite: bool = False,
    representative: Any = None,
    holdout: Any = None,
    settings: ExportConfig | None = None,
    run_dir: str | os.PathLike | None = None,
    data_dir: str | None = None,
    manual_dir: str | None = None,
    image_dtype: str | None = None,
) -> dict[str, Any]:
    """Export `refiner` as OUT/NAME/VERSION/ (SavedModel), OUT/NAME_*.tflite, OUT/NAME/export.json.

    `image_dtype` is the storage dtype of the run's images, what serving_default and the
    TFLite flavours take and return: "uint8", or "uint16" for depth (no int8 flavour then;
    see settings.UINT16_UNSUPPORTED). None: that of `holdout` / `representative` if given,
    else of the preset's synthetic dataset. `representative` (int8 calibration) and
    `holdout` (parity) are images of that dtype; when not given they are the first images
    of the preset's synthetic dataset (calibration first, then disjoint held-out ones).
    Raises VersionExistsError before any work if the version exists and not `overwrite`,
    and ParityError (writing nothing) if a float artefact is off. Returns the export.json
    record.
    """
    started = time.perf_counter()
    settings = settings or ExportConfig()
    if not NAME_PATTERN.match(name):
        raise ExportError(f"--name {name!r}: expected letters, digits, '_', '-' or '.' (no path separators)")
    out = Path(out)
    model_root = out / name
    version = resolve_version(model_root, version, overwrite)
    shape = preset.image.shape
    if image_dtype is not None:
        try:
            image_dtype = pixel_dtype(image_dtype).name
        except ValueError as err:
            raise ExportError(str(err)) from None
    image_dtype = image_dtype or _given_dtype(holdout) or _given_dtype(representative)

    if representative is None or holdout is None:
        rep_count = settings.representative_count if representative is None else 0
        hold_count = settings.parity_count if holdout is None else 0
        images = synthetic_images(preset, rep_count + hold_count, data_dir, manual_dir)
        image_dtype = image_dtype or _given_dtype(images)
        representative = images[:rep_count] if representative is None else representative
        holdout = images[rep_count:] if holdout is None else holdout
        data_source = (
            f"{preset.data.synthetic}[{preset.data.synthetic_split}]: first {rep_count} images "
            f"calibrate, the next {hold_count} are held out for parity"
        )
    else:
        data_source = "images given by the caller"
    image_dtype = image_dtype or "uint8"
    representative = as_pixel_images(representative, shape, image_dtype, "representative images")
    holdout = as_pixel_images(holdout, shape, image_dtype, "held-out parity images")
    try:
        flavours = settings.flavours_for(image_dtype)
    except ValueError as err:
        raise ExportError(f"export {name!r}: {err}") from None
    settings = dataclasses.replace(settings, flavours=flavours)
    # convert_refiner takes the dtype only where it is not the default (uint8 exports call it as before)
    dtype_kwargs = {"dtype": image_dtype} if image_dtype != "uint8" else {}

    model_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=model_root))  # not an integer: TF Serving ignores it
    try:
        saved_model_dir = staging / "saved_model"
        write_saved_model(refiner, shape, saved_model_dir, image_dtype)
        warmup_records = write_warmup_requests(saved_model_dir, name, holdout, settings.warmup_batch_sizes)
        blobs = convert_refiner(refiner, shape, flavours, representative, **dtype_kwargs)

        ref_float, ref_pixels = _reference(refiner, holdout, image_dtype)
        served = SavedModelRefiner(saved_model_dir)
        results = {
            "saved_model": parity.judge(
                "saved_model",
                parity.figures(
                    ref_float, ref_pixels,
                    served.refine_float(data_lib.to_model_range(holdout).numpy()),
                    served.refine(holdout),
                    image_dtype,
                ),
                tolerance=settings.saved_model_max_abs_diff,
            )
        }
        tflite_docs: dict[str, Any] = {}
        for flavour, blob in blobs.items():
            runner = TFLiteRefiner(model_content=blob)
            results[flavour] = parity.judge(
                flavour,
                parity.figures(ref_float, ref_pixels, *_tflite_figures(runner, holdout), image_dtype),
                tolerance=settings.tolerance(flavour),
                psnr_goal_db=None if flavour in FLOAT_FLAVOURS else settings.int8_psnr_goal_db,
            )
            tflite_docs[flavour] = {
                "path": tflite_path(out, name, flavour).name,
                "bytes": len(blob),
                "signature": runner.signature,
                "input": _tensor_doc(runner.input_details),
                "output": _tensor_doc(runner.output_details),
            }
        bad = parity.failures(results)
        if bad:
            raise parity.ParityError(
                f"export {name!r} failed parity against the Keras refiner on {len(holdout)} held-out "
                f"images, nothing was written: {'; '.join(bad)}"
            )
        for flavour, result in results.items():
            if result.get("meets_goal") is False:
                warnings.warn(
                    f"{flavour}: PSNR {result['psnr_db']:.1f} dB vs the Keras refiner is below the "
                    f"{result['psnr_goal_db']} dB goal",
                    stacklevel=2,
                )

        target = model_root / str(version)
        if target.exists():  # resolve_version allowed it: --overwrite
            shutil.rmtree(target)
        os.replace(saved_model_dir, target)
        for flavour, blob in blobs.items():
            final = tflite_path(out, name, flavour)
            tmp = final.with_suffix(".tflite.tmp")
            tmp.write_bytes(blob)
            os.replace(tmp, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    checksums = {
        str(p.relative_to(out)): sha256(p) for p in sorted(target.rglob("*")) if p.is_file()
    }
    checksums.update({tflite_path(out, name, f).name: sha256(tflite_path(out, name, f)) for f in blobs})
    exported_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    export_json = model_root / EXPORT_JSON
    versions = _previous_versions(export_json)
    versions[str(version)] = {
        "exported_at": exported_at,
        "training_step": int(step),
        "run_dir": str(run_dir) if run_dir is not None else None,
        "saved_model_pb_sha256": checksums[str((target / "saved_model.pb").relative_to(out))],
    }
    for flavour in tflite_docs:
        tflite_docs[flavour]["parity"] = results[flavour]
    record: dict[str, Any] = {
        "name": name,
        "version": version,
        "exported_at": exported_at,
        "export_seconds": round(time.perf_counter() - started, 2),
        "run_dir": str(run_dir) if run_dir is not None else None,
        "training_step": int(step),
        "preset": preset.name,
        "preset_config": run_io.preset_to_dict(preset),
        "input_shape": list(shape),
        "image": image_doc(image_dtype),
        "saved_model": {
            "path": f"{name}/{version}",
            "signatures": signature_doc(shape, image_dtype),
            "warmup_file": f"{name}/{version}/{ASSETS_EXTRA}/tf_serving_warmup_requests" if warmup_records else None,
            "warmup_records": warmup_records,
            "parity": results["saved_model"],
        },
        "tflite": tflite_docs,
        "tflite_source_version": version,
        "parity_data": {"held_out": len(holdout), "calibration": len(representative), "source": data_source},
        "settings": dataclasses.asdict(settings),
        "checksums_sha256": checksums,
        "versions": dict(sorted(versions.items(), key=lambda kv: int(kv[0]))),
    }
    run_io.write_json_atomic(export_json, record)
    return record


def export_run(
    run_dir: str | os.PathLike,
    name: str,
    version: int | None = None,
    out: str | os.PathLike = "saved_models",
    overwrite: bool = False,
    representative_count: int | None = None,
    parity_count: int | None = None,
    *,
    representative: Any = None,
    holdout: Any = None,
    settings: ExportConfig | None = None,
    data_dir: str | None = None,
    manual_dir: str | None = None,
    refiner: str = "kept",
) -> dict[str, Any]:
    """Export a training run's refiner (see `export_refiner`), serving the image dtype recorded
    in its config.json (uint8, or uint16 for depth runs). refiner="kept": the one the run kept
    (the realism rule's best check where it stopped the run, else the latest checkpoint);
    "latest": the latest checkpoint's (`run_io.load_refiner`)."""
    settings = settings or ExportConfig()
    changes = {"representative_count": representative_count, "parity_count": parity_count}
    settings = dataclasses.replace(settings, **{k: v for k, v in changes.items() if v is not None})
    resolve_version(Path(out) / name, version, overwrite)  # fail before loading anything
    model, preset, step = run_io.load_refiner(run_dir, which=refiner)
    return export_refiner(
        model, preset, name,
        step=step, version=version, out=out, overwrite=overwrite,
        representative=representative, holdout=holdout, settings=settings,
        run_dir=run_dir, data_dir=data_dir, manual_dir=manual_dir,
        image_dtype=run_io.load_image_dtype(run_dir),  # None for runs that predate the record
    )
