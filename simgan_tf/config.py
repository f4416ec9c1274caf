"""Configuration dataclasses and the paper's presets.

Every number from the SimGAN paper (Shrivastava et al., CVPR 2017) lives here and nowhere
else. Each preset records which of its values come from the paper and which were chosen,
because the paper leaves lambda, the optimizer, batch size and buffer size unstated.

Each config checks its own values when it is created (`__post_init__`), so an invalid
setting fails with a message naming it (and its command-line flag) wherever it comes from:
a preset, `with_overrides`, the command line or a user's `dataclasses.replace`.

Vocabulary: a *step* is one unit of Algorithm 1's progress: one refiner update while
pretraining R, one discriminator update while pretraining D, and afterwards one *iteration*
(K_g refiner updates, then K_d discriminator updates). Step counters, `checkpoint_every`
and `log_every` count steps; an *update* is one optimizer step of one network.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Union

from tfds_builders.constants import GAZE_IMAGE_SHAPE, HAND_IMAGE_SHAPE

PsiName = Literal["identity", "channel_mean", "derivatives", "low_pass", "foreground"]
PSI_NAMES: tuple[str, ...] = ("identity", "channel_mean", "derivatives", "low_pass", "foreground")
# psi may also be a callable (e.g. a frozen Keras feature extractor). A run directory records
# it as "callable:<name>"; resuming such a run needs the callable passed again.
Psi = Union[str, Callable[..., Any]]
CALLABLE_PSI_PREFIX = "callable:"
HeadKind = Literal["local", "global"]
# Keras dtype policies a run may use: float32, or mixed precision (bfloat16 on CPUs with
# AVX512_BF16 / AMX and on TPUs and recent GPUs; float16 with loss scaling on GPUs).
PRECISIONS: tuple[str, ...] = ("float32", "mixed_bfloat16", "mixed_float16")


def _flag(name: str) -> str:
    """`batch_size` -> `batch_size (--batch-size)`: errors serve library and CLI users alike."""
    return f"{name} (--{name.replace('_', '-')})"


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True)
class ImageSpec:
    """Shape of the images the refiner sees (height x width x channels)."""

    height: int
    width: int
    channels: int = 1

    def __post_init__(self) -> None:
        _require(min(self.height, self.width, self.channels) >= 1,
                 f"ImageSpec: height, width and channels must be >= 1, got {self.shape}")

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.channels)


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a paper architecture table: a convolution or a max-pool."""

    kind: Literal["conv", "maxpool"]
    kernel: int
    stride: int = 1
    filters: int | None = None  # None for a max-pool (or a conv keeping the input channels)

    def __post_init__(self) -> None:
        _require(self.kind in ("conv", "maxpool"), f"LayerSpec.kind {self.kind!r}: expected 'conv' or 'maxpool'")
        _require(self.kernel >= 1 and self.stride >= 1,
                 f"LayerSpec: kernel and stride must be >= 1, got kernel={self.kernel}, stride={self.stride}")
        _require((self.kind == "conv" or self.filters is None) and (self.filters is None or self.filters >= 1),
                 f"LayerSpec: filters must be >= 1 (conv) or None, got {self.kind} with filters={self.filters}")


REFINER_PADDINGS = ("zero", "reflect")


