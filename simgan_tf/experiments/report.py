"""Collect the per-seed files of an experiment into results.json, table.md and curves.png.

One report for both experiments: a `ReportSpec` names the rows, the two per-row figures (an
error, lower is better, and a score, higher is better), the paired comparisons, the labeled-
target reference row and the paper's numbers; `GAZE` is the gaze experiment's, the hand
experiment defines its own. For the gaze experiment:

results.json is read by other tools; its shape is fixed:
  rows.<row>.mean_error_deg / within_7_deg_pct: {mean, std, per_seed}
  pupil_displacement_px: {mean, std}; critic_accuracy: {refined_vs_real, synthetic_vs_real}
  seeds, preset, wall_seconds
Everything else (sizes, skipped rows, per-seed critic and pupil figures, paper numbers) is
under "details". Spreads are sample standard deviations over seeds (ddof=1; 0 for one seed).
Critic accuracies are percentages (50 = indistinguishable), averaged over seeds.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simgan_tf.experiments.layout import (
    CRITIC_FILE,
    CURVES_FILE,
    PUPIL_FILE,
    REFINER_DIR,
    RESULTS_FILE,
    ROW_DIR,
    TABLE_FILE,
)
from simgan_tf.experiments.settings import REFINER_VARIANTS, ROWS, ExperimentSettings
from simgan_tf.intervals import gap_recovered, paired_difference, t_interval
from simgan_tf.label_preservation import JUMP_PX, displacement_summary
from simgan_tf.metrics import cumulative_error_curve
from simgan_tf.run_io import STOPPING_FILE, write_json_atomic

ROW_LABELS = {
    "synthetic": "Synthetic data",
    "synthetic_4x": "Synthetic data 4x",
    "refined": "Refined data",
    "refined_4x": "Refined data 4x",
    "oracle": "Oracle: labeled target data (reference)",
    "no_history": "Refined, no history buffer (ablation)",
    "global_adversarial": "Refined, global adversarial loss (ablation)",
}
# Shrivastava et al. 2017 on MPIIGaze: Table 2 (% within 7 degrees), Table 3 and Sec. 4.2
# (mean angular error; the paper gives 11.2 synthetic vs 7.8 refined, 12.2 without history).
PAPER = {
    "synthetic": {"within_7_deg_pct": 62.3, "mean_error_deg": 11.2},
    "synthetic_4x": {"within_7_deg_pct": 64.9},
    "refined": {"within_7_deg_pct": 69.4, "mean_error_deg": 7.8},
    "refined_4x": {"within_7_deg_pct": 87.2},
    "no_history": {"mean_error_deg": 12.2},
}
PAPER_PUPIL_PX = (1.1, 0.8)
PAPER_HUMAN_PCT = {"refined_vs_real": 51.7, "synthetic_vs_real": 81.0}
# Verdicts: (candidate row, baseline row). Differences are signed so that > 0 means the
# candidate is better: baseline error - candidate error, candidate % - baseline %.
COMPARISONS = {
    "refined_vs_synthetic": ("refined", "synthetic"),
    "refined_4x_vs_synthetic_4x": ("refined_4x", "synthetic_4x"),
    "history_vs_no_history": ("refined", "no_history"),
    "local_vs_global_adversarial": ("refined", "global_adversarial"),
}
COMPARISON_LABELS = {
    "refined_vs_synthetic": "refined vs synthetic",
    "refined_4x_vs_synthetic_4x": "refined 4x vs synthetic 4x",
    "history_vs_no_history": "history buffer vs none (both refined)",
    "local_vs_global_adversarial": "local vs global adversarial loss (both refined)",
}


@dataclass(frozen=True)
class ReportSpec:
    """What a results table is made of; the per-row JSON files carry `error_key`, `score_key`
    and `curve_key` (per-test-item errors for the cumulative curve)."""

    task: str
    rows: tuple[str, ...]
    row_labels: dict[str, str]
    error_key: str  # lower is better, e.g. mean_error_deg
    score_key: str  # higher is better, e.g. within_7_deg_pct
    error_gain_key: str  # name of the paired error reduction in results.json
    score_gain_key: str  # name of the paired score gain
    error_unit: str  # shown after error figures
    score_label: str  # column title of the score
    comparisons: dict[str, tuple[str, str]]
    comparison_labels: dict[str, str]
    reference_row: str  # labeled target data: the gap's far end
    curve_key: str
    curve_xlabel: str
    curve_marker: float  # vertical line on the curve plot (the paper's threshold)
    paper: dict[str, dict[str, float]]
    paper_source: str


GAZE = ReportSpec(
    task="gaze", rows=ROWS, row_labels=ROW_LABELS, error_key="mean_error_deg", score_key="within_7_deg_pct",
    error_gain_key="error_reduction_deg", score_gain_key="within_7_gain_pct", error_unit="°",
    score_label="% within 7°", comparisons=COMPARISONS, comparison_labels=COMPARISON_LABELS,
    reference_row="oracle", curve_key="errors_deg", curve_xlabel="angular error d (degrees)", curve_marker=7.0,
    paper=PAPER, paper_source="Shrivastava et al. 2017 on MPIIGaze",
)


def comparisons(rows: dict[str, Any], spec: ReportSpec = GAZE) -> dict[str, Any]:
    """Paired per-seed differences (95 % t-intervals) for every comparison whose rows exist."""
    out = {}
    for name, (candidate, baseline) in spec.comparisons.items():
        if candidate not in rows or baseline not in rows:
            continue
        c, b = rows[candidate], rows[baseline]
        out[name] = {
            "candidate": candidate, "baseline": baseline,
            spec.error_gain_key: paired_difference(b[spec.error_key]["per_seed"], c[spec.error_key]["per_seed"]),
            spec.score_gain_key: paired_difference(c[spec.score_key]["per_seed"], b[spec.score_key]["per_seed"]),
        }
    return out


def gap_recovered_of(rows: dict[str, Any], spec: ReportSpec = GAZE) -> dict[str, Any] | None:
    """(synthetic - refined) / (synthetic - reference) of the mean error, with Fieller's interval."""
    names = ("synthetic", "refined", spec.reference_row)
    if not all(r in rows for r in names):
        return None
    per = [rows[r][spec.error_key]["per_seed"] for r in names]
    return gap_recovered(*per)


