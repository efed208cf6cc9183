"""What soak.py, lifecycle.py, variants.py and scale.py share, on top of run.py's pieces.

Options every script takes, the results folder, the file-descriptor limit, CPU accounting per
process (gateway tree, mock, load tool, this process, everything else), RSS sampling in the
background, trace-row counts in SQLite and PostgreSQL, and small Markdown helpers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import resource
import secrets
import shutil
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402
from procstats import (  # noqa: E402
    children_cpu,
    cpu_busy,
    cpu_seconds,
    loadavg,
    memory_kib,
    process_tree,
    self_cpu,
)
from report import environment  # noqa: E402

log = run.log
GATEWAY_MODEL = run.GATEWAY_MODEL
UPSTREAM_MODEL = run.UPSTREAM_MODEL


# ---------------------------------------------------------------------------------------------
# options and the results folder


def common_options(p: argparse.ArgumentParser, label: str, pin: bool = True) -> None:
    """The options of run.py that the focused scripts share."""
    if pin:
        p.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
        p.add_argument("--gateway-cpus", default=None,
                       help="CPUs for the gateway (default: the last one)")
        p.add_argument("--load-cpus", default=None,
                       help="CPUs for the mock and the load (default: the others)")
    p.add_argument("--gateway-bin", default=os.environ.get("WAYSTATION_BIN"),
                   help="the `waystation` command (default: next to this Python, then PATH, "
                        "then `python -m waystation.cli.main`; env WAYSTATION_BIN)")
    p.add_argument("--gateway-env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra environment for every gateway started (repeatable)")
    p.add_argument("--ready-timeout", type=float, default=60, help="seconds to wait for /health")
    p.add_argument("--timeout", type=float, default=30, help="per-request timeout, seconds")
    p.add_argument("--out", default=None,
                   help=f"results folder (default bench/results/<time>-{label})")
    p.add_argument("--label", default=label, help="suffix of the results folder name")


def prepare(args: argparse.Namespace, *, plain_tool: str = "auto") -> Path:
    """Fill in what run.py's functions read from `args`; pin this process; make the folder."""
    args.gateway_port = 0
    args.key = "ws-bench-" + secrets.token_hex(8)
    args.gateway_extra = getattr(args, "gateway_extra", None)
    args.extra_env = {}
    for item in args.gateway_env:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--gateway-env wants NAME=VALUE, got {item!r}")
        args.extra_env[name] = value
    wrk = shutil.which("wrk")
    if plain_tool == "wrk" and not wrk:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    args.wrk = wrk if plain_tool in ("auto", "wrk") else None
    if getattr(args, "no_pin", True):
        args.gw_cpus, args.load_cpus_set = None, None
    else:
        args.gw_cpus, args.load_cpus_set = run.placement(args)
    if args.load_cpus_set:
        os.sched_setaffinity(0, args.load_cpus_set)  # the mock and the load tools inherit it
    args.gateway_cpus = sorted(args.gw_cpus or [])  # what run.measure-style code reads
    args.started = dt.datetime.now()
    stamp = args.started.strftime("%Y%m%d-%H%M%S") + (f"-{args.label}" if args.label else "")
    out = Path(args.out) if args.out else HERE / "results" / stamp
    out.mkdir(parents=True, exist_ok=True)
    args.out = out
    return out


def mock_args(args: argparse.Namespace, *, latency_ms: float = 0, chunks: int = 20,
              chunk_delay_ms: float = 0) -> argparse.Namespace:
    """A copy of `args` with the mock's settings, as run.start_mock reads them."""
    return argparse.Namespace(**{**vars(args), "mock_latency_ms": latency_ms,
                                 "stream_chunks": chunks, "chunk_delay_ms": chunk_delay_ms})


def base_result(args: argparse.Namespace, config: dict[str, Any]) -> dict[str, Any]:
    return {
        "started": args.started.isoformat(timespec="seconds"),
        "argv": sys.argv[1:],
        "loadavg_start": loadavg(),
        "config": {**config, "gateway_cpus": args.gateway_cpus,
                   "load_cpus": sorted(args.load_cpus_set or []),
                   "gateway_env": args.extra_env},
        "environment": environment(args, run.gateway_command(args)),
    }


def finish(out: Path, result: dict[str, Any], report: str) -> None:
    result["loadavg_end"] = loadavg()
    (out / "results.json").write_text(json.dumps(result, indent=1, default=str))
    (out / "report.md").write_text(report)
    print(report)
    log(f"report: {out / 'report.md'}")


def environment_lines(result: dict[str, Any]) -> list[str]:
    lines = ["## Environment", ""]
    lines += [f"- {k}: {v}" for k, v in result["environment"].items()]
    lines.append(f"- load average at start / end: {result['loadavg_start']} / "
                 f"{result.get('loadavg_end') or loadavg()}")
    return [*lines, ""]


