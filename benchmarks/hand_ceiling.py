"""How far could a refiner take the hand experiment? Re-image the synthetic hands and see.

The hand experiment's refined rows train on R(synthetic). Here R is replaced by imaging
processes we control: N hands rendered from procedural_hands/synthetic[train]'s seed (the
split's hands; TFDS stores them in another order, so not the experiment's first N) are
imaged cleanly and by the target sensor, with and without its per-image randomness (same
geometry and joints in every row), and the experiment's estimator (same settings, same
seeds, same test split) is trained on each:

  simulator      the clean renders: the experiment's `synthetic` row
  sensor         the target sensor with all its randomness: a perfect refiner
  sensor_fixed   the sensor with every random draw at its middle (compare_nyu.HeldFixed): one
                 clean render, one output, the most a deterministic refiner R(x) could draw
  oracle         labeled target images (the experiment's `real` row)

    python benchmarks/hand_ceiling.py --target sensor_v2 --seeds 0 1 2 --out docs/results/hands/sensor_v2_ceiling.json

The JSON gets per row the % of joints within 5 px (224 x 224 crop) and the mean error per
seed, the gap (simulator vs oracle mean error, ratio) and the share of it `sensor_fixed`
recovers: a pair worth running the experiment on has a gap (ratio >= 1.3) that a
deterministic refiner can mostly close.

--critic-seeds adds the experiment's realism critic (its settings, held-out accuracy, 50 % =
indistinguishable): unlabeled target images vs each imaged row. A refiner learns only what a
discriminator can see, so a pair also needs a critic that tells the simulator from the target
(the gaze goal asks >= 90 %) and much less so the target from itself.

    python benchmarks/hand_ceiling.py --target sensor_v3 --seeds --critic-seeds 0 1 2 --out docs/results/hands/sensor_v3_critic.json
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

from simgan_tf.critic import critic_accuracy  # noqa: E402
from simgan_tf.estimators.hand import scale_joints  # noqa: E402
from simgan_tf.experiments.hand import train_and_evaluate  # noqa: E402
from simgan_tf.experiments.hand_settings import get_hand_settings  # noqa: E402
from simgan_tf.experiments.hand_sources import TARGETS, HandSourceSpec, load_hand_data  # noqa: E402
from simgan_tf.run_io import write_json_atomic  # noqa: E402
from tfds_builders.procedural_hands import procedural_hands_dataset_builder as phb  # noqa: E402
from tfds_builders.procedural_hands import render  # noqa: E402
from tfds_builders.procedural_hands.compare_nyu import HeldFixed  # noqa: E402

ROWS = ("simulator", "sensor", "sensor_fixed", "oracle")


def imaged_synthetic(sensor: str, count: int, size: int) -> dict[str, np.ndarray]:
    """The first `count` hands of procedural_hands/synthetic[train], imaged three ways, at `size`."""
    seed = phb.SPLIT_SEEDS[("synthetic", "train")]
    out: dict[str, list[np.ndarray]] = {"simulator": [], "sensor": [], "sensor_fixed": [], "joints": []}
    for b in range(-(-count // phb.RENDER_BATCH)):
        clean, labels = phb.render_domain_batch(seed, b, "clean")
        noisy, _ = phb.render_domain_batch(seed, b, sensor)
        geometry = np.random.default_rng(np.random.SeedSequence([seed, b]).spawn(2)[0])
        fixed = phb.SENSORS[sensor](render.render_batch(geometry, phb.RENDER_BATCH), HeldFixed())
        for key, images in (("simulator", clean), ("sensor", noisy), ("sensor_fixed", fixed)):
            out[key].append(images)
        out["joints"].append(labels["joints_uvd"][..., :2])
    import tensorflow as tf

    stored = clean.shape[1]
    arrays = {k: np.concatenate(v)[:count] for k, v in out.items()}
    for key in ("simulator", "sensor", "sensor_fixed"):  # the data pipeline's resize (nearest neighbour)
        arrays[key] = tf.image.resize(arrays[key], (size, size), method="nearest").numpy()
    arrays["joints"] = scale_joints(arrays["joints"], stored, size).astype(np.float32)
    return arrays


def summarize(results: dict) -> dict:
    """Means over the seeds measured so far, the gap and the held-fixed share; stored in
    `results["summary"]` at every write, so a killed run's file agrees with its rows."""
    critics = results.get("critic_vs_target_pct", {})
    summary = {f"critic_{row}_pct": float(np.mean(list(v.values()))) for row, v in critics.items() if v}
    for row, seeds in results.get("rows", {}).items():
        if not seeds:
            continue
        errors = [v["mean_error_px"] for v in seeds.values()]
        pck = [v["pck_5px_pct"] for v in seeds.values()]
        summary[row] = {"mean_error_px": float(np.mean(errors)), "pck_5px_pct": float(np.mean(pck)), "seeds": len(errors)}
    if all(r in summary for r in ("simulator", "oracle", "sensor_fixed")):
        s, o, f = (summary[r]["mean_error_px"] for r in ("simulator", "oracle", "sensor_fixed"))
        summary["gap_ratio"] = s / o
        summary["fixed_recovers"] = (s - f) / (s - o) if s != o else None
    results["summary"] = summary
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", default="sensor_v2", choices=[t for t in TARGETS if t != "nyu"])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2],
                        help="estimator seeds (none: critics only)")
    parser.add_argument("--critic-seeds", type=int, nargs="*", default=[],
                        help="also train the experiment's realism critic (unlabeled target vs each row) with these seeds")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    settings = get_hand_settings(args.preset)
    size = settings.refiner.image.height
    n = settings.train_images
    started = time.time()
    d = load_hand_data(HandSourceSpec(target=args.target), settings.refiner.image, 1,
                       settings.real_images if args.critic_seeds else 1, n, settings.test_images)
    sensor = TARGETS[args.target][1].split("/")[1]
    imaged = imaged_synthetic(sensor, n, size)
    rows_data = {"simulator": (imaged["simulator"], imaged["joints"]), "sensor": (imaged["sensor"], imaged["joints"]),
                 "sensor_fixed": (imaged["sensor_fixed"], imaged["joints"]), "oracle": (d.labeled, d.labeled_joints)}
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(out_path.read_text()) if out_path.exists() else {}
    results.update(target=args.target, preset=args.preset, train_images=n, test_images=int(len(d.test)))
    per_row = results.setdefault("rows", {})
    for seed in args.seeds:
        for row in ROWS:
            done = per_row.setdefault(row, {})
            if str(seed) in done:
                continue
            images, joints = rows_data[row]
            r = train_and_evaluate(settings, images, joints, d.test, d.test_joints, seed)
            done[str(seed)] = {k: r[k] for k in ("pck_5px_pct", "mean_error_px", "estimator_steps", "best_step",
                                                 "train_seconds")}
            print(f"seed {seed} {row}: {r['pck_5px_pct']:.1f}% within 5 px, mean {r['mean_error_px']:.2f} px "
                  f"(steps {r['estimator_steps']}, {r['train_seconds']:.0f}s)", flush=True)
            summarize(results)
            write_json_atomic(out_path, results)  # a kill mid-write keeps the pieces measured so far
    critics = results.setdefault("critic_vs_target_pct", {})
    for row in ("simulator", "sensor", "sensor_fixed"):
        for seed in args.critic_seeds:
            done = critics.setdefault(row, {})
            if str(seed) in done:
                continue
            done[str(seed)] = critic_accuracy(d.real, rows_data[row][0], settings.refiner.image, settings.critic,
                                              seed)["accuracy_pct"]
            print(f"critic seed {seed}: target vs {row} {done[str(seed)]:.1f}% held-out accuracy", flush=True)
            summarize(results)
            write_json_atomic(out_path, results)
    summary = summarize(results)
    results["wall_seconds_last_invocation"] = round(time.time() - started, 1)
    results["command"] = "python benchmarks/hand_ceiling.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_json_atomic(out_path, results)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