def _stats(values: list[float]) -> dict[str, Any]:
    arr = np.asarray(values, dtype=np.float64)
    return {
        "mean": float(arr.mean()),
        "std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
        "per_seed": [float(v) for v in arr],
    }


def read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def collect(
    out_dir: str | Path,
    settings: Any,
    seeds: list[int],
    wall_seconds: float,
    spec: ReportSpec,
    skipped: dict[str, str] | None = None,
    label_file: str | None = None,
) -> dict[str, Any]:
    """The part of results.json every experiment shares: rows (error and score, mean, std and
    per seed), paired comparisons, gap recovered, critic, refiner stopping, piece times."""
    from simgan_tf.run_io import psi_record  # TensorFlow-importing; only a finished run's report needs it

    out_dir = Path(out_dir)
    rows: dict[str, Any] = {}
    row_details: dict[str, Any] = {}
    missing: list[str] = []
    for row in spec.rows:
        per_seed = [read_json(out_dir / f"seed_{s}" / ROW_DIR / f"{row}.json") for s in seeds]
        if any(r is None for r in per_seed):
            missing += [f"seed_{s}/{row}" for s, r in zip(seeds, per_seed) if r is None]
            continue
        rows[row] = {metric: _stats([r[metric] for r in per_seed]) for metric in (spec.error_key, spec.score_key)}
        median_key = spec.error_key.replace("mean_", "median_")
        row_details[row] = {
            "train_images": per_seed[0]["train_images"],
            "num_test": per_seed[0]["num_test"],
            median_key: _stats([r[median_key] for r in per_seed]),
            "estimator_steps": [r.get("estimator_steps") for r in per_seed],
            "best_step": [r.get("best_step") for r in per_seed],
            "stop_reason": [r.get("stop_reason") for r in per_seed],
        }
    critics = [read_json(out_dir / f"seed_{s}" / CRITIC_FILE) for s in seeds]
    critic = {
        key: float(np.mean([c[key]["accuracy_pct"] for c in critics if c])) if any(critics) else float("nan")
        for key in ("refined_vs_real", "synthetic_vs_real")
    }
    critic_ci = {key: t_interval([c[key]["accuracy_pct"] for c in critics if c])
                 for key in ("refined_vs_real", "synthetic_vs_real") if any(critics)}
    t = settings.refiner.training
    return {
        "rows": rows,
        "comparisons": comparisons(rows, spec),
        "gap_recovered": gap_recovered_of(rows, spec),
        "critic_accuracy": critic,
        "critic_accuracy_ci": critic_ci,
        "refiner_stopping": refiner_stopping(out_dir, seeds),
        "seeds": list(seeds),
        "preset": settings.name,
        "wall_seconds": round(float(wall_seconds), 1),
        "details": {
            "rows": row_details,
            "missing": missing,
            "skipped": dict(skipped or {}),
            "train_images_1x": settings.train_images,
            "scale_factor": settings.scale_factor,
            "estimator_steps": settings.estimator_steps,
            "estimator_early_stopping": {
                "eval_every": settings.estimator_eval_every, "patience": settings.estimator_patience,
                "validation_fraction": settings.estimator_validation_fraction,
            },
            "estimator_batch_size": settings.estimator.batch_size,
            "refiner_preset": settings.refiner.name,
            "refiner_training": {
                **{k: getattr(t, k) for k in ("pretrain_r_steps", "pretrain_d_steps", "steps", "batch_size",
                                              "lambda_reg", "learning_rate", "buffer_size", "k_g", "k_d")},
                "psi": psi_record(t.psi),
            },
            "critic_per_seed": critics,
            "critic_accuracy_unit": "percent held-out accuracy (50 = indistinguishable)",
            "std": "sample standard deviation over seeds (ddof=1), 0 for one seed",
            "wall_seconds_note": "wall time of the invocation that wrote this file (a resumed run counts only its own part); "
                                 "piece_seconds sums the recorded time of every piece, whichever invocation ran it",
            "piece_seconds": _piece_seconds(out_dir, seeds, label_file),
        },
    }


