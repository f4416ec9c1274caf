"""The paper's downstream hand pose estimator: does refinement make better training data?

Shrivastava et al. (Sec. 4.3) train a stacked hourglass network (Newell et al. 2016) with 2
hourglass blocks that outputs one 64 x 64 heatmap per joint for the 14 NYU evaluation
joints, with random rotations in [-20, 20] degrees and random crops, and report the % of
joints within d pixels of the 224 x 224 crop (Fig. 9; 5 px in the text).

Geometry: pixel (row i, col j) of an S x S image has its centre at u = j, v = i (as the
procedural_hands labels). Resizing S -> s maps coordinates centre-aligned,
u' = (u + 0.5) * s / S - 0.5 (`scale_joints`); heatmaps cover the whole image and use the
same rule, so a 224 crop with 64 x 64 heatmaps has 3.5 image pixels per heatmap pixel.

How the 64 x 64 heatmaps arise at 224: Newell et al.'s network expects 256 x 256 (a stride-4
stem: conv 7x7/2 and a max-pool). The model resizes its input to
`cfg.heatmap_size * cfg.stem_stride` (256 for the paper config) with a bilinear resize as its
first layer, so the paper's architecture, 64 x 64 heatmaps and whole-crop coverage all hold
without cropping or padding the hand (a stride-4 stem straight on 224 would give 56 x 56).
Smaller configs pick a heatmap size and stem stride whose product equals their input
(quick: 64 x 64 input, stride 2, 32 x 32 heatmaps), and then nothing is resized.

Functions for the experiment runner: build, train (held-out early stopping), predict,
evaluate; plus the heatmap encoding/decoding and the augmentation they use.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from simgan_tf.config import HandEstimatorConfig
from simgan_tf.data import to_model_range
from simgan_tf.metrics import PAPER_HAND_THRESHOLD_PX, cumulative_error_curve, joint_errors_px, pck_percent

# The NYU evaluation joints (P1 P2 R1 R2 M1 M2 I1 I2 T1 T2 T3 W1 W2 C; see procedural_hands).
NUM_JOINTS = 14
# Side of the crop the paper measures errors in ("d pixels" of the 224 x 224 depth crop).
PAPER_CROP_PX = 224.0
# BatchNorm moving-average momentum: Torch's 0.1 (Newell et al.) in Keras' convention; Keras'
# 0.99 lags so far behind early in training that the held-out loss measures stale statistics.
_BN_MOMENTUM = 0.9
# The heatmap heads start at (almost) the all-zero prediction, so the first steps fit the peaks
# instead of unlearning random output noise: with Keras' default (Glorot) head the quick
# config was still above the all-zero loss after 600 steps (PCK@5 1 %); with this, 38 %.
_HEAD_STDDEV = 1e-3


# ---------------------------------------------------------------------------------------
# Geometry.
def scale_joints(joints_uv: Any, from_size: float, to_size: float) -> Any:
    """Joint coordinates of an image resized from `from_size` to `to_size` pixels (centre-aligned).

    u' = (u + 0.5) * to_size / from_size - 0.5, the same for v: pixel centres sit at integers
    and the image edges at -0.5 and size - 0.5. Works on numpy arrays and TF tensors alike.
    """
    if not from_size > 0 or not to_size > 0:
        raise ValueError(f"scale_joints: from_size and to_size must be > 0, got {from_size} and {to_size}")
    if isinstance(joints_uv, (tf.Tensor, tf.Variable)):
        joints = tf.cast(joints_uv, tf.float32)
    else:
        joints = np.asarray(joints_uv, dtype=np.float32)
    if joints.shape[-1] != 2:
        raise ValueError(f"scale_joints: joints_uv must have shape (..., 2) (u, v), got {tuple(joints.shape)}")
    return (joints + 0.5) * (float(to_size) / float(from_size)) - 0.5


def _check_joints(joints: Any, name: str, count: int | None = None) -> None:
    shape = tuple(joints.shape)
    if len(shape) != 3 or shape[1:] != (NUM_JOINTS, 2):
        raise ValueError(f"{name} must have shape (N, {NUM_JOINTS}, 2) (u, v in image pixels), got {shape}"
                         + ("; pass joints_uvd[..., :2]" if shape[-1:] == (3,) else ""))
    if count is not None and shape[0] is not None and shape[0] != count:
        raise ValueError(f"{name} has {shape[0]} rows but the images are {count}; expected one row per image")


def _check_images(images: Any, name: str) -> int:
    """Side of a batch of square one-channel images, (N, s, s, 1)."""
    shape = tuple(images.shape)
    if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 1 or shape[1] is None:
        raise ValueError(f"{name} must have shape (N, s, s, 1) (square depth images), got {shape}")
    return int(shape[1])


def background_value(dtype: Any) -> float:
    """Far-background depth of an image dtype: 255 (uint8), 65535 (uint16), +1.0 (model range)."""
    dtype = tf.as_dtype(dtype)
    if dtype == tf.uint8:
        return 255.0
    if dtype == tf.uint16:
        return 65535.0
    if dtype.is_floating:
        return 1.0
    raise ValueError(f"background_value: images must be uint8, uint16 or float in [-1, 1], got {dtype.name}")


def _as_model_float(images: tf.Tensor) -> tf.Tensor:
    if images.dtype in (tf.uint8, tf.uint16):
        return to_model_range(images)
    return tf.cast(images, tf.float32)


# ---------------------------------------------------------------------------------------
# Heatmaps.
def joints_to_heatmaps(joints_uv: np.ndarray | tf.Tensor, image_size: int, heatmap_size: int, sigma: float) -> tf.Tensor:
    """(N, J, 2) joints in image pixels -> (N, h, h, J) unnormalised Gaussians (peak 1).

    The centre is the joint's exact, sub-pixel position in heatmap pixels (`scale_joints`),
    so the target itself carries no quantisation error. A joint outside the image gives a
    truncated or all-but-zero map.
    """
    if image_size < 1 or heatmap_size < 1:
        raise ValueError(f"joints_to_heatmaps: image_size and heatmap_size must be >= 1, got {image_size} and {heatmap_size}")
    if not sigma > 0:
        raise ValueError(f"joints_to_heatmaps: sigma must be > 0 (heatmap pixels), got {sigma}")
    joints = tf.convert_to_tensor(joints_uv, dtype=tf.float32)
    if joints.shape.rank != 3 or joints.shape[-1] != 2:
        raise ValueError(f"joints_to_heatmaps: joints_uv must have shape (N, J, 2), got {tuple(joints.shape)}")
    centres = scale_joints(joints, image_size, heatmap_size)  # (N, J, 2)
    grid = tf.range(heatmap_size, dtype=tf.float32)
    gx = tf.exp(-tf.square(grid - centres[..., 0:1]) / (2.0 * sigma ** 2))  # (N, J, w)
    gy = tf.exp(-tf.square(grid - centres[..., 1:2]) / (2.0 * sigma ** 2))  # (N, J, h)
    return tf.transpose(gy[..., :, None] * gx[..., None, :], [0, 2, 3, 1])


def _log_parabola_vertex(left: np.ndarray, centre: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(vertex offset from the middle sample, usable) of a parabola through the logs of 3 samples."""
    eps = 1e-8
    logs = [np.log(np.maximum(v, eps)) for v in (left, centre, right)]
    curvature = logs[0] - 2.0 * logs[1] + logs[2]
    usable = (np.minimum(np.minimum(left, centre), right) > eps) & (curvature < -1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = 0.5 * (logs[0] - logs[2]) / curvature
    return np.where(usable, vertex, 0.0), usable


def heatmaps_to_joints(heatmaps: Any, image_size: int, *, subpixel: str = "gaussian") -> np.ndarray:
    """(N, h, h, J) heatmaps -> (N, J, 2) joints in pixels of the `image_size` image.

    The argmax pixel, refined per axis to within half a pixel of it. `subpixel="gaussian"`
    fits a parabola to the logs of three neighbouring values around the argmax (the argmax
    and its neighbours; on the border, the argmax and the two inside it), which is exact for
    a Gaussian peak, so a target decodes to its joint. Where a value is <= 0 or the logs are
    not concave it falls back to `"quarter"`: Newell et al.'s quarter-pixel shift toward the
    higher neighbour (none on the border). `"none"` keeps the pixel centre.
    """
    if subpixel not in ("gaussian", "quarter", "none"):
        raise ValueError(f"heatmaps_to_joints: subpixel must be 'gaussian', 'quarter' or 'none', got {subpixel!r}")
    maps = np.asarray(heatmaps, dtype=np.float64)
    if maps.ndim != 4 or maps.shape[1] != maps.shape[2]:
        raise ValueError(f"heatmaps_to_joints: heatmaps must have shape (N, h, h, J), got {maps.shape}")
    if image_size < 1:
        raise ValueError(f"heatmaps_to_joints: image_size must be >= 1, got {image_size}")
    n, size, _, joints = maps.shape
    per_map = maps.transpose(0, 3, 1, 2)  # (N, J, h, w)
    index = np.argmax(per_map.reshape(n, joints, size * size), axis=-1)
    row, col = np.divmod(index, size)
    uv = np.stack([col, row], axis=-1).astype(np.float64)
    if subpixel != "none" and size >= 3:
        ni, ji = np.meshgrid(np.arange(n), np.arange(joints), indexing="ij")
        for axis, peak in ((0, col), (1, row)):  # u steps along columns, v along rows

            def at(k: np.ndarray) -> np.ndarray:
                return per_map[ni, ji, row, k] if axis == 0 else per_map[ni, ji, k, col]

            inside = (peak > 0) & (peak < size - 1)
            left, right = at(np.clip(peak - 1, 0, size - 1)), at(np.clip(peak + 1, 0, size - 1))
            offset = np.where(inside, 0.25 * np.sign(right - left), 0.0)
            if subpixel == "gaussian":
                middle = np.clip(peak, 1, size - 2)  # the 3-sample window, moved inside on the border
                vertex, usable = _log_parabola_vertex(at(middle - 1), at(middle), at(middle + 1))
                offset = np.where(usable, np.clip(middle + vertex - peak, -0.5, 0.5), offset)
            uv[..., axis] += offset
    return scale_joints(uv, size, image_size).astype(np.float32)


# ---------------------------------------------------------------------------------------
# Augmentation.
def transform_images_and_joints(
    images: tf.Tensor,
    joints_uv: tf.Tensor,
    angles_deg: tf.Tensor,
    crop_scales: tf.Tensor,
    crop_offsets: tf.Tensor,
    *,
    fill_value: float | None = None,
    interpolation: str = "nearest",
) -> tuple[tf.Tensor, tf.Tensor]:
    """Rotate each image about its centre, crop a square and resize it back; move the joints alike.

    Per image: `angles_deg` (N,), `crop_scales` (N,) = crop side / image side and
    `crop_offsets` (N, 2) in [0, 1] = where the crop sits (0: left/top edge, 1: right/bottom)
    inside the rotated image. Rotation and crop are one affine map, so the image is sampled once.
    """
    images = tf.convert_to_tensor(images)
    size = _check_images(images, "images")
    joints = tf.cast(tf.convert_to_tensor(joints_uv), tf.float32)
    _check_joints(joints, "joints_uv", images.shape[0])
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    fill = background_value(images.dtype) if fill_value is None else float(fill_value)
    theta = tf.cast(angles_deg, tf.float32) * (math.pi / 180.0)
    scale = tf.cast(crop_scales, tf.float32)
    # Crop in the rotated image, in edge coordinates (the image spans [-0.5, size - 0.5]).
    low = -0.5 + tf.cast(crop_offsets, tf.float32) * (size * (1.0 - scale))[:, None]  # (N, 2)
    cos, sin = tf.cos(theta), tf.sin(theta)
    centre = (size - 1) / 2.0
    # Output pixel x -> rotated-image point q = low + (x + 0.5) * scale -> input p = R (q - c) + c.
    qx0, qy0 = low[:, 0] + 0.5 * scale - centre, low[:, 1] + 0.5 * scale - centre
    transforms = tf.stack([
        scale * cos, -scale * sin, cos * qx0 - sin * qy0 + centre,
        scale * sin, scale * cos, sin * qx0 + cos * qy0 + centre,
        tf.zeros_like(scale), tf.zeros_like(scale)], axis=1)
    source = tf.cast(images, tf.int32) if images.dtype == tf.uint16 else images  # the op has no uint16 kernel
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=source, transforms=transforms, output_shape=[size, size], fill_value=fill,
        interpolation=interpolation.upper(), fill_mode="CONSTANT")
    out = tf.cast(out, images.dtype)
    # Joints go the other way: q = R^T (p - c) + c, x = (q - low) / scale - 0.5.
    px, py = joints[..., 0] - centre, joints[..., 1] - centre
    c, s = cos[:, None], sin[:, None]
    qx, qy = c * px + s * py + centre, -s * px + c * py + centre
    u = (qx - low[:, 0:1]) / scale[:, None] - 0.5
    v = (qy - low[:, 1:2]) / scale[:, None] - 0.5
    return out, tf.stack([u, v], axis=-1)