@dataclass(frozen=True)
class RefinerConfig:
    """Fully convolutional ResNet: conv k x k -> ResNet blocks -> conv 1x1 (no stride, no pool)."""

    filters: int = 64
    kernel: int = 3
    num_blocks: int = 4
    # How k x k convolutions see past the image edge. "zero" (Keras 'same' padding, as in the
    # TF1 reference implementation; the paper is silent) lets R learn edge-anchored artifacts (bright frames, corner
    # blobs) that D can key on; "reflect" mirrors the image instead, so an edge looks like
    # the interior. Changes no shapes: weights are interchangeable between the two.
    padding: str = "zero"
    # Append two channels, x and y in [-1, 1] across the image, to R's input (CoordConv). Without
    # them a refiner with reflect padding cannot tell the centre from a corner, so it cannot draw a
    # look that depends on where a pixel sits in the frame, such as a lens's vignetting.
    position_channels: bool = False

    def __post_init__(self) -> None:
        _require(self.padding in REFINER_PADDINGS,
                 f"RefinerConfig.padding {self.padding!r}: expected one of {REFINER_PADDINGS}")
        _require(min(self.filters, self.kernel) >= 1 and self.num_blocks >= 0,
                 f"RefinerConfig: filters and kernel must be >= 1 and num_blocks >= 0, got {self}")
        _require(self.padding != "reflect" or self.kernel % 2 == 1,
                 f"RefinerConfig: reflect padding needs an odd kernel, got {self.kernel}")


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Layer table of D; the last conv has 2 filters (refined, real) followed by a softmax.

    head="local" keeps the w x h patch map (the paper); head="global" flattens and uses one
    fully connected decision per image (the ablation).
    """

    layers: tuple[LayerSpec, ...]
    head: HeadKind = "local"

    def __post_init__(self) -> None:
        _require(self.head in ("local", "global"), f"{_flag('discriminator_head')}: expected 'local' or 'global', got {self.head!r}")
        _require(len(self.layers) > 0 and self.layers[-1].kind == "conv" and self.layers[-1].filters == 2,
                 "DiscriminatorConfig.layers must end in a conv with 2 filters (refined, real logits)")
        _require(all(spec.filters is not None for spec in self.layers if spec.kind == "conv"),
                 "DiscriminatorConfig.layers: every conv needs its number of filters")


@dataclass(frozen=True)
class TrainingConfig:
    """Algorithm 1 schedule and optimisation settings (see the module docstring for "step")."""

    steps: int  # adversarial iterations (each K_g refiner updates + K_d discriminator updates)
    pretrain_r_steps: int
    pretrain_d_steps: int
    batch_size: int
    lambda_reg: float
    psi: Psi  # a name of PSI_NAMES or a callable images -> features
    buffer_size: int  # history buffer capacity B, in images
    use_history: bool
    k_g: int
    k_d: int
    learning_rate: float
    # Piecewise-constant schedule: after each boundary (in adversarial iterations) the next rate.
    lr_boundaries: tuple[int, ...] = ()
    lr_values_after: tuple[float, ...] = ()
    grad_clip_norm: float | None = 50.0
    seed: int = 0
    checkpoint_every: int = 100  # steps between checkpoints
    log_every: int = 10  # steps between fetching the losses (progress bar, TensorBoard, NaN check)
    max_checkpoints: int = 3
    # Steps run by one call of the compiled training function (fewer host round trips;
    # calls never cross a log, checkpoint or phase boundary).
    steps_per_call: int = 1
    # Keras dtype policy of the refiner and discriminator; losses are float32 in every case.
    precision: str = "float32"
    # How the history buffer stores refined images: "uint8" (the 8-bit levels the stored real
    # images have; 4x smaller in memory and in every checkpoint) or "float32".
    history_dtype: str = "uint8"
    # XLA for the update steps: "auto" compiles the refiner's update on one replica with a
    # GPU (on CPUs oneDNN's kernels beat XLA's), "on" both updates everywhere, "off" none.
    xla: str = "auto"
    # Realism stopping (simgan_tf.convergence.RealismStopping, wired by the command line):
    # every `stop_check_every` steps a fresh critic compares `stop_heldout` real images that
    # training never sees with refined ones; adversarial training ends when its accuracy has
    # not improved by `stop_min_delta` points for `stop_patience` checks, counted from
    # `stop_min_steps` adversarial iterations on. 0 = off: `steps` iterations, always.
    # A check at or above `stop_saturated_pct` (a critic that tells every image apart) ranks
    # nothing and is never the best (above 100: every check counts; convergence.py).
    stop_check_every: int = 0
    stop_patience: int = 4
    stop_min_delta: float = 1.0
    stop_min_steps: int = 0
    stop_heldout: int = 1000
    stop_saturated_pct: float = 99.0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "buffer_size", "k_g", "k_d", "checkpoint_every", "log_every",
                     "max_checkpoints", "steps_per_call"):
            value = getattr(self, name)
            _require(isinstance(value, int) and value >= 1, f"{_flag(name)} must be an integer >= 1, got {value!r}")
        for name in ("pretrain_r_steps", "pretrain_d_steps"):
            value = getattr(self, name)
            _require(isinstance(value, int) and value >= 0, f"{_flag(name)} must be an integer >= 0, got {value!r}")
        _require(self.batch_size % 2 == 0,
                 f"{_flag('batch_size')} must be even (D sees b/2 current + b/2 history images), got {self.batch_size}")
        _require(not self.use_history or self.buffer_size >= self.batch_size // 2,
                 f"{_flag('buffer_size')} must hold at least half a batch ({self.batch_size // 2}), got {self.buffer_size}")
        _require(self.learning_rate > 0, f"{_flag('learning_rate')} must be > 0, got {self.learning_rate}")
        _require(self.lambda_reg >= 0, f"{_flag('lambda_reg')} must be >= 0, got {self.lambda_reg}")
        _require(self.grad_clip_norm is None or self.grad_clip_norm > 0,
                 f"grad_clip_norm must be > 0 or None, got {self.grad_clip_norm}")
        _require(callable(self.psi) or self.psi in PSI_NAMES or str(self.psi).startswith(CALLABLE_PSI_PREFIX),
                 f"{_flag('psi')} must be one of {list(PSI_NAMES)} or a callable, got {self.psi!r}")
        _require(self.history_dtype in ("uint8", "float32"),
                 f"history_dtype must be 'uint8' or 'float32', got {self.history_dtype!r}")
        _require(self.xla in ("auto", "on", "off"), f"{_flag('xla')} must be auto, on or off, got {self.xla!r}")
        _require(isinstance(self.stop_check_every, int) and self.stop_check_every >= 0,
                 f"{_flag('stop_check_every')} must be an integer >= 0 (0: off), got {self.stop_check_every!r}")
        for name in ("stop_patience", "stop_heldout"):
            value = getattr(self, name)
            _require(isinstance(value, int) and value >= 1, f"{_flag(name)} must be an integer >= 1, got {value!r}")
        _require(self.stop_saturated_pct > 50,
                 f"{_flag('stop_saturated_pct')} must be above 50 (chance), got {self.stop_saturated_pct!r}")
        _require(self.stop_min_steps >= 0 and self.stop_min_delta >= 0,
                 f"{_flag('stop_min_steps')} and {_flag('stop_min_delta')} must be >= 0")
        _require(self.precision in PRECISIONS, f"{_flag('precision')} must be one of {list(PRECISIONS)}, got {self.precision!r}")
        _require(len(self.lr_boundaries) == len(self.lr_values_after)
                 and list(self.lr_boundaries) == sorted(self.lr_boundaries)
                 and all(v > 0 for v in self.lr_values_after),
                 f"lr_boundaries {self.lr_boundaries} and lr_values_after {self.lr_values_after}: expected "
                 "increasing boundaries and one positive rate per boundary")

    @property
    def total_steps(self) -> int:
        """Steps of a whole run: both pretraining phases and the adversarial iterations."""
        return self.pretrain_r_steps + self.pretrain_d_steps + self.steps


@dataclass(frozen=True)
class DataConfig:
    """Where images come from: TFDS names ("builder/config") or a folder of images."""

    synthetic: str
    real: str
    synthetic_split: str = "train"
    real_split: str = "train"
    data_dir: str | None = None
    manual_dir: str | None = None
    skip_bad: bool = False  # real-data builders: skip malformed files instead of stopping
    # How images of another size are fitted to the preset: "area" for photos; "nearest" for
    # depth maps, where averaging would invent depths between the hand and the background.
    resize_method: Literal["area", "nearest"] = "area"
    shuffle_buffer: int = 4096

    def __post_init__(self) -> None:
        _require(self.resize_method in ("area", "nearest"),
                 f"DataConfig.resize_method {self.resize_method!r}: expected 'area' or 'nearest'")
        _require(self.shuffle_buffer >= 1, f"DataConfig.shuffle_buffer must be >= 1, got {self.shuffle_buffer}")


@dataclass(frozen=True)
class GazeEstimatorConfig:
    """The paper's gaze CNN: 5 convs, 2 max-pools, FC 9600 (the flattened map) / 1000 / 3."""

    layers: tuple[LayerSpec, ...] = (
        LayerSpec("conv", 3, 1, 32),
        LayerSpec("conv", 3, 1, 32),
        LayerSpec("conv", 3, 1, 64),
        LayerSpec("maxpool", 3, 2),
        LayerSpec("conv", 3, 1, 80),
        LayerSpec("conv", 3, 1, 192),
        LayerSpec("maxpool", 2, 2),
    )
    dense_units: tuple[int, ...] = (1000,)
    outputs: int = 3
    learning_rate: float = 0.001
    batch_size: int = 512
    epochs: int = 10


