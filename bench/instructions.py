"""Instructions per request: what each variant of variants.py costs, counted, not timed.

On a shared virtual machine, CPU time per request drifts by tens of percent from one cell to
the next, and a ratio of two such figures carries that drift. Instructions do not drift: each
variant's gateway runs under `valgrind --tool=callgrind` (one thread at a time, about fifty
times slower), takes `--warmup` requests, has its counters zeroed, takes `--requests` more at
`--conc` (plain, or streams with `--stream`), and is dumped after its trace writer has had
`--settle` seconds to finish. Reported per variant: instructions per request in the event
loop's thread and in all others (the trace writer and worker pools), their sum, and
`no-traces`' sum divided by it: the throughput one core would give the variant relative to
`no-traces` if every instruction took as long.

What instructions leave out, and the timed scripts measure: cache misses, system calls and the
kernel's time, and the cost of two threads sharing one core. Use it to see where a change
moves work, and side_by_side.py for what a core actually does.

    python bench/instructions.py                       # 5 variants x 3,000 plain requests, ~15 min
    python bench/instructions.py --variants no-traces,traces-sqlite --requests 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness as h  # noqa: E402
import loadgen  # noqa: E402
import run  # noqa: E402
import variants  # noqa: E402

log = h.log


def callgrind_totals(folder: Path, pid: int) -> dict[int, int]:
    """Instructions by thread number in the dump made after the counters were zeroed."""
    totals: dict[int, int] = {}
    for path in folder.glob(f"cg.{pid}.1-*"):
        found = re.search(r"^(?:summary|totals): (\d+)", path.read_text(errors="replace"), re.M)
        if found:
            totals[int(path.name.rsplit("-", 1)[1])] = int(found.group(1))
    return totals


def load(target: run.Target, extra: str | None, stream: bool, count: int, conc: int) -> int:
    """`count` requests (closed loop at `conc`); the number that failed."""
    body = loadgen.chat_body(target.model, stream, extra=json.loads(extra) if extra else None)
    payload = loadgen.build_request(target.url, body, target.headers)
    result = asyncio.run(loadgen.run_load(target.url, payload, stream=stream, conc=conc,
                                          duration=3600, requests=count))
    return int(result.get("error_count", 0))


def measure(args: argparse.Namespace, name: str, mock: run.Server) -> dict[str, Any]:
    env, extra = variants.variant_setup(args, name)
    home = Path(tempfile.mkdtemp(prefix=f"waystation-ins-{name}-"))
    dumps = args.out / f"callgrind-{name}"
    dumps.mkdir(exist_ok=True)
    if name == "traces-postgres":
        h.pg_recreate(args.pg_url)
    gateway = [sys.executable, "-m", "waystation.cli.main"] if not args.gateway_bin \
        else [args.gateway_bin]
    port = run.free_port()
    cmd = ["valgrind", "--tool=callgrind", "--separate-threads=yes", "--dump-instr=no",
           f"--callgrind-out-file={dumps}/cg.%p", *gateway,
           "serve", "--host", "127.0.0.1", "--port", str(port)]
    penv = run.gateway_env(args, mock, home)
    penv.update(args.extra_env, **env)
    log_path = args.out / f"gateway-{name}.log"
    logf = open(log_path, "ab")  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=penv,
                            start_new_session=True)
    logf.close()
    server = run.Server("gateway", proc, f"http://127.0.0.1:{port}", log_path)
    try:
        run.wait_ready(server, args.ready_timeout)
        target = h.gateway_target(server, args.key, name)
        errors = load(target, extra, args.stream, args.warmup, args.conc)
        time.sleep(args.settle)
        subprocess.run(["callgrind_control", "--zero", str(proc.pid)], check=True,
                       capture_output=True)
        errors += load(target, extra, args.stream, args.requests, args.conc)
        time.sleep(args.settle)
        subprocess.run(["callgrind_control", "--dump", str(proc.pid)], check=True,
                       capture_output=True)
        time.sleep(1)
    finally:
        server.stop()
    shutil.rmtree(home, ignore_errors=True)
    totals = callgrind_totals(dumps, proc.pid)
    if not totals:
        raise SystemExit(f"{name}: no callgrind dump in {dumps}")
    loop = totals.get(1, 0) / args.requests
    others = sum(v for k, v in totals.items() if k != 1) / args.requests
    log(f"{name:15} loop {loop:,.0f} others {others:,.0f} instructions per request, "
        f"{errors} errors")
    return {"variant": name, "loop": loop, "others": others, "total": loop + others,
            "errors": errors}


def render(args: argparse.Namespace, result: dict[str, Any]) -> str:
    rows = result["variants"]
    base = next((r["total"] for r in rows if r["variant"] == "no-traces"), None)
    out = [f"# Waystation instructions per request ({result['started']})", "",
           f"Each variant's gateway under callgrind: {args.warmup:,} requests, counters zeroed, "
           f"{args.requests:,} {'streams' if args.stream else 'plain requests'} at c={args.conc}"
           f", dumped {args.settle:.0f} s later. Thousands of instructions per request.", ""]
    out += h.table(["variant", "event loop", "other threads", "total", "x no-traces",
                    "errors"],
                   [[r["variant"], f"{r['loop'] / 1000:.1f}k", f"{r['others'] / 1000:.1f}k",
                     f"{r['total'] / 1000:.1f}k",
                     f"{base / r['total']:.3f}" if base else "-", r["errors"]] for r in rows])
    return "\n".join([*out, "", *h.environment_lines(result), ""])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", default=",".join(variants.VARIANTS),
                   help="which variants; no-traces is the baseline of the ratio")
    p.add_argument("--requests", type=int, default=3000, help="requests counted (3,000)")
    p.add_argument("--warmup", type=int, default=600, help="requests before counting (600)")
    p.add_argument("--conc", type=int, default=8, help="concurrency (8)")
    p.add_argument("--stream", action="store_true", help="streams instead of plain requests")
    p.add_argument("--settle", type=float, default=3.0,
                   help="seconds for the trace writer before zeroing and dumping (3)")
    variants.variant_options(p)
    h.common_options(p, "instructions", pin=False)
    p.set_defaults(ready_timeout=300)  # under callgrind a start takes 20-60 s, more when busy
    args = p.parse_args(argv)
    args.variant_list = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(args.variant_list) - set(variants.KNOWN)
    if unknown:
        p.error(f"unknown variants: {sorted(unknown)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind not found: apt-get install -y valgrind")
    out = h.prepare(args)
    notes: list[str] = []
    variants.skip_unreachable_postgres(args, notes)
    result = h.base_result(args, {"requests": args.requests, "warmup": args.warmup,
                                  "conc": args.conc, "stream": args.stream})
    mock = run.start_mock(h.mock_args(args, chunks=args.stream_chunks), out, None)
    try:
        result["variants"] = [measure(args, name, mock) for name in args.variant_list]
    finally:
        mock.stop()
    result["notes"] = notes
    h.finish(out, result, render(args, result) + "".join(f"\n{n}\n" for n in notes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
