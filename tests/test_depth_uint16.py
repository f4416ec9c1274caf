"""uint16 depth end to end: training, history buffer, refinement, export, simgan-refine.

A depth run (NYU hand stores uint16, hand-centred: value / 65535 * 2 - 1 in [-1, 1]) keeps
its 16 bits at every step: the run records "uint16", the history buffer stores 16-bit
levels, refinement returns uint16, the SavedModel's serving_default and the float TFLite
flavours take and return uint16, and simgan-refine writes 16-bit PNGs. Mixing 8-bit and
16-bit images is an error naming the input and the expected dtype, never a rescale.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from conftest import tiny_preset
from simgan_tf import data, run_io, train_cli
from simgan_tf.data import DataError, from_model_range, to_model_range
from simgan_tf.export import ExportConfig, InputShapeError, SavedModelRefiner, TFLiteRefiner, export_refiner, export_run
from simgan_tf.export import tflite_path
from simgan_tf.export.saved_model import ExportError, write_saved_model
from simgan_tf.export.settings import UINT16_FLAVOURS
from simgan_tf.history import ImageHistoryBuffer
from simgan_tf.models.refiner import build_refiner
from simgan_tf.refine import main as refine_main
from simgan_tf.refine import refine_tfds
from simgan_tf.trainer import SimGAN

PRESET = dataclasses.replace(tiny_preset(), name="depth_tiny")
SHAPE = PRESET.image.shape  # 12 x 16 x 1
EIGHT_BIT_STEP = 257  # one uint8 level in uint16 units (65535 / 255)


def depth_images(count: int, seed: int, spread: float = 0.12, background: bool = True) -> np.ndarray:
    """NYU-style hand-centred uint16 depth: smooth surfaces within `spread` of the centre
    (model range), the right columns background (65535, far) if `background`."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(-spread, spread, (count, 4, 5, 1)).astype(np.float32)
    fine = tf.image.resize(coarse, SHAPE[:2], method="bicubic").numpy()
    values = np.round((np.clip(fine, -1.0, 1.0) + 1.0) * 32767.5)
    if background:
        values[:, :, -3:, :] = 65535
    return values.astype(np.uint16)


def write_pngs(folder: Path, images: np.ndarray) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(images):
        paths.append(folder / f"{i:03d}.png")
        Image.fromarray(image[..., 0]).save(paths[-1])  # uint16 -> 16-bit PNG, uint8 -> 8-bit
    return paths


def png_bit_depth(path: Path) -> int:
    return Path(path).read_bytes()[24]


def identity_refiner() -> keras.Model:
    """The preset's refiner with weights that make it tanh(x): within 6e-4 of the identity
    for |x| <= 0.12, i.e. 20 uint16 levels (a converged refiner changes a depth map little; its output must keep
    the input's 16-bit precision, which an 8-bit step anywhere on the way would destroy)."""
    refiner = build_refiner(PRESET.image, PRESET.refiner)
    for layer in refiner.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        kernel, bias = np.zeros_like(weights[0]), np.zeros_like(weights[1])
        if layer.name.endswith("conv_in"):  # channel 0 = relu(x), channel 1 = relu(-x)
            centre = kernel.shape[0] // 2
            kernel[centre, centre, 0, 0], kernel[centre, centre, 0, 1] = 1.0, -1.0
        elif layer.name.endswith("conv_out"):  # x = relu(x) - relu(-x); blocks add zero
            kernel[0, 0, 0, 0], kernel[0, 0, 1, 0] = 1.0, -1.0
        layer.set_weights([kernel, bias])
    return refiner


# --- history buffer -----------------------------------------------------------------------
def test_history_buffer_uint16_checkpoint_round_trip_is_exact(tmp_path):
    levels = depth_images(4, seed=0)
    buffer = ImageHistoryBuffer(8, SHAPE, seed=3, dtype=tf.uint16)
    buffer.add(to_model_range(levels))
    stored = buffer.images.numpy()[:4]
    assert buffer.images.dtype == tf.uint16
    np.testing.assert_array_equal(stored, levels)  # no 8-bit quantisation on the way in
    path = tf.train.Checkpoint(history=buffer).save(str(tmp_path / "ckpt"))
    restored = ImageHistoryBuffer(8, SHAPE, seed=0, dtype=tf.uint16)
    tf.train.Checkpoint(history=restored).restore(path).assert_consumed()
    np.testing.assert_array_equal(restored.images.numpy(), buffer.images.numpy())
    assert tf.train.load_variable(path, "history/images/.ATTRIBUTES/VARIABLE_VALUE").dtype == np.uint16
    sampled = from_model_range(restored.sample(4), tf.uint16).numpy()  # floats back to the same levels
    assert sorted(map(bytes, sampled)) == sorted(map(bytes, levels))


