"""Pooled: several `side_by_side.py` runs read as one, with how sure the median is.

A run's median of 8 cells moves by several hundredths from one run to the next on a shared
VM, so a variant whose median lands near the 0.8 bound can read as met in one run and missed
in the next. This pools the cells of every run given (each cell one new process with
`--fresh`) and reports, for each variant and mode: the median, a 95 % bootstrap interval of
that median, the share of cells under the bound, and each run's own median. The interval
resamples runs, then cells within each run drawn (seeded, so the same files give the same
interval): a run's cells share the machine's state, and runs' medians differ by more than
their cells suggest, so resampling cells alone would claim more certainty than the runs give.
A drawn run brings all its cells: a run of 48 rounds weighs six times one of 8 when drawn.
The verdict reads the interval, not the median alone:

- `holds`: the whole interval is at or above the bound;
- `not met`: the whole interval is below it;
- `on the bound`: the interval contains it, so these runs cannot tell either way.

With `--reference untraced` (runs made with the `control` variant), each cell's ratio is taken
against the mean CPU per request of both untraced gateways of its round instead of
`no-traces` alone: two new processes as the reference instead of one.

    python bench/pooled.py /tmp/sbs/run1 /tmp/sbs/run2 /tmp/sbs/run3
    python bench/pooled.py --out /tmp/sbs/pooled.md /tmp/sbs/run*
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness as h  # noqa: E402
import variants  # noqa: E402

BOUND = variants.TARGET


def load_runs(folders: Sequence[Path]) -> list[dict[str, Any]]:
    """Each folder's `results.json` (a side_by_side run); a folder without one is an error."""
    runs = []
    for folder in folders:
        path = folder / "results.json" if folder.is_dir() else folder
        if not path.is_file():
            raise SystemExit(f"error: {path} does not exist (give side_by_side.py output folders)")
        runs.append(json.loads(path.read_text()))
    return runs


def median_interval(groups: Sequence[Sequence[float]], *, resamples: int = 5000,
                    seed: int = 1, level: float = 0.95) -> tuple[float, float]:
    """A percentile bootstrap interval of the median of all `groups`' values pooled: each
    resample draws as many groups as there are (with replacement), then each drawn group's
    values (with replacement, to its own size)."""
    rng = random.Random(seed)
    medians = []
    for _ in range(resamples):
        drawn = rng.choices(groups, k=len(groups)) if len(groups) > 1 else groups
        pooled = [value for group in drawn for value in rng.choices(group, k=len(group))]
        medians.append(statistics.median(pooled))
    medians.sort()
    tail = (1 - level) / 2
    low = medians[int(tail * resamples)]
    high = medians[min(resamples - 1, int((1 - tail) * resamples))]
    return low, high


def cell_ratios(run: dict[str, Any], name: str, mode: str, reference: str) -> list[float]:
    """`name`'s ratio in each round of `run`: the run's own (against `no-traces`), or with
    `reference` "untraced" against the mean of `no-traces` and the control in that round."""
    cells = [c for c in run["runs"] if c["variant"] == name and c["mode"] == mode]
    if reference == "no-traces":
        return [c["ratio"] for c in cells if c.get("ratio") is not None]
    base: dict[int, list[float]] = {}
    for c in run["runs"]:
        if c["variant"] in variants.UNTRACED and c["mode"] == mode and c["cpu_per_req_us"]:
            base.setdefault(c["round"], []).append(c["cpu_per_req_us"])
    return [statistics.fmean(base[c["round"]]) / c["cpu_per_req_us"] for c in cells
            if c["cpu_per_req_us"] and len(base.get(c["round"], ())) == 2]


def verdict(low: float, high: float, bound: float = BOUND) -> str:
    if low >= bound:
        return "holds"
    if high < bound:
        return "not met"
    return "on the bound"


def pool(runs: Sequence[dict[str, Any]], *, resamples: int = 5000,
         reference: str = "no-traces") -> list[dict[str, Any]]:
    """One row per variant and mode, in the order the first run lists them."""
    keys: list[tuple[str, str]] = []
    for run in runs:
        for cell in run["runs"]:
            key = (cell["variant"], cell["mode"])
            if key not in keys and cell["variant"] != "no-traces" and not (
                    reference == "untraced" and cell["variant"] in variants.UNTRACED):
                keys.append(key)
    out = []
    for name, mode in keys:
        groups = [g for g in (cell_ratios(run, name, mode, reference) for run in runs) if g]
        cells = [value for group in groups for value in group]
        if not cells:
            continue
        low, high = median_interval(groups, resamples=resamples)
        out.append({
            "variant": name, "mode": mode, "cells": len(cells),
            "median": statistics.median(cells), "low": low, "high": high,
            "under": sum(value < BOUND for value in cells),
            "run_medians": [statistics.median(g) for g in groups],
            "verdict": "-" if name in variants.UNTRACED else verdict(low, high),
        })
    return out


def _git(run: dict[str, Any]) -> str:
    return str(run.get("environment", {}).get("git", "?"))


def render(folders: Sequence[Path], runs: Sequence[dict[str, Any]],
           rows: Sequence[dict[str, Any]], reference: str = "no-traces") -> str:
    f = h.fmt
    against = ("x no-traces" if reference == "no-traces" else
               "x the mean CPU per request of both untraced gateways (`no-traces` and "
               f"`{variants.CONTROL}`) in the same round")
    out = ["# Waystation variants side by side, pooled", "",
           f"{len(runs)} run(s) of `side_by_side.py`: " + ", ".join(
               f"`{folder}` ({run.get('started', '?')}, `{_git(run)}`)"
               for folder, run in zip(folders, runs, strict=True)) + ".",
           "", f"{against} per cell; the interval is a 95 % bootstrap interval of the pooled "
           f"median (runs resampled, then cells within each). Bound: {BOUND}.", ""]
    out += h.table(
        ["variant", "mode", "cells", "median", "95 % interval", f"cells < {BOUND}",
         "run medians", "verdict"],
        [[r["variant"], r["mode"], r["cells"], f(r["median"], 3),
          f"{f(r['low'], 3)} to {f(r['high'], 3)}", f"{r['under']} of {r['cells']}",
          ", ".join(f(m, 3) for m in r["run_medians"]), r["verdict"]] for r in rows],
        "llrrrrll")
    if any(r["variant"] == variants.CONTROL for r in rows):
        out += [f"`{variants.CONTROL}` is an untraced gateway like `no-traces`: its interval "
                "is what these runs can resolve with nothing to measure.", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="side_by_side.py output folders")
    p.add_argument("--out", type=Path, help="also write the report (and .json beside it) here")
    p.add_argument("--resamples", type=int, default=5000)
    p.add_argument("--reference", choices=("no-traces", "untraced"), default="no-traces",
                   help="what a cell's ratio is taken against (untraced: needs `control`)")
    args = p.parse_args(argv)
    runs = load_runs(args.runs)
    if args.reference == "untraced" and not all(
            any(c["variant"] == variants.CONTROL for c in run["runs"]) for run in runs):
        raise SystemExit(f"error: --reference untraced needs every run made with "
                         f"`{variants.CONTROL}`")
    rows = pool(runs, resamples=args.resamples, reference=args.reference)
    report = render(args.runs, runs, rows, args.reference)
    print(report)
    if args.out:
        args.out.write_text(report + "\n")
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
