"""/proc readings: CPU time and RSS of a process tree, per-CPU busy time (Linux only)."""

from __future__ import annotations

import contextlib
import os
import resource

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
    return out


def process_tree(pid: int) -> list[int]:
    seen: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        if p in seen or not os.path.exists(f"/proc/{p}"):
            continue
        seen.append(p)
        todo += _children(p)
    return seen


def cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a process and its live descendants."""
    return sum(sum(_ticks(f"/proc/{p}/stat")) for p in process_tree(pid)) / CLK_TCK


def _ticks(stat_path: str) -> tuple[int, int]:
    """(utime, stime) clock ticks from a process's or thread's `stat` (0, 0 once it is gone)."""
    with contextlib.suppress(OSError, IndexError, ValueError), open(stat_path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]), int(fields[12])
    return 0, 0


def thread_cpu(pid: int) -> dict[str, tuple[float, float]]:
    """(user, system) CPU seconds of a process tree's threads in two groups: each process's
    main thread (`main`: the gateway's event loop) and all its other threads (`others`: the
    trace writer and the worker pools). A thread that ended is no longer counted."""
    ticks = {"main": [0, 0], "others": [0, 0]}
    for p in process_tree(pid):
        tasks: list[str] = []
        with contextlib.suppress(OSError):
            tasks = os.listdir(f"/proc/{p}/task")
        for task in tasks:
            user, system = _ticks(f"/proc/{p}/task/{task}/stat")
            group = ticks["main" if task == str(p) else "others"]
            group[0] += user
            group[1] += system
    return {k: (u / CLK_TCK, s / CLK_TCK) for k, (u, s) in ticks.items()}


def memory_kib(pid: int) -> dict[str, int]:
    """Summed VmRSS and VmHWM (peak) of the process tree, in KiB."""
    rss = hwm = 0
    for p in process_tree(pid):
        with contextlib.suppress(OSError), open(f"/proc/{p}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm += int(line.split()[1])
    return {"rss_kib": rss, "peak_kib": hwm, "processes": len(process_tree(pid))}


def cpu_busy() -> dict[int, float]:
    """Busy seconds (everything but idle and iowait) per CPU since boot."""
    out: dict[int, float] = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                name, *vals = line.split()
                v = [int(x) for x in vals]
                out[int(name[3:])] = (sum(v[:8]) - v[3] - v[4]) / CLK_TCK
    return out


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def self_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])