@dataclass(frozen=True)
class HandEstimatorConfig:
    """The paper's hand pose estimator: a stacked hourglass network (Newell et al. 2016).

    Shrivastava et al. (Sec. 4.3) give 2 hourglass blocks, 64 x 64 heatmaps (one per NYU
    joint), random rotations in [-20, 20] degrees and random crops; the rest follows Newell
    et al. or is chosen (marked below). The stem reduces the input by `stem_stride` and the
    hourglasses work at `heatmap_size`; an input of another size than
    heatmap_size * stem_stride (224 for the paper's crops, where Newell's convention is 256)
    is resized to it inside the model, so heatmaps always cover the whole image.
    """

    num_stacks: int = 2  # paper: "2 hourglass blocks"
    features: int = 256  # Newell et al. (256 channels throughout the hourglass)
    depth: int = 4  # Newell et al.: 4 downsamplings per hourglass (64 -> 4)
    blocks_per_level: int = 1  # Newell et al.: one residual module per level and branch
    heatmap_size: int = 64  # paper: 64 x 64 output heatmaps
    stem_stride: int = 4  # Newell et al.: 256 input -> 64 (conv 7x7/2, max-pool /2)
    sigma: float = 1.0  # Newell et al.: Gaussian std of 1 heatmap pixel
    learning_rate: float = 2.5e-4  # Newell et al.'s rate (they used RMSprop; Adam here, chosen)
    batch_size: int = 16  # chosen: the paper does not say (Newell et al.: 6)
    max_rotation_deg: float = 20.0  # paper: rotations in [-20, 20] degrees
    crop_scale: tuple[float, float] = (0.8, 1.0)  # chosen: crop side / image side (paper: "random crops")

    def __post_init__(self) -> None:
        for name in ("num_stacks", "features", "depth", "blocks_per_level", "heatmap_size", "batch_size"):
            value = getattr(self, name)
            _require(isinstance(value, int) and value >= 1,
                     f"HandEstimatorConfig.{name} must be an integer >= 1, got {value!r}")
        _require(self.stem_stride in (1, 2, 4),
                 f"HandEstimatorConfig.stem_stride must be 1, 2 or 4, got {self.stem_stride!r}")
        _require(self.heatmap_size % (2 ** self.depth) == 0,
                 f"HandEstimatorConfig.heatmap_size {self.heatmap_size} must be divisible by 2**depth "
                 f"= {2 ** self.depth} (the hourglass halves it depth times)")
        _require(self.features % 2 == 0,
                 f"HandEstimatorConfig.features must be even (residual bottleneck of features/2), got {self.features}")
        _require(self.sigma > 0 and self.learning_rate > 0,
                 f"HandEstimatorConfig.sigma and learning_rate must be > 0, got {self.sigma} and {self.learning_rate}")
        _require(0 <= self.max_rotation_deg <= 180,
                 f"HandEstimatorConfig.max_rotation_deg must be in [0, 180], got {self.max_rotation_deg}")
        _require(len(self.crop_scale) == 2 and 0 < self.crop_scale[0] <= self.crop_scale[1] <= 1,
                 f"HandEstimatorConfig.crop_scale must be (low, high) with 0 < low <= high <= 1, got {self.crop_scale}")

    @property
    def network_input_size(self) -> int:
        """Side the hourglass network sees after the in-model resize: heatmap_size * stem_stride."""
        return self.heatmap_size * self.stem_stride