def augment(
    images: tf.Tensor,
    joints_uv: tf.Tensor,
    seed: Any,
    *,
    max_rotation_deg: float = 20.0,
    crop_scale: Sequence[float] = (0.8, 1.0),
    fill_value: float | None = None,
    interpolation: str = "nearest",
) -> tuple[tf.Tensor, tf.Tensor]:
    """The paper's augmentation of a batch: a random rotation in [-max, max] degrees about the
    image centre, then a random square crop of side in `crop_scale` (fraction of the image)
    resized back to the input size; the joints are transformed identically.

    `seed` is a stateless seed (an int or a shape-(2,) integer tensor), so the same seed gives
    the same batch. Pixels from outside the image get `fill_value`, by default the far
    background of the dtype (255 for uint8 procedural_hands, +1.0 in model range).
    Nearest-neighbour sampling by default: bilinear would blend hand and background depths
    into "flying pixels" along every silhouette, which clean synthetic depth does not have
    (the project resizes depth with nearest too); the cost is up to half a pixel of jitter of
    the content against the exactly transformed joints, zero on average.
    """
    low, high = (float(v) for v in crop_scale)
    if not 0 < low <= high <= 1:
        raise ValueError(f"augment: crop_scale must be (low, high) with 0 < low <= high <= 1, got {tuple(crop_scale)}")
    if not 0 <= max_rotation_deg <= 180:
        raise ValueError(f"augment: max_rotation_deg must be in [0, 180], got {max_rotation_deg}")
    images = tf.convert_to_tensor(images)
    _check_images(images, "images")
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    if seed.shape.rank == 0:
        seed = tf.stack([seed, tf.constant(0, tf.int64)])
    if seed.shape != (2,):
        raise ValueError(f"augment: seed must be an int or a shape-(2,) integer tensor, got shape {seed.shape}")
    n = tf.shape(images)[0]
    seeds = tf.random.experimental.stateless_split(seed, 3)
    angles = tf.random.stateless_uniform([n], seeds[0], -max_rotation_deg, max_rotation_deg)
    scales = tf.random.stateless_uniform([n], seeds[1], low, high)
    offsets = tf.random.stateless_uniform([n, 2], seeds[2], 0.0, 1.0)
    return transform_images_and_joints(images, joints_uv, angles, scales, offsets,
                                       fill_value=fill_value, interpolation=interpolation)


