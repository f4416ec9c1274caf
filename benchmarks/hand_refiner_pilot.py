"""Label-free pilot of a hand refiner: what does it draw, and is its tanh saturated there?

Choosing a hand refiner's settings (lambda_reg, psi) must not look at target labels. This
trains (or reads back) one seed's main refiner exactly as the hand experiment does (its
RefinerBank, data, settings and seeds, with the command line's overrides), refines the 3x
training images, and reports figures that need no label:

  silhouette   hand pixels of synthetic / refined / unlabeled target images, pixels drawn as
               hand (the sensor's rim and halo) or erased, mean change on / off the hand;
               a pixel within --margin levels of the background counts as background
               (simgan_tf.joint_preservation.silhouette_change)
  stopping     the realism rule's kept and stopped step, its critic trace
  saturation   d tanh / dz of the refiner's output on background pixels within --band px of
               the hand, on the hand and on the far background (64 synthetic images): a tanh
               driven to the background level (the top of the range) gets almost no gradient
               where a sensor's halo would go
  critic       (--critic) the experiment's fresh realism critic, refined and raw synthetic vs
               the unlabeled target images

    python benchmarks/hand_refiner_pilot.py --target sensor_v4 --lambda-reg 0.005 \\
        --work /tmp/pilot_l0.005 --out docs/results/hands/v4_pilot_lambda0.005.json \\
        --samples docs/results/hands/v4_pilot_lambda0.005_samples.png --critic

--work is the seed folder the refiner trains into (resumable; refined.npy is read back when
present), so pointing it at an experiment's seed_N folder measures that run's refiner without
training anything. Results and timings: docs/results/hands/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from simgan_tf.config import PSI_NAMES  # noqa: E402
from simgan_tf.experiments.hand_settings import HAND_EXPERIMENT_PRESETS, get_hand_settings  # noqa: E402
from simgan_tf.experiments.hand_sources import DEFAULT_TARGET, TARGETS  # noqa: E402


def tanh_saturation(refiner, synthetic: np.ndarray, band_px: float) -> dict[str, float]:
    """Median d tanh / dz of the refiner's output by region of the synthetic image."""
    import keras
    from scipy import ndimage

    from simgan_tf import data

    tanh = next(layer for layer in refiner.layers if layer.name.endswith("_tanh"))
    pre_tanh = keras.Model(refiner.inputs, tanh.input)
    z = np.asarray(pre_tanh(data.to_model_range(synthetic), training=False), np.float64)[..., 0]
    slope = 1.0 - np.tanh(z) ** 2
    hand = synthetic[..., 0] < np.iinfo(synthetic.dtype).max
    distance = np.stack([ndimage.distance_transform_edt(~h) for h in hand])  # 0 on the hand
    band = ~hand & (distance <= band_px)
    far = ~hand & (distance > band_px)
    return {
        "band_px": band_px,
        "median_dtanh_band": float(np.median(slope[band])),
        "median_dtanh_hand": float(np.median(slope[hand])),
        "median_dtanh_far_background": float(np.median(slope[far])),
        "median_pre_tanh_band": float(np.median(z[band])),
        "band_share": float(band.mean()),
        "num_images": int(len(synthetic)),
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--target", default=DEFAULT_TARGET, choices=sorted(TARGETS), help="the hand experiment's --target")
    p.add_argument("--preset", default="quick", choices=list(HAND_EXPERIMENT_PRESETS), help="the hand experiment's size")
    p.add_argument("--seed", type=int, default=0, help="the experiment seed whose main refiner is piloted")
    p.add_argument("--lambda-reg", type=float, help="self-regularisation weight (default: the preset's)")
    p.add_argument("--psi", choices=PSI_NAMES, help="self-regularisation feature map (default: the preset's)")
    p.add_argument("--learning-rate", type=float, help="refiner learning rate (default: the preset's)")
    p.add_argument("--refiner-steps", type=int, help="adversarial iterations, a ceiling (default: the preset's)")
    p.add_argument("--work", required=True, help="seed folder the refiner trains into (resumable)")
    p.add_argument("--out", required=True, help="JSON file for the figures")
    p.add_argument("--samples", help="PNG grid: synthetic | refined | unpaired unlabeled target")
    p.add_argument("--critic", action="store_true", help="also train the experiment's fresh critic (~2-4 min)")
    p.add_argument("--band", type=float, default=6.0, help="background pixels within this many px of the hand")
    p.add_argument("--margin", type=int, default=8,
                   help="levels short of the background that still count as background (silhouette_change)")
    p.add_argument("--data-dir", help="where TFDS stores prepared datasets")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from simgan_tf.critic import critic_accuracy
    from simgan_tf.experiments.common import Progress, RefinerBank, with_refiner_overrides
    from simgan_tf.experiments.hand_sources import HandSourceSpec, load_hand_data
    from simgan_tf.experiments.layout import REFINER_DIR
    from simgan_tf.joint_preservation import silhouette_change
    from simgan_tf.run_io import STOPPING_FILE, load_refiner, write_json_atomic
    from simgan_tf.viz import save_image_rows

    settings = with_refiner_overrides(get_hand_settings(args.preset), lambda_reg=args.lambda_reg, psi=args.psi,
                                      learning_rate=args.learning_rate, steps=args.refiner_steps)
    log, started = Progress(True), time.time()
    n_scaled = settings.train_images * settings.scale_factor
    # Labeled target splits are loaded (one at a time is the loader's unit) but never read here.
    d = load_hand_data(HandSourceSpec(target=args.target, data_dir=args.data_dir), settings.refiner.image,
                       n_scaled, settings.real_images, 1, 1)
    work = Path(args.work)
    bank = RefinerBank(settings, args.seed, work, d.synthetic, d.real, log, f"pilot seed {args.seed}")
    refined = bank("main", n_scaled)
    run_dir = work / REFINER_DIR / "main"
    stopping = json.loads((run_dir / STOPPING_FILE).read_text())
    refiner, _, kept_step = load_refiner(run_dir)
    t = settings.refiner.training
    result = {
        "target": args.target, "preset": args.preset, "seed": args.seed, "lambda_reg": t.lambda_reg, "psi": t.psi,
        "learning_rate": t.learning_rate, "kept_step": kept_step,
        "silhouette": silhouette_change(d.synthetic[:n_scaled], refined, d.real, args.margin),
        "stopped": stopping.get("stopped"),
        "trace_critic_pct": [entry["critic_accuracy_pct"] for entry in stopping.get("trace", [])],
        "saturation": tanh_saturation(refiner, d.synthetic[:64], args.band),
    }
    if args.critic:
        log("fresh critic: refined vs unlabeled target, synthetic vs unlabeled target")
        image = settings.refiner.image
        result["critic"] = {
            "refined_vs_real": critic_accuracy(d.real, refined, image, settings.critic, args.seed),
            "synthetic_vs_real": critic_accuracy(d.real, d.synthetic[:n_scaled], image, settings.critic, args.seed),
        }
    if args.samples:
        save_image_rows(args.samples, [d.synthetic[:8], refined[:8], d.real[-8:]],
                        ["synthetic", "refined", "target (unpaired)"],
                        title=f"{args.target}, lambda {t.lambda_reg}, psi {t.psi}, seed {args.seed}")
    result["wall_seconds"] = round(time.time() - started, 1)
    write_json_atomic(Path(args.out), result)
    shape = result["silhouette"]
    log(f"hand pixels: synthetic {100 * shape['hand_share_synthetic']:.1f} %, refined "
        f"{100 * shape['hand_share_refined']:.1f} %, target {100 * shape['hand_share_target']:.1f} %; drawn "
        f"{100 * shape['drawn_share']:.1f} %; d tanh/dz median on the {args.band:g}-px band "
        f"{result['saturation']['median_dtanh_band']:.4f} (hand {result['saturation']['median_dtanh_hand']:.2f}); "
        f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