@dataclass(frozen=True)
class Preset:
    """A complete, named experiment configuration."""

    name: str
    task: Literal["gaze", "hand"]
    image: ImageSpec
    refiner: RefinerConfig
    discriminator: DiscriminatorConfig
    training: TrainingConfig
    data: DataConfig
    gaze_estimator: GazeEstimatorConfig | None = None
    # Provenance: setting name -> "paper" | "chosen: why". Shown in --help and summary.json.
    provenance: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        _require(self.task in ("gaze", "hand"), f"Preset.task {self.task!r}: expected 'gaze' or 'hand'")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------
# Paper architecture tables (Shrivastava et al. 2017, Sec. 4 and the appendix).
GAZE_IMAGE = ImageSpec(*GAZE_IMAGE_SHAPE)
HAND_IMAGE = ImageSpec(*HAND_IMAGE_SHAPE)

# Padding: the paper is silent; "reflect" (see RefinerConfig.padding) because with zero
# padding the gaze refiners learned border frames and corner blobs that D keys on
# (docs/results/README.md has the comparison).
GAZE_REFINER = RefinerConfig(filters=64, kernel=3, num_blocks=4, padding="reflect")
HAND_REFINER = RefinerConfig(filters=64, kernel=7, num_blocks=10, padding="reflect")