# --- a tiny training run on 16-bit PNG folders ---------------------------------------------
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("depth_run")
    synthetic = depth_images(16, seed=1)
    write_pngs(root / "synthetic", synthetic)
    write_pngs(root / "real", depth_images(16, seed=2, spread=0.2))
    preset = dataclasses.replace(
        PRESET, data=dataclasses.replace(PRESET.data, synthetic=str(root / "synthetic"), real=str(root / "real"))
    )
    summary = train_cli.run(preset, root / "run", verbose=0)
    return {"dir": root / "run", "summary": summary, "synthetic": synthetic, "preset": preset}


def test_folder_of_16_bit_pngs_trains_as_uint16(run, tmp_path):
    images = data.image_dataset(str(run["dir"].parent / "synthetic"), "train", PRESET.image)
    assert images.element_spec.dtype == tf.uint16
    np.testing.assert_array_equal(np.stack(list(images.as_numpy_iterator())), run["synthetic"])
    # The run records the dtype (config.json and summary.json): export serves it.
    config = json.loads((run["dir"] / run_io.CONFIG_FILE).read_text())
    assert config["image_dtype"] == "uint16" and run_io.load_image_dtype(run["dir"]) == "uint16"
    assert run["summary"]["image_dtype"] == "uint16"
    assert json.loads((run["dir"] / run_io.SUMMARY_FILE).read_text())["image_dtype"] == "uint16"
    # The history buffer checkpoint holds 16-bit levels, not 8-bit ones.
    checkpoint = run_io.latest_checkpoint(run["dir"])
    stored = tf.train.load_variable(checkpoint, "history/images/.ATTRIBUTES/VARIABLE_VALUE")
    size = int(tf.train.load_variable(checkpoint, "history/size/.ATTRIBUTES/VARIABLE_VALUE"))
    assert stored.dtype == np.uint16 and size > 0
    assert np.any(stored[:size] % EIGHT_BIT_STEP) and len(np.unique(stored[:size])) > 256
    # Resuming on 8-bit images is refused, naming both dtypes.
    with pytest.raises(ValueError, match="trained on uint16 images; these are uint8"):
        run_io.record_image_dtype(run["dir"], "uint8")


def test_simgan_refine_returns_uint16_at_full_precision(run):
    gan = SimGAN.from_preset(run["preset"])
    tf.train.Checkpoint(refiner=gan.refiner).restore(run_io.latest_checkpoint(run["dir"])).expect_partial()
    refined = gan.refine(run["synthetic"])
    assert refined.dtype == np.uint16 and refined.shape == run["synthetic"].shape
    expected = from_model_range(gan.refiner(to_model_range(run["synthetic"])), tf.uint16).numpy()
    np.testing.assert_array_equal(refined, expected)
    assert len(np.unique(refined)) > 256 and np.any(refined % EIGHT_BIT_STEP)


def test_mixed_dtypes_are_errors_naming_both(tmp_path):
    with pytest.raises(DataError, match="synthetic images are uint16 and the real images uint8"):
        data.training_image_dtype(depth_images(4, 0), np.zeros((4, *SHAPE), np.uint8))
    assert data.training_image_dtype(depth_images(4, 0), np.zeros((4, *SHAPE), np.float32)) == "uint16"
    mixed = tmp_path / "mixed"
    write_pngs(mixed, depth_images(2, 0))
    Image.fromarray(np.zeros(SHAPE[:2], np.uint8)).save(mixed / "zz_8bit.png")
    with pytest.raises(DataError, match=r"mixes 8-bit and 16-bit images \(.*zz_8bit\.png is 8-bit, .*000\.png"):
        data.image_dataset(str(mixed), "train", PRESET.image)


# --- export of the trained run ---------------------------------------------------------------
@pytest.fixture(scope="module")
def exported(run, tmp_path_factory):
    out = tmp_path_factory.mktemp("saved_models")
    images = run["synthetic"]
    record = export_run(run["dir"], "hand", out=out, representative=images[:8], holdout=images[8:],
                        settings=ExportConfig(warmup_batch_sizes=(1,)))
    return record, out


