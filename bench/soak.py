"""Soak: many concurrent streams held open through the gateway while the upstream is slow.

Starts the mock upstream with slow streams (`--chunks` content chunks, `--chunk-delay-ms`
between events: a stream lasts (chunks + 3) x delay, 30 s by default) and one `waystation
serve` pinned to one CPU, warms the gateway up, then opens `--streams` streaming completions
at once (spread over `--ramp` seconds) and holds every one of them to its end. Meanwhile:

- each stream records whether it completed (`data: [DONE]`, no error), its events, its time
  to the first event and the largest gap between consecutive events; "stall" is that gap
  minus the upstream's chunk delay;
- a probe sends plain (non-streamed) completions one at a time, every `--probe-interval-ms`,
  and records their latency (before the soak, for reference, and during it);
- a thread samples the gateway's RSS and open descriptors every `--sample-interval` s;
- a timer watches this process's own event loop, so its lag is not mistaken for a stall.

The streams need two descriptors each in the gateway (client and upstream socket): the soft
open-files limit is raised to the hard one here, and the mock and the gateway inherit it.

Default run: about 45 s (start-up and warm-up 10 s, 1,000 streams x 30 s, flush 5 s).

    python bench/soak.py                                   # 1,000 streams x 30 s
    python bench/soak.py --streams 200 --chunks 2 --chunk-delay-ms 1000   # a 5 s check
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
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
import mock_upstream  # noqa: E402
import run  # noqa: E402
from procstats import memory_kib  # noqa: E402

log = h.log
now = time.perf_counter


class StreamConn(loadgen.Conn):
    """loadgen's connection, also timing every complete SSE event (a `\\n\\n` terminator)."""

    def _reset(self) -> None:
        super()._reset()
        self.events = 0
        self.first_event = 0.0
        self.last_event = 0.0
        self.max_gap = 0.0
        self.gaps: list[tuple[float, float]] = []  # (when the event came, gap before it)
        self.prev = b""

    def _on_body(self, piece: bytes, t: float) -> None:
        super()._on_body(piece, t)
        n = (self.prev + piece).count(b"\n\n")
        self.prev = piece[-1:]
        if not n:
            return
        if self.last_event:
            gap = t - self.last_event
            self.gaps.append((t, gap))
            self.max_gap = max(self.max_gap, gap)
        else:
            self.first_event = t
        self.last_event = t
        self.events += n