def aggregate(
    out_dir: str | Path,
    settings: ExperimentSettings,
    seeds: list[int],
    wall_seconds: float,
    skipped: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Read every seed's row / pupil / critic files of a gaze experiment: the results dictionary."""
    out_dir = Path(out_dir)
    results = collect(out_dir, settings, seeds, wall_seconds, GAZE, skipped, PUPIL_FILE)
    pupils = [read_json(out_dir / f"seed_{s}" / PUPIL_FILE) for s in seeds]
    displacements = np.concatenate([np.asarray(p["displacements_px"]) for p in pupils if p] or [np.zeros(0)])
    # mean and std as before; median and jumps_pct beside them (a few fits that jump dominate the mean)
    results["pupil_displacement_px"] = displacement_summary(displacements)
    pupil_per_seed = [
        {"num_measured": p["num_measured"], "num_images": p["num_images"], **displacement_summary(p["displacements_px"]),
         **({"fit_error_px": p["fit_error_px"]} if "fit_error_px" in p else {})} if p else None
        for p in pupils
    ]
    pupil_seed_means = [summary["mean"] for p, summary in zip(pupils, pupil_per_seed) if p and p["displacements_px"]]
    results["pupil_displacement_px_ci"] = t_interval(pupil_seed_means) if pupil_seed_means else None
    details = results["details"]
    details.update({
        "threshold_deg": settings.threshold_deg,
        "estimator_note": settings.notes.get("estimator_size", "paper architecture"),
        "pupil_per_seed": pupil_per_seed,
        "paper": {"rows": PAPER, "pupil_displacement_px": PAPER_PUPIL_PX, "human_pct": PAPER_HUMAN_PCT},
    })
    details["std"] += "; pupil std is over images"
    return results


def wall_time_line(results: dict[str, Any]) -> str:
    """A resumed run's last invocation may only have aggregated: give the pieces' total beside it."""
    pieces = results.get("details", {}).get("piece_seconds", {}).get("total")
    line = f"Wall time: {results['wall_seconds'] / 60:.1f} min (this invocation)"
    return line + (f"; all pieces, whichever invocation ran them: {pieces / 60:.1f} min." if pieces else ".")


def refiner_stopping(out_dir: Path, seeds: list[int]) -> dict[str, list]:
    """variant -> per seed: when and why its refiner stopped (from its stopping.json)."""
    out: dict[str, list] = {}
    for variant in REFINER_VARIANTS:
        entries = []
        for s in seeds:
            stored = read_json(out_dir / f"seed_{s}" / REFINER_DIR / variant / STOPPING_FILE)
            if stored is None:
                entries.append(None)
                continue
            trace = stored.get("trace", [])
            entries.append({"stopped": stored.get("stopped"), "checks": len(trace),
                            "last": trace[-1] if trace else None})
        if any(entries):
            out[variant] = entries
    return out


def _piece_seconds(out_dir: Path, seeds: list[int], label_file: str | None = PUPIL_FILE) -> dict[str, float]:
    """Recorded seconds of every finished piece (refiners, estimator rows, label preservation, critics)."""

    totals = {"refiners": 0.0, "estimators": 0.0, "label_preservation": 0.0, "critics": 0.0}
    for s in seeds:
        seed_dir = out_dir / f"seed_{s}"
        for timing in sorted((seed_dir / REFINER_DIR).glob("*/timing.json")):
            t = json.loads(timing.read_text())
            totals["refiners"] += t.get("train_seconds", 0.0) + t.get("refine_seconds", 0.0)
        for row in sorted((seed_dir / ROW_DIR).glob("*.json")):
            r = json.loads(row.read_text())
            totals["estimators"] += r.get("wall_seconds", r.get("train_seconds", 0.0))
        for key, name in (("label_preservation", label_file), ("critics", CRITIC_FILE)):
            piece = read_json(seed_dir / name) if name else None
            totals[key] += piece.get("wall_seconds", 0.0) if piece else 0.0
    totals = {k: round(v, 1) for k, v in totals.items()}
    totals["total"] = round(sum(totals.values()), 1)
    return totals


def fmt_mean_std(stats: dict[str, Any] | None, digits: int = 1) -> str:
    if stats is None:
        return "n/a"
    return f"{stats['mean']:.{digits}f} ± {stats['std']:.{digits}f}"


def _paper(row: str, metric: str) -> str:
    value = PAPER.get(row, {}).get(metric)
    return "–" if value is None else f"{value:g}"


def markdown_table(results: dict[str, Any]) -> str:
    """The paper's Table 2 (plus mean error, oracle and ablations) as Markdown."""
    details = results["details"]
    n_seeds = len(results["seeds"])
    threshold = details["threshold_deg"]
    lines = [
        f"Gaze estimation on the target test split ({results['preset']} preset, mean ± std over "
        f"{n_seeds} seed{'s' if n_seeds != 1 else ''}; paper: Shrivastava et al. 2017 on MPIIGaze).",
        "",
        f"| Training data | images | % within {threshold:g}° | mean angular error (°) | paper % within 7° | paper mean error (°) "
        "| estimator stopped at (steps, per seed) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in ROWS:
        if row in results["rows"]:
            r = results["rows"][row]
            size = details["rows"][row]["train_images"]
            stops = details["rows"][row].get("best_step") or []
            stops_text = ", ".join(str(v) for v in stops) if stops and all(v is not None for v in stops) else "–"
            lines.append(f"| {ROW_LABELS[row]} | {size} | {fmt_mean_std(r['within_7_deg_pct'])} | {fmt_mean_std(r['mean_error_deg'], 2)} "
                         f"| {_paper(row, 'within_7_deg_pct')} | {_paper(row, 'mean_error_deg')} | {stops_text} |")
        else:
            reason = details["skipped"].get("oracle" if row == "oracle" else "test", "not run")
            lines.append(f"| {ROW_LABELS[row]} | – | n/a | n/a | {_paper(row, 'within_7_deg_pct')} | "
                         f"{_paper(row, 'mean_error_deg')} | – |")
            if reason != "not run":
                lines[-1] += f" <!-- {reason} -->"
    lines += verdict_lines(results)
    pupil, critic = results["pupil_displacement_px"], results["critic_accuracy"]
    lines += [
        "",
        "| Label preservation and realism | ours | paper |",
        "|---|---:|---:|",
        f"| Pupil-centre displacement, synthetic → refined (px, 55 px wide eye) | {pupil['mean']:.2f} ± {pupil['std']:.2f} "
        f"| {PAPER_PUPIL_PX[0]} ± {PAPER_PUPIL_PX[1]} |",
        f"| the same, median; % of fits that jump > {JUMP_PX:g} px (onto another dark region) "
        f"| {pupil.get('median', float('nan')):.2f}; {pupil.get('jumps_pct', float('nan')):.1f} % | – |",
        f"| Critic accuracy, refined vs real (%; 50 = indistinguishable) | {critic['refined_vs_real']:.1f} "
        f"| {PAPER_HUMAN_PCT['refined_vs_real']} (humans) |",
        f"| Critic accuracy, synthetic vs real (%) | {critic['synthetic_vs_real']:.1f} "
        f"| {PAPER_HUMAN_PCT['synthetic_vs_real']} (humans) |",
        "",
        f"Estimators: the gaze CNN ({details.get('estimator_note', 'paper architecture')}), batch "
        f"{details['estimator_batch_size']}, trained until the loss on a held-out tenth of the row's own "
        f"training images stopped improving (at most {details['estimator_steps']} steps; the column gives the "
        f"step whose weights were kept); 1x = {details['train_images_1x']} images, "
        f"4x = {details['train_images_1x'] * details['scale_factor']}. Refiner: {details['refiner_preset']}, "
        + ", ".join(f"{k} {v}" for k, v in details["refiner_training"].items()) + ".",
        wall_time_line(results),
    ]
    if details["missing"]:
        lines.append(f"Missing (not run yet): {', '.join(details['missing'])}.")
    return "\n".join(lines) + "\n"


def _interval_text(stats: dict[str, Any], digits: int = 2) -> str:
    if stats.get("ci_low") is None:
        return f"{stats['mean']:+.{digits}f} (one seed)"
    return f"{stats['mean']:+.{digits}f} [{stats['ci_low']:+.{digits}f}, {stats['ci_high']:+.{digits}f}]"


def verdict_lines(results: dict[str, Any], spec: ReportSpec = GAZE) -> list[str]:
    """Paired differences over seeds with 95 % intervals, and the gap recovered."""
    comps = results.get("comparisons") or {}
    if not comps:
        return []
    unit = spec.error_unit
    lines = [
        "",
        f"| Paired over seeds (> 0: the first is better) | error reduction ({unit}), mean [95 % CI] "
        f"| {spec.score_label} gain, mean [95 % CI] | reading |",
        "|---|---:|---:|---|",
    ]
    for name, comp in comps.items():
        err, gain = comp[spec.error_gain_key], comp[spec.score_gain_key]
        lines.append(f"| {spec.comparison_labels[name]} | {_interval_text(err)} | {_interval_text(gain, 1)} "
                     f"| error reduction {err['verdict']}, gain {gain['verdict']} |")
    gap = results.get("gap_recovered")
    if gap:
        if gap["bounded"]:
            text = f"{gap['estimate']:.2f} [{gap['ci_low']:.2f}, {gap['ci_high']:.2f}] (Fieller, 95 %)"
        else:
            text = f"{gap['estimate']:.2f} (interval unbounded: the synthetic-{spec.reference_row} gap itself is not resolved)"
        lines += ["", f"Gap recovered, (synthetic - refined) / (synthetic - {spec.reference_row}) of the mean error: "
                      f"{text}; gap synthetic - {spec.reference_row} {_interval_text(gap['gap_deg'])} {unit}."]
    return lines


def cumulative_curves(out_dir: str | Path, seeds: list[int], settings: Any, spec: ReportSpec = GAZE,
                      max_error: float | None = None) -> dict[str, tuple]:
    """row -> (thresholds, mean % curve over seeds, std over seeds), for rows run on every seed."""
    max_error = settings.curve_max_deg if max_error is None else max_error
    curves = {}
    for row in spec.rows:
        per_seed = [read_json(Path(out_dir) / f"seed_{s}" / ROW_DIR / f"{row}.json") for s in seeds]
        if any(r is None for r in per_seed):
            continue
        ys = []
        for r in per_seed:
            x, y = cumulative_error_curve(r[spec.curve_key], max_error, settings.curve_points)
            ys.append(y)
        ys = np.stack(ys)
        curves[row] = (x, ys.mean(axis=0), ys.std(axis=0))
    return curves


CURVE_STYLES = {
    "synthetic": ("tab:blue", "-"), "synthetic_4x": ("tab:blue", "--"), "synthetic_3x": ("tab:blue", "--"),
    "refined": ("tab:red", "-"), "refined_4x": ("tab:red", "--"), "refined_3x": ("tab:red", "--"),
    "oracle": ("black", ":"), "real": ("black", ":"),
    "no_history": ("tab:orange", "-."), "global_adversarial": ("tab:green", "-."),
}


def plot_curves(path: str | Path, curves: dict[str, tuple], title: str, spec: ReportSpec = GAZE) -> Path:
    """The paper's Fig. 7 (gaze) / Fig. 9 (hands): % of test items within error d, per training set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for row, (x, mean, std) in curves.items():
        color, style = CURVE_STYLES.get(row, ("tab:purple", "-"))
        ax.plot(x, mean, linestyle=style, color=color, label=spec.row_labels[row].split(" (")[0])
        ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.12, linewidth=0)
    ax.axvline(spec.curve_marker, color="grey", linewidth=0.6)
    ax.set_xlabel(spec.curve_xlabel)
    ax.set_ylabel("% of test items within d")
    ax.set_xlim(0, max((c[0][-1] for c in curves.values()), default=25))
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_outputs(out_dir: str | Path, results: dict[str, Any], settings: ExperimentSettings) -> None:
    """results.json, table.md and curves.png into `out_dir`."""

    out_dir = Path(out_dir)
    write_json_atomic(out_dir / RESULTS_FILE, results)
    (out_dir / TABLE_FILE).write_text(markdown_table(results))
    curves = cumulative_curves(out_dir, results["seeds"], settings)
    n = len(results["seeds"])
    plot_curves(out_dir / CURVES_FILE, curves,
                f"Gaze error on the target test split ({results['preset']}, {n} seed{'s' if n != 1 else ''}; band = ±1 std)")


__all__ = ["CURVES_FILE", "GAZE", "RESULTS_FILE", "ReportSpec", "TABLE_FILE", "aggregate", "collect", "comparisons",
           "cumulative_curves", "gap_recovered_of", "markdown_table", "plot_curves", "verdict_lines", "write_outputs"]
