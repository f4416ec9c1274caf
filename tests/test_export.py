"""Export: TF Serving layout and signatures, warm-up records, TFLite parity, versioning."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from simgan_tf import config as cfg
from simgan_tf import run_io
from simgan_tf.data import from_model_range, to_model_range
from simgan_tf.export import (
    FLAVOURS,
    ExportConfig,
    InputShapeError,
    ParityError,
    SavedModelRefiner,
    TFLiteRefiner,
    VersionExistsError,
    export_refiner,
    export_run,
    tflite_path,
)
from simgan_tf.export import cli as export_cli
from simgan_tf.export import exporter
from simgan_tf.export.parity import psnr_db
from simgan_tf.models.refiner import build_refiner

REPO = Path(__file__).resolve().parents[1]
# 16 filters: conv kernels have > 1024 weights, so float16 and dynamic-range int8 really
# quantize them (the converter leaves smaller tensors in float32). Reflect padding, as the
# presets use: every flavour must carry the MirrorPad op (int8 included).
TINY_EXPORT = dataclasses.replace(
    cfg.GAZE_QUICK, name="export_tiny",
    refiner=cfg.RefinerConfig(filters=16, kernel=3, num_blocks=1, padding="reflect"),
)
SHAPE = TINY_EXPORT.image.shape
STEP = 7


def smooth_images(count: int, seed: int) -> np.ndarray:
    """Eye-crop-like uint8 images: smooth random shading (not white noise, which no real
    refiner input looks like and which makes int8 calibration meaningless)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0.0, 255.0, (count, 5, 7, SHAPE[2])).astype(np.float32)
    fine = tf.image.resize(coarse, SHAPE[:2], method="bicubic").numpy()
    return np.clip(np.round(fine), 0, 255).astype(np.uint8)


def write_run(run_dir: Path, preset: cfg.Preset, seed: int = 0) -> keras.Model:
    """A run directory as the trainer writes it: config.json + tf.train.CheckpointManager."""
    keras.utils.set_random_seed(seed)
    refiner = build_refiner(preset.image, preset.refiner)
    run_io.save_run_config(run_dir, preset)
    checkpoint = tf.train.Checkpoint(refiner=refiner, step=tf.Variable(STEP, dtype=tf.int64))
    tf.train.CheckpointManager(checkpoint, str(run_dir / run_io.CHECKPOINT_DIR), 3).save()
    return refiner


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return smooth_images(80, seed=1)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("run")
    write_run(path, TINY_EXPORT)
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory, run_dir, images):
    out = tmp_path_factory.mktemp("saved_models")
    record = export_run(run_dir, "eyes", out=out, representative=images[:48], holdout=images[48:])
    return record, out


@pytest.fixture(scope="module")
def keras_refiner(run_dir) -> keras.Model:
    refiner, _, _ = run_io.load_refiner(run_dir)
    return refiner


