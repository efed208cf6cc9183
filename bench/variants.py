"""Variants: what trace storage, routing options and cache hits cost the gateway.

The same gateway (one `waystation serve`, pinned to one CPU, in front of the mock upstream)
in five variants (and a control), each its own process, started afresh for each variant in
each round:

- `no-traces`        WAYSTATION_TRACES=false: no trace is recorded (the baseline)
- `traces-sqlite`    the default: traces written to WAYSTATION_HOME/waystation.db
- `traces-postgres`  WAYSTATION_DATABASE_URL=--pg-url (dropped and created before each start;
                     skipped with a message when PostgreSQL cannot be reached); with
                     `--pin-postgres` a local server runs on the load CPUs for the run
- `routing`          traces on (SQLite); every request carries retries and a fallback
                     (`--routing-extra`); the primary model answers, so nothing is retried
- `cache-hit`        traces on (SQLite); every request carries an exact-match cache setting
                     (`--cache-extra`); the warm-up fills the cache, so every measured
                     request is a hit (the report shows the upstream calls per request)
- `control`          configured exactly as `no-traces`, in a process of its own; not run
                     unless asked for. Its ratio to `no-traces` would be 1.0 on a steady
                     machine: what it is instead, and how far its cells spread, is the run's
                     own noise, to read the other variants' ratios against

For `--rounds` rounds, in an order that rotates each round, each variant gets a short warm-up
per mode at c=16, then closed-loop cells of `--duration` s at c=`--conc` and `--low-duration` s
at c=`--low-conc` per mode (plain requests by wrk, streams by bench/loadgen.py), each after an
unrecorded second. Each round also measures the mock directly at c=`--low-conc`, for the
latency the gateway adds. After its cells, each variant waits for its traces to be written and
counts the rows (and again after it stopped).

Reported per variant and mode (medians over rounds): req/s, CPU µs per request of the gateway
process, the ratio of req/s to `no-traces` in the same round (the target: at least 0.8),
added p50 at low concurrency, upstream calls per request, errors and the trace rows.

Default run: about 7 minutes (3 rounds x 5 variants x 2 modes).

    python bench/variants.py
    python bench/variants.py --rounds 1 --duration 2 --low-duration 1 --warmup 1   # check
    python bench/variants.py --variants no-traces,traces-postgres --modes nonstream
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness as h  # noqa: E402
import run  # noqa: E402

log = h.log

VARIANTS = ("no-traces", "traces-sqlite", "traces-postgres", "routing", "cache-hit")
# Known but not run by default: a second untraced gateway, the measure of a run's noise.
CONTROL = "control"
KNOWN = (*VARIANTS, CONTROL)
UNTRACED = frozenset({"no-traces", CONTROL})
# Target 5: a variant keeps at least this share of no-traces' throughput.
TARGET = 0.8


def meets_target(name: str, ratio: float | None) -> str:
    """A report's verdict for one ratio: "-" where there is nothing to judge."""
    if ratio is None or name in UNTRACED:
        return "-"
    return "yes" if ratio >= TARGET else "**NO**"


def expected_rows(name: str, sent: int) -> int:
    """The trace rows a variant's store should hold once `sent` requests were answered."""
    return 0 if name in UNTRACED else sent

ROUTING_EXTRA = ('{"retry": {"count": 2, "on_codes": [429, 500, 502, 503]}, '
                 '"fallbacks": [{"model": "openai/gpt-4o"}]}')
CACHE_EXTRA = '{"cache": {"type": "exact_match", "ttl": 3600}}'


def variant_setup(args: argparse.Namespace, name: str) -> tuple[dict[str, str], str | None]:
    """(environment, JSON merged into request bodies) of a variant."""
    if name in UNTRACED:
        return {"WAYSTATION_TRACES": "false"}, None
    if name == "traces-sqlite":
        return {}, None
    if name == "traces-postgres":
        return {"WAYSTATION_DATABASE_URL": args.pg_url}, None
    if name == "routing":
        return {}, args.routing_extra
    if name == "cache-hit":
        return {}, args.cache_extra
    raise ValueError(name)


