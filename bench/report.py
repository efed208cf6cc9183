"""The benchmark's report: medians per cell, the headline, and the Markdown tables."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

def med(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v: float | None, digits: int = 2) -> str:
    if v is None:
        return "-"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Medians per (mode, conc, target); added latency computed within each repetition."""
    cells: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for r in runs:
        cells.setdefault((r["mode"], r["conc"], r["target"]), []).append(r)
    rows: list[dict[str, Any]] = []
    for (mode, conc, target), rs in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][1],
                                                                          kv[0][2] != "direct")):
        row: dict[str, Any] = {"mode": mode, "conc": conc, "target": target, "reps": len(rs)}
        row["rps"] = med([r["rps"] for r in rs])
        row["rps_min"] = min(r["rps"] for r in rs)
        row["rps_max"] = max(r["rps"] for r in rs)
        row["errors"] = sum(r["error_count"] for r in rs)
        row["cpu_per_req_us"] = med([r.get("cpu_per_req_us") for r in rs])
        row["others_cpu_pct"] = med([r.get("others_cpu_pct") for r in rs])
        row["server_cpu_pct"] = med([r.get("server_cpu_pct") for r in rs])
        row["gateway_core_other_pct"] = med([r.get("gateway_core_other_pct") for r in rs])
        keys = ["latency_ms"] + (["ttfb_ms"] if mode == "stream" else [])
        for key in keys:
            for p in ("p50", "p90", "p99"):
                row[f"{key}_{p}"] = med([r[key].get(p) for r in rs])
        if target != "direct":
            direct = {r["rep"]: r for r in runs
                      if r["mode"] == mode and r["conc"] == conc and r["target"] == "direct"}
            for key in keys:
                for p in ("p50", "p99"):
                    row[f"added_{key}_{p}"] = med([
                        r[key][p] - direct[r["rep"]][key][p]
                        for r in rs if r["rep"] in direct and r[key] and direct[r["rep"]][key]
                    ])
            row["x_direct"] = med([
                r["rps"] / direct[r["rep"]]["rps"]
                for r in rs if r["rep"] in direct and direct[r["rep"]]["rps"]
            ])
        rows.append(row)
    return rows


def headline(rows: list[dict[str, Any]], memory: dict[str, Any]) -> dict[str, Any]:
    def get(mode: str, conc: int, key: str, target: str = "gateway") -> Any:
        for r in rows:
            if r["mode"] == mode and r["conc"] == conc and r["target"] == target:
                return r.get(key)
        return None

    warm = memory.get("after_warmup") or {}
    return {
        "c1_rps": get("nonstream", 1, "rps"),
        "c1_added_p50_ms": get("nonstream", 1, "added_latency_ms_p50"),
        "c1_added_p99_ms": get("nonstream", 1, "added_latency_ms_p99"),
        "c64_rps": get("nonstream", 64, "rps"),
        "stream_c64_rps": get("stream", 64, "rps"),
        "stream_c1_added_ttfb_p50_ms": get("stream", 1, "added_ttfb_ms_p50"),
        "stream_c1_added_total_p50_ms": get("stream", 1, "added_latency_ms_p50"),
        "cpu_per_req_us_nonstream_c64": get("nonstream", 64, "cpu_per_req_us"),
        "cpu_per_req_us_stream_c64": get("stream", 64, "cpu_per_req_us"),
        "rss_after_warmup_mib": round(warm["rss_kib"] / 1024, 1) if warm else None,
    }