async def soak(args: argparse.Namespace, target: run.Target) -> dict[str, Any]:
    parts = urlsplit(target.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    stream_payload = loadgen.build_request(
        target.url, loadgen.chat_body(target.model, True), target.headers)
    plain_payload = loadgen.build_request(
        target.url, loadgen.chat_body(target.model, False), target.headers)
    hold = (args.chunks + 3) * args.chunk_delay_ms / 1000
    timeout = hold + args.timeout
    streams: list[dict[str, Any]] = []
    probe: list[tuple[float, float]] = []  # (seconds into the soak, latency s)
    probe_errors: dict[str, int] = {}
    lag = {"max_ms": 0.0, "over_50ms": 0}
    done = asyncio.Event()

    async def one_stream(i: int, start_at: float) -> None:
        await asyncio.sleep(max(0.0, start_at - now()))
        rec: dict[str, Any] = {"i": i, "ok": False, "events": 0, "error": None}
        streams.append(rec)
        conn: StreamConn | None = None
        try:
            _, opened = await asyncio.wait_for(
                loop.create_connection(lambda: StreamConn(True), host, port), args.timeout)
            conn = opened
            await opened.request(stream_payload, timeout)
            rec["ok"] = True
        except loadgen.ReplyError as exc:
            rec["error"] = exc.kind
        except (OSError, TimeoutError) as exc:
            rec["error"] = "connect: " + (type(exc).__name__ if not str(exc) else str(exc)[:80])
        finally:
            if conn is not None:
                rec.update(events=conn.events, max_gap=conn.max_gap, gaps=conn.gaps,
                           ttfe=conn.first_event - conn.sent if conn.first_event else None,
                           total=(conn.last_event - conn.sent) if conn.last_event else None)
                if conn.transport is not None:
                    conn.transport.close()

    async def probe_loop(t_origin: float, stop: asyncio.Event, into: list[tuple[float, float]],
                         errors: dict[str, int]) -> None:
        conn: loadgen.Conn | None = None
        while not stop.is_set():
            try:
                if conn is None or conn.transport is None:
                    _, opened = await asyncio.wait_for(
                        loop.create_connection(lambda: loadgen.Conn(False), host, port),
                        args.timeout)
                    conn = opened
                t = now()
                await conn.request(plain_payload, args.timeout)
                into.append((round(t - t_origin, 3), now() - t))
            except loadgen.ReplyError as exc:
                errors[exc.kind] = errors.get(exc.kind, 0) + 1
                conn = None
            except (OSError, TimeoutError):
                errors["connect"] = errors.get("connect", 0) + 1
                conn = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.probe_interval_ms / 1000)
        if conn is not None and conn.transport is not None:
            conn.transport.close()

    async def lag_watch() -> None:
        while not done.is_set():
            t = now()
            await asyncio.sleep(0.01)
            late = (now() - t - 0.01) * 1000
            lag["max_ms"] = max(lag["max_ms"], late)
            lag["over_50ms"] += late > 50

    # the probe alone first: the gateway's plain latency with nothing else going on
    baseline: list[tuple[float, float]] = []
    base_errors: dict[str, int] = {}
    base_stop = asyncio.Event()
    base_task = asyncio.create_task(probe_loop(now(), base_stop, baseline, base_errors))
    await asyncio.sleep(args.probe_baseline)
    base_stop.set()
    await base_task

    log(f"opening {args.streams} streams over {args.ramp:g} s; each lasts about {hold:g} s")
    t0 = now()
    lag_task = asyncio.create_task(lag_watch())
    probe_stop = asyncio.Event()
    probe_task = asyncio.create_task(probe_loop(t0, probe_stop, probe, probe_errors))
    tasks = [asyncio.create_task(one_stream(i, t0 + args.ramp * i / args.streams))
             for i in range(args.streams)]

    async def progress() -> None:
        while not done.is_set():
            await asyncio.sleep(5)
            if not done.is_set():
                live = sum(1 for t in tasks if not t.done())
                log(f"  {now() - t0:5.1f} s: {live} streams open, "
                    f"{sum(1 for s in streams if s['error'])} failed")

    prog = asyncio.create_task(progress())
    await asyncio.gather(*tasks)
    elapsed = now() - t0
    done.set()
    probe_stop.set()
    await asyncio.gather(probe_task, lag_task, prog)
    for s in streams:  # event times relative to the start of the soak
        s["gaps"] = [(t - t0, gap) for t, gap in s.get("gaps") or []]
    return {"streams": streams, "probe": probe, "probe_errors": probe_errors,
            "baseline": baseline, "baseline_errors": base_errors, "elapsed_s": elapsed,
            "client_lag": lag}


def summarise(args: argparse.Namespace, raw: dict[str, Any]) -> dict[str, Any]:
    delay = args.chunk_delay_ms / 1000
    streams = raw["streams"]
    ok = [s for s in streams if s["ok"]]
    errors: dict[str, int] = {}
    for s in streams:
        if s["error"]:
            errors[s["error"]] = errors.get(s["error"], 0) + 1
    all_gaps = [g for s in streams for g in s.get("gaps") or []]
    stalls = [(g - delay) * 1000 for _, g in all_gaps]
    # once every stream is open (and has had one more event), the steady state
    steady_from = args.ramp + delay
    steady = [(g - delay) * 1000 for t, g in all_gaps if t >= steady_from]
    worst = [(s["max_gap"] - delay) * 1000 for s in streams if s.get("gaps")]
    events = [s["events"] for s in ok]
    ttfe = [s["ttfe"] * 1000 for s in streams if s.get("ttfe") is not None]
    probe = [lat * 1000 for _, lat in raw["probe"]]
    base = [lat * 1000 for _, lat in raw["baseline"]]

    def dist(values: list[float]) -> dict[str, float | None]:
        return {"n": len(values), "p50": h.pct(values, 50), "p99": h.pct(values, 99),
                "max": max(values) if values else None}

    slowest = sorted(raw["probe"], key=lambda x: -x[1])[:5]
    return {
        "streams": len(streams), "completed": len(ok), "errors": errors,
        "error_count": sum(errors.values()),
        "events_per_stream": {"min": min(events, default=0), "max": max(events, default=0)},
        "stall_ms": {**dist(stalls), "min": min(stalls) if stalls else None},
        "steady_stall_ms": {**dist(steady), "from_s": round(steady_from, 2)},
        "worst_stall_per_stream_ms": dist(worst),
        "time_to_first_event_ms": dist(ttfe),
        "probe_ms": dist(probe), "probe_errors": raw["probe_errors"],
        "probe_slowest": [{"at_s": t, "ms": round(lat * 1000, 2)} for t, lat in slowest],
        "probe_baseline_ms": dist(base), "probe_baseline_errors": raw["baseline_errors"],
        "soak_seconds": round(raw["elapsed_s"], 2),
        "client_loop_lag_ms": {"max": round(raw["client_lag"]["max_ms"], 2),
                               "ticks_over_50ms": raw["client_lag"]["over_50ms"]},
    }