def variant_options(p: argparse.ArgumentParser) -> None:
    """The options that say what the variants are (shared with side_by_side.py)."""
    p.add_argument("--stream-chunks", type=int, default=20, help="content chunks per stream")
    p.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/wsbench",
                   help="database for traces-postgres; DROPPED and created before each start")
    p.add_argument("--routing-extra", default=ROUTING_EXTRA, help="body fields of `routing`")
    p.add_argument("--cache-extra", default=CACHE_EXTRA, help="body fields of `cache-hit`")
    p.add_argument("--flush-wait", type=float, default=30,
                   help="longest wait for the trace rows, seconds (30)")
    p.add_argument("--pin-postgres", action="store_true",
                   help="for traces-postgres: move this machine's PostgreSQL server processes "
                        "to the load CPUs for the run (their affinity is restored after), so "
                        "the database does not share the gateway's core")


def _postgres_pids() -> list[int]:
    """This machine's PostgreSQL server processes (the postmaster and its children)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
    return pids


@contextlib.contextmanager
def postgres_pinned(args: argparse.Namespace, notes: list[str]) -> Iterator[None]:
    """With --pin-postgres and traces-postgres: the local PostgreSQL server on the load CPUs
    while the block runs. Backends started meanwhile inherit that; all are restored after."""
    cpus = args.load_cpus_set
    if not (args.pin_postgres and cpus and "traces-postgres" in args.variant_list):
        yield
        return
    pids = _postgres_pids()
    before: set[int] = set()
    try:
        before = set().union(*(os.sched_getaffinity(pid) for pid in pids))
        for pid in pids:
            os.sched_setaffinity(pid, cpus)
        msg = (f"--pin-postgres: {len(pids)} PostgreSQL processes on CPU(s) "
               f"{','.join(map(str, sorted(cpus)))} for the run" if pids else
               "--pin-postgres: no PostgreSQL process on this machine")
    except OSError as error:
        msg = f"--pin-postgres: cannot move the PostgreSQL processes ({error}); left as they were"
    log(msg)
    notes.append(msg)
    try:
        yield
    finally:
        for pid in _postgres_pids() if before else ():  # backends started since included
            with contextlib.suppress(OSError):
                os.sched_setaffinity(pid, before)


def skip_unreachable_postgres(args: argparse.Namespace, notes: list[str]) -> None:
    """Drop traces-postgres from `args.variant_list`, with a note, when it cannot run."""
    if "traces-postgres" not in args.variant_list:
        return
    why = h.pg_problem(args.pg_url)
    if why:
        msg = f"traces-postgres skipped: PostgreSQL at {args.pg_url} unreachable ({why})"
        log(msg)
        notes.append(msg)
        args.variant_list.remove("traces-postgres")


def check_extra(target: run.Target, extra: str) -> None:
    """One plain completion with the variant's body fields must come back 200."""
    import asyncio

    import loadgen

    payload = loadgen.build_request(target.url, loadgen.chat_body(
        target.model, False, extra=json.loads(extra)), target.headers)
    status, body = asyncio.run(loadgen.fetch_once(target.url, payload, stream=False))
    if status != 200 or not json.loads(body).get("choices"):
        raise SystemExit(f"{target.name}: status {status} with {extra}: {body[:300]!r}")


def count_rows(args: argparse.Namespace, name: str, home: Path) -> int | None:
    if name == "traces-postgres":
        return h.pg_trace_count(args.pg_url)
    return h.sqlite_trace_count(home)


def run_variant(args: argparse.Namespace, name: str, rnd: int, mock: run.Server
                ) -> list[dict[str, Any]]:
    env, extra = variant_setup(args, name)
    vargs = argparse.Namespace(**{**vars(args), "gateway_extra": extra})
    home = Path(tempfile.mkdtemp(prefix=f"waystation-var-{name}-"))
    if name == "traces-postgres":
        h.pg_recreate(args.pg_url)
    gw = h.start_gateway(args, mock, home, env=env, log_name=f"gateway-{name}.log")
    rows: list[dict[str, Any]] = []
    try:
        target = h.gateway_target(gw, args.key, name)
        problems = run.check_target(target, mock)
        if problems:
            raise SystemExit(f"{name} failed the check: {problems}")
        sent, margin = 2, 0
        if extra:
            check_extra(target, extra)
            sent += 1
        for mode in args.mode_list:
            if args.warmup > 0:
                sent += run.run_tool(vargs, target, mode == "stream", 16, args.warmup)["requests"]
                margin += 16
        for mode in args.mode_list:
            for conc, secs in ((args.conc, args.duration), (args.low_conc, args.low_duration)):
                res = h.measure_cell(vargs, target, mock, stream=mode == "stream", conc=conc,
                                     seconds=secs, warmup=args.cell_warmup)
                res.update(round=rnd, variant=name, mode=mode, conc=conc)
                rows.append(res)
                sent += res["sent"]
                margin += 2 * conc
                log(f"round {rnd + 1} {name:15} {mode:9} c={conc:<3} {res['rps']:>9,.0f}/s "
                    f"p50 {res['latency_ms'].get('p50')} err {res['error_count']} "
                    f"cpu/req {res['cpu_per_req_us']}µs calls/req {res['upstream_calls_per_req']} "
                    f"others {res['others_cpu_pct']}%")
        expected = expected_rows(name, sent)
        t = time.monotonic()
        live = h.wait_for_count(lambda: count_rows(args, name, home), expected,
                                timeout=args.flush_wait)
        waited = time.monotonic() - t
    finally:
        gw.stop()
    after = count_rows(args, name, home)
    shutil.rmtree(home, ignore_errors=True)
    traces = {"sent": sent, "margin": margin, "rows_running": live, "rows_after_stop": after,
              "waited_s": round(waited, 1)}
    log(f"round {rnd + 1} {name:15} traces: {live} rows while running, {after} after stop, "
        f"{sent:,} requests sent")
    for r in rows:
        r["traces"] = traces
    return rows


