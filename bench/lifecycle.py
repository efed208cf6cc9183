"""Lifecycle: the gateway's memory over many requests, and how long it takes to start.

Memory. One `waystation serve` pinned to one CPU (traces on, SQLite, as by default) in front of
the mock upstream gets `--warmup` seconds of load per mode at c=16 (as run.py's warm-up), then
`--requests` completions per mode in a closed loop at `--conc`, driven by bench/loadgen.py in
this process; the RSS of the gateway's process tree is read every `--requests / 10` replies.
The report gives the table and the growth over the second half (the 50,000th to the
100,000th request by default) in MiB and %, and how many traces were written.

Cold start. `--starts` times with a fresh WAYSTATION_HOME (so the SQLite database and its
migrations are created) and as many times with a home that already has them (fresh and reused
alternate; the reused home is prepared by one start that is not counted): from spawning
`waystation serve` to the first `/health` 200 and to the first chat completion answered with
200 and a choice, both polled every `--poll-ms` (a new connection and request each time, the
two in parallel). Also the time from SIGTERM to exit (no connections open). Before the starts
the gateway package's bytecode is written, as `pip install` does for an installed package
(`--no-compile` leaves it as found, and the report says how much of it was current).

Default run: about 2 minutes (warm-up 10 s, 100,000 plain requests, 11 starts).

    python bench/lifecycle.py
    python bench/lifecycle.py --modes nonstream,stream          # streams too, about 3.5 min
    python bench/lifecycle.py --requests 20000 --starts 2 --warmup 2   # a quick check
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness as h  # noqa: E402
import loadgen  # noqa: E402
import report  # noqa: E402
import run  # noqa: E402
from procstats import cpu_seconds, memory_kib  # noqa: E402

log = h.log
now = time.perf_counter


# ---------------------------------------------------------------------------------------------
# memory over many requests


def memory_run(args: argparse.Namespace, target: run.Target, gw: run.Server, stream: bool
               ) -> dict[str, Any]:
    every = max(1, args.requests // 10)
    payload = target.payload(stream)
    t0 = now()
    samples: list[dict[str, Any]] = []

    def sample(n: int) -> None:
        m = memory_kib(gw.pid)
        t = now() - t0
        samples.append({"requests": n, "seconds": round(t, 2), "rss_mib": round(
            m["rss_kib"] / 1024, 1), "peak_mib": round(m["peak_kib"] / 1024, 1)})
        if n:
            log(f"  {n:>9,} requests  {t:6.1f} s  RSS {m['rss_kib'] / 1024:6.1f} MiB")

    sample(0)
    res = asyncio.run(loadgen.run_load(
        target.url, payload, stream=stream, conc=args.conc, duration=math.inf,
        timeout=args.timeout, requests=args.requests, every=every, on_every=sample))
    res.pop("slow", None)
    by_n = {s["requests"]: s["rss_mib"] for s in samples}
    half, full = args.requests // 2 // every * every, args.requests // every * every
    growth: dict[str, Any] = {"from": half, "to": full}
    if half in by_n and full in by_n and by_n[half]:
        growth["mib"] = round(by_n[full] - by_n[half], 1)
        growth["pct"] = round(100 * (by_n[full] - by_n[half]) / by_n[half], 2)
    return {"mode": "stream" if stream else "nonstream", "load": res, "samples": samples,
            "growth_second_half": growth}


# ---------------------------------------------------------------------------------------------
# cold start


async def _poll(url: str, payload: bytes, t0: float, deadline: float, interval: float,
                want_choice: bool) -> tuple[float | None, int]:
    """Seconds from t0 to the first 200 (with a choice, if asked); attempts made."""
    attempts = 0
    while now() < deadline:
        attempts += 1
        try:
            status, body = await loadgen.fetch_once(url, payload, stream=False, timeout=10)
            if status == 200 and (not want_choice or json.loads(body).get("choices")):
                return now() - t0, attempts
        except (OSError, loadgen.ReplyError, ValueError):
            pass
        await asyncio.sleep(interval)
    return None, attempts


def one_start(args: argparse.Namespace, mock: run.Server, home: Path, kind: str, i: int
              ) -> dict[str, Any]:
    target_key = args.key
    a = h.cpu_snapshot(None, mock.pid)
    t0 = now()
    server = run.spawn_gateway(args, args.out, mock, args.gw_cpus, home,
                               extra_env=args.extra_env, log_name="starts.log", quiet=True)
    try:
        chat_url = f"{server.url}/v1/chat/completions"
        health_req = (f"GET /health HTTP/1.1\r\nHost: {urlsplit(server.url).netloc}\r\n\r\n"
                      ).encode()
        chat_req = loadgen.build_request(
            chat_url, loadgen.chat_body(h.GATEWAY_MODEL, False),
            [("Authorization", f"Bearer {target_key}")])
        deadline = t0 + args.ready_timeout
        interval = args.poll_ms / 1000

        async def both() -> tuple[tuple[float | None, int], tuple[float | None, int]]:
            hp = _poll(f"{server.url}/health", health_req, t0, deadline, interval, False)
            cp = _poll(chat_url, chat_req, t0, deadline, interval, True)
            return await asyncio.gather(hp, cp)

        (health_s, _), (chat_s, attempts) = asyncio.run(both())
        gw_cpu = cpu_seconds(server.pid)  # all of it was spent starting (and one request)
        b = h.cpu_snapshot(None, mock.pid)
        rss = memory_kib(server.pid)["rss_kib"] / 1024
    finally:
        t_stop = now()
        server.stop()
        stop_s = now() - t_stop
    if chat_s is None:
        raise SystemExit(f"start {i} ({kind}): no completion within {args.ready_timeout} s; "
                         f"see {server.log_path}")
    rec = {"kind": kind, "i": i, "health_ms": round(health_s * 1000, 1) if health_s else None,
           "first_completion_ms": round(chat_s * 1000, 1), "stop_ms": round(stop_s * 1000, 1),
           "attempts": attempts, "rss_mib": round(rss, 1), "exit": server.proc.returncode,
           "gateway_cpu_ms": round(gw_cpu * 1000, 1)}
    wall = b["t"] - a["t"]
    if args.gateway_cpus:  # busy time of the gateway's CPU beyond the gateway
        busy = sum(b["busy"][c] - a["busy"][c] for c in args.gateway_cpus)
        rec["others_cpu_pct"] = round(max(0.0, busy - gw_cpu) / wall * 100, 1)
    else:  # the machine's busy time beyond the gateway, the mock and this process's polling
        rec["others_cpu_pct"] = round(
            max(0.0, h.cpu_delta(a, b)["others_cpu_s"] - gw_cpu) / wall * 100, 1)
    log(f"  start {i + 1} {kind:6}: /health {rec['health_ms']} ms, first completion "
        f"{rec['first_completion_ms']} ms, stop {rec['stop_ms']} ms, gateway CPU "
        f"{rec['gateway_cpu_ms']} ms, others {rec['others_cpu_pct']}%")
    return rec


# Run in the gateway's interpreter and environment: its package's folder, how many of its
# modules there are and how many have bytecode matching their source; with "compile", the
# bytecode is written first, as `pip install` does.
_BYTECODE = """
import compileall, importlib.util, json, os, sys, waystation
root = os.path.dirname(waystation.__file__)
if sys.argv[1] == "compile":
    compileall.compile_dir(root, quiet=2)
