"""Verdicts over seeds: paired differences and ratios with 95 % intervals.

A result here is a comparison of two training sets evaluated on the same seeds: every seed
fixes the estimator's initial weights and data order, so the per-seed differences pair and
their spread is what the verdict is read by (not the spread of either row alone).
Intervals are Student-t over seeds (scipy.stats); "gap recovered", a ratio of two paired
mean differences, gets Fieller's interval, which stays honest when the denominator is
uncertain (it can be unbounded, and then says so).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


def _as_pairs(a: Sequence[float], b: Sequence[float], what: str) -> tuple[np.ndarray, np.ndarray]:
    a_arr, b_arr = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a_arr.ndim != 1 or a_arr.shape != b_arr.shape:
        raise ValueError(f"{what}: paired values need two equal-length lists, got shapes {a_arr.shape} and {b_arr.shape}")
    if a_arr.size == 0:
        raise ValueError(f"{what}: no seeds to compare")
    return a_arr, b_arr


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> dict[str, Any]:
    """Mean of `values` with its two-sided Student-t interval (None bounds for one value)."""
    x = np.asarray(values, dtype=np.float64)
    n = int(x.size)
    mean = float(x.mean())
    if n < 2:
        return {"mean": mean, "ci_low": None, "ci_high": None, "n": n, "confidence": confidence}
    sem = float(x.std(ddof=1)) / math.sqrt(n)
    half = float(stats.t.ppf(0.5 + confidence / 2, df=n - 1)) * sem
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "n": n, "confidence": confidence}


def verdict(interval: dict[str, Any]) -> str:
    """'above zero', 'below zero' or 'includes zero' (or 'one seed': no interval)."""
    low, high = interval.get("ci_low"), interval.get("ci_high")
    if low is None or high is None:
        return "one seed"
    if low > 0:
        return "above zero"
    if high < 0:
        return "below zero"
    return "includes zero"


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> dict[str, Any]:
    """Mean of the per-seed differences a - b with its t-interval and verdict."""
    a_arr, b_arr = _as_pairs(a, b, "paired_difference")
    diff = a_arr - b_arr
    out = t_interval(diff, confidence)
    out["per_seed"] = [float(v) for v in diff]
    out["verdict"] = verdict(out)
    return out


def gap_recovered(
    synthetic: Sequence[float], refined: Sequence[float], oracle: Sequence[float], confidence: float = CONFIDENCE
) -> dict[str, Any]:
    """(synthetic - refined) / (synthetic - oracle), paired over seeds, with Fieller's interval.

    For errors (lower is better): 0 = refinement bought nothing, 1 = it reached the oracle.
    Fieller: the set of ratios r with |mean(num) - r mean(den)| <= t * se(num - r den), so the
    seeds' covariance of numerator and denominator counts. Where the denominator's own interval
    includes zero the set is unbounded: bounds are None and `bounded` is False.
    """
    s, r = _as_pairs(synthetic, refined, "gap_recovered")
    _, o = _as_pairs(synthetic, oracle, "gap_recovered")
    num, den = s - r, s - o
    n = int(num.size)
    mean_num, mean_den = float(num.mean()), float(den.mean())
    estimate = mean_num / mean_den if mean_den != 0 else float("nan")
    out: dict[str, Any] = {
        "estimate": estimate, "ci_low": None, "ci_high": None, "bounded": False, "n": n, "confidence": confidence,
        "per_seed": [float(a / b) if b != 0 else float("nan") for a, b in zip(num, den)],
        "gap_deg": t_interval(den, confidence), "recovered_deg": t_interval(num, confidence),
    }
    if n < 2:
        return out
    t = float(stats.t.ppf(0.5 + confidence / 2, df=n - 1))
    # Variances of the means and their covariance.
    v_nn = float(np.var(num, ddof=1)) / n
    v_dd = float(np.var(den, ddof=1)) / n
    v_nd = float(np.cov(num, den, ddof=1)[0, 1]) / n
    # (mean_num - r mean_den)^2 <= t^2 (v_nn - 2 r v_nd + r^2 v_dd)  ->  a r^2 + b r + c <= 0
    a = mean_den**2 - t**2 * v_dd
    b = -2 * (mean_num * mean_den - t**2 * v_nd)
    c = mean_num**2 - t**2 * v_nn
    disc = b * b - 4 * a * c
    if a > 0 and disc >= 0:
        root = math.sqrt(disc)
        out.update(ci_low=(-b - root) / (2 * a), ci_high=(-b + root) / (2 * a), bounded=True)
    return out


__all__ = ["CONFIDENCE", "gap_recovered", "paired_difference", "t_interval", "verdict"]
