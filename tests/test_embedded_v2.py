"""--camera embedded_v2: the gaze experiment and the ceiling benchmark on the v2 pair
(procedural_eyes/simulator_v2, camera_v2, camera_v2_labeled), small splits in tmp."""
from __future__ import annotations

import os
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from simgan_tf import data
from simgan_tf.experiments.gaze import build_parser, sources_from_args
from simgan_tf.experiments.settings import SMOKE
from simgan_tf.experiments.sources import (
    DEFAULT_REAL,
    DEFAULT_SYNTHETIC,
    DEFAULT_TARGET_LABELED,
    EMBEDDED_PAIRS,
    SourceSpec,
    camera_names,
    load_experiment_data,
)
from tfds_builders.procedural_eyes import camera_v2
from tfds_builders.procedural_eyes.procedural_eyes_dataset_builder import (
    SPLIT_SEEDS,
    Builder,
    render_domain_batch,
)

V2 = ("procedural_eyes/simulator_v2", "procedural_eyes/camera_v2", "procedural_eyes/camera_v2_labeled")
SMALL_V2 = {**Builder.SPLIT_SIZES, "simulator_v2": {"train": 40, "test": 10},
            "camera_v2": {"train": 30}, "camera_v2_labeled": {"train": 20, "test": 16}}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """The three v2 configs with small splits, prepared in a tmp folder."""
    root = tmp_path_factory.mktemp("tfds")
    with mock.patch.object(Builder, "SPLIT_SIZES", SMALL_V2):
        for name in V2:
            data.load_tfds_builder(name, data_dir=str(root))
    return str(root)


def test_embedded_v2_selects_the_v2_datasets():
    assert camera_names()[:2] == ("embedded", "embedded_v2")
    spec = SourceSpec(camera="embedded_v2")
    spec.validate()
    resolved = spec.resolved()
    assert (resolved.synthetic, resolved.real, resolved.test, resolved.oracle) == (V2[0], V2[1], V2[2], V2[2])
    assert resolved.resolved() == resolved and not resolved.custom_target and not spec.custom_target
    # `embedded` (v1) stays as it was.
    v1 = SourceSpec()
    assert v1.resolved() is v1
    assert (v1.synthetic, v1.real, v1.test, v1.oracle) == (DEFAULT_SYNTHETIC, DEFAULT_REAL, DEFAULT_TARGET_LABELED,
                                                           DEFAULT_TARGET_LABELED)
    assert EMBEDDED_PAIRS["embedded"].real == "procedural_eyes/camera"
    # A dataset named by the caller is kept; folders still work as with the embedded pair.
    assert SourceSpec(camera="embedded_v2", synthetic="my_sim").resolved().synthetic == "my_sim"
    assert SourceSpec(camera="embedded_v2", real="my_camera").custom_target
    args = build_parser().parse_args(["--out", "x", "--camera", "embedded_v2"])
    assert sources_from_args(args).camera == "embedded_v2"


def test_loads_the_v2_pair(data_dir):
    d = load_experiment_data(SourceSpec(camera="embedded_v2", data_dir=data_dir), SMOKE.refiner.image, 40, 30, 16, 20)
    assert [len(d.synthetic), len(d.real), len(d.test), len(d.oracle)] == [40, 30, 16, 20]
    assert d.described["camera"].startswith("embedded_v2: procedural_eyes/camera_v2, procedural_eyes/camera_v2_labeled")
    assert d.described["synthetic"] == f"tfds {V2[0]}[train]" and d.described["test"] == f"tfds {V2[2]}[test]"
    # The images are the v2 builder's: simulator_v2[train] and camera_v2_labeled[test] batch 0, in TFDS order.
    sim, sim_labels = render_domain_batch(SPLIT_SEEDS[("simulator_v2", "train")], 0, "simulator_v2")
    by_pupil = {p.tobytes(): i for i, p in enumerate(sim_labels["pupil_center"][:40])}
    order = [by_pupil[p.tobytes()] for p in d.synthetic_pupil]
    np.testing.assert_array_equal(d.synthetic, sim[order])
    np.testing.assert_allclose(d.synthetic_gaze, sim_labels["gaze"][order], atol=1e-6)
    cam, _ = render_domain_batch(SPLIT_SEEDS[("camera_v2_labeled", "test")], 0, "camera_v2")
    assert {im.tobytes() for im in d.test.images} == {im.tobytes() for im in cam[:16]}


def test_ceiling_reimages_the_v2_scenes(ceiling):
    seed = SPLIT_SEEDS[("simulator_v2", "train")]
    sims = [render_domain_batch(seed, b, "simulator_v2") for b in (0, 1)]
    picks = [(1, 7), (0, 3), (1, 499), (0, 0)]
    pupils = np.stack([sims[b][1]["pupil_center"][i] for b, i in picks])
    batches, where = ceiling.render_experiment_scenes(pupils, pair="embedded_v2")
    assert len(batches) == 2
    rows = {v: ceiling.reimage(batches, where, ceiling.V2_VARIANTS[v]) for v in ceiling.SUITE_VARIANTS}
    np.testing.assert_array_equal(rows["simulator"], np.stack([sims[b][0][i] for b, i in picks]))
    # "camera" is the camera_v2 builder's image of each scene (the batch's own camera stream).
    expected = np.stack([render_domain_batch(seed, b, "camera_v2")[0][i] for b, i in picks])
    np.testing.assert_array_equal(rows["camera"], expected)
    # "camera_fixed" has no randomness: the same scene gives the same image in any batch.
    assert camera_v2.is_fixed(ceiling.FIXED_CAMERA_V2)
    again = ceiling.reimage(batches, where, ceiling.V2_VARIANTS["camera_fixed"])
    np.testing.assert_array_equal(rows["camera_fixed"], again)
    assert not np.array_equal(rows["camera_fixed"], rows["camera"])
    with pytest.raises(SystemExit):
        ceiling.main(["--camera", "embedded_v2", "--variants", "lit_simulator"])
