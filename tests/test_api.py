"""The Python API: the README's example as written, own Keras models, Keras callbacks, psi."""
import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import simgan_tf
from conftest import REPO_ROOT, tiny_preset
from simgan_tf import losses
from simgan_tf.data import DataError


def _readme_example() -> str:
    text = (REPO_ROOT / "README.md").read_text()
    block = re.search(r"<!-- API-EXAMPLE-START -->\s*```python\n(.*?)```\s*<!-- API-EXAMPLE-END -->", text, re.S)
    assert block, "README.md lost its API example block"
    return block.group(1)


def test_readme_example_runs_as_written_and_resumes(tmp_path, monkeypatch):
    code = _readme_example()
    assert len([line for line in code.splitlines() if line.strip() and not line.startswith("#")]) <= 12
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    gan, history, refined, synthetic = (namespace[k] for k in ("gan", "history", "refined", "synthetic"))
    assert isinstance(history, keras.callbacks.History)
    assert history.epoch and "d_acc_refined" in history.history
    assert refined.dtype == np.uint8 and refined.shape == synthetic.shape
    assert not np.array_equal(refined, synthetic)
    run_dir = tmp_path / "runs" / "api_demo"
    assert (run_dir / "config.json").is_file() and list((run_dir / "checkpoints").glob("ckpt-*.index"))
    trace = json.loads((run_dir / "stopping.json").read_text())  # the example's RealismStopping
    assert trace["trace"] and all(trace["monitor"] in check for check in trace["trace"])
    done = int(gan.step.numpy())
    # The same code again resumes: the model is restored, nothing is retrained.
    namespace2: dict = {}
    exec(compile(code, "README.md", "exec"), namespace2)  # noqa: S102
    again = namespace2["gan"]
    assert int(again.step.numpy()) == done
    assert again.stats["pretrain_refiner"].steps == 0
    np.testing.assert_array_equal(namespace2["refined"], refined)


def _own_models(shape):
    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    refiner = keras.Model(inputs, keras.layers.Conv2D(shape[-1], 1, activation="tanh")(x), name="my_refiner")
    d_in = keras.Input(shape)
    y = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(d_in)
    discriminator = keras.Model(d_in, keras.layers.Conv2D(2, 1)(y), name="my_discriminator")
    return refiner, discriminator


def _images(n, shape, low, high, seed=0):
    return np.random.default_rng(seed).integers(low, high, (n, *shape), dtype=np.uint8)


def test_own_keras_models_with_keras_callbacks(tmp_path):
    shape = (12, 16, 1)
    refiner, discriminator = _own_models(shape)
    gan = simgan_tf.SimGAN(refiner, discriminator, training="gaze_quick", run_dir=tmp_path / "run",
                           steps=4, pretrain_r_steps=2, pretrain_d_steps=2, batch_size=4, buffer_size=8,
                           checkpoint_every=2)
    r0 = [w.numpy().copy() for w in refiner.weights]
    callbacks = [
        keras.callbacks.TensorBoard(str(tmp_path / "tb")),
        keras.callbacks.ModelCheckpoint(str(tmp_path / "best.weights.h5"), monitor="r_self_reg", mode="min",
                                        save_weights_only=True),
        keras.callbacks.CSVLogger(str(tmp_path / "log.csv")),
    ]
    history = gan.fit(_images(32, shape, 0, 128), _images(32, shape, 100, 256, 1), callbacks=callbacks, verbose=0)
    assert history.epoch == [0, 1, 2, 3]  # 8 steps, a checkpoint (epoch) every 2
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(r0, refiner.weights))
    assert (tmp_path / "best.weights.h5").is_file()
    assert list((tmp_path / "tb" / "train").iterdir())
    assert len((tmp_path / "log.csv").read_text().splitlines()) == 5
    floats = np.random.default_rng(2).uniform(-1, 1, (3, *shape)).astype("float32")
    np.testing.assert_allclose(gan.refine(floats), refiner(floats).numpy(), atol=1e-6)
    np.testing.assert_allclose(gan(floats), refiner(floats).numpy(), atol=1e-6)


def test_early_stopping_ends_the_run_at_a_checkpoint(tmp_path):
    gan = simgan_tf.SimGAN.from_preset(tiny_preset(steps=40), run_dir=tmp_path)

    class StopAtSecondEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    history = gan.fit(_images(16, (12, 16, 1), 0, 128), _images(16, (12, 16, 1), 100, 256),
                      callbacks=[StopAtSecondEpoch()], verbose=0)
    assert history.epoch == [0, 1]
    assert int(gan.step.numpy()) == 4
    assert simgan_tf.run_io.checkpoint_step(tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))) == 4


def test_tf_data_inputs_unbatched_batched_and_labeled(tmp_path):
    preset = tiny_preset(steps=1)
    shape, b = preset.image.shape, preset.training.batch_size
    synthetic = tf.data.Dataset.from_tensor_slices({"image": _images(16, shape, 0, 128), "gaze": np.zeros((16, 3))})
    real = tf.data.Dataset.from_tensor_slices(_images(16, shape, 100, 256)).batch(b, drop_remainder=True)
    history = simgan_tf.SimGAN.from_preset(preset, run_dir=tmp_path).fit(synthetic, real, verbose=0)
    assert history.epoch


