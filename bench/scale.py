"""Scale: `waystation serve --workers N` for several N, and who used the CPUs meanwhile.

Nothing is pinned: the N worker processes, the mock upstream and the load tool share every CPU
of the machine. For `--rounds` rounds, in an order that rotates each round, each N gets a fresh
gateway (a new WAYSTATION_HOME; traces on, SQLite, unless --gateway-env says otherwise), a
short warm-up, then one closed-loop cell of `--duration` s at c=`--conc` (plain requests by
wrk; streams by bench/loadgen.py with `--mode stream`), after an unrecorded second.

Reported per N (medians over rounds): req/s and the speed-up over the smallest N (1) in the
same round; the CPU of the gateway's process tree (and how it spread over its workers), of the
mock, of the load tool, of this script and of everything else, in % of one core; the
machine's busy time in % of all its CPUs. When the machine is close to 100 %, the machine, not
the gateway, was the limit. Also the trace rows written (all workers share one SQLite file).

Default run: about 1.5 minutes (N = 1..CPU count, 3 rounds, 8 s cells).

    python bench/scale.py
    python bench/scale.py --workers 1,2,4 --rounds 1 --duration 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness as h  # noqa: E402
import run  # noqa: E402
from procstats import CLK_TCK, cpu_busy, memory_kib, process_tree  # noqa: E402

log = h.log


def own_cpu(pid: int) -> float:
    """user + system CPU seconds of one process, without its children."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def worker_pids(gw: run.Server) -> list[int]:
    """The worker processes under `--workers N` (N > 1; not multiprocessing's tracker)."""
    out = []
    for p in process_tree(gw.pid):
        if p == gw.pid:
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if b"spawn_main" in f.read():
                    out.append(p)
        except OSError:
            pass
    return out


def wait_workers(gw: run.Server, n: int, timeout: float) -> None:
    """With --workers N the supervisor starts N children: wait until they are all there."""
    if n <= 1:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(worker_pids(gw)) >= n:
            return
        time.sleep(0.05)
    log(f"warning: {len(worker_pids(gw))} of {n} workers after {timeout:g} s")


def one_cell(args: argparse.Namespace, n: int, rnd: int, mock: run.Server) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix=f"waystation-scale-{n}-"))
    gw = h.start_gateway(args, mock, home, serve_args=["--workers", str(n)],
                         log_name=f"gateway-w{n}.log", pin=False)
    try:
        wait_workers(gw, n, args.ready_timeout)
        target = h.gateway_target(gw, args.key, f"w{n}")
        problems = run.check_target(target, mock)
        if problems:
            raise SystemExit(f"--workers {n} failed the check: {problems}")
        sent = 2
        stream = args.mode == "stream"
        if args.warmup > 0:
            sent += run.run_tool(args, target, stream, args.conc, args.warmup)["requests"]
        if args.cell_warmup > 0:
            sent += run.run_tool(args, target, stream, args.conc, args.cell_warmup)["requests"]
        workers = worker_pids(gw) or [gw.pid]
        pids = [gw.pid, *workers] if n > 1 else [gw.pid]
        per0 = {p: own_cpu(p) for p in pids}
        res = h.measure_cell(args, target, mock, stream=stream, conc=args.conc,
                             seconds=args.duration, warmup=0)
        per1 = {p: own_cpu(p) for p in pids}
        sent += res["sent"]
        wall = res["wall_s"]
        res["worker_cpu_pct"] = [round(100 * (per1[p] - per0[p]) / wall, 1) for p in workers]
        res["supervisor_cpu_pct"] = (round(100 * (per1[gw.pid] - per0[gw.pid]) / wall, 1)
                                     if n > 1 else None)
        res["rss_mib"] = round(memory_kib(gw.pid)["rss_kib"] / 1024, 1)
        res["processes"] = len(process_tree(gw.pid))
        rows = h.wait_for_count(lambda: h.sqlite_trace_count(home), sent,
                                timeout=args.flush_wait)
        res["traces"] = {"sent": sent, "rows": rows, "margin": args.conc * 3}
    finally:
        gw.stop()
        shutil.rmtree(home, ignore_errors=True)
    res.update(workers=n, round=rnd)
    ncpu = len(cpu_busy()) or 1
    res["machine_busy_pct_of_all"] = round(res["machine_cpu_pct"] / ncpu, 1)
    log(f"round {rnd + 1} workers={n}: {res['rps']:>9,.0f}/s p50 {res['latency_ms'].get('p50')} "
        f"err {res['error_count']} gateway {res['gateway_cpu_pct']}% "
        f"(workers {res['worker_cpu_pct']}) "
        f"mock {res['mock_cpu_pct']}% load {res['load_cpu_pct']}% others "
        f"{res['others_cpu_pct']}% machine {res['machine_busy_pct_of_all']}% of all CPUs")
    return res