def keras_reference(refiner: keras.Model, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    refined = refiner(to_model_range(pixels), training=False).numpy()
    return refined, from_model_range(refined).numpy()


# --- TF Serving layout and signatures ----------------------------------------------------
def test_tf_serving_layout_and_export_json(exported):
    record, out = exported
    version_dir = out / "eyes" / "1"
    assert (version_dir / "saved_model.pb").is_file()
    assert (version_dir / "variables" / "variables.index").is_file()
    for flavour in FLAVOURS:
        assert tflite_path(out, "eyes", flavour).is_file()
    on_disk = json.loads((out / "eyes" / exporter.EXPORT_JSON).read_text())
    assert on_disk == json.loads(json.dumps(record))
    assert on_disk["version"] == 1 and on_disk["training_step"] == STEP
    assert on_disk["preset"] == "export_tiny" and on_disk["input_shape"] == list(SHAPE)
    assert on_disk["export_seconds"] > 0
    # Every artefact is checksummed, and the checksums are those of the files on disk.
    assert {f"eyes_{f}.tflite" for f in FLAVOURS} | {"eyes/1/saved_model.pb"} <= set(on_disk["checksums_sha256"])
    for rel, digest in on_disk["checksums_sha256"].items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest, rel
    # No staging directory is left behind for TF Serving to trip over.
    assert sorted(p.name for p in (out / "eyes").iterdir()) == ["1", "export.json"]


def test_signatures_names_shapes_dtypes(exported):
    _, out = exported
    loaded = tf.saved_model.load(str(out / "eyes" / "1"))
    assert set(loaded.signatures) == {"serving_default", "refine_float"}
    for name, dtype in (("serving_default", tf.uint8), ("refine_float", tf.float32)):
        signature = loaded.signatures[name]
        inputs = signature.structured_input_signature[1]
        assert list(inputs) == ["images"]
        assert inputs["images"].dtype == dtype
        assert inputs["images"].shape.as_list() == [None, *SHAPE]  # dynamic batch
        outputs = signature.structured_outputs
        assert list(outputs) == ["refined_images"]
        assert outputs["refined_images"].dtype == dtype
        assert outputs["refined_images"].shape.as_list() == [None, *SHAPE]


def test_serving_default_uint8_in_and_out_matches_keras(exported, keras_refiner, images):
    _, out = exported
    loaded = tf.saved_model.load(str(out / "eyes" / "1"))
    batch = images[:5]
    result = loaded.signatures["serving_default"](images=tf.constant(batch))["refined_images"]
    assert result.dtype == tf.uint8 and result.shape == (5, *SHAPE)
    ref_float, ref_uint8 = keras_reference(keras_refiner, batch)
    # Same float graph as Keras: at most a one-level rounding flip at a .5 boundary.
    assert np.max(np.abs(result.numpy().astype(int) - ref_uint8.astype(int))) <= 1
    floats = loaded.signatures["refine_float"](images=to_model_range(batch))["refined_images"].numpy()
    assert floats.dtype == np.float32
    assert np.max(np.abs(floats - ref_float)) <= 1e-4
    assert floats.min() >= -1.0 and floats.max() <= 1.0


def test_wrong_shape_and_dtype_name_the_expected_shape(exported):
    _, out = exported
    loaded = tf.saved_model.load(str(out / "eyes" / "1"))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"35,55,1"):
        loaded.signatures["serving_default"](images=tf.zeros([1, 10, 12, 1], tf.uint8))
    served = SavedModelRefiner(out / "eyes")  # the model root resolves to the newest version
    assert served.path == out / "eyes" / "1"
    with pytest.raises(InputShapeError, match=r"\[batch, 35, 55, 1\] uint8.*\[2, 10, 12, 1\]"):
        served.refine_uint8(np.zeros((2, 10, 12, 1), np.uint8))
    with pytest.raises(InputShapeError, match=r"\[batch, 35, 55, 1\] uint8.*float32"):
        served.refine_uint8(np.zeros((2, *SHAPE), np.float32))
    with pytest.raises(InputShapeError, match=r"\[batch, 35, 55, 1\] float32"):
        served.refine_float(np.zeros((2, *SHAPE), np.uint8))


# --- warm-up records ----------------------------------------------------------------------
def test_warmup_file_parses_as_prediction_logs(exported):
    pytest.importorskip("tensorflow_serving.apis.prediction_log_pb2")
    from simgan_tf.export.saved_model import read_warmup_requests

    record, out = exported
    path = out / "eyes" / "1" / "assets.extra" / "tf_serving_warmup_requests"
    logs = read_warmup_requests(path)
    assert len(logs) == record["saved_model"]["warmup_records"] == 2 * len(ExportConfig().warmup_batch_sizes)
    loaded = tf.saved_model.load(str(out / "eyes" / "1"))
    seen = set()
    for log in logs:
        request = log.predict_log.request
        assert request.model_spec.name == "eyes"
        signature = request.model_spec.signature_name
        tensor = tf.make_ndarray(request.inputs["images"])
        assert tensor.shape[1:] == SHAPE
        assert tensor.dtype == (np.uint8 if signature == "serving_default" else np.float32)
        seen.add((signature, tensor.shape[0]))
        # A warm-up request is a valid call of its signature.
        loaded.signatures[signature](images=tf.constant(tensor))
    assert seen == {(s, b) for s in ("serving_default", "refine_float") for b in ExportConfig().warmup_batch_sizes}


def test_missing_serving_api_skips_warmup_with_warning(tmp_path, monkeypatch, images):
    import builtins

    real_import = builtins.__import__

    def no_serving(name, *args, **kwargs):
        if name.startswith("tensorflow_serving"):
            raise ImportError("simulated: tensorflow-serving-api not installed")
        return real_import(name, *args, **kwargs)

    from simgan_tf.export.saved_model import write_warmup_requests

    monkeypatch.setattr(builtins, "__import__", no_serving)
    with pytest.warns(UserWarning, match="tensorflow-serving-api"):
        assert write_warmup_requests(tmp_path, "eyes", images[:2], (1,)) is None
    assert not (tmp_path / "assets.extra").exists()