GAZE_DISCRIMINATOR = DiscriminatorConfig(
    layers=(
        LayerSpec("conv", 3, 2, 96),
        LayerSpec("conv", 3, 2, 64),
        LayerSpec("maxpool", 3, 1),
        LayerSpec("conv", 3, 1, 32),
        LayerSpec("conv", 1, 1, 32),
        LayerSpec("conv", 1, 1, 2),
    )
)
HAND_DISCRIMINATOR = DiscriminatorConfig(
    layers=(
        LayerSpec("conv", 7, 4, 96),
        LayerSpec("conv", 5, 2, 64),
        LayerSpec("maxpool", 3, 2),
        LayerSpec("conv", 3, 2, 32),
        LayerSpec("conv", 1, 1, 32),
        LayerSpec("conv", 1, 1, 2),
    )
)

# Values the paper does not state; defaults of the widely used TF1 implementation.
_CHOSEN_TF1 = "chosen: not in the paper; default of the widely used TF1 implementation"
_CHOSEN_PADDING = "chosen: not in the paper (TF1 implementation: zero); reflect, as zero padding made R learn border artifacts"

GAZE_PAPER = Preset(
    name="gaze_paper",
    task="gaze",
    image=GAZE_IMAGE,
    refiner=GAZE_REFINER,
    discriminator=GAZE_DISCRIMINATOR,
    training=TrainingConfig(
        steps=10_000,
        pretrain_r_steps=1000,
        pretrain_d_steps=200,
        batch_size=512,
        lambda_reg=0.5,
        psi="identity",
        buffer_size=25_600,
        use_history=True,
        k_g=2,
        k_d=1,
        learning_rate=0.001,
        grad_clip_norm=50.0,
        checkpoint_every=500,
        log_every=50,
    ),
    data=DataConfig(synthetic="procedural_eyes/simulator", real="procedural_eyes/camera"),
    gaze_estimator=GazeEstimatorConfig(),
    provenance={
        "image": "paper (35 x 55 grayscale)",
        "refiner": "paper (conv3x3 64, 4 ResNet blocks, conv1x1)",
        "refiner_padding": _CHOSEN_PADDING,
        "discriminator": "paper (layer table of the gaze experiment)",
        "pretrain_r_steps": "paper (1000)",
        "pretrain_d_steps": "paper (200)",
        "k_g": "paper (text: 'twice'; Algorithm 1 also prints K_g = 50, set --k-g 50 for that)",
        "k_d": "paper (1)",
        "learning_rate": "paper (0.001)",
        "steps": "chosen: the paper does not state the number of adversarial iterations",
        "lambda_reg": _CHOSEN_TF1 + " (0.5)",
        "batch_size": _CHOSEN_TF1 + " (512)",
        "buffer_size": _CHOSEN_TF1 + " (50 batches = 25,600 images)",
        "optimizer": _CHOSEN_TF1 + " (Adam)",
        "grad_clip_norm": _CHOSEN_TF1 + " (50)",
        "gaze_estimator": "paper (lr 0.001, batch 512); epochs chosen",
    },
)

