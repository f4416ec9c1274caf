"""Interval maths of the experiment verdicts, against cases worked by hand."""
import math

import pytest

from simgan_tf.intervals import gap_recovered, paired_difference, t_interval, verdict

T_975_DF2 = 4.302652729911275  # Student t, 97.5 % quantile, 2 degrees of freedom (tables)
T_975_DF4 = 2.7764451051977987


def test_t_interval_three_values():
    # mean 2, sd 1, sem 1/sqrt(3)
    out = t_interval([1.0, 2.0, 3.0])
    half = T_975_DF2 / math.sqrt(3)
    assert out["mean"] == pytest.approx(2.0)
    assert out["ci_low"] == pytest.approx(2.0 - half)
    assert out["ci_high"] == pytest.approx(2.0 + half)
    assert out["n"] == 3


def test_one_value_has_no_interval():
    out = paired_difference([5.0], [4.0])
    assert out["mean"] == 1.0 and out["ci_low"] is None and out["verdict"] == "one seed"


def test_paired_difference_uses_the_pairs_not_the_rows():
    # Rows spread widely over seeds, but every seed's difference is 1 +- 0.1: resolved.
    synthetic = [10.0, 14.0, 18.0, 12.0, 16.0]
    refined = [8.9, 13.0, 17.1, 10.9, 15.1]
    out = paired_difference(synthetic, refined)
    diffs = [1.1, 1.0, 0.9, 1.1, 0.9]
    mean = sum(diffs) / 5
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 4)
    assert out["mean"] == pytest.approx(mean)
    assert out["ci_low"] == pytest.approx(mean - T_975_DF4 * sd / math.sqrt(5))
    assert out["verdict"] == "above zero"
    assert out["per_seed"] == pytest.approx(diffs)


def test_verdicts():
    assert verdict({"ci_low": 0.1, "ci_high": 2}) == "above zero"
    assert verdict({"ci_low": -2, "ci_high": -0.1}) == "below zero"
    assert verdict({"ci_low": -1, "ci_high": 1}) == "includes zero"


def test_gap_recovered_with_a_constant_gap_is_a_scaled_t_interval():
    # Denominator 4 on every seed: Fieller reduces to the t-interval of num / 4.
    synthetic = [10.0, 10.0, 10.0]
    refined = [8.0, 7.0, 6.0]  # recovered 2, 3, 4
    oracle = [6.0, 6.0, 6.0]  # gap 4
    out = gap_recovered(synthetic, refined, oracle)
    half = T_975_DF2 * (1 / math.sqrt(3)) / 4
    assert out["estimate"] == pytest.approx(0.75)
    assert out["bounded"]
    assert out["ci_low"] == pytest.approx(0.75 - half)
    assert out["ci_high"] == pytest.approx(0.75 + half)


def test_gap_recovered_worked_fieller_case():
    # num = (1, 2, 3), den = (2, 4, 3): means 2 and 3, var(num) = var(den) = 1, cov = 0.5 (ddof 1),
    # so with t = 4.3027 (df 2): a = 9 - t^2/3 = 2.82906, b = -2 (6 - t^2 0.5/3) = -5.82906,
    # c = 4 - t^2/3 = -2.17094; roots of a r^2 + b r + c: -0.32209 and 2.38251 (worked by hand).
    out = gap_recovered([10, 10, 10], [9, 8, 7], [8, 6, 7])
    assert out["estimate"] == pytest.approx(2 / 3)
    assert out["bounded"]
    assert out["ci_low"] == pytest.approx(-0.32209, abs=1e-5)
    assert out["ci_high"] == pytest.approx(2.38251, abs=1e-5)


def test_gap_recovered_unbounded_when_the_gap_is_not_resolved():
    # den = (1, -1, 3): mean 1, sd 2: its own interval holds zero, so no bounded ratio set.
    out = gap_recovered([10, 10, 10], [9.5, 10.5, 8.5], [9, 11, 7])
    assert out["estimate"] == pytest.approx(0.5)  # mean recovered 0.5 / mean gap 1
    assert not out["bounded"] and out["ci_low"] is None and out["ci_high"] is None


def test_gap_recovered_bounded_when_the_gap_is_resolved():
    synthetic = [10.0, 11.0, 9.5, 10.5, 10.2]
    oracle = [6.0, 6.5, 5.8, 6.2, 6.1]
    refined = [8.0, 8.6, 7.8, 8.5, 8.1]
    out = gap_recovered(synthetic, refined, oracle)
    assert out["bounded"] and out["ci_low"] < out["estimate"] < out["ci_high"]
    # The interval holds every ratio r where the t statistic of num - r den is within t.
    num = [s - r for s, r in zip(synthetic, refined)]
    den = [s - o for s, o in zip(synthetic, oracle)]
    for r in (out["ci_low"], out["ci_high"]):
        lin = [n_ - r * d for n_, d in zip(num, den)]
        stat = t_interval(lin)
        assert stat["ci_low"] == pytest.approx(0.0, abs=1e-9) or stat["ci_high"] == pytest.approx(0.0, abs=1e-9)


def test_mismatched_lengths_are_a_clear_error():
    with pytest.raises(ValueError, match="equal-length"):
        paired_difference([1, 2], [1])
