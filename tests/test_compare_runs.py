"""compare_runs: two runs of one experiment paired seed by seed (hand-computed cases)."""
import json

import pytest

from simgan_tf.experiments import compare_runs


def _write_run(path, seeds, refined, critic, pupil, kept, precision):
    path.mkdir(parents=True)
    results = {
        "seeds": seeds,
        "rows": {
            "synthetic": {"mean_error_deg": {"per_seed": [12.0] * len(seeds)}},
            "refined": {"mean_error_deg": {"per_seed": refined}, "within_7_deg_pct": {"per_seed": [40.0] * len(seeds)}},
        },
        "gap_recovered": {"per_seed": [0.5] * len(seeds)},
        "details": {
            "critic_per_seed": [{"refined_vs_real": {"accuracy_pct": c}, "synthetic_vs_real": {"accuracy_pct": 99.0}}
                                for c in critic],
            "pupil_per_seed": [{"mean": p, "median": p / 2, "jumps_pct": 10.0} for p in pupil],
            "piece_seconds": {"refiners": 100.0, "total": 200.0},
        },
        "refiner_stopping": {"main": [{"stopped": {"best_step": k}} for k in kept]},
    }
    (path / "results.json").write_text(json.dumps(results))
    (path / "experiment.json").write_text(json.dumps({"settings": {"refiner": {"precision": precision}, "seeds": 3}}))


def test_paired_differences_and_changed_settings(tmp_path):
    _write_run(tmp_path / "a", [0, 1, 2], [9.0, 10.0, 11.0], [60.0, 70.0, 80.0], [1.0, 2.0, 3.0], [500, 600, 700],
               "float32")
    _write_run(tmp_path / "b", [0, 1, 2], [8.0, 10.0, 12.0], [61.0, 71.0, 81.0], [1.0, 2.0, 3.0], [400, 600, 800],
               "mixed_bfloat16")
    result = compare_runs.compare(tmp_path / "a", tmp_path / "b")
    figures = result["figures"]

    refined = figures["mean_error_deg.refined"]["difference"]  # b - a per seed: -1, 0, +1
    assert refined["per_seed"] == [-1.0, 0.0, 1.0]
    assert refined["mean"] == pytest.approx(0.0)
    half = 4.302652729911275 * 1.0 / 3 ** 0.5  # t(0.975, df=2) * sd(=1) / sqrt(3)
    assert refined["ci_low"] == pytest.approx(-half) and refined["ci_high"] == pytest.approx(half)
    assert refined["verdict"] == "includes zero"

    critic = figures["critic.refined_vs_real"]["difference"]  # +1 on every seed: no spread
    assert critic["per_seed"] == [1.0, 1.0, 1.0] and critic["mean"] == pytest.approx(1.0)
    assert figures["pupil.median"]["base"] == [0.5, 1.0, 1.5]
    assert figures["kept_step.main"]["difference"]["per_seed"] == [-100.0, 0.0, 100.0]
    assert figures["within_7_deg_pct.refined"]["difference"]["mean"] == 0.0
    assert list(figures)[:2] == ["mean_error_deg.synthetic", "mean_error_deg.refined"]  # the experiment's row order
    assert result["settings_changed"] == ["settings.refiner.precision: 'float32' -> 'mixed_bfloat16'"]

    text = compare_runs.markdown(result)
    assert "| synthetic: mean_error_deg | 12.00, 12.00, 12.00 | 12.00, 12.00, 12.00 | +0.00 [+0.00, +0.00] |" in text
    assert "settings.refiner.precision" in text and "refiners 100 / 100" in text


def test_pairs_only_the_seeds_both_runs_have(tmp_path):
    _write_run(tmp_path / "a", [0, 1, 2], [9.0, 10.0, 11.0], [60.0] * 3, [1.0] * 3, [500] * 3, "float32")
    _write_run(tmp_path / "b", [0, 2], [8.0, 13.0], [60.0] * 2, [1.0] * 2, [500] * 2, "float32")
    result = compare_runs.compare(tmp_path / "a", tmp_path / "b")
    assert result["seeds"] == [0, 2]
    assert result["figures"]["mean_error_deg.refined"]["difference"]["per_seed"] == [-1.0, 2.0]


def test_cli_writes_table_and_json_and_names_a_missing_run(tmp_path, capsys):
    _write_run(tmp_path / "a", [0, 1], [9.0, 10.0], [60.0, 62.0], [1.0, 2.0], [500, 600], "float32")
    _write_run(tmp_path / "b", [0, 1], [9.5, 10.5], [60.0, 62.0], [1.0, 2.0], [500, 600], "float32")
    out = tmp_path / "cmp" / "a_vs_b.md"
    assert compare_runs.main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out)]) == 0
    assert out.read_text().startswith("Base: ")
    stored = json.loads(out.with_suffix(".json").read_text())
    assert stored["figures"]["mean_error_deg.refined"]["difference"]["per_seed"] == [0.5, 0.5]

    assert compare_runs.main([str(tmp_path / "a"), str(tmp_path / "missing")]) == 2
    assert "missing/results.json: not found" in capsys.readouterr().err
    _write_run(tmp_path / "c", [5], [9.0], [60.0], [1.0], [500], "float32")
    assert compare_runs.main([str(tmp_path / "a"), str(tmp_path / "c")]) == 2
    assert "share none" in capsys.readouterr().err
