"""Gateway overhead benchmark: Waystation in front of a fake upstream vs the upstream alone.

Starts the mock upstream (bench/mock_upstream.py) and one `waystation serve` pinned to one CPU,
checks a plain and a streamed completion end to end, warms the gateway up, then runs a
closed-loop load matrix (modes x concurrency levels x repetitions), each cell against the mock
directly ("direct") and through the gateway, interleaved. Plain requests are driven by wrk
when installed (bench/loadgen.py otherwise); streams always by bench/loadgen.py.

Reports per cell: requests/s, latency p50/p90/p99 (streams: time to first event and to the
end of the stream), the latency the gateway adds over direct, errors, CPU time of the server
per request and the load other processes put on the machine meanwhile; RSS after start,
after warm-up and at the end. Results go to bench/results/<time>/ (report.md, results.json,
the servers' logs).

    python bench/run.py                          # full matrix, about 8 minutes
    python bench/run.py --reps 1 --duration 3    # quick look
    python bench/run.py --check-only             # start, verify a completion both ways, stop
    python bench/run.py --profile nonstream,stream --profile-conc 64   # py-spy under load
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import loadgen  # noqa: E402
import mock_upstream  # noqa: E402
from procstats import (  # noqa: E402
    children_cpu,
    cpu_busy,
    cpu_seconds,
    loadavg,
    memory_kib,
    self_cpu,
)
from report import environment, headline, render_report, summarise  # noqa: E402

UPSTREAM_MODEL = "gpt-4o-mini"
GATEWAY_MODEL = "openai/gpt-4o-mini"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin_prefix(cpus: set[int] | None) -> list[str]:
    if not cpus:
        return []
    taskset = shutil.which("taskset")
    if taskset is None:
        raise SystemExit("taskset not found (util-linux); install it or pass --no-pin")
    return [taskset, "-c", ",".join(str(c) for c in sorted(cpus))]


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    url: str  # base, no trailing slash
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def start_mock(args: argparse.Namespace, out: Path, cpus: set[int] | None) -> Server:
    log_path = out / "mock.log"
    cmd = [
        *pin_prefix(cpus), sys.executable, str(HERE / "mock_upstream.py"), "--port", "0",
        "--latency-ms", str(args.mock_latency_ms),
        "--stream-chunks", str(args.stream_chunks),
        "--chunk-delay-ms", str(args.chunk_delay_ms),
    ]
    errf = open(log_path, "wb")  # noqa: SIM115 (lives as long as the process)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, start_new_session=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    m = re.match(r"listening (\d+)", line)
    if not m:
        proc.kill()
        raise SystemExit(f"mock upstream did not start (see {log_path}): {line!r}")
    return Server("mock", proc, f"http://127.0.0.1:{m.group(1)}", log_path)


def gateway_command(args: argparse.Namespace) -> list[str]:
    if args.gateway_bin:
        return [args.gateway_bin]
    local = Path(sys.executable).parent / "waystation"
    if local.exists():
        return [str(local)]
    found = shutil.which("waystation")
    if found:
        return [found]
    return [sys.executable, "-m", "waystation.cli.main"]


def gateway_env(args: argparse.Namespace, mock: Server, home: Path) -> dict[str, str]:
    """The gateway's environment: this one plus the mock upstream, the key, the home folder."""
    env = dict(os.environ)
    env.update(
        OPENAI_BASE_URL=f"{mock.url}/v1",
        OPENAI_API_KEY="sk-bench-upstream",
        WAYSTATION_MASTER_KEY=args.key,
        WAYSTATION_LOG_LEVEL="warning",
        WAYSTATION_HOME=str(home),
    )
    return env