GAZE_QUICK = dataclasses.replace(
    GAZE_PAPER,
    name="gaze_quick",
    # Half the width of the paper's refiner (about 3x cheaper per image) so the default run
    # fits a laptop CPU; depth and kernel sizes are the paper's.
    refiner=dataclasses.replace(GAZE_REFINER, filters=32),
    training=dataclasses.replace(
        GAZE_PAPER.training,
        # The paper's advice (a low rate, many steps), with the realism rule to end it: 2000
        # iterations is the ceiling, not the usual length.
        steps=2000,
        learning_rate=0.0002,
        pretrain_r_steps=200,
        pretrain_d_steps=50,
        batch_size=32,
        buffer_size=3200,
        checkpoint_every=100,
        log_every=10,
        stop_check_every=100,
        stop_min_steps=300,
    ),
    gaze_estimator=dataclasses.replace(GazeEstimatorConfig(), batch_size=128, epochs=8),
    provenance={
        **GAZE_PAPER.provenance,
        "refiner": "chosen: paper layout with 32 instead of 64 filters, to fit 2 CPU cores",
        "steps": "chosen: at most 2000, ended by the held-out realism rule (stop_*), so `python train_gaze.py` "
                 "finishes in 5-15 min on 2 CPU cores",
        "learning_rate": "chosen: 0.0002 (paper: 0.001 for eyes; its advice is a low rate and many steps)",
        "stop_check_every": "chosen: a realism check every 100 steps (simgan_tf.convergence)",
        "pretrain_r_steps": "chosen: 200 (paper 1000), CPU budget",
        "pretrain_d_steps": "chosen: 50 (paper 200), CPU budget",
        "batch_size": "chosen: 32, CPU budget",
        "buffer_size": "chosen: 100 batches of 32",
        "gaze_estimator": "paper architecture and lr; batch 128 and 8 epochs chosen for CPU",
    },
)

HAND_PAPER = Preset(
    name="hand_paper",
    task="hand",
    image=HAND_IMAGE,
    refiner=HAND_REFINER,
    discriminator=HAND_DISCRIMINATOR,
    training=TrainingConfig(
        steps=700_000,
        pretrain_r_steps=500,
        pretrain_d_steps=200,
        batch_size=32,
        lambda_reg=0.5,
        psi="identity",
        buffer_size=1600,
        use_history=True,
        k_g=2,
        k_d=1,
        learning_rate=0.0002,
        lr_boundaries=(600_000,),
        lr_values_after=(0.00005,),
        grad_clip_norm=50.0,
        checkpoint_every=1000,
        log_every=100,
    ),
    data=DataConfig(
        # sensor_v4: sensor_v2's geometry-following defects, the matching window's foreground
        # fattening and a band of flying pixels around the silhouette: the pair on which the hand
        # experiment's refiners learned something (on sensor_v3 they did not; sensor_v2's gap is
        # 1.07x); tfds_builders/procedural_hands/README.md. --real procedural_hands/sensor_v3, /sensor_v2 or /sensor
        synthetic="procedural_hands/synthetic", real="procedural_hands/sensor_v4", resize_method="nearest"
    ),
    provenance={
        "image": "paper (224 x 224 depth)",
        "refiner": "paper (7x7 filters, 10 ResNet blocks)",
        "refiner_padding": _CHOSEN_PADDING,
        "discriminator": "paper (layer table of the hand experiment)",
        "pretrain_r_steps": "paper (500)",
        "pretrain_d_steps": "paper (200)",
        "k_g": "paper (2)",
        "k_d": "paper (1)",
        "learning_rate": "paper (0.0002, then 0.00005 after 600k steps)",
        "steps": "chosen: 700k so the paper's 600k-step decay takes effect",
        "lambda_reg": _CHOSEN_TF1 + " (0.5)",
        "batch_size": "chosen: 32 (224 x 224 images; the paper does not say)",
        "buffer_size": "chosen: 50 batches of 32",
        "optimizer": _CHOSEN_TF1 + " (Adam)",
        "grad_clip_norm": _CHOSEN_TF1 + " (50)",
        "data": "chosen: procedural_hands/sensor_v4 as the unlabeled target (the hand experiment's default pair)",
    },
)