def render(args: argparse.Namespace, result: dict[str, Any]) -> str:
    s = result["summary"]
    mem = result["memory"]
    lim = result["nofile"]
    cfg = result["config"]
    verdict = result["verdict"]
    f = h.fmt
    hold = (cfg["chunks"] + 3) * cfg["chunk_delay_ms"] / 1000
    out = [f"# Waystation soak: {cfg['streams']:,} streams held open ({result['started']})", ""]
    out.append(
        f"{h.placement_text(args)} Mock upstream: {cfg['chunks']} content chunks per stream, "
        f"{cfg['chunk_delay_ms']:g} ms between events (a stream lasts about {hold:g} s); "
        f"{cfg['streams']:,} streams opened over {cfg['ramp']:g} s, all held to the end. The "
        f"probe sent one plain completion at a time every {cfg['probe_interval_ms']:g} ms. "
        f"Traces on unless --gateway-env says otherwise ({cfg['gateway_env'] or 'no extra env'})."
    )
    out.append("")
    out += ["## Verdict", ""]
    out += h.table(["check", "target", "measured", "ok"], [
        [k, v["target"], v["measured"], "yes" if v["ok"] else "**NO**"]
        for k, v in verdict.items()
    ], "llrl")
    out += ["## Streams", ""]
    st, ws, tf = s["stall_ms"], s["worst_stall_per_stream_ms"], s["time_to_first_event_ms"]
    sd = s["steady_stall_ms"]
    out += h.table(
        ["streams", "completed", "errors", "events per stream", "first event p50 ms",
         "first event p99 ms", "first event max ms", "soak s"],
        [[f"{s['streams']:,}", f"{s['completed']:,}", s["error_count"],
          f"{s['events_per_stream']['min']}-{s['events_per_stream']['max']}",
          f(tf["p50"]), f(tf["p99"]), f(tf["max"]), f(s["soak_seconds"])]],
    )
    out += h.table(["stall, ms", "gaps", "p50", "p99", "max"], [
        ["all gaps", f"{st['n']:,}", f(st["p50"]), f(st["p99"]), f(st["max"])],
        [f"after the ramp (from {sd['from_s']:g} s)", f"{sd['n']:,}", f(sd["p50"]),
         f(sd["p99"]), f(sd["max"])],
        ["each stream's largest gap", f"{ws['n']:,}", f(ws["p50"]), f(ws["p99"]),
         f(ws["max"])],
    ])
    out.append(
        f"Stall = gap between two consecutive events received minus the upstream's "
        f"{cfg['chunk_delay_ms']:g} ms (negative: an event came early, after a late one; "
        f"minimum {f(st['min'])} ms). First event = request written → first event received; "
        f"it includes the queueing while all streams open. This process's own event loop "
        f"lagged at most "
        f"{s['client_loop_lag_ms']['max']} ms ({s['client_loop_lag_ms']['ticks_over_50ms']} "
        f"ticks over 50 ms)."
    )
    if s["errors"]:
        out += ["", "Errors: " + ", ".join(f"{k}: {v}" for k, v in s["errors"].items())]
    out += ["", "## Probe: plain completions, one at a time", ""]
    pb, pd = s["probe_baseline_ms"], s["probe_ms"]
    out += h.table(["when", "requests", "errors", "p50 ms", "p99 ms", "max ms"], [
        ["before the soak (idle gateway)", pb["n"], sum(s["probe_baseline_errors"].values()),
         f(pb["p50"], 2), f(pb["p99"], 2), f(pb["max"], 2)],
        ["during the soak", pd["n"], sum(s["probe_errors"].values()), f(pd["p50"], 2),
         f(pd["p99"], 2), f(pd["max"], 2)],
    ])
    out.append("Slowest probes (seconds into the soak: ms): " + ", ".join(
        f"{x['at_s']:g}: {x['ms']:g}" for x in s["probe_slowest"]))
    out += ["", "## Gateway memory and descriptors (process tree)", ""]
    out += h.table(["when", "RSS MiB"], [
        ["after start", f(mem["after_start_mib"])],
        ["after warm-up", f(mem["after_warmup_mib"])],
        ["soak: first sample", f(mem["soak"].get("start_mib"))],
        [f"soak: peak of {mem['soak']['samples']} samples", f(mem["soak"].get("peak_mib"))],
        ["soak: last sample (streams closed)", f(mem["soak"].get("end_mib"))],
        ["peak RSS seen by the kernel (VmHWM)", f(mem["vmhwm_mib"])],
        ["after the flush", f(mem["after_flush_mib"])],
    ])
    out.append(
        f"Open descriptors in the gateway: peak {mem['soak'].get('peak_fds')}. Open-files limit "
        f"(soft/hard): this process {lim['self']['soft_before']} raised to {lim['self']['soft']}"
        f"/{lim['self']['hard']}; gateway {lim['gateway']}; mock {lim['mock']}."
    )
    tr = result["traces"]
    out += ["", f"Trace rows in SQLite after the flush: {tr['rows']} (requests sent: "
                f"{tr['sent']:,} - streams, probes and warm-up)."]
    out += ["", "Server logs (at warning level a healthy gateway writes nothing):", ""]
    out += h.log_summary([args.out / "gateway.log", args.out / "mock.log"])
    out += ["", *h.environment_lines(result)]
    return "\n".join(out)