def test_export_contract_says_uint16(exported):
    record, out = exported
    assert record["image"]["dtype"] == "uint16" and record["image"]["range"] == [0, 65535]
    assert record["image"]["to_model_range"] == "x = pixel / 32767.5 - 1"
    serving = record["saved_model"]["signatures"]["serving_default"]
    assert serving["inputs"]["images"]["dtype"] == serving["outputs"]["refined_images"]["dtype"] == "uint16"
    assert serving["inputs"]["images"]["range"] == [0, 65535]
    assert record["saved_model"]["signatures"]["refine_float"]["inputs"]["images"]["dtype"] == "float32"
    assert sorted(record["tflite"]) == sorted(UINT16_FLAVOURS) and "int8" not in record["tflite"]
    assert tuple(record["settings"]["flavours"]) == UINT16_FLAVOURS
    for flavour, doc in record["tflite"].items():
        assert doc["input"]["dtype"] == doc["output"]["dtype"] == "uint16", flavour
        assert "quantization" not in doc["input"] and doc["signature"] == "serving_default"
        assert doc["parity"]["passed"] and "max_abs_diff_uint16" in doc["parity"]
    on_disk = json.loads((out / "hand" / "export.json").read_text())
    assert on_disk["image"] == record["image"]


def test_saved_model_uint16_signature_equals_refine(exported, run):
    _, out = exported
    gan = SimGAN.from_preset(run["preset"])
    tf.train.Checkpoint(refiner=gan.refiner).restore(run_io.latest_checkpoint(run["dir"])).expect_partial()
    images = run["synthetic"]
    expected = gan.refine(images)
    loaded = tf.saved_model.load(str(out / "hand" / "1"))
    result = loaded.signatures["serving_default"](images=tf.constant(images))["refined_images"]
    assert result.dtype == tf.uint16
    # Same float graph as Keras: at most a one-level rounding flip at a .5 boundary.
    assert np.max(np.abs(result.numpy().astype(int) - expected.astype(int))) <= 1
    assert np.mean(result.numpy() == expected) > 0.99
    served = SavedModelRefiner(out / "hand")
    assert served.image_dtype == np.uint16
    np.testing.assert_array_equal(served.refine(images), result.numpy())
    floats = loaded.signatures["refine_float"](images=to_model_range(images))["refined_images"].numpy()
    assert np.max(np.abs(floats - gan.refiner(to_model_range(images)).numpy())) <= 1e-4
    # An 8-bit image is an error naming the expected dtype, never rescaled.
    with pytest.raises(InputShapeError, match=r"expects images of shape \[batch, 12, 16, 1\] uint16; got dtype uint8"):
        served.refine(np.zeros((1, *SHAPE), np.uint8))
    with pytest.raises(InputShapeError, match="takes uint16 images .*use refine"):
        served.refine_uint8(np.zeros((1, *SHAPE), np.uint8))


def test_warmup_records_are_uint16(exported):
    pytest.importorskip("tensorflow_serving.apis.prediction_log_pb2")
    from simgan_tf.export.saved_model import read_warmup_requests

    _, out = exported
    logs = read_warmup_requests(out / "hand" / "1" / "assets.extra" / "tf_serving_warmup_requests")
    dtypes = {log.predict_log.request.model_spec.signature_name:
              tf.make_ndarray(log.predict_log.request.inputs["images"]).dtype for log in logs}
    assert dtypes == {"serving_default": np.uint16, "refine_float": np.float32}


@pytest.mark.parametrize("flavour", UINT16_FLAVOURS)
def test_tflite_flavours_take_and_return_uint16(exported, run, flavour):
    _, out = exported
    runner = TFLiteRefiner(tflite_path(out, "hand", flavour), num_threads=1)
    assert runner.input_details["dtype"] == np.uint16 and runner.output_details["dtype"] == np.uint16
    assert runner.image_dtype == np.uint16
    images = run["synthetic"]
    refined = runner.refine(images)
    reference = SavedModelRefiner(out / "hand").refine(images)
    assert refined.dtype == np.uint16 and refined.shape == images.shape
    tolerance = {"float32": 2, "float16": 0.01 * 32767.5, "dynamic_int8": 0.05 * 32767.5}[flavour]
    assert np.max(np.abs(refined.astype(int) - reference.astype(int))) <= tolerance
    assert len(np.unique(refined)) > 256
    with pytest.raises(InputShapeError, match="uint16; got dtype uint8"):
        runner.refine(np.zeros((1, *SHAPE), np.uint8))