def render_report(result: dict[str, Any]) -> str:
    rows = result["summary"]
    h = result["headline"]
    cfg = result["config"]
    mem = result["memory"]
    out = [f"# Waystation overhead benchmark ({result['started']})", ""]
    out.append(
        f"Gateway pinned to CPU {cfg['gateway_cpus'] or '-'}; mock and load on CPU "
        f"{cfg['load_cpus'] or '-'}. {cfg['reps']} repetition(s) x {cfg['duration']} s "
        f"(+{cfg['warmup']} s warm-up) per cell; medians. Stream: {cfg['stream_chunks']} "
        f"content chunks, mock latency {cfg['mock_latency_ms']} ms. Plain load tool: "
        f"{cfg['plain_tool']}. Load average at start / end: {result['loadavg_start']} / "
        f"{result.get('loadavg_end', '-')}."
    )
    out.append("")
    if h.get("c1_rps") is not None or h.get("stream_c64_rps") is not None:
        out += [
            "## Headline (gateway)", "",
            "| c=1 req/s | c=1 added p50 ms | c=1 added p99 ms | c=64 req/s | stream c=64 req/s "
            "| stream c=1 added TTFB p50 ms | CPU/req µs (plain c=64) | CPU/req µs (stream c=64) "
            "| RSS after warm-up MiB |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {fmt(h['c1_rps'], 0)} | {fmt(h['c1_added_p50_ms'], 3)} "
            f"| {fmt(h['c1_added_p99_ms'], 3)} | {fmt(h['c64_rps'], 0)} "
            f"| {fmt(h['stream_c64_rps'], 0)} | {fmt(h['stream_c1_added_ttfb_p50_ms'], 3)} "
            f"| {fmt(h['cpu_per_req_us_nonstream_c64'], 0)} "
            f"| {fmt(h['cpu_per_req_us_stream_c64'], 0)} | {fmt(h['rss_after_warmup_mib'], 1)} |",
            "",
        ]
    plain = [r for r in rows if r["mode"] == "nonstream"]
    if plain:
        out += [
            "## Non-streaming", "",
            "Latencies in ms; CPU/req = server CPU µs per completed request (direct: the mock's); "
            "'srv %' = the server's CPU in % of one core; 'others %' = CPU used meanwhile by "
            "processes outside the benchmark, in % of one core, and 'gw core %' the part of it "
            "on the gateway's core (noise).", "",
            "| target | conc | req/s (min-max) | x direct | p50 | p90 | p99 | added p50 "
            "| added p99 | errors | CPU/req µs | srv % | others % | gw core % |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in plain:
            out.append(
                f"| {r['target']} | {r['conc']} | {fmt(r['rps'], 0)} ({fmt(r['rps_min'], 0)}-"
                f"{fmt(r['rps_max'], 0)}) | {fmt(r.get('x_direct'), 3)} "
                f"| {fmt(r['latency_ms_p50'], 3)} | {fmt(r['latency_ms_p90'], 3)} "
                f"| {fmt(r['latency_ms_p99'], 3)} | {fmt(r.get('added_latency_ms_p50'), 3)} "
                f"| {fmt(r.get('added_latency_ms_p99'), 3)} | {r['errors']} "
                f"| {fmt(r['cpu_per_req_us'], 0)} | {fmt(r['server_cpu_pct'], 0)} "
                f"| {fmt(r['others_cpu_pct'], 0)} | {fmt(r['gateway_core_other_pct'], 0)} |"
            )
        out.append("")
    streams = [r for r in rows if r["mode"] == "stream"]
    if streams:
        out += [
            "## Streaming", "",
            "TTFB = request written → first byte of the first `data:` event; total = → end of "
            "the stream. Latencies in ms.", "",
            "| target | conc | streams/s (min-max) | x direct | TTFB p50 | TTFB p99 | added TTFB "
            "p50 | added TTFB p99 | total p50 | total p99 | added total p50 | added total p99 "
            "| errors | CPU/req µs | srv % | others % | gw core % |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in streams:
            out.append(
                f"| {r['target']} | {r['conc']} | {fmt(r['rps'], 0)} ({fmt(r['rps_min'], 0)}-"
                f"{fmt(r['rps_max'], 0)}) | {fmt(r.get('x_direct'), 3)} "
                f"| {fmt(r['ttfb_ms_p50'], 3)} | {fmt(r['ttfb_ms_p99'], 3)} "
                f"| {fmt(r.get('added_ttfb_ms_p50'), 3)} | {fmt(r.get('added_ttfb_ms_p99'), 3)} "
                f"| {fmt(r['latency_ms_p50'], 3)} | {fmt(r['latency_ms_p99'], 3)} "
                f"| {fmt(r.get('added_latency_ms_p50'), 3)} "
                f"| {fmt(r.get('added_latency_ms_p99'), 3)} | {r['errors']} "
                f"| {fmt(r['cpu_per_req_us'], 0)} | {fmt(r['server_cpu_pct'], 0)} "
                f"| {fmt(r['others_cpu_pct'], 0)} | {fmt(r['gateway_core_other_pct'], 0)} |"
            )
        out.append("")
    if mem:
        out += ["## Gateway memory (process tree)", "",
                "| when | RSS MiB | peak RSS MiB | processes |", "|---|---:|---:|---:|"]
        for when in ("after_start", "after_warmup", "end"):
            m = mem.get(when)
            if m:
                out.append(f"| {when.replace('_', ' ')} | {m['rss_kib'] / 1024:.1f} "
                           f"| {m['peak_kib'] / 1024:.1f} | {m['processes']} |")
        out.append("")
    out += ["## Environment", ""]
    for k, v in result["environment"].items():
        out.append(f"- {k}: {v}")
    out.append("")
    return "\n".join(out)


def command_python(command: list[str]) -> str:
    """The interpreter a gateway command runs in: a console script's own, from its first
    line; this one for `python -m ...`."""
    if len(command) == 1:
        with contextlib.suppress(OSError), open(command[0], "rb") as f:
            first = f.readline()
            if first.startswith(b"#!"):
                return first[2:].decode().strip().split()[0]
    return sys.executable


def environment(args: argparse.Namespace, gw: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    model = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    env["machine"] = f"{os.cpu_count()} CPUs ({model}), {platform.machine()}"
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        env["memory"] = f"{int(f.readline().split()[1]) / 1024 / 1024:.1f} GiB"
    env["kernel"] = platform.release()
    env["python (harness)"] = platform.python_version()
    probe = (
        "import importlib.metadata as m, platform\n"
        "out = ['python ' + platform.python_version()]\n"
        "for n in ('waystation','uvicorn','uvloop','httptools','aiohttp','orjson','pydantic'):\n"
        "    try: out.append(n + ' ' + m.version(n))\n"
        "    except Exception: pass\n"
        "print(', '.join(out))\n"
    )
    with contextlib.suppress(Exception):
        env["gateway packages"] = subprocess.run(
            [command_python(gw), "-c", probe], capture_output=True, text=True, timeout=30
        ).stdout.strip()
    env["gateway command"] = " ".join(gw)
    if args.wrk:
        with contextlib.suppress(Exception):
            v = subprocess.run([args.wrk, "-v"], capture_output=True, text=True, timeout=10)
            env["wrk"] = (v.stdout + v.stderr).splitlines()[0].strip()
    with contextlib.suppress(Exception):
        rev = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(HERE), "status", "--porcelain", "--", "../src"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        if rev:
            env["git"] = rev + (" (src/ modified)" if dirty else "")
    return env