def spawn_gateway(
    args: argparse.Namespace, out: Path, mock: Server, cpus: set[int] | None, home: Path, *,
    extra_env: dict[str, str] | None = None, serve_args: list[str] | None = None,
    log_name: str = "gateway.log", port: int | None = None, quiet: bool = False,
) -> Server:
    """Start `waystation serve` without waiting for it (see `wait_ready`)."""
    port = port or args.gateway_port or free_port()
    log_path = out / log_name
    cmd = pin_prefix(cpus) + gateway_command(args) + [
        "serve", "--host", "127.0.0.1", "--port", str(port), *(serve_args or []),
    ]
    env = gateway_env(args, mock, home)
    env.update(extra_env or {})
    logf = open(log_path, "ab")  # noqa: SIM115 (lives as long as the process)
    if not quiet:
        log(f"gateway: {' '.join(cmd)}")
    proc = subprocess.Popen(
        cmd, stdout=logf, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    logf.close()  # the child has its own copy
    return Server("gateway", proc, f"http://127.0.0.1:{port}", log_path)


def wait_ready(server: Server, timeout: float, interval: float = 0.1) -> None:
    """Poll `/health` until it answers 200; stops the server and exits if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise SystemExit(f"gateway exited with {server.proc.returncode}; see {server.log_path}")
        with contextlib.suppress(OSError), urllib.request.urlopen(
            f"{server.url}/health", timeout=1
        ) as r:
            if r.status == 200:
                return
        time.sleep(interval)
    server.stop()
    raise SystemExit(f"gateway not ready after {timeout}s; see {server.log_path}")


def start_gateway(
    args: argparse.Namespace, out: Path, mock: Server, cpus: set[int] | None, home: Path,
    **kwargs: Any,
) -> Server:
    """Start `waystation serve` and wait for `/health`; keyword arguments as `spawn_gateway`."""
    server = spawn_gateway(args, out, mock, cpus, home, **kwargs)
    wait_ready(server, args.ready_timeout)
    return server


def mock_stats(mock: Server) -> dict[str, int]:
    with urllib.request.urlopen(f"{mock.url}/mock/stats", timeout=5) as r:
        data: dict[str, int] = json.loads(r.read())
        return data


# ---------------------------------------------------------------------------------------------
# targets and load


@dataclass
class Target:
    name: str
    url: str  # full chat-completions URL
    model: str
    headers: list[tuple[str, str]]
    server: Server

    def payload(self, stream: bool) -> bytes:
        return loadgen.build_request(self.url, loadgen.chat_body(self.model, stream), self.headers)


def check_target(target: Target, mock: Server) -> list[str]:
    """One plain and one streamed completion; the list of problems (empty = fine)."""
    problems: list[str] = []
    before = mock_stats(mock)

    async def both() -> tuple[tuple[int, bytes], tuple[int, bytes]]:
        plain = await loadgen.fetch_once(target.url, target.payload(False), stream=False)
        streamed = await loadgen.fetch_once(target.url, target.payload(True), stream=True)
        return plain, streamed

    try:
        (ps, pbody), (ss, sbody) = asyncio.run(both())
    except loadgen.ReplyError as exc:
        return [f"request failed: {exc.kind}"]
    if ps != 200:
        problems.append(f"plain: status {ps}: {pbody[:200]!r}")
    else:
        data = json.loads(pbody)
        text = data["choices"][0]["message"]["content"]
        if text != mock_upstream.REPLY_TEXT:
            problems.append("plain: reply text differs from the mock's")
        if not (data.get("usage") or {}).get("total_tokens"):
            problems.append("plain: no usage")
    if ss != 200:
        problems.append(f"stream: status {ss}: {sbody[:200]!r}")
    else:
        events = [e[6:] for e in sbody.decode().split("\n\n") if e.startswith("data: ")]
        if not events or events[-1] != "[DONE]":
            problems.append("stream: does not end with data: [DONE]")
        chunks = [json.loads(e) for e in events if e != "[DONE]"]
        text = "".join(
            (c["choices"][0].get("delta") or {}).get("content") or ""
            for c in chunks
            if c.get("choices")
        )
        if text != mock_upstream.REPLY_TEXT:
            problems.append("stream: reply text differs from the mock's")
        if not any((c.get("usage") or {}).get("total_tokens") for c in chunks):
            problems.append("stream: no usage chunk although include_usage was asked for")
    after = mock_stats(mock)
    if after["completions"] - before["completions"] < 1 or after["streams"] - before["streams"] < 1:
        problems.append("the mock did not see the requests")
    return problems


def run_tool(
    args: argparse.Namespace, target: Target, stream: bool, conc: int, seconds: float
) -> dict[str, Any]:
    """One closed-loop run; the tool's JSON summary, normalised."""
    use_wrk = not stream and args.wrk is not None
    extra = args.gateway_extra if target.name != "direct" else None
    if use_wrk:
        body_file = args.out / ("body-" + target.name + ".json")
        if not body_file.exists():
            body_file.write_bytes(loadgen.chat_body(
                target.model, False, extra=json.loads(extra) if extra else None))
        secs = max(1, round(seconds))
        cmd = [
            args.wrk, "-t1", f"-c{conc}", f"-d{secs}s", f"--timeout={args.timeout:g}s",
            "-s", str(HERE / "wrk_post.lua"), target.url, "--", str(body_file),
        ] + [f"{k}: {v}" for k, v in target.headers]
    else:
        cmd = [
            sys.executable, str(HERE / "loadgen.py"), "--url", target.url,
            "--model", target.model, "--conc", str(conc), "--duration", f"{seconds:g}",
            "--timeout", f"{args.timeout:g}",
        ] + (["--stream"] if stream else []) + (["--extra", extra] if extra else [])
        for k, v in target.headers:
            cmd += ["-H", f"{k}: {v}"]
    proc = subprocess.run(cmd, capture_output=True, timeout=seconds + args.timeout + 60)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-500:]!r}")
    line = [x for x in proc.stdout.decode().splitlines() if x.startswith("{")][-1]
    raw = json.loads(line)
    if raw["tool"] == "wrk":
        dur = raw["duration_us"] / 1e6
        errs = {k: v for k, v in raw["errors"].items() if v}
        ok = raw["requests"] - raw["errors"]["status"]
        lat = {k: round(v / 1000.0, 4) for k, v in raw["latency_us"].items()}
        return {
            "tool": "wrk", "requests": ok, "duration_s": round(dur, 3),
            "rps": round(ok / dur, 2) if dur else 0.0, "errors": errs,
            "error_count": sum(errs.values()), "latency_ms": lat,
        }
    raw["tool"] = "loadgen"
    return raw