def test_export_refuses_int8_and_8_bit_images_for_a_uint16_run(run, tmp_path):
    images = run["synthetic"]
    with pytest.raises(ExportError, match=r"\['int8'\] cannot serve this uint16 run \(full-integer int8 cannot keep"):
        export_run(run["dir"], "bad", out=tmp_path, representative=images[:4], holdout=images[4:8],
                   settings=ExportConfig(flavours=("float32", "int8")))
    eight_bit = np.zeros((4, *SHAPE), np.uint8)
    with pytest.raises(ExportError, match=r"held-out parity images: expected uint16 images .* got uint8"):
        export_run(run["dir"], "bad", out=tmp_path, representative=images[:4], holdout=eight_bit)
    assert not list(tmp_path.glob("*.tflite")) and not (tmp_path / "bad" / "1").exists()


# --- precision through export and simgan-refine: an identity refiner --------------------------
@pytest.fixture(scope="module")
def identity_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("identity")
    images = depth_images(16, seed=5, spread=0.1, background=False)
    export_refiner(identity_refiner(), PRESET, "depth", out=out, representative=images[:8], holdout=images[8:],
                   settings=ExportConfig(flavours=("float32",), warmup_batch_sizes=(1,)), image_dtype="uint16")
    return out


def test_simgan_refine_writes_16_bit_pngs_at_full_precision(identity_export, tmp_path, capsys):
    images = depth_images(6, seed=6, spread=0.1, background=False)  # |x| <~ 0.12 after bicubic overshoot
    sources = write_pngs(tmp_path / "in", images)
    assert all(png_bit_depth(p) == 16 for p in sources)
    out = tmp_path / "out"
    assert refine_main([str(identity_export / "depth"), str(tmp_path / "in"), str(out), "--quiet"]) == 0
    written = np.stack([np.asarray(Image.open(out / p.name)) for p in sources])[..., None]
    assert all(png_bit_depth(out / p.name) == 16 for p in sources) and written.dtype == np.uint16
    np.testing.assert_array_equal(written, SavedModelRefiner(identity_export / "depth").refine(images))
    # Precision kept: the identity refiner's output is within a fraction of one 8-bit step
    # of its input, and has far more than 256 levels.
    assert np.max(np.abs(written.astype(int) - images.astype(int))) < EIGHT_BIT_STEP / 8
    assert len(np.unique(written)) > 256
    tflite = TFLiteRefiner(tflite_path(identity_export, "depth", "float32")).refine(images)
    assert np.max(np.abs(tflite.astype(int) - images.astype(int))) < EIGHT_BIT_STEP / 8


def test_simgan_refine_names_images_of_the_wrong_bit_depth(identity_export, tmp_path, capsys):
    folder = tmp_path / "in"
    write_pngs(folder, depth_images(1, seed=7))
    Image.fromarray(np.full(SHAPE[:2], 90, np.uint8)).save(folder / "photo.png")
    assert refine_main([str(identity_export / "depth"), str(folder), str(tmp_path / "out"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "photo.png: is a 8-bit (uint8) image; the model takes 16-bit (uint16) images" in err
    assert (tmp_path / "out" / "000.png").is_file() and not (tmp_path / "out" / "photo.png").exists()
    # ... and a 16-bit PNG given to a uint8 model.
    keras.utils.set_random_seed(0)
    write_saved_model(build_refiner(PRESET.image, PRESET.refiner), SHAPE, tmp_path / "uint8_model")
    assert refine_main([str(tmp_path / "uint8_model"), str(folder), str(tmp_path / "out8"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "000.png: is a 16-bit (uint16) image; the model takes 8-bit (uint8) images" in err
    assert (tmp_path / "out8" / "photo.png").is_file()


def test_tfds_uint16_split_refines_to_16_bit_pngs(identity_export, tmp_path):
    images = depth_images(3, seed=8, background=False)
    tfds.dataset_builders.store_as_tfds_dataset(
        name="depth_fixture", config="sim", version="1.0.0", data_dir=str(tmp_path / "tfds"),
        split_datasets={"test": tf.data.Dataset.from_tensor_slices({"image": images, "frame_id": np.arange(3)})},
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=SHAPE, dtype=np.uint16), "frame_id": tfds.features.Scalar(np.int64)}),
        disable_shuffling=True,
    )
    model = SavedModelRefiner(identity_export / "depth")
    out = tmp_path / "out"
    report = refine_tfds(model, "tfds:depth_fixture/sim:test", out, data_dir=str(tmp_path / "tfds"), progress=False)
    assert report.written == 3
    written = np.stack([np.asarray(Image.open(out / f"{i:08d}.png")) for i in range(3)])[..., None]
    assert written.dtype == np.uint16
    np.testing.assert_array_equal(written, model.refine(images))
    rows = [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]
    assert [row["frame_id"] for row in rows] == [0, 1, 2]
