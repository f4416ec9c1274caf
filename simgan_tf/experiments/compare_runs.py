"""Two finished runs of one experiment, compared seed by seed (one setting changed, e.g. precision).

    python -m simgan_tf.experiments.compare_runs BASE_DIR OTHER_DIR [--out FILE.md]

Each run's results.json holds every figure per seed, and seed s of both runs shares the
estimators' initial weights, the data order and the test images, so the per-seed differences
pair: each figure is reported as OTHER - BASE with its 95 % t-interval (`simgan_tf.intervals`)
over the seeds both runs have, and its verdict is read from the interval. The settings that differ between the two runs'
experiment.json are listed, so the table says what was changed.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Callable, Sequence

from simgan_tf.intervals import paired_difference
from simgan_tf.run_io import setting_differences

RESULTS_FILE = "results.json"
EXPERIMENT_FILE = "experiment.json"


def _load(run_dir: Path, name: str) -> dict[str, Any]:
    path = Path(run_dir) / name
    if not path.exists():
        raise FileNotFoundError(f"{path}: not found; expected a finished experiment folder (run it, or resume it, first)")
    return json.loads(path.read_text())


def _row_order(row: str) -> int:
    from simgan_tf.experiments.hand_settings import HAND_ROWS
    from simgan_tf.experiments.settings import ROWS

    order = list(ROWS) + [r for r in HAND_ROWS if r not in ROWS]
    return order.index(row) if row in order else len(order)


def _critic(results: dict[str, Any], key: str) -> list[float]:
    return [float(seed[key]["accuracy_pct"]) for seed in results["details"]["critic_per_seed"]]


def _pupil(results: dict[str, Any], key: str) -> list[float]:
    return [float(seed[key]) for seed in results["details"]["pupil_per_seed"]]


def _kept_step(results: dict[str, Any], variant: str) -> list[float]:
    return [float(entry["stopped"]["best_step"]) for entry in results["refiner_stopping"][variant]]


def figures(results: dict[str, Any]) -> dict[str, tuple[str, list[float]]]:
    """The per-seed figures a comparison reads: name -> (label, values per seed)."""
    out: dict[str, tuple[str, list[float]]] = {}
    rows = results.get("rows", {})
    for row in sorted(rows, key=_row_order):  # every per-seed metric of a row: gaze error and % within 7 deg,
        for metric, entry in rows[row].items():  # or hand error (px) and % of joints within 5 px
            if isinstance(entry, dict) and "per_seed" in entry:
                out[f"{metric}.{row}"] = (f"{row}: {metric}", list(entry["per_seed"]))
    readers: dict[str, tuple[str, Callable[[], list[float]]]] = {
        "gap_recovered": ("gap recovered (fraction)", lambda: list(results["gap_recovered"]["per_seed"])),
        "critic.refined_vs_real": ("critic, refined vs target (%)", lambda: _critic(results, "refined_vs_real")),
        "critic.synthetic_vs_real": ("critic, synthetic vs target (%)", lambda: _critic(results, "synthetic_vs_real")),
        "pupil.mean": ("pupil displacement, mean (px)", lambda: _pupil(results, "mean")),
        "pupil.median": ("pupil displacement, median (px)", lambda: _pupil(results, "median")),
        "pupil.jumps_pct": ("pupil fits off by > 3 px (%)", lambda: _pupil(results, "jumps_pct")),
    }
    for variant in results.get("refiner_stopping", {}):
        readers[f"kept_step.{variant}"] = (f"refiner '{variant}': kept iteration",
                                           lambda v=variant: _kept_step(results, v))
    for name, (label, read) in readers.items():
        try:
            out[name] = (label, read())
        except (KeyError, TypeError):
            continue  # an older results.json without this figure
    return out


def compare(base_dir: str | Path, other_dir: str | Path) -> dict[str, Any]:
    """OTHER - BASE per figure, paired over the seeds both runs finished."""
    base, other = _load(Path(base_dir), RESULTS_FILE), _load(Path(other_dir), RESULTS_FILE)
    seeds_base, seeds_other = list(base["seeds"]), list(other["seeds"])
    seeds = sorted(set(seeds_base) & set(seeds_other))
    if not seeds:
        raise ValueError(f"{other_dir}: seeds {seeds_other} share none with {base_dir}'s {seeds_base}; "
                         f"expected runs of the same seeds")
    fig_base, fig_other = figures(base), figures(other)
    compared = {}
    for name, (label, values) in fig_base.items():
        if name not in fig_other or values is None or fig_other[name][1] is None:
            continue
        a = [values[seeds_base.index(s)] for s in seeds]
        b = [fig_other[name][1][seeds_other.index(s)] for s in seeds]
        compared[name] = {"label": label, "base": a, "other": b, "difference": paired_difference(b, a)}
    settings = setting_differences(_load(Path(base_dir), EXPERIMENT_FILE), _load(Path(other_dir), EXPERIMENT_FILE))
    times = {run: (results.get("details", {}).get("piece_seconds") or {}) for run, results in (("base", base), ("other", other))}
    return {"base": str(base_dir), "other": str(other_dir), "seeds": seeds, "settings_changed": settings,
            "figures": compared, "piece_seconds": times}


def _fmt(values: Sequence[float], digits: int) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)


def _interval(d: dict[str, Any], digits: int) -> str:
    if d["ci_low"] is None:
        return f"{d['mean']:+.{digits}f} (one seed: no interval)"
    return f"{d['mean']:+.{digits}f} [{d['ci_low']:+.{digits}f}, {d['ci_high']:+.{digits}f}]"


def markdown(comparison: dict[str, Any]) -> str:
    """The comparison as a table: per-seed values of both runs and the paired difference."""
    lines = [f"Base: `{comparison['base']}`; other: `{comparison['other']}`; seeds {comparison['seeds']}.", ""]
    changed = comparison["settings_changed"]
    lines += ["Settings changed: " + ("; ".join(f"`{c}`" for c in changed) if changed else "none"), ""]
    lines += ["| figure | base per seed | other per seed | other - base, mean [95 % t-interval] | reading |",
              "|---|---|---|---|---|"]
    for entry in comparison["figures"].values():
        digits = 0 if "kept iteration" in entry["label"] else 2
        d = entry["difference"]
        lines.append(f"| {entry['label']} | {_fmt(entry['base'], digits)} | {_fmt(entry['other'], digits)} | "
                     f"{_interval(d, digits)} | {d['verdict']} |")
    times = comparison["piece_seconds"]
    if times["base"] and times["other"]:
        lines += ["", "Time of the pieces (s), base / other: " + "; ".join(
            f"{k} {times['base'][k]:.0f} / {times['other'][k]:.0f}" for k in times["base"] if k in times["other"])]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    import sys

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", help="a finished experiment folder (results.json, experiment.json)")
    parser.add_argument("other", help="the same experiment with one setting changed, same seeds")
    parser.add_argument("--out", help="write the table here (and the figures as JSON beside it, .json)")
    args = parser.parse_args(argv)
    try:
        comparison = compare(args.base, args.other)
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    text = markdown(comparison)
    print(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        out.with_suffix(".json").write_text(json.dumps(comparison, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["compare", "figures", "main", "markdown"]