def placement_text(args: argparse.Namespace) -> str:
    if not args.gateway_cpus:
        return "Nothing pinned: every process may use every CPU."
    return (f"Gateway pinned to CPU {','.join(map(str, args.gateway_cpus))}; mock and load on "
            f"CPU {','.join(map(str, sorted(args.load_cpus_set or [])))}.")


# ---------------------------------------------------------------------------------------------
# processes


def raise_nofile() -> dict[str, int]:
    """Soft RLIMIT_NOFILE up to the hard limit; children started afterwards inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    new_soft, new_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {"soft_before": soft, "soft": new_soft, "hard": new_hard}


def nofile_of(pid: int) -> tuple[int, int] | None:
    """(soft, hard) open-files limit of a running process, from /proc/PID/limits."""
    with contextlib.suppress(OSError, ValueError), open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    return None


def open_fds(pid: int) -> int:
    """File descriptors open in a process tree."""
    total = 0
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            total += len(os.listdir(f"/proc/{p}/fd"))
    return total


def start_gateway(args: argparse.Namespace, mock: run.Server, home: Path, *,
                  env: dict[str, str] | None = None, serve_args: list[str] | None = None,
                  log_name: str = "gateway.log", pin: bool = True) -> run.Server:
    """run.start_gateway with --gateway-env and the given extra environment."""
    return run.start_gateway(
        args, args.out, mock, args.gw_cpus if pin else None, home,
        extra_env={**args.extra_env, **(env or {})}, serve_args=serve_args, log_name=log_name,
    )


def gateway_target(server: run.Server, key: str, name: str = "gateway") -> run.Target:
    return run.Target(name, f"{server.url}/v1/chat/completions", GATEWAY_MODEL,
                      [("Authorization", f"Bearer {key}")], server)


def direct_target(mock: run.Server) -> run.Target:
    return run.Target("direct", f"{mock.url}/v1/chat/completions", UPSTREAM_MODEL, [], mock)


# ---------------------------------------------------------------------------------------------
# CPU accounting and measured cells


def cpu_snapshot(gateway_pid: int | None, mock_pid: int) -> dict[str, Any]:
    return {
        "t": time.monotonic(), "busy": cpu_busy(),
        "gateway": cpu_seconds(gateway_pid) if gateway_pid else 0.0,
        "mock": cpu_seconds(mock_pid), "load": children_cpu(), "self": self_cpu(),
    }


def cpu_delta(a: dict[str, Any], b: dict[str, Any], gateway_cpus: Sequence[int] = ()
              ) -> dict[str, float]:
    """CPU seconds per party between two snapshots, and the same in % of one core.

    `load` is the CPU of child processes that ended in between (wrk, loadgen.py); `others` is
    what the machine was busy with beyond the gateway, the mock, the load and this process.
    """
    wall = b["t"] - a["t"]
    d = {k: b[k] - a[k] for k in ("gateway", "mock", "load", "self")}
    machine = sum(b["busy"].values()) - sum(a["busy"].values())
    d["machine"] = machine
    d["others"] = max(0.0, machine - sum(d[k] for k in ("gateway", "mock", "load", "self")))
    out: dict[str, float] = {"wall_s": round(wall, 3)}
    for k, v in d.items():
        out[f"{k}_cpu_s"] = round(v, 3)
        out[f"{k}_cpu_pct"] = round(100 * v / wall, 1) if wall > 0 else 0.0
    if gateway_cpus:
        g = sum(b["busy"][c] - a["busy"][c] for c in gateway_cpus)
        out["gateway_core_other_pct"] = round(max(0.0, g - d["gateway"]) / wall * 100, 1)
    return out


def measure_cell(args: argparse.Namespace, target: run.Target, mock: run.Server, *,
                 stream: bool, conc: int, seconds: float, warmup: float,
                 gateway_pid: int | None = None) -> dict[str, Any]:
    """An unrecorded run of `warmup` s, then `seconds` measured with CPU accounting.

    The result is run.run_tool's (req/s, latency, errors) plus CPU per party, CPU µs per
    request of the server measured (`gateway_pid`, default the target's server), the mock's
    calls per request and `sent`: every request this cell completed, warm-up included.
    """
    sent = 0
    if warmup > 0:
        sent += run.run_tool(args, target, stream, conc, warmup)["requests"]
    pid = gateway_pid or target.server.pid
    calls0 = run.mock_stats(mock)["requests"]
    a = cpu_snapshot(pid, mock.pid)
    res = run.run_tool(args, target, stream, conc, seconds)
    b = cpu_snapshot(pid, mock.pid)
    calls1 = run.mock_stats(mock)["requests"]
    res.update(cpu_delta(a, b, args.gateway_cpus if target.server is not mock else ()))
    server_s = res["mock_cpu_s"] if target.server is mock else res["gateway_cpu_s"]
    n = res["requests"]
    res["cpu_per_req_us"] = round(server_s / n * 1e6, 1) if n else None
    res["upstream_calls_per_req"] = round((calls1 - calls0) / n, 3) if n else None
    res["sent"] = sent + n
    return res


# ---------------------------------------------------------------------------------------------
# memory sampling


class RssSampler:
    """Samples the RSS (and open descriptors) of a process tree in a thread, every `interval`."""

    def __init__(self, pid: int, interval: float = 0.5, fds: bool = False) -> None:
        self.pid = pid
        self.interval = interval
        self.fds = fds
        self.samples: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sample()

    def sample(self) -> dict[str, float]:
        m = memory_kib(self.pid)
        s: dict[str, float] = {"t": round(time.monotonic() - self._t0, 2),
                               "rss_mib": round(m["rss_kib"] / 1024, 1)}
        if self.fds:
            s["fds"] = open_fds(self.pid)
        self.samples.append(s)
        return s

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def summary(self) -> dict[str, Any]:
        rss = [s["rss_mib"] for s in self.samples]
        out: dict[str, Any] = {"samples": len(rss)}
        if rss:
            out.update(start_mib=rss[0], peak_mib=max(rss), end_mib=rss[-1])
        if self.fds:
            out["peak_fds"] = max((s["fds"] for s in self.samples), default=0)
        return out


# ---------------------------------------------------------------------------------------------
# trace rows


def sqlite_trace_count(home: Path) -> int | None:
    """Rows in the `traces` table of WAYSTATION_HOME/waystation.db (None: no such table)."""
    path = home / "waystation.db"
    if not path.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as c:
            return int(c.execute("select count(*) from traces").fetchone()[0])
    except sqlite3.Error:
        return None


def _pg_admin_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres"))


def _pg_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _asyncpg_dsn(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return ("postgresql" + sep + rest) if scheme.startswith("postgres") else url


async def _pg(url: str, fn: Callable[[Any], Any]) -> Any:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=5)
    try:
        return await fn(conn)
    finally:
        await conn.close()


def pg_problem(url: str) -> str | None:
    """Why PostgreSQL at `url` cannot be used (None: it can)."""
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        return "asyncpg is not installed"
    try:
        asyncio.run(_pg(_pg_admin_url(url), lambda c: c.fetchval("select 1")))
    except Exception as exc:  # any reason to skip is reported as is
        return f"{type(exc).__name__}: {exc}"
    return None


def pg_recreate(url: str) -> None:
    """Drop and create the database named in `url` (no one may be connected to it)."""
    name = _pg_name(url)
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing to drop a database named {name!r}")

    async def recreate(conn: Any) -> None:
        await conn.execute(f'drop database if exists "{name}" with (force)')
        await conn.execute(f'create database "{name}"')

    asyncio.run(_pg(_pg_admin_url(url), recreate))


def pg_trace_count(url: str) -> int | None:
    async def count(conn: Any) -> int | None:
        if not await conn.fetchval("select to_regclass('traces') is not null"):
            return None
        return int(await conn.fetchval("select count(*) from traces"))

    try:
        return asyncio.run(_pg(url, count))
    except Exception:  # no table, no server: nothing to count
        return None


def wait_for_count(count: Callable[[], int | None], expected: int, timeout: float,
                   settle: float = 2.0) -> int | None:
    """Poll `count` until it reaches `expected` or stops growing for `settle` s (or timeout)."""
    deadline = time.monotonic() + timeout
    last = count()
    changed = time.monotonic()
    while time.monotonic() < deadline:
        if last is not None and last >= expected:
            return last
        time.sleep(0.25)
        now = count()
        if now != last:
            last, changed = now, time.monotonic()
        elif time.monotonic() - changed >= settle:
            break
    return last


# ---------------------------------------------------------------------------------------------
# numbers and Markdown


def pct(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (nearest rank) of `values`; None when empty."""
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100.0 * len(s) + 0.5) - 1))]


def fmt(v: float | None, digits: int = 1) -> str:
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None
          ) -> list[str]:
    """A Markdown table; `align` is one letter per column, l or r (default: first l, rest r)."""
    align = align or "l" + "r" * (len(headers) - 1)
    sep = ["---" if a == "l" else "---:" for a in align]
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(sep) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def log_summary(paths: Sequence[Path]) -> list[str]:
    """One Markdown line per server log: how many lines it has (at warning level a healthy
    gateway writes none) and the first few."""
    out = []
    for path in paths:
        if not path.exists():
            continue
        lines = [x for x in path.read_text(errors="replace").splitlines() if x.strip()]
        if not lines:
            out.append(f"- `{path.name}`: empty")
            continue
        first = "; ".join(x[:160] for x in lines[:3])
        out.append(f"- `{path.name}`: **{len(lines)} lines**, first: `{first}`")
    return out