def measure(
    args: argparse.Namespace, target: Target, stream: bool, conc: int, mock: Server
) -> dict[str, Any]:
    """Warm-up run, then the measured run with CPU accounting around it."""
    if args.warmup > 0:
        run_tool(args, target, stream, conc, args.warmup)
    server_pid = target.server.pid
    busy0, t0 = cpu_busy(), time.monotonic()
    srv0, mock0, kids0, me0 = cpu_seconds(server_pid), cpu_seconds(mock.pid), children_cpu(), \
        self_cpu()
    res = run_tool(args, target, stream, conc, args.duration)
    busy1, t1 = cpu_busy(), time.monotonic()
    srv1, mock1, kids1, me1 = cpu_seconds(server_pid), cpu_seconds(mock.pid), children_cpu(), \
        self_cpu()
    wall = t1 - t0
    srv = srv1 - srv0
    ours = srv + (kids1 - kids0) + (me1 - me0)
    if target.server is not mock:
        ours += mock1 - mock0
    machine = sum(busy1.values()) - sum(busy0.values())
    res["server_cpu_s"] = round(srv, 3)
    res["cpu_per_req_us"] = round(srv / res["requests"] * 1e6, 1) if res["requests"] else None
    res["server_cpu_pct"] = round(100 * srv / wall, 1)
    # CPU the rest of the machine used meanwhile (other processes, softirq), % of one core
    res["others_cpu_pct"] = round(max(0.0, machine - ours) / wall * 100, 1)
    if args.gateway_cpus:
        g = sum(busy1[c] - busy0[c] for c in args.gateway_cpus)
        if target.name == "gateway":
            res["gateway_core_other_pct"] = round(max(0.0, g - srv) / wall * 100, 1)
        else:
            res["gateway_core_other_pct"] = round(g / wall * 100, 1)
    return res