# --- TFLite flavours ----------------------------------------------------------------------
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_tflite_round_trip_parity(exported, keras_refiner, images, flavour):
    record, out = exported
    runner = TFLiteRefiner(tflite_path(out, "eyes", flavour), num_threads=1)
    assert runner.image_shape == SHAPE
    holdout = images[48:]
    ref_float, ref_uint8 = keras_reference(keras_refiner, holdout)
    refined = runner.refine_uint8(holdout)
    assert refined.dtype == np.uint8 and refined.shape == holdout.shape
    figures = record["tflite"][flavour]["parity"]
    if flavour == "int8":
        # Full-integer: raw uint8 pixels in (scale 1, zero point 0), uint8 out.
        assert runner.signature == "serving_default"
        assert runner.input_details["dtype"] == np.uint8
        assert tuple(runner.input_details["quantization"]) == (1.0, 0)
        assert runner.output_details["dtype"] == np.uint8
    else:
        assert runner.signature == "refine_float"
        assert runner.input_details["dtype"] == np.float32
    if flavour in ("float32", "float16"):
        diff = float(np.max(np.abs(runner.refine_float(to_model_range(holdout).numpy()) - ref_float)))
        assert diff <= {"float32": 1e-4, "float16": 1e-2}[flavour]
        assert figures["max_abs_diff"] == pytest.approx(diff, rel=1e-3, abs=1e-6)
        assert figures["passed"] and figures["tolerance"] == {"float32": 1e-4, "float16": 1e-2}[flavour]
    else:
        psnr = psnr_db(ref_uint8, refined)
        assert psnr is None or psnr >= 35.0
        assert figures["meets_goal"] and figures["psnr_goal_db"] == 35.0
        assert (figures["psnr_db"] is None) == (psnr is None)
        if psnr is not None:
            assert figures["psnr_db"] == pytest.approx(psnr, abs=1e-3)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_tflite_reflect_padding_uses_delegatable_ops(exported, flavour):
    """Reflect padding reaches every .tflite as slices + concatenations (parity tests check the
    values), not as MIRROR_PAD, which XNNPACK does not run, and not as a zero PAD."""
    from ai_edge_litert.interpreter import Interpreter

    _, out = exported
    ops = {op["op_name"] for op in Interpreter(model_path=str(tflite_path(out, "eyes", flavour)))._get_ops_details()}
    assert "CONCATENATION" in ops
    assert not ops & {"MIRROR_PAD", "PAD", "PADV2"}


def test_float16_and_dynamic_int8_really_quantize_weights(exported):
    record, _ = exported
    sizes = {f: record["tflite"][f]["bytes"] for f in FLAVOURS}
    assert sizes["float16"] < 0.7 * sizes["float32"]
    assert sizes["dynamic_int8"] < 0.5 * sizes["float32"]
    assert record["tflite"]["float16"]["parity"]["max_abs_diff"] > 0.0


def test_tflite_wrong_shape_names_expected_shape(exported):
    _, out = exported
    runner = TFLiteRefiner(tflite_path(out, "eyes", "int8"))
    with pytest.raises(InputShapeError, match=r"\[batch, 35, 55, 1\] uint8.*\[1, 55, 35, 1\]"):
        runner.refine_uint8(np.zeros((1, 55, 35, 1), np.uint8))
    float_runner = TFLiteRefiner(tflite_path(out, "eyes", "float32"))
    with pytest.raises(InputShapeError, match=r"\[batch, 35, 55, 1\] float32"):
        float_runner.refine_float(np.zeros((1, 35, 55, 3), np.float32))


def test_parity_failure_fails_loudly_and_writes_nothing(tmp_path, monkeypatch, images):
    """A float32 artefact that is not the refiner (here: another refiner's weights) is caught."""
    keras.utils.set_random_seed(0)
    refiner = build_refiner(TINY_EXPORT.image, TINY_EXPORT.refiner)
    keras.utils.set_random_seed(1)
    impostor = build_refiner(TINY_EXPORT.image, TINY_EXPORT.refiner)
    real_convert = exporter.convert_refiner
    monkeypatch.setattr(
        exporter, "convert_refiner",
        lambda model, shape, flavours, representative: real_convert(impostor, shape, flavours, representative),
    )
    with pytest.raises(ParityError, match=r"float32: max abs diff .* > tolerance 0\.0001"):
        export_refiner(
            refiner, TINY_EXPORT, "bad", out=tmp_path, representative=images[:8], holdout=images[8:16],
            settings=ExportConfig(flavours=("float32",)),
        )
    assert not list(tmp_path.glob("*.tflite"))
    assert list((tmp_path / "bad").iterdir()) == []