HAND_QUICK = dataclasses.replace(
    HAND_PAPER,
    name="hand_quick",
    image=ImageSpec(height=64, width=64, channels=1),
    # A 7x7, 32-filter, 4-block refiner costs ~11 GFLOP per 64 x 64 image and update; 5x5
    # kernels, 16 filters and 3 blocks are ~10x cheaper, small enough for a CPU.
    refiner=dataclasses.replace(HAND_REFINER, filters=16, kernel=5, num_blocks=3),
    training=dataclasses.replace(
        HAND_PAPER.training,
        steps=1500,  # ceiling: the held-out realism rule (stop_*) usually ends the run at 800-1400
        pretrain_r_steps=100,
        pretrain_d_steps=30,
        batch_size=16,
        buffer_size=800,
        # Summed over pixels, the L1 at 0.5 outweighs the whole adversarial term wherever the
        # sensor's defects are (its halo moves ~10 % of the image by ~45 levels): the hand
        # experiment's refiners drew nothing at 0.5, half at 0.05, the fattening and halo at 0.005.
        lambda_reg=0.005,
        lr_boundaries=(),
        lr_values_after=(),
        checkpoint_every=50,
        log_every=10,
        stop_check_every=100,
        stop_min_steps=300,
    ),
    provenance={
        **HAND_PAPER.provenance,
        "image": "chosen: 64 x 64 (paper 224 x 224) to fit 2 CPU cores",
        "refiner": "chosen: 5x5 filters, 16 filters, 3 blocks (paper 7x7, 64, 10) for CPU",
        "steps": "chosen: at most 1500, ended by the held-out realism rule (stop_*), as in the hand experiment",
        "stop_check_every": "chosen: a realism check every 100 steps (simgan_tf.convergence)",
        "lambda_reg": "chosen: 0.005 (hand_paper keeps the TF1 code's 0.5; docs/results/hands/README.md, the lambda pilots "
                      "and the 5-seed run)",
        "pretrain_r_steps": "chosen: CPU budget",
        "pretrain_d_steps": "chosen: CPU budget",
        "batch_size": "chosen: CPU budget",
        "buffer_size": "chosen: 50 batches of 16",
        "learning_rate": "paper (0.0002); the 600k-step decay is never reached",
    },
)

