"""Named sizes of the gaze experiment: `smoke` (tests), `quick` (2 CPU cores), `paper` (GPU).

One `ExperimentSettings` fixes everything the runner trains: the refiner preset (with the
schedule it runs), how many synthetic images the "1x" rows get (N; "4x" rows get 4N, as the
paper's "4x" means four times the training data), how long every estimator trains, and the
sizes of the realism-critic and label-preservation measurements. The refiner never sees a
target label; only the oracle row and the evaluation use them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from simgan_tf import config as cfg
from simgan_tf.config import CriticConfig
from simgan_tf.label_preservation import PupilFitConfig

# Rows of the results table, in the order of the paper's Table 2 plus the reference and the
# two ablations. Refined rows come from the main refiner; ablation rows from their own.
ROWS = ("synthetic", "synthetic_4x", "refined", "refined_4x", "oracle", "no_history", "global_adversarial")
# Refiner variants trained per seed: the paper's, and the two ablations.
REFINER_VARIANTS = ("main", "no_history", "global_adversarial")


@dataclass(frozen=True)
class StudySettings:
    """What every refiner study (gaze, hand) fixes per seed: the refiner and its stopping rule,
    the row sizes, the estimators' early-stopping rule and the realism critic."""

    name: str
    refiner: cfg.Preset  # preset of the main refiner (seed and ablation switches applied per run)
    train_images: int  # N: synthetic images of the "1x" rows (and of the labeled-target row)
    scale_factor: int  # the scaled rows train on scale_factor * N images (gaze: 4x, hands: 3x)
    # Every row follows the same rule: train until the loss on a held-out slice of the row's own
    # training images stops improving (no target label is read), at most `estimator_steps`
    # optimizer steps, and keep the best weights. An estimator stopped at a fixed short
    # schedule cannot resolve a degree between rows.
    estimator_steps: int
    real_images: int  # unlabeled target images the refiner trains on (held-out slice included)
    test_images: int | None  # target test images evaluated (None: the whole split)
    estimator_eval_every: int = 64  # optimizer steps between two validation measurements
    estimator_patience: int = 5  # measurements without improvement before stopping
    estimator_validation_fraction: float = 0.1  # of each row's training images, held out
    # The refiner stops when a fresh critic's held-out accuracy (refined synthetic vs real images
    # training never used; simgan_tf.convergence) has not improved by `refiner_min_delta`
    # points for `refiner_patience` checks, counted from `refiner_min_steps` adversarial
    # iterations on; `refiner.training.steps` is the ceiling.
    refiner_patience: int = 4
    refiner_min_delta: float = 1.0
    refiner_check_every: int = 100  # adversarial iterations between checks (a multiple of checkpoint_every)
    refiner_min_steps: int = 0
    # A check whose critic reaches this accuracy (%) separates every pair and ranks nothing: it is
    # never the best, so a refiner whose critic stays saturated trains to the ceiling.
    refiner_saturated_pct: float = 99.0
    refiner_heldout_real: int = 1000  # the last images of the real set; the refiner never sees them
    refiner_heldout_synthetic: int = 1000
    critic: CriticConfig = CriticConfig()
    seeds: int = 3
    curve_points: int = 101
    notes: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        every = self.refiner.training.checkpoint_every
        if self.refiner_check_every < 1 or self.refiner_check_every % every:
            raise ValueError(f"{type(self).__name__} {self.name!r}: refiner_check_every={self.refiner_check_every} must "
                             f"be a positive multiple of the refiner's checkpoint_every ({every}): checks run at checkpoints")
        if not 0 < self.refiner_heldout_real < self.real_images:
            raise ValueError(f"{type(self).__name__} {self.name!r}: refiner_heldout_real={self.refiner_heldout_real} "
                             f"must be between 1 and real_images - 1 ({self.real_images - 1})")
        if not 0.0 < self.estimator_validation_fraction < 1.0:
            raise ValueError(f"{type(self).__name__} {self.name!r}: estimator_validation_fraction must be in (0, 1), "
                             f"got {self.estimator_validation_fraction}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True, kw_only=True)
class ExperimentSettings(StudySettings):
    """Everything the gaze experiment trains, per seed."""

    estimator: cfg.GazeEstimatorConfig  # the gaze CNN; the quick preset's is smaller than the paper's
    pupil_images: int = 500  # synthetic/refined pairs measured for label preservation
    pupil_fit: PupilFitConfig = PupilFitConfig()
    threshold_deg: float = 7.0  # the paper's "% within 7 degrees"
    curve_max_deg: float = 25.0  # x axis of the Fig. 7-style cumulative curve


# ---------------------------------------------------------------------------------------
# quick: the default, sized for a 2-core CPU: three refiners (main and two ablations), seven
# estimators and two critics a seed. docs/results/README.md has the measured times.
QUICK_REFINER = dataclasses.replace(
    cfg.with_overrides(
        cfg.GAZE_QUICK,
        pretrain_r_steps=100,  # L1-only pretraining reaches ~identity within ~100 steps
        pretrain_d_steps=30,
        # The paper's advice: a low learning rate and many steps. 2000 adversarial iterations is
        # the ceiling; the realism rule (refiner_* below) usually stops earlier.
        steps=2000,
        learning_rate=0.0002,
        buffer_size=1600,  # 50 batches (the TF1 default's ratio): full after 100 D steps, so it matters
        checkpoint_every=50,
        log_every=10,
    ),
    name="gaze_quick_experiment",
    # 16 filters (gaze_quick: 32, paper: 64): cheaper per image, so three refiners a seed get
    # more adversarial iterations within the same CPU budget.
    refiner=dataclasses.replace(cfg.GAZE_QUICK.refiner, filters=16),
)

# A smaller gaze CNN than the paper's (half the conv widths, FC 256): it trains ~4x faster
# per image here and converges to about the same error on the oracle row (docs/results).
QUICK_ESTIMATOR = dataclasses.replace(
    cfg.GAZE_QUICK.gaze_estimator,
    layers=(cfg.LayerSpec("conv", 3, 1, 16), cfg.LayerSpec("conv", 3, 1, 16), cfg.LayerSpec("conv", 3, 1, 32),
            cfg.LayerSpec("maxpool", 3, 2), cfg.LayerSpec("conv", 3, 1, 40), cfg.LayerSpec("conv", 3, 1, 96),
            cfg.LayerSpec("maxpool", 2, 2)),
    dense_units=(256,),
    batch_size=32,  # paper 512: at a fixed image budget, more updates
)

QUICK = ExperimentSettings(
    name="quick",
    refiner=QUICK_REFINER,
    estimator=QUICK_ESTIMATOR,
    train_images=1000,  # N; the 4x rows get 4000
    scale_factor=4,
    estimator_steps=4096,  # ceiling; early stopping ends most rows after 500-1500 steps
    real_images=8000,  # unlabeled target images: 7000 for the refiner, 1000 held out for its stopping rule
    test_images=1000,  # first 1000 of camera_labeled/test: mean error to ~0.3 degrees
    # 750 + 750 training images, batch 32, 8 epochs (~375 steps): weaker schedules left even
    # raw synthetic vs camera at ~87% (4 epochs), so the critic would flatter the refiner.
    critic=CriticConfig(epochs=8, batch_size=32, max_images_per_class=1000),
    pupil_images=500,
    seeds=5,
    estimator_eval_every=64,
    estimator_patience=5,
    refiner_patience=4,
    refiner_min_delta=1.0,
    refiner_check_every=100,
    refiner_min_steps=300,
    notes={
        "refiner": "gaze_quick layout (reflect padding) with 16 filters, 100 + 30 pretraining, at most 2000 "
                   "adversarial steps at lr 0.0002 (stopped by the held-out realism rule), buffer 1600",
        "estimator": "smaller than the paper's CNN (convs 16-16-32-40-96, FC 256), batch 32; early stopping "
                     "on a held-out tenth of each row's own training images, at most 4096 steps",
        "estimator_size": "smaller than the paper's: convs 16-16-32 / 40-96, FC 256",
        "train_images": "N = 1000, 4x = 4000 (paper: 4x = four times the data)",
    },
)

# paper: the paper's batch sizes (estimator 512) and the paper preset's refiner schedule,
# for a GPU. N = 10k so the 4x rows use all 40k simulator training images.
PAPER = ExperimentSettings(
    name="paper",
    refiner=cfg.GAZE_PAPER,
    estimator=cfg.GAZE_PAPER.gaze_estimator,
    train_images=10_000,
    scale_factor=4,
    estimator_steps=8000,  # ceiling (~100 epochs of the 4x set at batch 512); early stopping ends sooner
    real_images=20_000,
    test_images=None,
    critic=CriticConfig(epochs=10, max_images_per_class=2000),
    pupil_images=2000,
    seeds=5,
    estimator_eval_every=200,
    refiner_check_every=500,
    refiner_min_steps=2000,
    refiner_heldout_real=2000,
    refiner_heldout_synthetic=2000,
    notes={
        "refiner": "gaze_paper preset: paper architecture, pretraining, K_g/K_d, lr; batch 512 (TF1 default)",
        "estimator": "paper architecture, lr 0.001, batch 512",
        "train_images": "N = 10k, 4x = 40k = the whole simulator training split",
    },
)

# smoke: a few dozen images and a handful of steps with tiny networks; exercises every code
# path (all rows, ablations, critic, pupil fit, report) in about a minute for the tests.
def tiny_refiner(base: cfg.Preset, name: str, **changes: Any) -> cfg.Preset:
    """`base` with a 4-filter, 1-block R, a 3-layer D and a handful of steps: the smoke presets'
    refiner (gaze and hand), so every code path runs in seconds. `changes` (e.g. image) override."""
    return dataclasses.replace(
        base,
        name=name,
        refiner=cfg.RefinerConfig(filters=4, kernel=3, num_blocks=1),
        discriminator=cfg.DiscriminatorConfig(
            layers=(cfg.LayerSpec("conv", 3, 2, 8), cfg.LayerSpec("conv", 3, 2, 8), cfg.LayerSpec("conv", 1, 1, 2))
        ),
        training=dataclasses.replace(
            base.training,
            steps=2, pretrain_r_steps=2, pretrain_d_steps=1, batch_size=8, buffer_size=16,
            checkpoint_every=2, log_every=1,
        ),
        **changes,
    )


SMOKE_REFINER = tiny_refiner(cfg.GAZE_QUICK, "gaze_smoke")

SMOKE = ExperimentSettings(
    name="smoke",
    refiner=SMOKE_REFINER,
    estimator=cfg.GazeEstimatorConfig(
        layers=(cfg.LayerSpec("conv", 3, 2, 4), cfg.LayerSpec("maxpool", 2, 2), cfg.LayerSpec("conv", 3, 1, 4)),
        dense_units=(8,),
        batch_size=4,
    ),
    train_images=8,
    scale_factor=4,
    estimator_steps=2,
    real_images=32,
    test_images=16,
    critic=CriticConfig(filters=(4,), epochs=1, batch_size=8, max_images_per_class=16),
    pupil_images=8,
    seeds=1,
    estimator_eval_every=1,
    estimator_patience=1,
    refiner_patience=1,
    refiner_check_every=2,
    refiner_heldout_real=8,
    refiner_heldout_synthetic=8,
    notes={"purpose": "tests: every output, tiny everything"},
)

EXPERIMENT_PRESETS: dict[str, ExperimentSettings] = {s.name: s for s in (SMOKE, QUICK, PAPER)}


def get_experiment_settings(name: str) -> ExperimentSettings:
    """Look an experiment size up by name: smoke, quick or paper."""
    try:
        return EXPERIMENT_PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown experiment preset {name!r}; expected one of {sorted(EXPERIMENT_PRESETS)}") from None


__all__ = [
    "EXPERIMENT_PRESETS",
    "ExperimentSettings",
    "StudySettings",
    "PAPER",
    "QUICK",
    "REFINER_VARIANTS",
    "ROWS",
    "SMOKE",
    "get_experiment_settings",
]
