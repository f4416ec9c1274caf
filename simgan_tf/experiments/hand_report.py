"""The hand experiment's results.json, table.md and curves.png, from the shared report code.

results.json: rows.<row>.mean_error_px / pck_5px_pct: {mean, std, per_seed} (errors in pixels
of the 224 x 224 crop whatever the resolution); comparisons (paired over seeds, 95 %
t-intervals), gap_recovered (of the mean error, synthetic -> real), critic_accuracy (percent),
joint_depth_change (label preservation), silhouette_change (hand pixels drawn /
erased, label-free), refiner_stopping, seeds, preset, wall_seconds, details.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from simgan_tf.experiments.hand_settings import HAND_ROWS, HandExperimentSettings
from simgan_tf.experiments.layout import CURVES_FILE, RESULTS_FILE, ROW_DIR, TABLE_FILE
from simgan_tf.experiments.report import (
    ReportSpec,
    fmt_mean_std,
    read_json,
    collect,
    cumulative_curves,
    plot_curves,
    verdict_lines,
    wall_time_line,
)
from simgan_tf.intervals import t_interval
from simgan_tf.run_io import write_json_atomic

JOINT_DEPTH_FILE = "joint_depth_change.json"  # seed_N/: label preservation of the main refiner
SILHOUETTE_KEYS = ("hand_share_synthetic", "hand_share_refined", "hand_share_target", "drawn_share", "erased_share")

HAND_ROW_LABELS = {
    "synthetic": "Synthetic data",
    "refined": "Refined data",
    "real": "Real (labeled target) data",
    "synthetic_3x": "Synthetic data 3x",
    "refined_3x": "Refined data 3x",
    "no_history": "Refined, no history buffer (ablation)",
    "global_adversarial": "Refined, global adversarial loss (ablation)",
}
# Shrivastava et al. 2017, Table 4 (NYU hand pose, % within 5 pixels of the 224 x 224 crop).
HAND_PAPER = {
    "synthetic": {"pck_5px_pct": 69.7}, "refined": {"pck_5px_pct": 72.4}, "real": {"pck_5px_pct": 74.5},
    "synthetic_3x": {"pck_5px_pct": 77.7}, "refined_3x": {"pck_5px_pct": 83.3},
}
HAND_COMPARISONS = {
    "refined_vs_synthetic": ("refined", "synthetic"),
    "refined_3x_vs_synthetic_3x": ("refined_3x", "synthetic_3x"),
    "refined_3x_vs_real": ("refined_3x", "real"),
    "history_vs_no_history": ("refined", "no_history"),
    "local_vs_global_adversarial": ("refined", "global_adversarial"),
}
HAND_COMPARISON_LABELS = {
    "refined_vs_synthetic": "refined vs synthetic",
    "refined_3x_vs_synthetic_3x": "refined 3x vs synthetic 3x",
    "refined_3x_vs_real": "refined 3x vs real",
    "history_vs_no_history": "history buffer vs none (both refined)",
    "local_vs_global_adversarial": "local vs global adversarial loss (both refined)",
}
HAND = ReportSpec(
    task="hand", rows=HAND_ROWS, row_labels=HAND_ROW_LABELS, error_key="mean_error_px", score_key="pck_5px_pct",
    error_gain_key="error_reduction_px", score_gain_key="pck_5px_gain_pct", error_unit="px",
    score_label="% joints within 5 px", comparisons=HAND_COMPARISONS, comparison_labels=HAND_COMPARISON_LABELS,
    reference_row="real", curve_key="errors_px", curve_xlabel="joint error d (pixels of the 224 x 224 crop)",
    curve_marker=5.0, paper=HAND_PAPER, paper_source="Shrivastava et al. 2017, Table 4, on NYU",
)


def aggregate(out_dir: str | Path, settings: HandExperimentSettings, seeds: list[int], wall_seconds: float,
              extra_details: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read every seed's row / label-preservation / critic files: the results dictionary."""
    out_dir = Path(out_dir)
    results = collect(out_dir, settings, seeds, wall_seconds, HAND, label_file=JOINT_DEPTH_FILE)
    per_seed = [read_json(out_dir / f"seed_{s}" / JOINT_DEPTH_FILE) for s in seeds]
    measured = [p for p in per_seed if p]
    results["joint_depth_change"] = {
        key: t_interval([p[key] for p in measured]) if measured and all(p[key] is not None for p in measured) else None
        for key in ("mean_levels", "mean_mm", "joints_lost_pct", "silhouette_iou")
    }
    # Label-free shape figures (joint_preservation.silhouette_change); seeds measured before the
    # runner recorded them have none, and the intervals cover the seeds that do.
    shapes = [p["silhouette"] for p in measured if p.get("silhouette")]
    results["silhouette_change"] = None
    if shapes:
        results["silhouette_change"] = {key: t_interval([shape[key] for shape in shapes]) for key in SILHOUETTE_KEYS}
        results["silhouette_change"]["seeds_measured"] = len(shapes)
    results["details"].update({
        "threshold_px": settings.threshold_px,
        "crop_px": settings.crop_px,
        "estimator_note": settings.notes.get("estimator_size", "paper stacked hourglass"),
        "joint_depth_per_seed": per_seed,
        "paper": {"rows": HAND_PAPER},
        **(extra_details or {}),
    })
    return results


