"""Collect the per-seed files of a gaze experiment into results.json, table.md and curves.png.

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
METRICS = ("mean_error_deg", "within_7_deg_pct")
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


def comparisons(rows: dict[str, Any]) -> dict[str, Any]:
    """Paired per-seed differences (95 % t-intervals) for every comparison whose rows exist."""
    out = {}
    for name, (candidate, baseline) in COMPARISONS.items():
        if candidate not in rows or baseline not in rows:
            continue
        c, b = rows[candidate], rows[baseline]
        out[name] = {
            "candidate": candidate, "baseline": baseline,
            "error_reduction_deg": paired_difference(b["mean_error_deg"]["per_seed"], c["mean_error_deg"]["per_seed"]),
            "within_7_gain_pct": paired_difference(c["within_7_deg_pct"]["per_seed"], b["within_7_deg_pct"]["per_seed"]),
        }
    return out


def gap_recovered_of(rows: dict[str, Any]) -> dict[str, Any] | None:
    """(synthetic - refined) / (synthetic - oracle) of the mean error, with Fieller's interval."""
    if not all(r in rows for r in ("synthetic", "refined", "oracle")):
        return None
    per = {r: rows[r]["mean_error_deg"]["per_seed"] for r in ("synthetic", "refined", "oracle")}
    return gap_recovered(per["synthetic"], per["refined"], per["oracle"])


def _stats(values: list[float]) -> dict[str, Any]:
    arr = np.asarray(values, dtype=np.float64)
    return {
        "mean": float(arr.mean()),
        "std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
        "per_seed": [float(v) for v in arr],
    }