@pytest.mark.parametrize("make, message", [
    (lambda s, b: tf.data.Dataset.from_tensor_slices(_images(16, s, 0, 9)).batch(b + 2, drop_remainder=True),
     r"synthetic: the dataset is batched by 6 but training uses batch_size 4"),
    (lambda s, b: tf.data.Dataset.from_tensor_slices(_images(16, s, 0, 9)).batch(b),
     r"synthetic: the dataset is batched by None"),
    (lambda s, b: _images(16, (s[0], s[1] + 1, 1), 0, 9), r"synthetic: images of shape \(12, 17, 1\) do not match"),
    (lambda s, b: np.full((16, *s), 3.0, np.float32), r"synthetic: float images must lie in \[-1, 1\]"),
    (lambda s, b: _images(2, s, 0, 9), r"synthetic: 2 images are fewer than one batch of 4"),
])
def test_bad_inputs_are_named(tmp_path, make, message):
    preset = tiny_preset()
    gan = simgan_tf.SimGAN.from_preset(preset, run_dir=tmp_path)
    with pytest.raises(DataError, match=message):
        gan.fit(make(preset.image.shape, preset.training.batch_size), _images(16, preset.image.shape, 0, 9), verbose=0)


def test_mismatched_models_are_refused():
    refiner, _ = _own_models((12, 16, 1))
    _, discriminator = _own_models((8, 8, 1))
    with pytest.raises(ValueError, match=r"the discriminator takes \(8, 8, 1\) but the refiner makes \(12, 16, 1\)"):
        simgan_tf.SimGAN(refiner, discriminator)


def test_callable_psi_a_frozen_feature_extractor_end_to_end(tmp_path):
    """psi = a frozen Keras network: the trainer's L1 is on its features, it is never trained,
    the run directory records it by name, and a resume with the same callable continues."""
    shape = (12, 16, 1)
    inputs = keras.Input(shape)
    extractor = keras.Model(inputs, keras.layers.Conv2D(3, 3, padding="same", activation="relu")(inputs),
                            name="edge_features")
    extractor.trainable = False
    frozen = [w.numpy().copy() for w in extractor.weights]
    preset = tiny_preset(psi=extractor)
    gan = simgan_tf.SimGAN.from_preset(preset, run_dir=tmp_path)
    batch = tf.random.stateless_uniform((4, *shape), (5, 6), -1, 1)
    expected = losses.refiner_loss(None, gan.refiner(batch), batch, 0.5, extractor)["self_reg"]
    identity = losses.refiner_loss(None, gan.refiner(batch), batch, 0.5, "identity")["self_reg"]
    out = gan.pretrain_refiner_step(batch)
    assert float(out["r_self_reg"]) == pytest.approx(float(expected), rel=1e-5)
    assert float(expected) != pytest.approx(float(identity), rel=1e-3)

    history = gan.fit(_images(16, shape, 0, 128), _images(16, shape, 100, 256), verbose=0, max_steps=4)
    assert all(np.isfinite(v).all() for v in history.history.values())
    for a, w in zip(frozen, extractor.weights):
        np.testing.assert_array_equal(a, w.numpy())
    stored = json.loads((tmp_path / "config.json").read_text())["preset"]["training"]["psi"]
    assert stored == "callable:edge_features"
    resumed = simgan_tf.SimGAN.from_preset(preset, run_dir=tmp_path)
    resumed.fit(_images(16, shape, 0, 128), _images(16, shape, 100, 256), verbose=0)
    assert int(resumed.step.numpy()) == preset.training.total_steps
    assert resumed.stats["pretrain_refiner"].steps == 0


def test_import_simgan_tf_starts_no_tensorflow():
    from conftest import run_python

    out = run_python("import sys, simgan_tf; print('tensorflow' in sys.modules, 'SimGAN' in dir(simgan_tf))")
    assert out == "False True"


def test_public_names_resolve():
    for name in simgan_tf.__all__:
        assert getattr(simgan_tf, name) is not None, name
    assert Path(simgan_tf.__file__).parent.name == "simgan_tf"


def test_from_preset_touches_no_global_random_state():
    """Seeded initializers: the same seed gives the same networks, and a library call leaves
    Python's, NumPy's and Keras' global random streams where the caller left them."""
    import random

    random.seed(123)
    np.random.seed(123)
    keras.utils.set_random_seed(123)
    expected = (random.random(), np.random.rand(), float(keras.random.uniform(())))
    random.seed(123)
    np.random.seed(123)
    keras.utils.set_random_seed(123)
    first = simgan_tf.SimGAN.from_preset(tiny_preset(seed=5))
    assert (random.random(), np.random.rand(), float(keras.random.uniform(()))) == expected
    second = simgan_tf.SimGAN.from_preset(tiny_preset(seed=5))
    other = simgan_tf.SimGAN.from_preset(tiny_preset(seed=6))
    for a, b in zip(first.refiner.weights + first.discriminator.weights, second.refiner.weights + second.discriminator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert any(not np.array_equal(a.numpy(), b.numpy()) for a, b in zip(first.refiner.weights, other.refiner.weights))