# The hand pose estimator (Sec. 4.3) the hand experiment trains on synthetic, refined or real
# images. Not part of a Preset: the experiment runner picks one by the image size it trains at.
# Paper: 2 stacks, 64 x 64 heatmaps, +-20 degree rotations, crops; the rest in the field comments.
HAND_ESTIMATOR_PAPER = HandEstimatorConfig()
# For 64 x 64 inputs (HAND_QUICK.image) on 2 CPU cores: the paper's 2 stacks and augmentation,
# a thinner and shallower hourglass at 32 x 32 heatmaps (stem stride 2, no resize). Measured on
# procedural_hands/synthetic (2,700 training + 300 held-out images, 64 x 64; early stopping):
# about 10 ms of CPU per training image; stopped at step 2600 (eval every 100, patience 3),
# PCK@5 px 65 % / mean 9.2 px on synthetic test, 21 % / 25 px on sensor_labeled test; about
# 45 % after the first 600 steps. Batch 32: 69 % at step 1950, the same CPU. 16 features: 54 %
# after 2000 steps of 32.
HAND_ESTIMATOR_QUICK = HandEstimatorConfig(
    num_stacks=2,  # paper
    features=32,  # chosen: CPU budget (paper/Newell 256)
    depth=3,  # chosen: 32 -> 4 at the bottom, as the paper's 64 -> 4
    blocks_per_level=1,  # Newell et al.
    heatmap_size=32,  # chosen: half the 64 x 64 input (paper 64 at 224)
    stem_stride=2,  # chosen: 64 x 64 input -> 32 x 32
    sigma=1.0,  # Newell et al. (1 heatmap pixel; 1.5 and 2 gave lower PCK@5 after 600 steps)
    learning_rate=4e-3,  # chosen: the fastest of 1e-3, 2e-3, 4e-3 (PCK@5 after 600 steps: 38, 43, 47 %)
    batch_size=16,  # chosen: as fast per image as 32 early on, and half the time per step
    max_rotation_deg=20.0,  # paper
    crop_scale=(0.8, 1.0),  # chosen (paper: "random crops")
)

PRESETS: dict[str, Preset] = {
    p.name: p for p in (GAZE_PAPER, GAZE_QUICK, HAND_PAPER, HAND_QUICK)
}


def get_preset(name: str, task: str | None = None) -> Preset:
    """Look a preset up by full name ("gaze_quick") or, given a task, short name ("quick")."""
    candidates = [name] + ([f"{task}_{name}"] if task else [])
    for candidate in candidates:
        if candidate in PRESETS:
            return PRESETS[candidate]
    raise ValueError(
        f"unknown preset {name!r}; expected one of {sorted(PRESETS)}"
        + (f" (or the short names {sorted(n.split('_', 1)[1] for n in PRESETS if n.startswith(task + '_'))})" if task else "")
    )


def replace_training(training: TrainingConfig, **overrides: Any) -> TrainingConfig:
    """`training` with the given fields replaced (None values ignored), validated."""
    valid = {f.name for f in dataclasses.fields(TrainingConfig)}
    unknown = set(overrides) - valid
    if unknown:
        raise ValueError(f"unknown training settings {sorted(unknown)}; expected some of {sorted(valid)}")
    return dataclasses.replace(training, **{k: v for k, v in overrides.items() if v is not None})


@dataclass(frozen=True)
class CriticConfig:
    """The realism critic (simgan_tf.critic): a plain strided CNN, conv3x3/2 per entry of
    `filters`, global average pool, 1 logit; trained for `epochs` on balanced classes."""

    filters: tuple[int, ...] = (32, 64, 128)
    epochs: int = 5
    batch_size: int = 64
    learning_rate: float = 0.001
    holdout_fraction: float = 0.25  # share of each class kept aside for the reported accuracy
    max_images_per_class: int = 2000  # bounds the cost; the two classes are always balanced


REFINER_FIELDS = frozenset(f.name for f in dataclasses.fields(RefinerConfig))


def with_overrides(preset: Preset, **overrides: Any) -> Preset:
    """Return a copy of `preset` with fields replaced (None values ignored): a RefinerConfig field
    (filters, position_channels, ...) changes the refiner's architecture, any other key names a
    TrainingConfig field. One call for both, so a command line and a script override alike."""
    training_fields = {f.name for f in dataclasses.fields(TrainingConfig)}
    unknown = set(overrides) - REFINER_FIELDS - training_fields
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; expected TrainingConfig fields "
                         f"{sorted(training_fields)} or RefinerConfig fields {sorted(REFINER_FIELDS)}")
    architecture = {k: v for k, v in overrides.items() if k in REFINER_FIELDS and v is not None}
    training = {k: v for k, v in overrides.items() if k not in REFINER_FIELDS}
    return dataclasses.replace(preset, refiner=dataclasses.replace(preset.refiner, **architecture),
                               training=replace_training(preset.training, **training))