def check_plain(target: run.Target) -> None:
    """One plain completion must come back whole (streams are checked by the soak itself:
    each must end with `data: [DONE]`; run.check_target would wait out a slow stream)."""
    status, body = asyncio.run(loadgen.fetch_once(target.url, target.payload(False),
                                                  stream=False, timeout=30))
    if status != 200:
        raise SystemExit(f"gateway check: status {status}: {body[:200]!r}")
    text = json.loads(body)["choices"][0]["message"]["content"]
    if text != mock_upstream.REPLY_TEXT:
        raise SystemExit("gateway check: the reply text differs from the mock's")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--streams", type=int, default=1000, help="concurrent streams (default 1000)")
    p.add_argument("--chunks", type=int, default=27,
                   help="content chunks per stream (default 27: 30 delays with the role, "
                        "finish and usage events and [DONE])")
    p.add_argument("--chunk-delay-ms", type=float, default=1000,
                   help="upstream delay between events (default 1000)")
    p.add_argument("--ramp", type=float, default=1.5, help="seconds over which streams open")
    p.add_argument("--probe-interval-ms", type=float, default=20,
                   help="pause between probe requests (default 20)")
    p.add_argument("--probe-baseline", type=float, default=2,
                   help="seconds of probing before the soak (default 2)")
    p.add_argument("--warmup", type=float, default=3,
                   help="seconds of plain load at c=16 before the soak (default 3)")
    p.add_argument("--sample-interval", type=float, default=0.5, help="RSS sampling, seconds")
    p.add_argument("--stall-limit-ms", type=float, default=250,
                   help="largest stall that passes (default 250)")
    p.add_argument("--rss-limit-mib", type=float, default=300,
                   help="largest peak RSS that passes (default 300)")
    h.common_options(p, "soak")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    nofile: dict[str, Any] = {"self": h.raise_nofile()}
    need = 2 * args.streams + 100
    if nofile["self"]["soft"] < need:
        log(f"warning: open-files limit {nofile['self']['soft']} < about {need} needed")
    out = h.prepare(args)
    hold = (args.chunks + 3) * args.chunk_delay_ms / 1000
    config = {"streams": args.streams, "chunks": args.chunks,
              "chunk_delay_ms": args.chunk_delay_ms, "ramp": args.ramp,
              "probe_interval_ms": args.probe_interval_ms, "warmup": args.warmup,
              "stall_limit_ms": args.stall_limit_ms, "rss_limit_mib": args.rss_limit_mib}
    result = h.base_result(args, config)
    home = Path(tempfile.mkdtemp(prefix="waystation-soak-"))
    mock = run.start_mock(h.mock_args(args, chunks=args.chunks,
                                      chunk_delay_ms=args.chunk_delay_ms), out, args.load_cpus_set)
    servers = [mock]
    try:
        gw = h.start_gateway(args, mock, home)
        servers.append(gw)
        target = h.gateway_target(gw, args.key)
        nofile["gateway"] = h.nofile_of(gw.pid)
        nofile["mock"] = h.nofile_of(mock.pid)
        result["nofile"] = nofile
        mem: dict[str, Any] = {"after_start_mib": memory_kib(gw.pid)["rss_kib"] / 1024}
        log(f"gateway pid {gw.pid} on {gw.url}; open-files limit {nofile['gateway']}; "
            f"results in {out}")
        check_plain(target)
        sent = 1
        if args.warmup > 0:
            log(f"warm-up: plain, c=16, {args.warmup:g} s")
            sent += run.run_tool(args, target, False, 16, args.warmup)["requests"]
        mem["after_warmup_mib"] = memory_kib(gw.pid)["rss_kib"] / 1024
        calls0 = run.mock_stats(mock)["streams"]
        loadgen.install_uvloop()
        with h.RssSampler(gw.pid, args.sample_interval, fds=True) as sampler:
            raw = asyncio.run(soak(args, target))
        mem["soak"] = sampler.summary()
        mem["samples"] = sampler.samples
        mem["vmhwm_mib"] = memory_kib(gw.pid)["peak_kib"] / 1024
        upstream_streams = run.mock_stats(mock)["streams"] - calls0
        summary = summarise(args, raw)
        summary["upstream_streams"] = upstream_streams
        sent += len(raw["streams"]) + len(raw["probe"]) + len(raw["baseline"])
        log("waiting for the traces to be written")
        rows = h.wait_for_count(lambda: h.sqlite_trace_count(home), sent, timeout=20)
        mem["after_flush_mib"] = memory_kib(gw.pid)["rss_kib"] / 1024
        result.update(summary=summary, memory=mem, traces={"rows": rows, "sent": sent},
                      streams=[{k: v for k, v in s.items() if k != "gaps"}
                               for s in raw["streams"]],
                      probe=raw["probe"])
        stall = summary["stall_ms"]["max"]
        peak = max(mem["soak"].get("peak_mib") or 0, mem["vmhwm_mib"])
        result["verdict"] = {
            "errors": {"target": "0", "measured": str(summary["error_count"]),
                       "ok": summary["error_count"] == 0},
            "streams completed": {"target": f"{args.streams:,}",
                                  "measured": f"{summary['completed']:,}",
                                  "ok": summary["completed"] == args.streams},
            "max stall": {"target": f"< {args.stall_limit_ms:g} ms",
                          "measured": f"{h.fmt(stall)} ms",
                          "ok": stall is not None and stall < args.stall_limit_ms},
            "peak RSS": {"target": f"< {args.rss_limit_mib:g} MiB",
                         "measured": f"{peak:.1f} MiB", "ok": peak < args.rss_limit_mib},
            "probe errors": {"target": "0",
                             "measured": str(sum(summary["probe_errors"].values())),
                             "ok": not summary["probe_errors"]},
        }
        log(f"done: {summary['completed']}/{args.streams} completed, "
            f"{summary['error_count']} errors, max stall {h.fmt(stall)} ms, "
            f"peak RSS {peak:.1f} MiB; streams lasted about {hold:g} s")
        h.finish(out, result, render(args, result))
        return 0 if all(v["ok"] for v in result["verdict"].values()) else 1
    finally:
        for s in reversed(servers):
            s.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
