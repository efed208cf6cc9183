"""Side by side: the variants of variants.py at the same moment, sharing the gateway CPU.

variants.py runs each variant on its own, one after another; on a VM whose speed drifts by
±15 % over minutes, a ratio of two such runs carries that drift. Here every variant's gateway
runs at once, all pinned to the gateway CPU, each loaded by its own closed-loop client at
`--conc`; in each cell every gateway's CPU time and completed requests are read over the same
seconds. Whatever slows the machine slows them all alike, so the ratio of CPU per request is
steady from cell to cell.

The figure is `no-traces` CPU µs per request ÷ the variant's: the throughput one core would give
the variant relative to `no-traces`, which is what variants.py's "x no-traces" measures one run
at a time. (Requests per second here are not that figure: the kernel shares the core among
the gateways' threads, not in proportion to their requests.) Sharing one core makes each
request dearer than in variants.py, for every variant alike.

    python bench/side_by_side.py
    python bench/side_by_side.py --variants no-traces,traces-sqlite --rounds 8 --modes nonstream

With `--alternate`, the gateways still run at once but are loaded one at a time, in turn, a
few seconds each: no core is shared while a gateway is measured (so the untraced baseline does
not pay for other gateways' trace writers), and the cells compared are seconds apart rather
than minutes, so most of the drift still cancels.

With `--fresh`, every gateway is restarted (on the same database) and warmed up again before
each round. On some VMs two identically configured gateways differ by a tenth in CPU per
request for as long as they run, one process against another (where each lands in memory,
its hash seed): without `--fresh` a run compares one process per variant and carries that
difference whole; with it the median is taken over as many processes as rounds.

With `--variants ...,control`, a second untraced gateway runs beside the others: its ratio to
`no-traces` is the run's noise, measured the same way as every variant's ratio.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness as h  # noqa: E402
import run  # noqa: E402
import variants  # noqa: E402
from procstats import thread_cpu  # noqa: E402

log = h.log


def load_all(args: argparse.Namespace, gateways: list[dict[str, Any]], stream: bool,
             seconds: float, conc: int) -> list[dict[str, Any]]:
    """One closed-loop run against every gateway at once; each tool's result, in order."""
    results: list[dict[str, Any]] = [{} for _ in gateways]

    def one(i: int, g: dict[str, Any]) -> None:
        results[i] = run.run_tool(g["args"], g["target"], stream, conc, seconds)

    threads = [threading.Thread(target=one, args=(i, g)) for i, g in enumerate(gateways)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


Threads = dict[str, tuple[float, float]]  # procstats.thread_cpu: group -> (user, system) s


def load_in_turn(args: argparse.Namespace, gateways: list[dict[str, Any]], stream: bool,
                 rnd: int) -> tuple[list[dict[str, Any]], list[float], list[float], list[Threads]]:
    """`--alternate`: one gateway loaded at a time, in an order that rotates each round; its
    CPU is read from the start of its cell to `--tail` seconds after, so the trace writer's
    work on the cell's traces counts in full and no gateway shares the core while measured.
    Also each gateway's CPU in the cell by thread: the event loop's and the other threads'."""
    count = len(gateways)
    results: list[dict[str, Any]] = [{} for _ in gateways]
    before, after = [0.0] * count, [0.0] * count
    threads: list[Threads] = [{} for _ in gateways]
    for k in range(count):
        i = (rnd + k) % count
        pid = gateways[i]["server"].pid
        before[i], first = h.cpu_seconds(pid), thread_cpu(pid)
        results[i] = run.run_tool(gateways[i]["args"], gateways[i]["target"], stream, args.conc,
                                  args.duration)
        time.sleep(args.tail)
        after[i], last = h.cpu_seconds(pid), thread_cpu(pid)
        threads[i] = {g: (last[g][0] - first[g][0], last[g][1] - first[g][1]) for g in last}
    return results, before, after, threads


def measure(args: argparse.Namespace, gateways: list[dict[str, Any]], mode: str, rnd: int
            ) -> list[dict[str, Any]]:
    stream = mode == "stream"
    threads: list[Threads] = [{} for _ in gateways]
    if args.alternate:
        results, before, after, threads = load_in_turn(args, gateways, stream, rnd)
    else:
        before = [h.cpu_seconds(g["server"].pid) for g in gateways]
        results = load_all(args, gateways, stream, args.duration, args.conc)
        after = [h.cpu_seconds(g["server"].pid) for g in gateways]
    rows = []
    for g, res, a, b, split in zip(gateways, results, before, after, threads, strict=True):
        n = res["requests"]
        g["sent"] += n
        row = {"variant": g["name"], "mode": mode, "round": rnd, "requests": n,
               "rps": res["rps"], "errors": res["error_count"],
               "cpu_per_req_us": round((b - a) / n * 1e6, 1) if n else None}
        for group, (user, system) in split.items():
            if n:
                row[f"{group}_user_us"] = round(user / n * 1e6, 1)
                row[f"{group}_sys_us"] = round(system / n * 1e6, 1)
        rows.append(row)
    base = next((r for r in rows if r["variant"] == "no-traces"), None)
    for r in rows:
        if base and base["cpu_per_req_us"] and r["cpu_per_req_us"]:
            r["ratio"] = round(base["cpu_per_req_us"] / r["cpu_per_req_us"], 4)
    log(f"round {rnd + 1} {mode:9} " + " | ".join(
        f"{r['variant']} {r['cpu_per_req_us']}µs x{r.get('ratio', '-')} err {r['errors']}"
        for r in rows))
    return rows


def summarise(args: argparse.Namespace, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for mode in args.mode_list:
        for name in args.variant_list:
            mine = [r for r in rows if r["variant"] == name and r["mode"] == mode]
            ratios = [r["ratio"] for r in mine if r.get("ratio") is not None]
            out.append({
                "variant": name, "mode": mode, "cells": len(mine),
                "cpu_per_req_us": statistics.median(r["cpu_per_req_us"] for r in mine),
                "ratio": statistics.median(ratios) if ratios else None,
                "ratio_min": min(ratios) if ratios else None,
                "ratio_max": max(ratios) if ratios else None,
                "errors": sum(r["errors"] for r in mine),
                **{key: statistics.median(r[key] for r in mine)
                   for key in _THREAD_KEYS if mine and all(key in r for r in mine)},
            })
    return out


_THREAD_KEYS = ("main_user_us", "main_sys_us", "others_user_us", "others_sys_us")


def render(args: argparse.Namespace, result: dict[str, Any]) -> str:
    f = h.fmt
    cfg = result["config"]
    if cfg.get("alternate"):
        how = (f"All {len(cfg['variants'])} gateways run on the gateway CPU, loaded one at a "
               f"time at c={cfg['conc']} in an order that rotates each round; each one's CPU "
               f"is read from the start of its {cfg['duration']:g} s cell to {cfg['tail']:g} s "
               f"after it. {cfg['rounds']} round(s) per mode after a {cfg['warmup']:g} s "
               f"warm-up. Ratio: no-traces CPU per request ÷ the variant's, in the same round")
    else:
        how = (f"All {len(cfg['variants'])} gateways run at once on the gateway CPU, each "
               f"loaded at c={cfg['conc']} by its own client; {cfg['rounds']} round(s) of "
               f"{cfg['duration']:g} s cells per mode after a {cfg['warmup']:g} s warm-up. "
               f"Ratio: no-traces CPU per request ÷ the variant's, in the same cell")
    if cfg.get("fresh"):
        how += (f"; every gateway restarted on its database and warmed up for "
                f"{cfg['warmup']:g} s before each round, so each round measures new processes")
    out = [f"# Waystation variants side by side ({result['started']})", "",
           f"{h.placement_text(args)} {how} (at least {variants.TARGET} is the target); "
           f"median and range over the cells.", ""]
    for note in result["notes"]:
        out += [f"**Note:** {note}", ""]
    headers = ["variant", "mode", "CPU/req µs (median)", "x no-traces (median)", "min", "max",
               f"≥ {variants.TARGET}", "errors"]
    lines = []
    for r in result["summary"]:
        lines.append([r["variant"], r["mode"], f(r["cpu_per_req_us"], 0), f(r["ratio"], 3),
                      f(r["ratio_min"], 3), f(r["ratio_max"], 3),
                      variants.meets_target(r["variant"], r["ratio"]), r["errors"]])
    out += h.table(headers, lines, "llrrrrlr")
    if variants.CONTROL in cfg["variants"]:
        out += [f"`{variants.CONTROL}` is configured exactly as `no-traces`: how far its median "
                f"is from 1.000, and its range, are what this machine did to a ratio in this "
                f"run, with nothing to measure.", ""]
    split = [r for r in result["summary"] if all(k in r for k in _THREAD_KEYS)]
    if split:
        out += ["## CPU per request by thread", "", "Medians over the cells, µs per request "
                "(tick-granular `/proc` readings, so a few µs either way): the event-loop "
                "thread, and all other threads together (the trace writer, worker pools).", ""]
        out += h.table(["variant", "mode", "event loop user", "event loop system",
                        "other threads user", "other threads system"],
                       [[r["variant"], r["mode"], *(f(r[k], 0) for k in _THREAD_KEYS)]
                        for r in split], "llrrrr")
    out += ["## Traces written", "", "Rows in each variant's store once it stopped, against the "
            "requests its client completed (checks and warm-up included).", ""]
    out += h.table(["variant", "requests", "rows"],
                   [[t["variant"], f"{t['sent']:,}", t["rows"]] for t in result["traces"]])
    out += h.environment_lines(result)
    return "\n".join(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", default=",".join(variants.VARIANTS),
                   help="which variants; no-traces is the baseline and is always run; add "
                        "`control` (a second untraced gateway) for the run's own noise")
    p.add_argument("--rounds", type=int, default=6, help="cells per mode (6)")
    p.add_argument("--modes", default="nonstream,stream", help="nonstream and/or stream")
    p.add_argument("--conc", type=int, default=32, help="concurrency per gateway (32)")
    p.add_argument("--duration", type=float, default=5, help="seconds per cell (5)")
    p.add_argument("--warmup", type=float, default=3, help="seconds of load per mode first (3)")
    p.add_argument("--alternate", action="store_true",
                   help="load one gateway at a time, in turn, instead of all at once")
    p.add_argument("--fresh", action="store_true",
                   help="restart every gateway (and warm it up again) before each round, so "
                        "the rounds sample new processes, not one process per variant")
    p.add_argument("--tail", type=float, default=1.0,
                   help="with --alternate: seconds after a cell still counted (1.0), for the "
                        "trace writer to finish the cell's traces")
    variants.variant_options(p)
    h.common_options(p, "side-by-side")
    args = p.parse_args(argv)
    args.mode_list = [m for m in args.modes.split(",") if m]
    names = [v for v in args.variants.split(",") if v]
    for v in names:
        if v not in variants.KNOWN:
            p.error(f"unknown variant {v!r} (known: {', '.join(variants.KNOWN)})")
    args.variant_list = ["no-traces"] + [v for v in names if v != "no-traces"]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = h.prepare(args, plain_tool="auto")
    notes: list[str] = []
    variants.skip_unreachable_postgres(args, notes)
    if "traces-postgres" in args.variant_list:
        h.pg_recreate(args.pg_url)
    with variants.postgres_pinned(args, notes):
        return measure_all(args, out, notes)


def start(args: argparse.Namespace, mock: run.Server, g: dict[str, Any]) -> None:
    """Start variant `g`'s gateway on its home (kept across restarts, so every trace it was
    sent is counted at the end) and check that it answers."""
    env, extra = variants.variant_setup(args, g["name"])
    g["server"] = h.start_gateway(args, mock, g["home"], env=env,
                                  log_name=f"gateway-{g['name']}.log")
    g["target"] = target = h.gateway_target(g["server"], args.key, g["name"])
    g["args"] = argparse.Namespace(**{**vars(args), "gateway_extra": extra})
    problems = run.check_target(target, mock)
    if problems:
        raise SystemExit(f"{g['name']} failed the check: {problems}")
    g["sent"] += 2
    if extra:
        variants.check_extra(target, extra)
        g["sent"] += 1


def warm_up(args: argparse.Namespace, gateways: list[dict[str, Any]], stream: bool) -> None:
    for res, g in zip(load_all(args, gateways, stream, args.warmup, 16), gateways, strict=True):
        g["sent"] += res["requests"]


def measure_all(args: argparse.Namespace, out: Path, notes: list[str]) -> int:
    """Start the mock and every variant's gateway, measure them, write the report."""
    result = h.base_result(args, {
        "variants": args.variant_list, "rounds": args.rounds, "modes": args.mode_list,
        "conc": args.conc, "duration": args.duration, "warmup": args.warmup,
        "stream_chunks": args.stream_chunks, "routing_extra": args.routing_extra,
        "cache_extra": args.cache_extra, "alternate": args.alternate, "tail": args.tail,
        "fresh": args.fresh,
    })
    mock = run.start_mock(h.mock_args(args, chunks=args.stream_chunks), out, args.load_cpus_set)
    gateways: list[dict[str, Any]] = []
    try:
        for name in args.variant_list:
            g = {"name": name, "home": Path(tempfile.mkdtemp(prefix=f"waystation-sbs-{name}-")),
                 "sent": 0}
            gateways.append(g)
            start(args, mock, g)
        rows: list[dict[str, Any]] = []
        for number, mode in enumerate(args.mode_list):
            for rnd in range(args.rounds):
                if args.fresh and (number or rnd):
                    for g in gateways:
                        g["server"].stop()
                        start(args, mock, g)
                if args.fresh or not rnd:
                    warm_up(args, gateways, mode == "stream")
                rows += measure(args, gateways, mode, rnd)
        traces = []
        for g in gateways:
            rows_now = h.wait_for_count(
                functools.partial(variants.count_rows, args, g["name"], g["home"]),
                variants.expected_rows(g["name"], g["sent"]), timeout=args.flush_wait)
            traces.append({"variant": g["name"], "sent": g["sent"], "rows": rows_now})
        result.update(runs=rows, traces=traces, notes=notes, summary=summarise(args, rows))
        h.finish(out, result, render(args, result))
        return 0
    finally:
        for g in gateways:
            if "server" in g:
                g["server"].stop()
            shutil.rmtree(g["home"], ignore_errors=True)
        mock.stop()


if __name__ == "__main__":
    sys.exit(main())