def med(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def summarise(args: argparse.Namespace, runs: list[dict[str, Any]], direct: list[dict[str, Any]]
              ) -> list[dict[str, Any]]:
    out = []
    for mode in args.mode_list:
        for name in args.variant_list:
            hi = [r for r in runs if r["variant"] == name and r["mode"] == mode
                  and r["conc"] == args.conc]
            lo = [r for r in runs if r["variant"] == name and r["mode"] == mode
                  and r["conc"] == args.low_conc]
            if not hi:
                continue
            base = {r["round"]: r for r in runs if r["variant"] == "no-traces"
                    and r["mode"] == mode and r["conc"] == args.conc}
            base_lo = {r["round"]: r for r in runs if r["variant"] == "no-traces"
                       and r["mode"] == mode and r["conc"] == args.low_conc}
            dmap = {r["round"]: r for r in direct if r["mode"] == mode}
            row: dict[str, Any] = {
                "variant": name, "mode": mode, "rounds": len(hi),
                "rps": med([r["rps"] for r in hi]),
                "rps_min": min(r["rps"] for r in hi), "rps_max": max(r["rps"] for r in hi),
                "cpu_per_req_us": med([r["cpu_per_req_us"] for r in hi]),
                "gateway_cpu_pct": med([r["gateway_cpu_pct"] for r in hi]),
                "others_cpu_pct": med([r["others_cpu_pct"] for r in hi]),
                "p50_ms": med([r["latency_ms"].get("p50") for r in hi]),
                "calls_per_req": med([r["upstream_calls_per_req"] for r in hi + lo]),
                "errors": sum(r["error_count"] for r in hi + lo),
                "ratio": med([r["rps"] / base[r["round"]]["rps"] for r in hi
                              if r["round"] in base and base[r["round"]]["rps"]]),
                "low_rps": med([r["rps"] for r in lo]),
                "low_ratio": med([r["rps"] / base_lo[r["round"]]["rps"] for r in lo
                                  if r["round"] in base_lo and base_lo[r["round"]]["rps"]]),
                "low_p50_ms": med([r["latency_ms"].get("p50") for r in lo]),
                "added_p50_ms": med([r["latency_ms"]["p50"] - dmap[r["round"]]["latency_ms"]["p50"]
                                     for r in lo if r["round"] in dmap and r["latency_ms"]]),
            }
            if mode == "stream":
                row["added_ttfb_p50_ms"] = med([
                    r["ttfb_ms"]["p50"] - dmap[r["round"]]["ttfb_ms"]["p50"]
                    for r in lo if r["round"] in dmap and r.get("ttfb_ms")])
            traces = {id(r["traces"]): r["traces"] for r in hi}.values()
            row["traces"] = list(traces)
            out.append(row)
    return out


def render(args: argparse.Namespace, result: dict[str, Any]) -> str:
    f = h.fmt
    cfg = result["config"]
    out = [f"# Waystation variants: trace storage, routing, cache hits ({result['started']})", ""]
    out.append(
        f"{h.placement_text(args)} {cfg['rounds']} round(s), variants in an order rotating each "
        f"round, each a fresh gateway process with a {cfg['warmup']:g} s warm-up per mode at "
        f"c=16; cells of {cfg['duration']:g} s at c={cfg['conc']} and {cfg['low_duration']:g} s "
        f"at c={cfg['low_conc']}, each after {cfg['cell_warmup']:g} s unrecorded; medians over "
        f"rounds. Plain load tool: {cfg['plain_tool']}; streams: loadgen.py, "
        f"{cfg['stream_chunks']} content chunks. Extra environment: "
        f"{cfg['gateway_env'] or 'none'}."
    )
    out.append("")
    for note in result["notes"]:
        out += [f"**Note:** {note}", ""]
    for mode in args.mode_list:
        rows = [r for r in result["summary"] if r["mode"] == mode]
        if not rows:
            continue
        title = "Non-streaming" if mode == "nonstream" else "Streaming"
        out += [f"## {title}", ""]
        stream = mode == "stream"
        headers = [
            "variant", f"req/s c={cfg['conc']} (min-max)", "x no-traces", f"≥ {TARGET}",
            "CPU/req µs", "gw CPU %", "others %", f"p50 ms c={cfg['conc']}",
            f"req/s c={cfg['low_conc']}", f"x no-traces c={cfg['low_conc']}",
            f"added p50 ms c={cfg['low_conc']}",
        ]
        if stream:
            headers.append(f"added TTFB p50 ms c={cfg['low_conc']}")
        headers += ["upstream calls/req", "errors"]
        table = []
        for r in rows:
            line = [
                r["variant"], f"{f(r['rps'], 0)} ({f(r['rps_min'], 0)}-{f(r['rps_max'], 0)})",
                f(r["ratio"], 3), meets_target(r["variant"], r["ratio"]),
                f(r["cpu_per_req_us"], 0), f(r["gateway_cpu_pct"], 0),
                f(r["others_cpu_pct"], 0), f(r["p50_ms"], 2), f(r["low_rps"], 0),
                f(r["low_ratio"], 3), f(r["added_p50_ms"], 3),
            ]
            if stream:
                line.append(f(r.get("added_ttfb_p50_ms"), 3))
            line += [f(r["calls_per_req"], 2), r["errors"]]
            table.append(line)
        out += h.table(headers, table, "lrrlrrrrrrr" + ("r" if stream else "") + "rr")
    out += ["## Traces written", ""]
    out.append(
        "Per variant and round: requests sent to that gateway (checks, warm-ups and cells; the "
        "load tools do not count the requests still in flight when a run ends, up to "
        "`margin`), trace rows once the count reached the requests sent or stopped growing "
        f"(at most {cfg['flush_wait']:g} s of waiting), and rows after the gateway stopped."
    )
    out.append("")
    trows = []
    for t in result["traces"]:
        rows_n = t["rows_after_stop"] if t["rows_after_stop"] is not None else t["rows_running"]
        if t["variant"] in UNTRACED:
            ok = "yes" if not rows_n else "**NO** (traces recorded)"
        else:
            ok = "yes" if rows_n is not None and rows_n >= t["sent"] - t["margin"] else "**NO**"
        trows.append([t["variant"], t["round"] + 1, f"{t['sent']:,}", t["margin"],
                      f(t["rows_running"], 0), f(t["waited_s"]), f(rows_n, 0), ok])
    out += h.table(["variant", "round", "sent", "margin", "rows (running)", "waited s",
                    "rows (after stop)", "ok"], trows, "lrrrrrrl")
    out.append(
        "x no-traces = req/s ÷ no-traces req/s in the same round. CPU/req = the gateway "
        "process's CPU ÷ requests (PostgreSQL's own CPU is not in it; it shows in 'others %', "
        "with whatever else ran on the machine). Added p50 = variant p50 - direct p50 at the "
        "same concurrency in the same round. Upstream calls/req: 1 for a forwarded request, "
        "0 for a cache hit."
    )
    out.append("")
    dl = result["direct"]
    if dl:
        out += ["Direct (mock alone) per round: " + "; ".join(
            f"round {d['round'] + 1} {d['mode']} c={d['conc']}: {f(d['rps'], 0)}/s, p50 "
            f"{d['latency_ms'].get('p50')} ms" for d in dl), ""]
    out += ["Gateway logs (at warning level a healthy gateway writes nothing):", ""]
    out += h.log_summary([args.out / f"gateway-{v}.log" for v in args.variant_list])
    out += ["", *h.environment_lines(result)]
    return "\n".join(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", default=",".join(VARIANTS),
                   help=f"which variants (default {','.join(VARIANTS)})")
    p.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    p.add_argument("--modes", default="nonstream,stream", help="nonstream and/or stream")
    p.add_argument("--conc", type=int, default=64, help="concurrency of the main cells (64)")
    p.add_argument("--duration", type=float, default=5, help="seconds per main cell (5)")
    p.add_argument("--low-conc", type=int, default=1, help="concurrency for added p50 (1)")
    p.add_argument("--low-duration", type=float, default=2, help="seconds per low cell (2)")
    p.add_argument("--cell-warmup", type=float, default=1,
                   help="unrecorded seconds before each cell (1)")
    p.add_argument("--warmup", type=float, default=2,
                   help="seconds of load per mode at c=16 after each start (2)")
    variant_options(p)
    p.add_argument("--plain-tool", choices=("auto", "wrk", "loadgen"), default="auto",
                   help="load tool for plain requests (auto: wrk if installed)")
    h.common_options(p, "variants")
    args = p.parse_args(argv)
    args.mode_list = [m for m in args.modes.split(",") if m]
    args.variant_list = [v for v in args.variants.split(",") if v]
    for m in args.mode_list:
        if m not in ("nonstream", "stream"):
            p.error(f"unknown mode {m!r}")
    for v in args.variant_list:
        if v not in KNOWN:
            p.error(f"unknown variant {v!r} (known: {', '.join(KNOWN)})")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = h.prepare(args, plain_tool=args.plain_tool)
    notes: list[str] = []
    skip_unreachable_postgres(args, notes)
    with postgres_pinned(args, notes):
        return measure_all(args, out, notes)


def measure_all(args: argparse.Namespace, out: Path, notes: list[str]) -> int:
    """Run every round of every variant and write the report."""
    per_variant = (args.warmup * len(args.mode_list) + 4 + len(args.mode_list) * (
        2 * args.cell_warmup + args.duration + args.low_duration + 1))
    estimate = args.rounds * (len(args.variant_list) * per_variant + len(args.mode_list) * (
        args.cell_warmup + args.low_duration + 1))
    log(f"{args.rounds} round(s) x {len(args.variant_list)} variants x {len(args.mode_list)} "
        f"mode(s): about {estimate / 60:.1f} min; results in {out}")
    result = h.base_result(args, {
        "variants": args.variant_list, "rounds": args.rounds, "modes": args.mode_list,
        "conc": args.conc, "duration": args.duration, "low_conc": args.low_conc,
        "low_duration": args.low_duration, "cell_warmup": args.cell_warmup,
        "warmup": args.warmup, "stream_chunks": args.stream_chunks, "pg_url": args.pg_url,
        "routing_extra": args.routing_extra, "cache_extra": args.cache_extra,
        "flush_wait": args.flush_wait, "plain_tool": "wrk" if args.wrk else "loadgen",
    })
    mock = run.start_mock(h.mock_args(args, chunks=args.stream_chunks), out, args.load_cpus_set)
    runs: list[dict[str, Any]] = []
    direct_runs: list[dict[str, Any]] = []
    traces: list[dict[str, Any]] = []
    try:
        direct = h.direct_target(mock)
        for rnd in range(args.rounds):
            for mode in args.mode_list:
                res = h.measure_cell(args, direct, mock, stream=mode == "stream",
                                     conc=args.low_conc, seconds=args.low_duration,
                                     warmup=args.cell_warmup)
                res.update(round=rnd, mode=mode, conc=args.low_conc, variant="direct")
                direct_runs.append(res)
            k = rnd % len(args.variant_list)
            for name in args.variant_list[k:] + args.variant_list[:k]:
                rows = run_variant(args, name, rnd, mock)
                runs += rows
                if rows:
                    traces.append({**rows[0]["traces"], "variant": name, "round": rnd})
        result.update(runs=runs, direct=direct_runs, traces=traces, notes=notes)
        result["summary"] = summarise(args, runs, direct_runs)
        no = [t for t in traces if t["variant"] in UNTRACED and (t["rows_after_stop"] or 0)]
        if no:
            notes.append(
                f"the {no[0]['variant']} gateway recorded traces ({no[0]['rows_after_stop']} "
                f"rows): this build does not honour WAYSTATION_TRACES=false, so the untraced "
                f"gateways are not a baseline without trace storage here.")
        h.finish(out, result, render(args, result))
        return 0
    finally:
        mock.stop()


if __name__ == "__main__":
    sys.exit(main())