# ---------------------------------------------------------------------------------------
# The network.
def _residual(x: tf.Tensor, filters: int, name: str) -> tf.Tensor:
    """Newell et al.'s bottleneck: BN-ReLU-conv1x1(f/2), BN-ReLU-conv3x3(f/2), BN-ReLU-conv1x1(f), + skip."""
    skip = x if x.shape[-1] == filters else layers.Conv2D(filters, 1, name=f"{name}_skip")(x)
    y = x
    for index, (width, kernel) in enumerate(((filters // 2, 1), (filters // 2, 3), (filters, 1)), start=1):
        y = layers.BatchNormalization(momentum=_BN_MOMENTUM, name=f"{name}_bn{index}")(y)
        y = layers.ReLU(name=f"{name}_relu{index}")(y)
        # no bias where a BatchNormalization follows (its beta is the bias): fewer variables to update
        y = layers.Conv2D(width, kernel, padding="same", use_bias=index == 3, name=f"{name}_conv{index}")(y)
    return layers.Add(name=f"{name}_add")([skip, y])


def _residuals(x: tf.Tensor, filters: int, count: int, name: str) -> tf.Tensor:
    for index in range(1, count + 1):
        x = _residual(x, filters, f"{name}_{index}")
    return x


def _hourglass(x: tf.Tensor, depth: int, cfg: HandEstimatorConfig, name: str) -> tf.Tensor:
    """One level: a full-resolution branch plus pool -> (deeper level) -> upsample, added."""
    f, n = cfg.features, cfg.blocks_per_level
    up = _residuals(x, f, n, f"{name}_up")
    low = layers.MaxPool2D(2, name=f"{name}_pool")(x)
    low = _residuals(low, f, n, f"{name}_low1")
    low = _hourglass(low, depth - 1, cfg, f"{name}d") if depth > 1 else _residuals(low, f, n, f"{name}_bottom")
    low = _residuals(low, f, n, f"{name}_low3")
    low = layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_upsample")(low)
    return layers.Add(name=f"{name}_merge")([up, low])


def build_hand_estimator(image_size: int, cfg: HandEstimatorConfig, name: str = "hand_estimator") -> keras.Model:
    """Build and compile the stacked hourglass: (s, s, 1) float depth in [-1, 1] -> one
    (heatmap_size, heatmap_size, 14) heatmap tensor per stack.

    Newell et al.'s layout: stem (conv 7x7 features/4 with stride 2, or 1 when
    `cfg.stem_stride` is 1; residual features/2; a max-pool when it is 4; residual
    features/2; residual features), then per stack an hourglass, a residual, conv 1x1 + BN +
    ReLU and a linear conv 1x1 to the heatmaps (initialised near zero, see `_HEAD_STDDEV`);
    between stacks the features and the heatmaps are mapped back by 1x1 convs and added.
    Every stack's heatmaps are an output and trained (intermediate supervision): Adam at
    `cfg.learning_rate`, mean squared error per stack, summed. Residual modules are
    pre-activation bottlenecks (BN-ReLU-conv, features/2 inside). Inputs of another size than
    `cfg.network_input_size` are resized to it first (bilinear: a smooth 224 -> 256 upsampling).
    """
    if not isinstance(image_size, (int, np.integer)) or image_size < 1:
        raise ValueError(f"build_hand_estimator: image_size must be an integer >= 1, got {image_size!r}")
    if not isinstance(cfg, HandEstimatorConfig):
        raise ValueError(f"build_hand_estimator: cfg must be a HandEstimatorConfig, got {type(cfg).__name__}")
    f = cfg.features
    inputs = keras.Input(shape=(int(image_size), int(image_size), 1), name=f"{name}_input")
    x = inputs
    target = cfg.network_input_size
    if image_size != target:
        x = layers.Resizing(target, target, interpolation="bilinear", antialias=image_size > target,
                            name="resize_to_network")(x)
    x = layers.Conv2D(max(f // 4, 1), 7, strides=min(cfg.stem_stride, 2), padding="same", use_bias=False,
                      name="stem_conv")(x)
    x = layers.BatchNormalization(momentum=_BN_MOMENTUM, name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    x = _residual(x, f // 2, "stem_res1")
    if cfg.stem_stride == 4:
        x = layers.MaxPool2D(2, name="stem_pool")(x)
    x = _residual(x, f // 2, "stem_res2")
    x = _residual(x, f, "stem_res3")
    outputs = []
    for stack in range(1, cfg.num_stacks + 1):
        y = _hourglass(x, cfg.depth, cfg, f"hg{stack}")
        y = _residuals(y, f, cfg.blocks_per_level, f"hg{stack}_out")
        y = layers.Conv2D(f, 1, use_bias=False, name=f"hg{stack}_lin")(y)
        y = layers.BatchNormalization(momentum=_BN_MOMENTUM, name=f"hg{stack}_lin_bn")(y)
        y = layers.ReLU(name=f"hg{stack}_lin_relu")(y)
        heat = layers.Conv2D(NUM_JOINTS, 1, dtype="float32", name=f"heatmaps{stack}",
                             kernel_initializer=keras.initializers.RandomNormal(stddev=_HEAD_STDDEV))(y)
        outputs.append(heat)
        if stack < cfg.num_stacks:
            x = layers.Add(name=f"hg{stack}_next")([
                x, layers.Conv2D(f, 1, name=f"hg{stack}_features_back")(y),
                layers.Conv2D(f, 1, name=f"hg{stack}_heatmaps_back")(heat)])
    model = keras.Model(inputs, outputs, name=name)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=cfg.learning_rate),
                  loss=["mean_squared_error"] * cfg.num_stacks)
    return model


# ---------------------------------------------------------------------------------------
# Training, prediction, evaluation.
def _check_float_range(images: np.ndarray, name: str) -> None:
    if images.dtype in (np.uint8, np.uint16):
        return
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"{name} must be uint8, uint16 or float in [-1, 1], got {images.dtype}")
    if images.size and (float(images.min()) < -1.001 or float(images.max()) > 1.001):
        raise ValueError(f"{name} are float with values in [{images.min():.3g}, {images.max():.3g}]; "
                         "expected the model range [-1, 1] (simgan_tf.data.to_model_range)")


def _targets(joints: tf.Tensor, image_size: int, cfg: HandEstimatorConfig) -> tuple[tf.Tensor, ...]:
    heat = joints_to_heatmaps(joints, image_size, cfg.heatmap_size, cfg.sigma)
    return (heat,) * cfg.num_stacks


def train_hand_estimator(
    images: np.ndarray,
    joints_uv: np.ndarray,
    cfg: HandEstimatorConfig,
    *,
    seed: int = 0,
    max_steps: int,
    eval_every: int,
    patience: int,
    validation_fraction: float,
    log: Callable[[str], None] | None = None,
    log_every_checks: int = 1,
) -> tuple[keras.Model, dict[str, Any]]:
    """Train a fresh estimator with the paper's augmentation until the held-out loss stops improving.

    images: (N, s, s, 1) uint8 (or uint16) or float in [-1, 1] at the training size; joints_uv:
    (N, 14, 2) in those images' pixels. The last `validation_fraction` of the images is held
    out (never a test label); every `eval_every` optimizer steps the heatmap loss (all stacks,
    no augmentation) is measured there, and training stops after `patience` measurements
    without improvement or at `max_steps`, keeping the best weights (Keras EarlyStopping on
    epochs of `eval_every` steps, the rule of the gaze rows). `seed` fixes the initialisation,
    the shuffling and the augmentation. `log` gets a progress line every `log_every_checks`
    measurements. Returns the model and a JSON-ready info dict.
    """
    images = np.asarray(images)
    joints = np.asarray(joints_uv, dtype=np.float32)
    size = _check_images(images, "images")
    _check_float_range(images, "images")
    _check_joints(joints, "joints_uv", len(images))
    for arg, value in (("max_steps", max_steps), ("eval_every", eval_every), ("patience", patience),
                       ("log_every_checks", log_every_checks)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"train_hand_estimator: {arg} must be an integer >= 1, got {value!r}")
    if not 0 < validation_fraction < 1:
        raise ValueError(f"train_hand_estimator: validation_fraction must be in (0, 1), got {validation_fraction}")
    n_val = max(1, int(round(len(images) * validation_fraction)))
    n_fit = len(images) - n_val
    if n_fit < cfg.batch_size:
        raise ValueError(f"train_hand_estimator: {len(images)} images leave {n_fit} for training after holding out "
                         f"{n_val} (validation_fraction={validation_fraction}); expected at least one batch "
                         f"({cfg.batch_size})")
    keras.utils.set_random_seed(seed)
    model = build_hand_estimator(size, cfg)
    batch = cfg.batch_size

    def augmented(index: tf.Tensor, pair: tuple[tf.Tensor, tf.Tensor]) -> tuple[tf.Tensor, tuple[tf.Tensor, ...]]:
        x, y = augment(pair[0], pair[1], tf.stack([tf.constant(seed, tf.int64), index]),
                       max_rotation_deg=cfg.max_rotation_deg, crop_scale=cfg.crop_scale)
        return _as_model_float(x), _targets(y, size, cfg)

    train = (
        tf.data.Dataset.from_tensor_slices((images[:n_fit], joints[:n_fit]))
        .shuffle(n_fit, seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch, drop_remainder=True)
        .enumerate()
        .map(augmented, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    val = (
        tf.data.Dataset.from_tensor_slices((images[n_fit:], joints[n_fit:])).batch(64)
        .map(lambda x, y: (_as_model_float(x), _targets(y, size, cfg)))
        .cache()
    )
    every = min(eval_every, max_steps)
    max_evals = max(1, max_steps // every)
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)]
    if log is not None:
        def report(epoch: int, logs: dict[str, float]) -> None:
            if (epoch + 1) % log_every_checks:
                return
            log(f"hand estimator: step {(epoch + 1) * every}/{max_evals * every}  "
                f"train loss {logs.get('loss', float('nan')):.5g}  val loss {logs.get('val_loss', float('nan')):.5g}")
        callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=report))
    # Create Adam's slots now: created inside the first traced step they make Keras trace it twice.
    model.optimizer.build(model.trainable_variables)
    started = time.time()
    history = model.fit(train, epochs=max_evals, steps_per_epoch=every, validation_data=val,
                        callbacks=callbacks, shuffle=False, verbose=0)
    train_seconds = time.time() - started
    val_losses = [float(v) for v in history.history["val_loss"]]
    best = int(np.argmin(val_losses))
    steps = len(val_losses) * every
    stopped_early = len(val_losses) < max_evals
    info = {
        "stopped_step": steps,
        "best_step": (best + 1) * every,
        "best_val_loss": val_losses[best],
        "steps_trained": steps,
        "stopped_early": stopped_early,
        "stop_reason": f"no val_loss improvement for {patience} checks" if stopped_early else "reached max_steps",
        "train_seconds": round(train_seconds, 2),
        "images_per_second": round(steps * batch / max(train_seconds, 1e-9), 1),
        "val_images": int(n_val),
        "train_images": int(n_fit),
        "eval_every": int(every),
        "batch_size": int(batch),
        "history": val_losses,
        "train_loss_history": [float(v) for v in history.history["loss"]],
    }
    if log is not None:
        log(f"hand estimator: {info['stop_reason']} at step {steps}; best val loss {val_losses[best]:.5g} "
            f"at step {info['best_step']} ({train_seconds:.1f} s, {info['images_per_second']} images/s)")
    return model, info


def predict_joints(model: keras.Model, images: np.ndarray, batch_size: int = 64, *,
                   subpixel: str = "gaussian") -> np.ndarray:
    """(N, 14, 2) joints in the input images' pixels, decoded from the last stack's heatmaps."""
    images = np.asarray(images)
    size = _check_images(images, "images")
    expected = model.input_shape[1]
    if size != expected:
        raise ValueError(f"images are {size} x {size}; this estimator was built for {expected} x {expected} inputs")
    _check_float_range(images, "images")
    if len(images) == 0:
        raise ValueError("predict_joints: got no images; expected at least one")
    ds = tf.data.Dataset.from_tensor_slices(images).batch(batch_size).map(_as_model_float)
    outputs = model.predict(ds, verbose=0)
    heatmaps = outputs[-1] if isinstance(outputs, (list, tuple)) else outputs
    return heatmaps_to_joints(heatmaps, size, subpixel=subpixel)


def evaluate_hand_estimator(
    model: keras.Model,
    images: np.ndarray,
    joints_uv: np.ndarray,
    *,
    crop_px: float = PAPER_CROP_PX,
    threshold_px: float = PAPER_HAND_THRESHOLD_PX,
    curve_max_px: float = 30.0,
    curve_points: int = 61,
) -> dict[str, Any]:
    """The paper's figures on a labeled test set, in pixels of the 224 x 224 crop.

    Errors at another resolution are scaled by crop_px / image_size. Returns `pck_percent`
    (% of joints within `threshold_px`), `threshold_px`, `mean_error_px`, `median_error_px`,
    `num_images`, `per_joint_pck` (14 values), `curve_thresholds_px` and `curve_percent` (the
    paper's Fig. 9 curve), all JSON-ready, and `errors_px`, the (N, 14) numpy errors.
    """
    images = np.asarray(images)
    joints = np.asarray(joints_uv, dtype=np.float32)
    size = _check_images(images, "images")
    _check_joints(joints, "joints_uv", len(images))
    if not crop_px > 0 or not threshold_px >= 0:
        raise ValueError(f"evaluate_hand_estimator: crop_px must be > 0 and threshold_px >= 0, got {crop_px} and {threshold_px}")
    pred = predict_joints(model, images)
    errors = joint_errors_px(pred, joints, scale=crop_px / size)
    thresholds, percents = cumulative_error_curve(errors, curve_max_px, curve_points)
    return {
        "pck_percent": pck_percent(errors, threshold_px),
        "threshold_px": float(threshold_px),
        "mean_error_px": float(np.mean(errors)),
        "median_error_px": float(np.median(errors)),
        "num_images": int(len(images)),
        "per_joint_pck": [pck_percent(errors[:, j], threshold_px) for j in range(NUM_JOINTS)],
        "curve_thresholds_px": [float(t) for t in thresholds],
        "curve_percent": [float(p) for p in percents],
        "errors_px": errors,
    }


__all__ = [
    "NUM_JOINTS",
    "PAPER_CROP_PX",
    "augment",
    "background_value",
    "build_hand_estimator",
    "evaluate_hand_estimator",
    "heatmaps_to_joints",
    "joints_to_heatmaps",
    "predict_joints",
    "scale_joints",
    "train_hand_estimator",
    "transform_images_and_joints",
]
