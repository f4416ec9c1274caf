"""Labels agree with pixels: the renderer's pupil, eyelids and gaze are what the labels say."""
import numpy as np
import pytest
from scipy import ndimage

from tfds_builders.gaze_geometry import vector_to_pitch_yaw
from tfds_builders.procedural_eyes import camera, render

N = 400


@pytest.fixture(scope="module")
def scene():
    params = render.sample_params(np.random.default_rng(1234), N)
    return params, render.labels(params)


def _dark_blob_centroid(image: np.ndarray, threshold: float) -> tuple[float, float]:
    """(x, y) centroid of the connected dark region holding the darkest pixel, holes filled."""
    components, _ = ndimage.label(image < threshold)
    blob = components == components[np.unravel_index(np.argmin(image), image.shape)]
    cy, cx = ndimage.center_of_mass(ndimage.binary_fill_holes(blob))
    return cx, cy


def _pupil_fully_open(params, labels, i: int, margin: float = 1.0) -> bool:
    """Whether the whole pupil lies between the lids (else the lids hide part of it)."""
    lm = labels["eyelid_landmarks"][i]
    x, y = labels["pupil_center"][i]
    upper = np.interp(x, lm[:9, 0], lm[:9, 1])
    lower_pts = np.concatenate([lm[8:9], lm[9:], lm[0:1]])[::-1]  # left -> right
    lower = np.interp(x, lower_pts[:, 0], lower_pts[:, 1])
    radius = params["R"][i] * params["iris_ratio"][i] * params["pupil_ratio"][i]
    return bool(y - radius - margin > upper and y + radius + margin < lower)


def _pupil_errors(params, labels, images) -> np.ndarray:
    errors = []
    for i in range(N):
        if not _pupil_fully_open(params, labels, i):
            continue
        # Halfway between the pupil and the darkest the iris gets (streaks, lid shadow).
        threshold = 0.5 * (params["pupil"][i] + 0.6 * params["iris"][i])
        cx, cy = _dark_blob_centroid(images[i], threshold)
        errors.append(np.hypot(cx - labels["pupil_center"][i][0], cy - labels["pupil_center"][i][1]))
    return np.asarray(errors)


def test_pupil_center_matches_darkest_blob(scene):
    params, labels = scene
    images, _ = render.render(params, with_glint=False)
    errors = _pupil_errors(params, labels, images)
    assert len(errors) > N // 3  # enough eyes with the pupil in full view
    assert errors.max() < 1.0, f"pupil centroid off by up to {errors.max():.2f} px"


def test_pupil_center_with_glint(scene):
    """With the corneal glint (as stored in the dataset) the glint can cover part of the pupil;
    the label still matches the dark blob in the typical image."""
    params, labels = scene
    images, _ = render.render(params)
    errors = _pupil_errors(params, labels, images)
    assert np.median(errors) < 0.5


def test_pupil_follows_gaze_direction(scene):
    """Looking left/up moves the pupil left/up relative to the eyeball centre (MPIIGaze signs)."""
    params, labels = scene
    dx = labels["pupil_center"][:, 0] - params["cx"]
    dy = labels["pupil_center"][:, 1] - params["cy"]
    yaw, pitch = params["yaw"], params["pitch"]
    assert np.all(np.sign(dx[np.abs(yaw) > 0.05]) == -np.sign(yaw[np.abs(yaw) > 0.05]))
    assert np.all(np.sign(dy[np.abs(pitch) > 0.05]) == -np.sign(pitch[np.abs(pitch) > 0.05]))


def test_labels_are_consistent(scene):
    params, labels = scene
    np.testing.assert_allclose(np.linalg.norm(labels["gaze"], axis=-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vector_to_pitch_yaw(labels["gaze"]), labels["pitch_yaw"], atol=1e-5)
    lm = labels["eyelid_landmarks"]
    assert lm.shape == (N, render.DEFAULT_RENDER_CONFIG.num_lid_landmarks, 2)
    # Upper lid above the lower lid at matching positions (interior points, mirrored order).
    assert np.all(lm[:, 1:8, 1] < lm[:, 15:8:-1, 1])


def test_eyelids_follow_vertical_gaze():
    """Same eye looking up vs down: the upper lid sits higher when looking up."""
    params = render.sample_params(np.random.default_rng(7), 2)
    params = {k: np.repeat(v[:1], 2) for k, v in params.items()}
    params["pitch"] = np.deg2rad(np.array([20.0, -20.0], np.float32))
    lm = render.labels(params)["eyelid_landmarks"]
    assert lm[0, 4, 1] < lm[1, 4, 1] - 2.0  # mid upper-lid point, image y grows downwards


def test_render_range_and_determinism():
    a, skin_a, _ = render.render_batch(np.random.default_rng(3), 16)
    b, _, _ = render.render_batch(np.random.default_rng(3), 16)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (16, 35, 55) and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert 0.0 <= skin_a.min() and skin_a.max() <= 1.0 and skin_a.mean() > 0.5  # mostly skin


def test_camera_changes_appearance_only():
    images, skin, _ = render.render_batch(np.random.default_rng(5), 64)
    out = camera.apply_camera(images, skin, np.random.default_rng(6))
    again = camera.apply_camera(images, skin, np.random.default_rng(6))
    np.testing.assert_array_equal(out, again)
    assert out.shape == (64, 35, 55, 1) and out.dtype == np.uint8
    clean = render.to_uint8(images).astype(np.float32)
    # A real but not total change: the camera image still correlates with the render.
    corr = [np.corrcoef(clean[i].ravel(), out[i].astype(np.float32).ravel())[0, 1] for i in range(64)]
    assert np.median(corr) > 0.5
    assert np.mean(np.abs(clean - out)) > 10.0  # gray levels


def test_camera_rejects_bad_shapes():
    with pytest.raises(ValueError, match="apply_camera"):
        camera.apply_camera(np.zeros((2, 35, 55, 1), np.float32), np.zeros((2, 35, 55, 1)), np.random.default_rng(0))