def med(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def summarise(args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    base = {r["round"]: r for r in runs if r["workers"] == min(args.worker_list)}
    out = []
    for n in sorted(args.worker_list):
        rs = [r for r in runs if r["workers"] == n]
        spread = [(min(r["worker_cpu_pct"]), max(r["worker_cpu_pct"])) for r in rs]
        out.append({
            "workers": n, "rounds": len(rs),
            "rps": med([r["rps"] for r in rs]),
            "rps_min": min(r["rps"] for r in rs), "rps_max": max(r["rps"] for r in rs),
            "speedup": med([r["rps"] / base[r["round"]]["rps"] for r in rs
                            if r["round"] in base and base[r["round"]]["rps"]]),
            "p50_ms": med([r["latency_ms"].get("p50") for r in rs]),
            "p99_ms": med([r["latency_ms"].get("p99") for r in rs]),
            "errors": sum(r["error_count"] for r in rs),
            "cpu_per_req_us": med([r["cpu_per_req_us"] for r in rs]),
            "gateway_cpu_pct": med([r["gateway_cpu_pct"] for r in rs]),
            "worker_min_pct": med([s[0] for s in spread]),
            "worker_max_pct": med([s[1] for s in spread]),
            "mock_cpu_pct": med([r["mock_cpu_pct"] for r in rs]),
            "load_cpu_pct": med([r["load_cpu_pct"] for r in rs]),
            "self_cpu_pct": med([r["self_cpu_pct"] for r in rs]),
            "others_cpu_pct": med([r["others_cpu_pct"] for r in rs]),
            "machine_busy_pct_of_all": med([r["machine_busy_pct_of_all"] for r in rs]),
            "rss_mib": med([r["rss_mib"] for r in rs]),
        })
    return out


def render(args: argparse.Namespace, result: dict[str, Any]) -> str:
    f = h.fmt
    cfg = result["config"]
    ncpu = os.cpu_count()
    out = [f"# Waystation scale: --workers {', '.join(map(str, cfg['workers']))} "
           f"({result['started']})", ""]
    out.append(
        f"{h.placement_text(args)} {ncpu} CPUs. {cfg['rounds']} round(s), worker counts in an "
        f"order rotating each round, a fresh gateway each time with {cfg['warmup']:g} s of "
        f"warm-up; one {cfg['duration']:g} s cell at c={cfg['conc']} ({cfg['mode']}, "
        f"{cfg['plain_tool'] if cfg['mode'] == 'nonstream' else 'loadgen.py'}) after "
        f"{cfg['cell_warmup']:g} s unrecorded; medians over rounds. Extra environment: "
        f"{cfg['gateway_env'] or 'none'}."
    )
    out.append("")
    out += h.table(
        ["workers", "req/s (min-max)", f"speed-up vs {min(args.worker_list)}", "p50 ms",
         "p99 ms", "errors", "CPU/req µs", "gateway %", "per worker % (min-max)", "mock %",
         "load tool %", "harness %", "others %", f"machine busy % of {ncpu} CPUs",
         "RSS MiB"],
        [[r["workers"], f"{f(r['rps'], 0)} ({f(r['rps_min'], 0)}-{f(r['rps_max'], 0)})",
          f(r["speedup"], 2), f(r["p50_ms"], 2), f(r["p99_ms"], 2), r["errors"],
          f(r["cpu_per_req_us"], 0), f(r["gateway_cpu_pct"], 0),
          f"{f(r['worker_min_pct'], 0)}-{f(r['worker_max_pct'], 0)}",
          f(r["mock_cpu_pct"], 0), f(r["load_cpu_pct"], 0), f(r["self_cpu_pct"], 0),
          f(r["others_cpu_pct"], 0), f(r["machine_busy_pct_of_all"], 0), f(r["rss_mib"], 1)]
         for r in result["summary"]],
    )
    out.append(
        "CPU columns are % of one core over the measured cell: the gateway's whole process "
        "tree (with several workers: the supervisor and the workers; 'per worker' shows how "
        "evenly the connections spread), the mock, the load tool (wrk or loadgen.py), this "
        "script, and others = the machine's busy time beyond those (other processes, softirq). "
        "When 'machine busy' is near 100 %, the CPUs were the limit, not the gateway."
    )
    out += ["", "## Per round", ""]
    out += h.table(
        ["round", "workers", "req/s", "gateway %", "mock %", "load %", "others %",
         "machine %", "traces (sent)"],
        [[r["round"] + 1, r["workers"], f(r["rps"], 0), f(r["gateway_cpu_pct"], 0),
          f(r["mock_cpu_pct"], 0), f(r["load_cpu_pct"], 0), f(r["others_cpu_pct"], 0),
          f(r["machine_busy_pct_of_all"], 0),
          f"{r['traces']['rows']} ({r['traces']['sent']:,})"] for r in result["runs"]],
        "rrrrrrrrr",
    )
    out += ["Gateway logs (at warning level a healthy gateway writes nothing):", ""]
    out += h.log_summary(sorted(args.out.glob("gateway-w*.log")))
    out += ["", *h.environment_lines(result)]
    return "\n".join(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    ncpu = os.cpu_count() or 1
    p.add_argument("--workers", default=",".join(str(i) for i in range(1, ncpu + 1)),
                   help=f"worker counts (default 1..CPU count: {ncpu})")
    p.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    p.add_argument("--mode", choices=("nonstream", "stream"), default="nonstream")
    p.add_argument("--conc", type=int, default=64, help="connections (default 64)")
    p.add_argument("--duration", type=float, default=8, help="measured seconds per cell (8)")
    p.add_argument("--cell-warmup", type=float, default=1,
                   help="unrecorded seconds before the cell (1)")
    p.add_argument("--warmup", type=float, default=2,
                   help="seconds of load after each start (2)")
    p.add_argument("--stream-chunks", type=int, default=20, help="content chunks per stream")
    p.add_argument("--flush-wait", type=float, default=15,
                   help="longest wait for the trace rows, seconds (15)")
    p.add_argument("--plain-tool", choices=("auto", "wrk", "loadgen"), default="auto",
                   help="load tool for plain requests (auto: wrk if installed)")
    h.common_options(p, "scale", pin=False)
    args = p.parse_args(argv)
    args.worker_list = [int(x) for x in args.workers.split(",") if x]
    if not args.worker_list or min(args.worker_list) < 1:
        p.error("--workers wants positive numbers")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = h.prepare(args, plain_tool=args.plain_tool)
    est = args.rounds * len(args.worker_list) * (args.warmup + args.cell_warmup
                                                  + args.duration + 4)
    log(f"{args.rounds} round(s) x workers {args.worker_list}: about {est / 60:.1f} min; "
        f"results in {out}")
    result = h.base_result(args, {
        "workers": args.worker_list, "rounds": args.rounds, "mode": args.mode,
        "conc": args.conc, "duration": args.duration, "cell_warmup": args.cell_warmup,
        "warmup": args.warmup, "plain_tool": "wrk" if args.wrk else "loadgen",
    })
    mock = run.start_mock(h.mock_args(args, chunks=args.stream_chunks), out, None)
    runs: list[dict[str, Any]] = []
    try:
        for rnd in range(args.rounds):
            k = rnd % len(args.worker_list)
            for n in args.worker_list[k:] + args.worker_list[:k]:
                runs.append(one_cell(args, n, rnd, mock))
        result["runs"] = runs
        result["summary"] = summarise(args, runs)
        h.finish(out, result, render(args, result))
        return 0
    finally:
        mock.stop()


if __name__ == "__main__":
    sys.exit(main())
