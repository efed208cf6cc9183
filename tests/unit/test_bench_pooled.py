"""`bench/pooled.py`: several side-by-side runs read as one, with an interval on the median."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.bench_scripts import load

p = load("pooled.py", "bench_pooled")


def _run(cells: dict[str, list[float]], mode: str = "nonstream") -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    rounds = max(len(v) for v in cells.values())
    for rnd in range(rounds):
        rows.append({"variant": "no-traces", "mode": mode, "round": rnd, "ratio": 1.0})
        rows += [{"variant": name, "mode": mode, "round": rnd, "ratio": values[rnd]}
                 for name, values in cells.items() if rnd < len(values)]
    return {"started": "2026-01-01T00:00:00", "environment": {"git": "abc1234"}, "runs": rows}


def test_the_verdict_reads_the_whole_interval() -> None:
    assert p.verdict(0.81, 0.9) == "holds"
    assert p.verdict(0.8, 0.9) == "holds"
    assert p.verdict(0.7, 0.79) == "not met"
    assert p.verdict(0.79, 0.81) == "on the bound"


def test_the_interval_holds_the_median_and_is_the_same_each_time() -> None:
    groups = [[0.78, 0.82, 0.80, 0.85, 0.79], [0.83, 0.81, 0.77]]
    low, high = p.median_interval(groups, resamples=2000)
    assert low <= 0.805 <= high
    assert p.median_interval(groups, resamples=2000) == (low, high)


def test_cells_far_from_the_bound_give_a_clear_verdict_and_spread_ones_do_not() -> None:
    runs = [_run({"steady": [0.90, 0.91, 0.89, 0.92], "spread": [0.70, 0.95, 0.72, 0.93],
                  "low": [0.70, 0.71, 0.69, 0.72]}),
            _run({"steady": [0.90, 0.88, 0.91, 0.90], "spread": [0.74, 0.90, 0.85, 0.76],
                  "low": [0.72, 0.70, 0.73, 0.71]})]
    rows = {r["variant"]: r for r in p.pool(runs, resamples=2000)}
    assert "no-traces" not in rows
    assert rows["steady"]["verdict"] == "holds"
    assert rows["low"]["verdict"] == "not met"
    assert rows["spread"]["verdict"] == "on the bound"
    assert rows["spread"]["cells"] == 8 and rows["spread"]["under"] == 4
    assert rows["steady"]["run_medians"] == pytest.approx([0.905, 0.90])


def test_the_control_gets_no_verdict_and_modes_stay_apart() -> None:
    runs = [{**_run({"control": [0.95, 1.05]}),
             "runs": _run({"control": [0.95, 1.05]})["runs"]
             + _run({"control": [0.5, 0.6]}, mode="stream")["runs"]}]
    rows = p.pool(runs, resamples=500)
    assert [(r["variant"], r["mode"], r["verdict"]) for r in rows] == [
        ("control", "nonstream", "-"), ("control", "stream", "-")]
    assert rows[1]["median"] == pytest.approx(0.55)


def test_the_command_reads_run_folders_and_writes_its_report(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    for i, values in enumerate(([0.9, 0.92], [0.91, 0.93])):
        (tmp_path / f"run{i}").mkdir()
        (tmp_path / f"run{i}" / "results.json").write_text(json.dumps(_run({"routing": values})))
    out = tmp_path / "pooled.md"
    assert p.main([str(tmp_path / "run0"), str(tmp_path / "run1"), "--out", str(out),
                   "--resamples", "500"]) == 0
    report = out.read_text()
    assert "| routing | nonstream | 4 | 0.915 |" in report and "holds" in report
    assert json.loads(out.with_suffix(".json").read_text())[0]["cells"] == 4
    assert "abc1234" in capsys.readouterr().out


def test_a_missing_run_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="does not exist"):
        p.main([str(tmp_path / "nowhere")])


def test_runs_that_disagree_widen_the_interval() -> None:
    steady = [[0.84, 0.85, 0.83, 0.84], [0.84, 0.83, 0.85, 0.84]]
    apart = [[0.76, 0.77, 0.75, 0.76], [0.92, 0.91, 0.93, 0.92]]
    low_s, high_s = p.median_interval(steady, resamples=2000)
    low_a, high_a = p.median_interval(apart, resamples=2000)
    assert high_a - low_a > 3 * (high_s - low_s)
    assert p.verdict(low_a, high_a) == "on the bound"


def test_the_untraced_reference_is_the_mean_of_both_untraced_gateways() -> None:
    run = {"runs": [
        {"variant": "no-traces", "mode": "nonstream", "round": 0, "cpu_per_req_us": 100.0,
         "ratio": 1.0},
        {"variant": "control", "mode": "nonstream", "round": 0, "cpu_per_req_us": 120.0,
         "ratio": 0.833},
        {"variant": "routing", "mode": "nonstream", "round": 0, "cpu_per_req_us": 137.5,
         "ratio": 0.727},
    ]}
    assert p.cell_ratios(run, "routing", "nonstream", "no-traces") == [0.727]
    assert p.cell_ratios(run, "routing", "nonstream", "untraced") == pytest.approx([0.8])
    rows = p.pool([run], resamples=100, reference="untraced")
    assert [r["variant"] for r in rows] == ["routing"]


def test_the_untraced_reference_needs_the_control_in_every_run(tmp_path: Path) -> None:
    for name, cells in (("with", {"routing": [0.9], "control": [1.0]}), ("without",
                                                                       {"routing": [0.9]})):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(_run(cells)))
    with pytest.raises(SystemExit, match="every run made with `control`"):
        p.main([str(tmp_path / "with"), str(tmp_path / "without"), "--reference", "untraced"])