sources = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".py")]
current = 0
for source in sources:
    try:
        with open(importlib.util.cache_from_source(source), "rb") as pyc:
            head = pyc.read(16)
    except OSError:
        continue
    st = os.stat(source)
    flags = int.from_bytes(head[4:8], "little")
    stamp = (int.from_bytes(head[8:12], "little"), int.from_bytes(head[12:16], "little"))
    current += head[:4] == importlib.util.MAGIC_NUMBER and (
        flags != 0 or stamp == (int(st.st_mtime) & 0xFFFFFFFF, st.st_size & 0xFFFFFFFF))
print(json.dumps({"package": root, "modules": len(sources), "current": current}))
"""


def bytecode(args: argparse.Namespace) -> dict[str, Any]:
    """The gateway package's bytecode before the starts, written first unless --no-compile.

    An installed package has it (pip compiles what it installs); an editable install leaves
    it to the first import, which does not write it under PYTHONDONTWRITEBYTECODE or in a
    read-only tree, and then every start compiles the whole package again.
    """
    python = report.command_python(run.gateway_command(args))
    done = subprocess.run(
        [python, "-c", _BYTECODE, "check" if args.no_compile else "compile"],
        env={**os.environ, **args.extra_env}, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"cannot inspect the gateway's bytecode: {done.stderr.strip()[-500:]}")
    state: dict[str, Any] = json.loads(done.stdout)
    state["compiled"] = not args.no_compile
    log(f"bytecode: {state['current']} of {state['modules']} modules of {state['package']} "
        f"current{'' if args.no_compile else ' (compiled first)'}")
    return state


def cold_starts(args: argparse.Namespace, mock: run.Server) -> list[dict[str, Any]]:
    reused = Path(tempfile.mkdtemp(prefix="waystation-life-reused-"))
    homes: list[Path] = [reused]
    try:
        log(f"cold start: preparing the reused home {reused}")
        one_start(args, mock, reused, "prime", -1)
        starts = []
        for i in range(args.starts):
            for kind in (("fresh", "reused") if i % 2 == 0 else ("reused", "fresh")):
                if kind == "fresh":
                    home = Path(tempfile.mkdtemp(prefix="waystation-life-fresh-"))
                    homes.append(home)
                else:
                    home = reused
                starts.append(one_start(args, mock, home, kind, i))
        return starts
    finally:
        for home in homes:
            shutil.rmtree(home, ignore_errors=True)


def start_summary(starts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in ("fresh", "reused"):
        rows = [s for s in starts if s["kind"] == kind]
        if not rows:
            continue
        out[kind] = {"n": len(rows)}
        for key in ("health_ms", "first_completion_ms", "stop_ms", "gateway_cpu_ms"):
            vals = [s[key] for s in rows if s[key] is not None]
            out[kind][key] = {"median": round(statistics.median(vals), 1) if vals else None,
                              "max": max(vals) if vals else None}
    return out


# ---------------------------------------------------------------------------------------------
# report


def render(args: argparse.Namespace, result: dict[str, Any]) -> str:
    cfg = result["config"]
    parts = ([f"memory over {cfg['requests']:,} requests"] if result["memory"] else []) + (
        ["cold start"] if result["starts"] else [])
    out = [f"# Waystation lifecycle: {', '.join(parts)} ({result['started']})", ""]
    out.append(
        f"{h.placement_text(args)} Mock upstream answering at once; traces on (SQLite) unless "
        f"--gateway-env says otherwise ({cfg['gateway_env'] or 'no extra env'})."
    )
    if result["memory"]:
        out += memory_section(result)
    if result["starts"]:
        out += starts_section(result)
    out += ["Server logs (at warning level a healthy gateway writes nothing):", ""]
    out += h.log_summary([args.out / "gateway.log", args.out / "starts.log",
                          args.out / "mock.log"])
    out += ["", *h.environment_lines(result)]
    return "\n".join(out)


def memory_section(result: dict[str, Any]) -> list[str]:
    f = h.fmt
    cfg = result["config"]
    out = ["", "## Memory", ""]
    out.append(
        f"RSS of the gateway's process tree after start: {f(result['rss_after_start_mib'])} MiB; "
        f"after {cfg['warmup']:g} s of load per mode at c=16: "
        f"{f(result['rss_after_warmup_mib'])} MiB. Then {cfg['requests']:,} requests per mode "
        f"at c={cfg['conc']}, closed loop, RSS read every {cfg['requests'] // 10:,} replies."
    )
    out.append("")
    for run_ in result["memory"]:
        g = run_["growth_second_half"]
        load = run_["load"]
        out += [f"### {run_['mode']}", ""]
        out.append(
            f"{load['requests']:,} replies in {load['duration_s']:g} s ({load['rps']:,.0f} "
            f"req/s), {load['error_count']} errors, latency p50 {load['latency_ms'].get('p50')} "
            f"ms, p99 {load['latency_ms'].get('p99')} ms. **Growth from request {g['from']:,} "
            f"to {g['to']:,}: {f(g.get('mib'))} MiB ({f(g.get('pct'), 2)} %).**"
        )
        out.append("")
        out += h.table(["requests", "seconds", "RSS MiB", "peak RSS MiB"], [
            [f"{s['requests']:,}", f(s["seconds"]), f(s["rss_mib"]), f(s["peak_mib"])]
            for s in run_["samples"]
        ])
    tr = result["traces"]
    out.append(
        f"Trace rows in SQLite after the flush: {tr['rows']} of {tr['sent']:,} requests sent "
        f"(checks, warm-up and the runs above; wrk's warm-up leaves a few uncounted in flight)."
    )
    return out


def starts_section(result: dict[str, Any]) -> list[str]:
    f = h.fmt
    cfg = result["config"]
    out = ["", "## Cold start", ""]
    out.append(
        f"From spawning `waystation serve` (pinned as above, the first fork included) to the "
        f"first `/health` 200 and to the first chat completion answered 200 with a choice, "
        f"polled every {cfg['poll_ms']:g} ms on new connections; stop = SIGTERM to exit. "
        f"Fresh: a new WAYSTATION_HOME (database and migrations created); reused: a home "
        f"prepared by an earlier start. Files are in the page cache after the first start."
    )
    code = result.get("bytecode")
    if code:
        out += ["", f"Bytecode: {code['current']} of the package's {code['modules']} modules "
                f"had bytecode matching their source "
                + ("once it was written before the starts, as `pip install` does for an "
                   "installed package." if code["compiled"] else
                   "(`--no-compile`: as found; a module without it is compiled at every start "
                   "when the interpreter may not write it).")]
    out.append("")
    sm = result["starts_summary"]
    rows = []
    for kind, s in sm.items():
        rows.append([kind, s["n"], f(s["health_ms"]["median"]), f(s["health_ms"]["max"]),
                     f(s["first_completion_ms"]["median"]), f(s["first_completion_ms"]["max"]),
                     f(s["gateway_cpu_ms"]["median"]), f(s["stop_ms"]["median"]),
                     f(s["stop_ms"]["max"])])
    out += h.table(["home", "starts", "/health median ms", "/health max ms",
                    "first completion median ms", "first completion max ms",
                    "gateway CPU median ms", "stop median ms", "stop max ms"], rows)
    out.append(
        "Gateway CPU = CPU time the gateway's process had used by its first completion: "
        "unlike the wall-clock times it barely depends on what else runs on the machine. "
        "Others % = CPU time other processes took on the gateway's CPU during the start (not "
        "pinned: on the whole machine, beyond the gateway, the mock and the polling), in % of "
        "one core; when it is high, the wall-clock times are too."
    )
    out.append("")
    out += h.table(["start", "home", "/health ms", "first completion ms", "gateway CPU ms",
                    "others %", "stop ms", "exit status", "RSS MiB"], [
        [s["i"] + 1, s["kind"], f(s["health_ms"]), f(s["first_completion_ms"]),
         f(s["gateway_cpu_ms"]), f(s["others_cpu_pct"], 0), f(s["stop_ms"]), s["exit"],
         f(s["rss_mib"])] for s in result["starts"]
    ], "rlrrrrrrr")
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=100_000,
                   help="requests per mode after the warm-up (default 100000)")
    p.add_argument("--conc", type=int, default=16, help="concurrency (default 16)")
    p.add_argument("--modes", default="nonstream",
                   help="nonstream and/or stream (default nonstream)")
    p.add_argument("--warmup", type=float, default=10,
                   help="seconds of load per mode at c=16 before the first reading (default 10)")
    p.add_argument("--starts", type=int, default=5,
                   help="cold starts per kind of home, fresh and reused (default 5)")
    p.add_argument("--poll-ms", type=float, default=5, help="cold-start polling interval")
    p.add_argument("--skip-memory", action="store_true", help="cold starts only")
    p.add_argument("--skip-starts", action="store_true", help="memory only")
    p.add_argument("--no-compile", action="store_true",
                   help="start with the package's bytecode as found, instead of writing it "
                        "first as pip install does")
    h.common_options(p, "lifecycle")
    args = p.parse_args(argv)
    args.mode_list = [m for m in args.modes.split(",") if m]
    for m in args.mode_list:
        if m not in ("nonstream", "stream"):
            p.error(f"unknown mode {m!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = h.prepare(args)
    result = h.base_result(args, {
        "requests": args.requests, "conc": args.conc, "modes": args.mode_list,
        "warmup": args.warmup, "starts": args.starts, "poll_ms": args.poll_ms,
    })
    result.update(memory=[], starts=[], starts_summary={}, traces={"rows": None, "sent": 0},
                  rss_after_start_mib=None, rss_after_warmup_mib=None)
    loadgen.install_uvloop()
    home = Path(tempfile.mkdtemp(prefix="waystation-life-"))
    mock = run.start_mock(h.mock_args(args), out, args.load_cpus_set)
    servers = [mock]
    try:
        log(f"mock upstream on {mock.url}; results in {out}")
        if not args.skip_memory:
            gw = h.start_gateway(args, mock, home)
            servers.append(gw)
            target = h.gateway_target(gw, args.key)
            result["rss_after_start_mib"] = memory_kib(gw.pid)["rss_kib"] / 1024
            problems = run.check_target(target, mock)
            if problems:
                raise SystemExit(f"gateway failed the check: {problems}")
            sent = 2
            for mode in args.mode_list:
                if args.warmup > 0:
                    log(f"warm-up: {mode}, c=16, {args.warmup:g} s")
                    sent += run.run_tool(args, target, mode == "stream", 16,
                                         args.warmup)["requests"]
            result["rss_after_warmup_mib"] = memory_kib(gw.pid)["rss_kib"] / 1024
            log(f"RSS after warm-up: {result['rss_after_warmup_mib']:.1f} MiB")
            for mode in args.mode_list:
                log(f"{mode}: {args.requests:,} requests at c={args.conc}")
                res = memory_run(args, target, gw, mode == "stream")
                sent += res["load"]["requests"] + res["load"]["error_count"]
                result["memory"].append(res)
                g = res["growth_second_half"]
                log(f"{mode}: growth {g['from']:,} → {g['to']:,}: {g.get('mib')} MiB "
                    f"({g.get('pct')} %)")
            log("waiting for the traces to be written")
            rows = h.wait_for_count(lambda: h.sqlite_trace_count(home), sent, timeout=30)
            result["traces"] = {"rows": rows, "sent": sent}
            gw.stop()
            servers.remove(gw)
        if not args.skip_starts:
            result["bytecode"] = bytecode(args)
            result["starts"] = cold_starts(args, mock)
            result["starts_summary"] = start_summary(result["starts"])
        h.finish(out, result, render(args, result))
        return 0
    finally:
        for s in reversed(servers):
            s.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