def test_a_refiner_with_position_channels_exports_to_every_flavour(tmp_path, images):
    """The x / y channels are computed inside the model: the signatures still take the image
    alone, and every flavour (int8 included) matches Keras within its tolerance."""
    preset = dataclasses.replace(TINY_EXPORT, refiner=dataclasses.replace(TINY_EXPORT.refiner, position_channels=True))
    refiner = write_run(tmp_path / "run", preset)
    record = export_run(tmp_path / "run", "positioned", out=tmp_path / "out", representative=images[:48],
                        holdout=images[48:])
    assert sorted(record["tflite"]) == sorted(FLAVOURS)
    assert all(record["tflite"][f]["parity"].get("passed", record["tflite"][f]["parity"].get("meets_goal"))
               for f in FLAVOURS)
    served = SavedModelRefiner(tmp_path / "out" / "positioned" / "1")
    refined = served.refine_uint8(images[48:52]).astype(int)
    assert np.abs(refined - keras_reference(refiner, images[48:52])[1].astype(int)).max() <= 1


# --- versions -----------------------------------------------------------------------------
def test_versions_never_overwritten_without_overwrite(tmp_path, run_dir, images, capsys):
    quick = ExportConfig(flavours=(), warmup_batch_sizes=(1,))  # versioning concerns the SavedModel
    kwargs = dict(out=tmp_path, representative=images[:8], holdout=images[8:16], settings=quick)
    first = export_run(run_dir, "eyes", **kwargs)
    assert first["version"] == 1
    pb = tmp_path / "eyes" / "1" / "saved_model.pb"
    marker = tmp_path / "eyes" / "1" / "marker.txt"
    marker.write_text("version 1 as first written")
    before = pb.read_bytes()

    with pytest.raises(VersionExistsError, match=r"eyes/1 already exists: pass --overwrite"):
        export_run(run_dir, "eyes", version=1, **kwargs)
    # The command line says the same and exits 2 before loading anything.
    code = export_cli.main(["--run-dir", str(run_dir), "--name", "eyes", "--out", str(tmp_path), "--version", "1"])
    assert code == 2
    assert "already exists" in capsys.readouterr().err
    assert marker.is_file() and pb.read_bytes() == before

    second = export_run(run_dir, "eyes", **kwargs)  # no --version: the next one
    assert second["version"] == 2 and (tmp_path / "eyes" / "2" / "saved_model.pb").is_file()
    assert marker.is_file()

    third = export_run(run_dir, "eyes", version=1, overwrite=True, **kwargs)
    assert third["version"] == 1 and not marker.exists() and pb.is_file()
    history = json.loads((tmp_path / "eyes" / "export.json").read_text())["versions"]
    assert sorted(history) == ["1", "2"] and history["1"]["training_step"] == STEP


def test_export_cli_end_to_end(tmp_path, run_dir, images, monkeypatch, capsys):
    """The console script with the default data path (the preset's synthetic images)."""
    calls = []

    def fake_synthetic(preset, count, data_dir=None, manual_dir=None):
        calls.append(count)
        return images[:count]

    monkeypatch.setattr(exporter, "synthetic_images", fake_synthetic)
    code = export_cli.main([
        "--run-dir", str(run_dir), "--name", "cli", "--out", str(tmp_path),
        "--flavours", "float32,int8", "--representative-count", "20", "--parity-count", "10",
    ])
    assert code == 0, capsys.readouterr().err
    assert calls == [30]
    record = json.loads((tmp_path / "cli" / "export.json").read_text())
    assert record["parity_data"]["calibration"] == 20 and record["parity_data"]["held_out"] == 10
    assert sorted(record["tflite"]) == ["float32", "int8"]
    printed = capsys.readouterr().out
    assert "int8" in printed and "saved_model" in printed


def test_bad_name_and_missing_run_dir(tmp_path):
    assert export_cli.main(["--run-dir", str(tmp_path / "nope"), "--name", "x", "--out", str(tmp_path)]) == 2
    with pytest.raises(Exception, match="expected letters"):
        export_refiner(None, TINY_EXPORT, "../escape", out=tmp_path)


def test_python_m_entry_points():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for module in ("simgan_tf.export", "simgan_tf.refine"):
        result = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, env=env)
        assert result.returncode == 0, result.stderr
        assert "usage:" in result.stdout


def test_latency_benchmark_runs_on_an_export(exported, tmp_path, capsys):
    import importlib.util

    _, out = exported
    spec = importlib.util.spec_from_file_location("refine_latency", REPO / "benchmarks" / "refine_latency.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    json_out = tmp_path / "bench.json"
    assert bench.main(["--export-dir", str(out), "--runs", "3", "--warmup", "1", "--batches", "1,2",
                       "--min-seconds", "0", "--json-out", str(json_out)]) == 0
    table = capsys.readouterr().out
    for flavour in FLAVOURS:
        assert f"| {flavour} |" in table
    figures = json.loads(json_out.read_text())
    assert set(figures["litert_latency"]) == set(FLAVOURS)
    assert all(r["median_ms"] > 0 for r in figures["litert_latency"].values())
    assert set(figures["saved_model"]) == {"1", "2"}
