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
    total = 0
    for p in process_tree(pid):
        with contextlib.suppress(OSError, IndexError, ValueError), open(f"/proc/{p}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


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
            with contextlib.suppress(OSError, IndexError, ValueError), \
                    open(f"/proc/{p}/task/{task}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
                group = ticks["main" if task == str(p) else "others"]
                group[0] += int(fields[11])
                group[1] += int(fields[12])
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