def markdown_table(results: dict[str, Any]) -> str:
    """The paper's Table 4 (plus mean error, ablations and the paired verdicts) as Markdown."""
    details = results["details"]
    n_seeds = len(results["seeds"])
    lines = [
        f"Hand pose on the target test split ({results['preset']} preset, mean ± std over {n_seeds} seed"
        f"{'s' if n_seeds != 1 else ''}; errors in pixels of the {details['crop_px']:g} x {details['crop_px']:g} crop; "
        f"paper: {HAND.paper_source}).",
        "",
        f"| Training data | images | % joints within {details['threshold_px']:g} px | mean joint error (px) "
        "| paper % within 5 px | estimator stopped at (steps, per seed) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in HAND_ROWS:
        paper = HAND_PAPER.get(row, {}).get("pck_5px_pct")
        paper_text = "–" if paper is None else f"{paper:g}"
        if row not in results["rows"]:
            lines.append(f"| {HAND_ROW_LABELS[row]} | – | n/a | n/a | {paper_text} | – |")
            continue
        r = results["rows"][row]
        stops = details["rows"][row].get("best_step") or []
        stops_text = ", ".join(str(v) for v in stops) if stops and all(v is not None for v in stops) else "–"
        lines.append(f"| {HAND_ROW_LABELS[row]} | {details['rows'][row]['train_images']} | {fmt_mean_std(r['pck_5px_pct'])} "
                     f"| {fmt_mean_std(r['mean_error_px'], 2)} | {paper_text} | {stops_text} |")
    lines += verdict_lines(results, HAND)
    critic_ci, joints = results.get("critic_accuracy_ci") or {}, results.get("joint_depth_change") or {}

    def ci(stats: dict[str, Any] | None, digits: int = 2) -> str:
        if not stats:
            return "n/a"
        if stats.get("ci_low") is None:
            return f"{stats['mean']:.{digits}f}"
        return f"{stats['mean']:.{digits}f} [{stats['ci_low']:.{digits}f}, {stats['ci_high']:.{digits}f}]"

    lines += [
        "",
        "| Label preservation and realism (mean [95 % CI] over seeds) | ours |",
        "|---|---:|",
        f"| Depth change at the joints, synthetic → refined (levels) | {ci(joints.get('mean_levels'))} |",
        f"| the same in mm | {ci(joints.get('mean_mm'))} |",
        f"| Joints on the hand that refinement turned into background (%) | {ci(joints.get('joints_lost_pct'))} |",
        f"| Silhouette IoU, synthetic vs refined | {ci(joints.get('silhouette_iou'), 3)} |",
        f"| Critic accuracy, refined vs real (%; 50 = indistinguishable) | {ci(critic_ci.get('refined_vs_real'), 1)} |",
        f"| Critic accuracy, synthetic vs real (%) | {ci(critic_ci.get('synthetic_vs_real'), 1)} |",
    ]
    shape = results.get("silhouette_change")
    if shape:
        pct = {k: {**v, **{b: None if v[b] is None else 100 * v[b] for b in ("mean", "ci_low", "ci_high")}}
               for k, v in shape.items() if isinstance(v, dict)}
        lines += [
            f"| Hand pixels, synthetic / refined / unlabeled real (%; {shape['seeds_measured']} seed(s)) | "
            f"{ci(pct['hand_share_synthetic'], 1)} / {ci(pct['hand_share_refined'], 1)} / {ci(pct['hand_share_target'], 1)} |",
            f"| Pixels drawn as hand / erased to background by refinement (%) | "
            f"{ci(pct['drawn_share'], 1)} / {ci(pct['erased_share'], 1)} |",
        ]
    lines += [
        "",
        f"Estimators: stacked hourglass ({details.get('estimator_note')}), batch {details['estimator_batch_size']}, "
        f"trained until the heatmap loss on a held-out tenth of the row's own training images stopped improving "
        f"(at most {details['estimator_steps']} steps; the column gives the step whose weights were kept); "
        f"1x = {details['train_images_1x']} images, 3x = {details['train_images_1x'] * details['scale_factor']}. "
        f"Refiner: {details['refiner_preset']}, " + ", ".join(f"{k} {v}" for k, v in details["refiner_training"].items()) + ".",
        wall_time_line(results),
    ]
    if details["missing"]:
        lines.append(f"Missing (not run yet): {', '.join(details['missing'])}.")
    return "\n".join(lines) + "\n"


def write_outputs(out_dir: str | Path, results: dict[str, Any], settings: HandExperimentSettings) -> None:
    """results.json, table.md and curves.png (the paper's Fig. 9) into `out_dir`."""
    out_dir = Path(out_dir)
    write_json_atomic(out_dir / RESULTS_FILE, results)
    (out_dir / TABLE_FILE).write_text(markdown_table(results))
    curves = cumulative_curves(out_dir, results["seeds"], settings, HAND, max_error=settings.curve_max_px)
    n = len(results["seeds"])
    plot_curves(out_dir / CURVES_FILE, curves,
                f"Hand joint error on the target test split ({results['preset']}, {n} seed{'s' if n != 1 else ''}; "
                "band = ±1 std)", HAND)


def per_row_errors(out_dir: str | Path, seed: int, row: str) -> np.ndarray | None:
    """A row's per-joint errors (pixels of the 224 crop) of one seed, or None if not run."""
    stored = read_json(Path(out_dir) / f"seed_{seed}" / ROW_DIR / f"{row}.json")
    return None if stored is None else np.asarray(stored["errors_px"], dtype=np.float64)


__all__ = ["HAND", "HAND_PAPER", "HAND_ROW_LABELS", "JOINT_DEPTH_FILE", "aggregate", "markdown_table",
           "per_row_errors", "write_outputs"]