def _read(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def aggregate(
    out_dir: str | Path,
    settings: ExperimentSettings,
    seeds: list[int],
    wall_seconds: float,
    skipped: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Read every seed's row / pupil / critic files and build the results dictionary."""

    out_dir = Path(out_dir)
    rows: dict[str, Any] = {}
    row_details: dict[str, Any] = {}
    missing: list[str] = []
    for row in ROWS:
        per_seed = [_read(out_dir / f"seed_{s}" / ROW_DIR / f"{row}.json") for s in seeds]
        if any(r is None for r in per_seed):
            missing += [f"seed_{s}/{row}" for s, r in zip(seeds, per_seed) if r is None]
            continue
        rows[row] = {metric: _stats([r[metric] for r in per_seed]) for metric in METRICS}
        row_details[row] = {
            "train_images": per_seed[0]["train_images"],
            "num_test": per_seed[0]["num_test"],
            "median_error_deg": _stats([r["median_error_deg"] for r in per_seed]),
        }

    pupils = [_read(out_dir / f"seed_{s}" / PUPIL_FILE) for s in seeds]
    displacements = np.concatenate([np.asarray(p["displacements_px"]) for p in pupils if p] or [np.zeros(0)])
    pupil = {
        "mean": float(displacements.mean()) if displacements.size else float("nan"),
        "std": float(displacements.std()) if displacements.size else float("nan"),
    }
    critics = [_read(out_dir / f"seed_{s}" / CRITIC_FILE) for s in seeds]
    critic = {
        key: float(np.mean([c[key]["accuracy_pct"] for c in critics if c])) if any(critics) else float("nan")
        for key in ("refined_vs_real", "synthetic_vs_real")
    }
    critic_ci = {key: t_interval([c[key]["accuracy_pct"] for c in critics if c])
                 for key in ("refined_vs_real", "synthetic_vs_real") if any(critics)}
    pupil_seed_means = [float(np.mean(p["displacements_px"])) for p in pupils if p and p["displacements_px"]]
    for row, details in row_details.items():
        per_seed = [_read(out_dir / f"seed_{s}" / ROW_DIR / f"{row}.json") for s in seeds]
        details["estimator_steps"] = [r.get("estimator_steps") for r in per_seed]
        details["best_step"] = [r.get("best_step") for r in per_seed]
        details["stop_reason"] = [r.get("stop_reason") for r in per_seed]
    return {
        "rows": rows,
        "comparisons": comparisons(rows),
        "gap_recovered": gap_recovered_of(rows),
        "critic_accuracy_ci": critic_ci,
        "pupil_displacement_px_ci": t_interval(pupil_seed_means) if pupil_seed_means else None,
        "refiner_stopping": refiner_stopping(out_dir, seeds),
        "pupil_displacement_px": pupil,
        "critic_accuracy": critic,
        "seeds": list(seeds),
        "preset": settings.name,
        "wall_seconds": round(float(wall_seconds), 1),
        "details": {
            "rows": row_details,
            "missing": missing,
            "skipped": dict(skipped or {}),
            "threshold_deg": settings.threshold_deg,
            "train_images_1x": settings.train_images,
            "scale_factor": settings.scale_factor,
            "estimator_steps": settings.estimator_steps,
            "estimator_note": settings.notes.get("estimator_size", "paper architecture"),
            "estimator_early_stopping": {
                "eval_every": settings.estimator_eval_every, "patience": settings.estimator_patience,
                "validation_fraction": settings.estimator_validation_fraction,
            },
            "estimator_batch_size": settings.estimator.batch_size,
            "refiner_preset": settings.refiner.name,
            "refiner_training": {
                k: getattr(settings.refiner.training, k)
                for k in ("pretrain_r_steps", "pretrain_d_steps", "steps", "batch_size", "lambda_reg", "learning_rate", "buffer_size", "k_g", "k_d")
            },
            "pupil_per_seed": [
                {k: p[k] for k in ("mean", "std", "num_measured", "num_images", "fit_error_px") if k in p} if p else None
                for p in pupils
            ],
            "critic_per_seed": critics,
            "critic_accuracy_unit": "percent held-out accuracy (50 = indistinguishable)",
            "std": "sample standard deviation over seeds (ddof=1), 0 for one seed; pupil std is over images",
            "paper": {"rows": PAPER, "pupil_displacement_px": PAPER_PUPIL_PX, "human_pct": PAPER_HUMAN_PCT},
            "wall_seconds_note": "wall time of the invocation that wrote this file (a resumed run counts only its own part); "
                                 "piece_seconds sums the recorded time of every piece, whichever invocation ran it",
            "piece_seconds": _piece_seconds(out_dir, seeds),
        },
    }


def refiner_stopping(out_dir: Path, seeds: list[int]) -> dict[str, list]:
    """variant -> per seed: when and why its refiner stopped (from its stopping.json)."""
    out: dict[str, list] = {}
    for variant in REFINER_VARIANTS:
        entries = []
        for s in seeds:
            stored = _read(out_dir / f"seed_{s}" / REFINER_DIR / variant / STOPPING_FILE)
            if stored is None:
                entries.append(None)
                continue
            trace = stored.get("trace", [])
            entries.append({"stopped": stored.get("stopped"), "checks": len(trace),
                            "last": trace[-1] if trace else None})
        if any(entries):
            out[variant] = entries
    return out


def _piece_seconds(out_dir: Path, seeds: list[int]) -> dict[str, float]:
    """Recorded seconds of every finished piece (refiners, estimator rows, pupil fit, critics)."""

    totals = {"refiners": 0.0, "estimators": 0.0, "label_preservation": 0.0, "critics": 0.0}
    for s in seeds:
        seed_dir = out_dir / f"seed_{s}"
        for timing in sorted((seed_dir / REFINER_DIR).glob("*/timing.json")):
            t = json.loads(timing.read_text())
            totals["refiners"] += t.get("train_seconds", 0.0) + t.get("refine_seconds", 0.0)
        for row in sorted((seed_dir / ROW_DIR).glob("*.json")):
            r = json.loads(row.read_text())
            totals["estimators"] += r.get("wall_seconds", r.get("train_seconds", 0.0))
        for key, name in (("label_preservation", PUPIL_FILE), ("critics", CRITIC_FILE)):
            piece = _read(seed_dir / name)
            totals[key] += piece.get("wall_seconds", 0.0) if piece else 0.0
    totals = {k: round(v, 1) for k, v in totals.items()}
    totals["total"] = round(sum(totals.values()), 1)
    return totals


def _fmt(stats: dict[str, Any] | None, digits: int = 1) -> str:
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
            lines.append(f"| {ROW_LABELS[row]} | {size} | {_fmt(r['within_7_deg_pct'])} | {_fmt(r['mean_error_deg'], 2)} "
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
        f"Wall time: {results['wall_seconds'] / 60:.1f} min.",
    ]
    if details["missing"]:
        lines.append(f"Missing (not run yet): {', '.join(details['missing'])}.")
    return "\n".join(lines) + "\n"


def _interval_text(stats: dict[str, Any], digits: int = 2) -> str:
    if stats.get("ci_low") is None:
        return f"{stats['mean']:+.{digits}f} (one seed)"
    return f"{stats['mean']:+.{digits}f} [{stats['ci_low']:+.{digits}f}, {stats['ci_high']:+.{digits}f}]"


def verdict_lines(results: dict[str, Any]) -> list[str]:
    """Paired differences over seeds with 95 % intervals, and the gap recovered."""
    comps = results.get("comparisons") or {}
    if not comps:
        return []
    lines = [
        "",
        "| Paired over seeds (> 0: the first is better) | error reduction (°), mean [95 % CI] "
        "| % within 7° gain, mean [95 % CI] | reading |",
        "|---|---:|---:|---|",
    ]
    for name, comp in comps.items():
        err, gain = comp["error_reduction_deg"], comp["within_7_gain_pct"]
        lines.append(f"| {COMPARISON_LABELS[name]} | {_interval_text(err)} | {_interval_text(gain, 1)} "
                     f"| error reduction {err['verdict']} |")
    gap = results.get("gap_recovered")
    if gap:
        if gap["bounded"]:
            text = f"{gap['estimate']:.2f} [{gap['ci_low']:.2f}, {gap['ci_high']:.2f}] (Fieller, 95 %)"
        else:
            text = f"{gap['estimate']:.2f} (interval unbounded: the synthetic-oracle gap itself is not resolved)"
        lines += ["", f"Gap recovered, (synthetic - refined) / (synthetic - oracle) of the mean error: {text}; "
                      f"gap synthetic - oracle {_interval_text(gap['gap_deg'])} °."]
    return lines


def cumulative_curves(out_dir: str | Path, seeds: list[int], settings: ExperimentSettings) -> dict[str, tuple]:
    """row -> (thresholds, mean % curve over seeds, std over seeds), for rows run on every seed."""

    curves = {}
    for row in ROWS:
        per_seed = [_read(Path(out_dir) / f"seed_{s}" / ROW_DIR / f"{row}.json") for s in seeds]
        if any(r is None for r in per_seed):
            continue
        ys = []
        for r in per_seed:
            x, y = cumulative_error_curve(r["errors_deg"], settings.curve_max_deg, settings.curve_points)
            ys.append(y)
        ys = np.stack(ys)
        curves[row] = (x, ys.mean(axis=0), ys.std(axis=0))
    return curves


def plot_curves(path: str | Path, curves: dict[str, tuple], title: str) -> Path:
    """Fig. 7 of the paper: % of images within d degrees of error, for each training set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = {
        "synthetic": ("tab:blue", "-"), "synthetic_4x": ("tab:blue", "--"),
        "refined": ("tab:red", "-"), "refined_4x": ("tab:red", "--"),
        "oracle": ("black", ":"), "no_history": ("tab:orange", "-."), "global_adversarial": ("tab:green", "-."),
    }
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for row, (x, mean, std) in curves.items():
        color, style = styles[row]
        ax.plot(x, mean, linestyle=style, color=color, label=ROW_LABELS[row].split(" (")[0])
        ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.12, linewidth=0)
    ax.axvline(7.0, color="grey", linewidth=0.6)
    ax.set_xlabel("angular error d (degrees)")
    ax.set_ylabel("% of test images within d")
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


__all__ = ["RESULTS_FILE", "TABLE_FILE", "CURVES_FILE", "aggregate", "markdown_table", "plot_curves", "write_outputs"]
