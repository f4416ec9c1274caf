"""simgan-refine: folders (with a corrupt image), TFDS splits with labels, both model kinds."""
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

from simgan_tf import config as cfg
from simgan_tf.export import ExportConfig, InputShapeError, export_refiner, tflite_path
from simgan_tf.models.refiner import build_refiner
from simgan_tf.refine import load_model, main, parse_tfds_spec

PRESET = dataclasses.replace(
    cfg.GAZE_QUICK, name="refine_tiny", refiner=cfg.RefinerConfig(filters=8, kernel=3, num_blocks=1)
)
H, W, C = PRESET.image.shape


def smooth_images(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0.0, 255.0, (count, 5, 7, C)).astype(np.float32)
    return np.clip(np.round(tf.image.resize(coarse, (H, W), method="bicubic").numpy()), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """A SavedModel and the full-integer int8 .tflite of a tiny refiner."""
    keras.utils.set_random_seed(3)
    refiner = build_refiner(PRESET.image, PRESET.refiner)
    out = tmp_path_factory.mktemp("saved_models")
    images = smooth_images(40, seed=4)
    export_refiner(
        refiner, PRESET, "eyes", out=out, representative=images[:24], holdout=images[24:],
        settings=ExportConfig(flavours=("int8",), warmup_batch_sizes=(1,)),
    )
    return {"saved_model": out / "eyes" / "1", "tflite": tflite_path(out, "eyes", "int8")}


def write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array[..., 0]).save(path)


@pytest.mark.parametrize("kind", ["saved_model", "tflite"])
def test_folder_with_corrupt_image(tmp_path, models, kind, capsys):
    images = smooth_images(5, seed=5)
    src = tmp_path / "in"
    names = ["a.png", "b.png", "sub/c.png", "d.jpg", "e.png"]
    for name, image in zip(names, images):
        if name.endswith(".jpg"):
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image[..., 0]).save(src / name, quality=95)
        else:
            write_png(src / name, image)
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")

    out = tmp_path / "out"
    code = main([str(models[kind]), str(src), str(out), "--batch-size", "2", "--quiet"])
    captured = capsys.readouterr()
    assert code == 1
    assert "broken.png" in captured.err and "cannot read image" in captured.err
    assert "1 of 6 images failed" in captured.err
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert written == ["a.png", "b.png", "d.png", "e.png", "sub/c.png"]

    model = load_model(models[kind])
    for name in ("a.png", "b.png", "sub/c.png", "e.png"):
        source = np.asarray(Image.open(src / name))[..., None]
        refined = np.asarray(Image.open(out / name))
        assert refined.dtype == np.uint8 and refined.shape == (H, W)
        np.testing.assert_array_equal(refined[..., None], model.refine_uint8(source[None])[0])


def test_wrong_size_needs_resize_flag(tmp_path, models, capsys):
    src = tmp_path / "in"
    big = np.asarray(Image.fromarray(smooth_images(1, seed=6)[0, ..., 0]).resize((110, 70)))[..., None]
    write_png(src / "big.png", big)
    write_png(src / "ok.png", smooth_images(1, seed=7)[0])
    out = tmp_path / "out"
    assert main([str(models["saved_model"]), str(src), str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "big.png" in err and "70 x 110" in err and "35 x 55" in err and "--resize" in err
    assert (out / "ok.png").is_file() and not (out / "big.png").exists()

    assert main([str(models["saved_model"]), str(src), str(out), "--resize", "--quiet"]) == 0
    assert np.asarray(Image.open(out / "big.png")).shape == (H, W)


def test_wrong_input_to_model_names_expected_shape(models):
    for kind in ("saved_model", "tflite"):
        model = load_model(models[kind])
        assert model.image_shape == (H, W, C)
        with pytest.raises(InputShapeError, match=r"\[batch, 35, 55, 1\] uint8"):
            model.refine_uint8(np.zeros((2, H, W, 3), np.uint8))
        with pytest.raises(InputShapeError, match=r"\[batch, 35, 55, 1\] uint8.*float64"):
            model.refine_uint8(np.zeros((2, H, W, C)))


def test_bad_model_and_empty_folder(tmp_path, models, capsys):
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "missing.tflite"), str(tmp_path / "empty"), str(tmp_path / "o")]) == 2
    assert "missing.tflite" in capsys.readouterr().err
    assert main([str(models["saved_model"]), str(tmp_path / "empty"), str(tmp_path / "o")]) == 2
    assert "holds no images" in capsys.readouterr().err


def test_parse_tfds_spec():
    assert parse_tfds_spec("tfds:procedural_eyes/simulator:test") == ("procedural_eyes/simulator", "test")
    assert parse_tfds_spec("tfds:procedural_eyes/simulator:train[:100]") == ("procedural_eyes/simulator", "train[:100]")
    assert parse_tfds_spec("tfds:mnist") == ("mnist", "train")
    assert parse_tfds_spec("tfds:unity_eyes:1.0.0") == ("unity_eyes:1.0.0", "train")
    assert parse_tfds_spec("tfds:unity_eyes:1.0.0:test") == ("unity_eyes:1.0.0", "test")


def test_tfds_split_with_labels(tmp_path, models):
    """A TFDS dataset prepared on disk (read back from files, as any built dataset)."""
    images = smooth_images(7, seed=8)
    gaze = np.random.default_rng(9).normal(size=(7, 3)).astype(np.float32)
    pupil = np.random.default_rng(10).uniform(0, 50, size=(7, 2)).astype(np.float32)
    features = tfds.features.FeaturesDict({
        "image": tfds.features.Image(shape=(H, W, C)),
        "gaze": tfds.features.Tensor(shape=(3,), dtype=np.float32),
        "pupil_center": tfds.features.Tensor(shape=(2,), dtype=np.float32),
    })
    data_dir = tmp_path / "tfds"
    tfds.dataset_builders.store_as_tfds_dataset(
        name="refine_fixture", config="sim", version="1.0.0", data_dir=str(data_dir), features=features,
        split_datasets={"test": tf.data.Dataset.from_tensor_slices(
            {"image": images, "gaze": gaze, "pupil_center": pupil})},
        disable_shuffling=True,
    )
    out = tmp_path / "out"
    code = main([str(models["tflite"]), "tfds:refine_fixture/sim:test", str(out), "--batch-size", "3",
                 "--data-dir", str(data_dir), "--quiet"])
    assert code == 0
    rows = [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]
    assert [r["file"] for r in rows] == [f"{i:08d}.png" for i in range(7)]
    model = load_model(models["tflite"])
    for i, row in enumerate(rows):
        np.testing.assert_allclose(row["gaze"], gaze[i], rtol=1e-6)
        np.testing.assert_allclose(row["pupil_center"], pupil[i], rtol=1e-6)
        refined = np.asarray(Image.open(out / row["file"]))[..., None]
        np.testing.assert_array_equal(refined, model.refine_uint8(images[i : i + 1])[0])