# ---------------------------------------------------------------------------------------------
# profiling


FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def _short(path: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        i = path.rfind(marker)
        if i >= 0:
            rest = path[i + len(marker):]
            return rest.split("/", 1)[1] if marker == "/lib/python3" and "/" in rest else rest
    return path


# Frames that only say "the server is running": left out of the inclusive table.
ENTRY_FRAMES = re.compile(
    r"\((typer/|click/|uvicorn/(main|server|_compat)\.py|asyncio/(runners|base_events)\.py|"
    r"threading\.py|waystation/cli/main\.py|waystation\)|<string>\))"
)
THREAD_FRAME = re.compile(r"^(thread|process) \(")


def package_of(name: str) -> str:
    """`func (pkg/mod.py)` → `pkg` (for waystation: `waystation/subpackage`)."""
    m = re.search(r"\(([^)]*)\)$", name)
    if not m:
        return "?"
    path = m.group(1)
    if path.startswith("waystation/"):
        parts = path.split("/")
        return "/".join(parts[:2]) if len(parts) > 2 else path
    if name.startswith("Runner.run (asyncio/runners.py"):
        return "event loop (uvloop, C; I/O and callbacks)"
    return path.split("/", 1)[0].removesuffix(".py")


def profile_tables(raw_path: Path, top: int) -> tuple[str, int]:
    """Sample counts per thread, package and function from py-spy's raw (collapsed) output."""
    self_c: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    pkgs: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in raw_path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        thread = "?"
        while frames and THREAD_FRAME.match(frames[0]):
            thread = frames.pop(0)
        names = []
        for fr in frames:
            m = FRAME.match(fr)
            names.append(f"{m['func']} ({_short(m['file'])})" if m else fr)
        if not names:
            continue
        total += n
        threads[thread] += n
        self_c[names[-1]] += n
        pkgs[package_of(names[-1])] += n
        for name in set(names):
            if not ENTRY_FRAMES.search(name):
                incl[name] += n
    if not total:
        return "no samples\n", 0

    def table(title: str, c: Counter[str], what: str, rows_max: int) -> list[str]:
        rows = [f"### {title}", "", f"| % of samples | samples | {what} |", "|---:|---:|---|"]
        rows += [
            f"| {100 * n / total:.1f} | {n} | `{name}` |" for name, n in c.most_common(rows_max)
        ]
        return [*rows, ""]

    lines = table("Threads", threads, "thread", 10)
    lines += table("Self time by package (where the CPU was)", pkgs, "package", 20)
    lines += table("Self time by function", self_c, "function (file)", top)
    lines += table("Inclusive time (on the stack; entry-point frames left out)", incl,
                   "function (file)", top)
    return "\n".join(lines), total


def run_profile(
    args: argparse.Namespace, target: Target, mock: Server, mode: str, out: Path
) -> str:
    spy = args.py_spy or shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists() and not shutil.which(spy):
        raise SystemExit("py-spy not found: pip install -r bench/requirements.txt, or --py-spy")
    stream = mode == "stream"
    seconds = args.profile_seconds
    raw_path = out / f"profile-{mode}-c{args.profile_conc}.txt"
    svg_path = out / f"profile-{mode}-c{args.profile_conc}.svg"
    svg_seconds = min(seconds, 10)
    log(f"profile {mode} c={args.profile_conc}: {seconds}s of py-spy on pid {target.server.pid}")
    load = subprocess.Popen(
        [sys.executable, str(HERE / "loadgen.py"), "--url", target.url, "--model", target.model,
         "--conc", str(args.profile_conc), "--duration", str(seconds + svg_seconds + 8),
         "--timeout", f"{args.timeout:g}"]
        + (["--stream"] if stream else [])
        + [x for k, v in target.headers for x in ("-H", f"{k}: {v}")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    time.sleep(2)
    base = [spy, "record", "-p", str(target.server.pid), "-d", str(seconds), "-r",
            str(args.profile_rate), "--nonblocking", "--threads"]
    if args.profile_native:
        base.append("--native")
    if args.profile_gil:
        base.append("--gil")
    cpu0 = cpu_seconds(target.server.pid)
    subprocess.run([*base, "-f", "raw", "-o", str(raw_path)], check=True,
                   capture_output=True, timeout=seconds + 60)
    cpu1 = cpu_seconds(target.server.pid)
    stdout, _ = load.communicate(timeout=seconds + args.timeout + 60)
    load_res = json.loads(stdout.decode().strip().splitlines()[-1])
    with contextlib.suppress(Exception):  # a flame graph as well, shorter
        subprocess.run([*base[:5], str(svg_seconds), *base[6:], "-o", str(svg_path)],
                       capture_output=True, timeout=seconds + 60)
    tables, total = profile_tables(raw_path, args.profile_top)
    busy = 100 * total / (seconds * args.profile_rate)
    gw_cpu = 100 * (cpu1 - cpu0) / seconds
    head = (
        f"## Profile: {mode}, c={args.profile_conc}\n\n"
        f"{total} samples over {seconds} s at {args.profile_rate} Hz (busy threads found in "
        f"{busy:.0f}% of the sampling ticks, all threads together; gateway CPU {gw_cpu:.0f}% "
        f"of its core). Load while sampling: {load_res['rps']:,.0f} req/s, "
        f"{load_res['error_count']} errors. Raw stacks: `{raw_path.name}`, flame graph: "
        f"`{svg_path.name}`.\n\n"
    )
    return head + tables


# ---------------------------------------------------------------------------------------------
# main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--conc", default="1,16,64", help="concurrency levels (default 1,16,64)")
    p.add_argument("--modes", default="nonstream,stream", help="nonstream and/or stream")
    p.add_argument("--reps", type=int, default=3, help="repetitions; reports give the median")
    p.add_argument("--duration", type=float, default=10, help="measured seconds per cell")
    p.add_argument("--warmup", type=float, default=2, help="unrecorded seconds before each cell")
    p.add_argument("--gateway-warmup", type=float, default=10,
                   help="seconds of load per mode at c=16 before measuring (and before RSS)")
    p.add_argument("--timeout", type=float, default=30, help="per-request timeout, seconds")
    p.add_argument("--stream-chunks", type=int, default=20, help="content chunks per stream")
    p.add_argument("--mock-latency-ms", type=float, default=0, help="upstream delay")
    p.add_argument("--chunk-delay-ms", type=float, default=0, help="delay between SSE events")
    p.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    p.add_argument("--gateway-cpus", default=None, help="CPUs for the gateway (default: last)")
    p.add_argument("--load-cpus", default=None, help="CPUs for mock + load (default: the rest)")
    p.add_argument("--gateway-bin", default=os.environ.get("WAYSTATION_BIN"),
                   help="the `waystation` command (default: next to this Python, then PATH, "
                        "then `python -m waystation.cli.main`; env WAYSTATION_BIN)")
    p.add_argument("--gateway-port", type=int, default=0, help="fixed gateway port")
    p.add_argument("--ready-timeout", type=float, default=60, help="seconds to wait for /health")
    p.add_argument("--plain-tool", choices=("auto", "wrk", "loadgen"), default="auto",
                   help="load tool for non-streaming requests (auto: wrk if installed)")
    p.add_argument("--direct-only", action="store_true",
                   help="measure only the mock directly (the harness's own ceiling)")
    p.add_argument("--check-only", action="store_true", help="start, check, stop")
    p.add_argument("--gateway-extra", default=None, metavar="JSON",
                   help='JSON merged into the gateway\'s request bodies under load (not the '
                        'checks), e.g. \'{"cache": {"type": "exact_match", "ttl": 3600}}\' '
                        'to measure cache hits')
    p.add_argument("--profile", default=None, metavar="MODES",
                   help="instead of the matrix: py-spy the gateway under load for these modes")
    p.add_argument("--profile-conc", type=int, default=64)
    p.add_argument("--profile-seconds", type=int, default=20)
    p.add_argument("--profile-rate", type=int, default=250, help="py-spy samples per second")
    p.add_argument("--profile-native", action="store_true", help="py-spy --native")
    p.add_argument("--profile-gil", action="store_true",
                   help="py-spy --gil: only samples of the thread holding the GIL")
    p.add_argument("--profile-top", type=int, default=25, help="rows per profile table")
    p.add_argument("--py-spy", default=None, help="path of the py-spy binary")
    p.add_argument("--max-minutes", type=float, default=40,
                   help="refuse a matrix estimated to take longer")
    p.add_argument("--out", default=None, help="results folder (default bench/results/<time>)")
    p.add_argument("--label", default="", help="suffix for the results folder name")
    args = p.parse_args(argv)
    args.conc_levels = [int(c) for c in args.conc.split(",") if c]
    args.mode_list = [m for m in args.modes.split(",") if m]
    for m in args.mode_list:
        if m not in ("nonstream", "stream"):
            p.error(f"unknown mode {m!r}")
    return args


def placement(args: argparse.Namespace) -> tuple[set[int] | None, set[int] | None]:
    if args.no_pin:
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    gw = {int(c) for c in args.gateway_cpus.split(",")} if args.gateway_cpus else {cpus[-1]}
    load = {int(c) for c in args.load_cpus.split(",")} if args.load_cpus else set(cpus) - gw
    if not load:
        log("only one CPU: not pinning")
        return None, None
    return gw, load


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    gw_cpus, load_cpus = placement(args)
    args.gateway_cpus, args.load_cpus_set = sorted(gw_cpus or []), load_cpus
    if load_cpus:
        os.sched_setaffinity(0, load_cpus)  # the mock, the load tools and py-spy inherit it
    wrk = shutil.which("wrk")
    if args.plain_tool == "wrk" and not wrk:
        raise SystemExit("wrk not found: apt-get install -y wrk, or --plain-tool loadgen")
    args.wrk = wrk if args.plain_tool in ("auto", "wrk") else None
    started = dt.datetime.now()
    stamp = started.strftime("%Y%m%d-%H%M%S") + (f"-{args.label}" if args.label else "")
    out = Path(args.out) if args.out else HERE / "results" / stamp
    out.mkdir(parents=True, exist_ok=True)
    args.out = out
    args.key = "ws-bench-" + secrets.token_hex(8)

    targets_per_cell = 1 if args.direct_only else 2
    cells = len(args.mode_list) * len(args.conc_levels) * args.reps * targets_per_cell
    estimate = cells * (args.warmup + args.duration + 1) + len(args.mode_list) * (
        args.gateway_warmup + 1) + 10
    if not (args.check_only or args.profile) and estimate / 60 > args.max_minutes:
        raise SystemExit(f"estimated {estimate / 60:.1f} min > --max-minutes {args.max_minutes}")

    # read before the gateway starts: the code it will run
    env_info = environment(args, gateway_command(args))
    home = Path(tempfile.mkdtemp(prefix="waystation-bench-"))
    mock = start_mock(args, out, load_cpus)
    servers: list[Server] = [mock]
    result: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "argv": sys.argv[1:],
        "loadavg_start": loadavg(),
        "config": {
            "conc": args.conc_levels, "modes": args.mode_list, "reps": args.reps,
            "duration": args.duration, "warmup": args.warmup,
            "gateway_warmup": args.gateway_warmup, "stream_chunks": args.stream_chunks,
            "mock_latency_ms": args.mock_latency_ms, "chunk_delay_ms": args.chunk_delay_ms,
            "gateway_cpus": args.gateway_cpus, "load_cpus": sorted(load_cpus or []),
            "plain_tool": "wrk" if args.wrk else "loadgen",
        },
        "memory": {}, "checks": {}, "runs": [], "environment": env_info,
    }
    try:
        log(f"mock upstream on {mock.url}; results in {out}")
        direct = Target("direct", f"{mock.url}/v1/chat/completions", UPSTREAM_MODEL, [], mock)
        targets = [direct]
        gateway: Target | None = None
        if not args.direct_only:
            gw_server = start_gateway(args, out, mock, gw_cpus, home)
            servers.append(gw_server)
            gateway = Target(
                "gateway", f"{gw_server.url}/v1/chat/completions", GATEWAY_MODEL,
                [("Authorization", f"Bearer {args.key}")], gw_server,
            )
            targets.append(gateway)
            result["memory"]["after_start"] = memory_kib(gw_server.pid)
            log(f"gateway on {gw_server.url} (pid {gw_server.pid}, CPU {args.gateway_cpus})")
        for t in targets:
            problems = check_target(t, mock)
            result["checks"][t.name] = problems or "ok"
            if problems:
                raise SystemExit(f"{t.name} failed the check: {problems}")
            log(f"{t.name}: check ok (text, usage, [DONE], reached the mock)")
        if args.check_only:
            return 0
        if gateway is not None and args.gateway_warmup > 0:
            for mode in args.mode_list:
                log(f"gateway warm-up: {mode}, c=16, {args.gateway_warmup:g}s")
                run_tool(args, gateway, mode == "stream", 16, args.gateway_warmup)
            result["memory"]["after_warmup"] = memory_kib(gateway.server.pid)
            rss = result["memory"]["after_warmup"]["rss_kib"] / 1024
            log(f"gateway RSS after warm-up: {rss:.1f} MiB")
        if args.profile:
            assert gateway is not None, "--profile needs the gateway"
            sections = []
            for mode in [m for m in args.profile.split(",") if m]:
                sections.append(run_profile(args, gateway, mock, mode, out))
            text = f"# Waystation profile ({result['started']})\n\n" + "\n".join(sections)
            (out / "profile.md").write_text(text)
            print(text)
            return 0
        log(f"matrix: {cells} runs, about {estimate / 60:.1f} min")
        for rep in range(args.reps):
            for mode in args.mode_list:
                for conc in args.conc_levels:
                    order = targets[rep % len(targets):] + targets[: rep % len(targets)]
                    for t in order:
                        res = measure(args, t, mode == "stream", conc, mock)
                        res.update(rep=rep, mode=mode, conc=conc, target=t.name)
                        result["runs"].append(res)
                        lat = res["latency_ms"]
                        extra = f" ttfb p50 {res['ttfb_ms'].get('p50')}" if "ttfb_ms" in res else ""
                        log(f"rep {rep + 1} {mode:9} c={conc:<3} {t.name:8} "
                            f"{res['rps']:>10,.0f}/s p50 {lat.get('p50')} p99 {lat.get('p99')}"
                            f"{extra} err {res['error_count']} cpu/req {res['cpu_per_req_us']}µs "
                            f"others {res['others_cpu_pct']}%")
        if gateway is not None:
            result["memory"]["end"] = memory_kib(gateway.server.pid)
            for t in targets:
                problems = check_target(t, mock)
                result["checks"][t.name + "_after"] = problems or "ok"
        result["loadavg_end"] = loadavg()
        result["summary"] = summarise(result["runs"])
        result["headline"] = headline(result["summary"], result["memory"])
        (out / "results.json").write_text(json.dumps(result, indent=1, default=str))
        report = render_report(result)
        (out / "report.md").write_text(report)
        print(report)
        return 0
    finally:
        for s in reversed(servers):
            s.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
