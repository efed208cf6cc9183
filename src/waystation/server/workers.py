"""Several worker processes on one port, each listening on a socket of its own.

uvicorn's multi-worker mode shares one listening socket between the workers: whichever worker
wakes first accepts a whole burst of new connections, and keep-alive callers stay where they
landed, so one worker can carry most of the load while another idles. With SO_REUSEPORT each
worker listens on its own socket and the kernel spreads new connections over the workers that
are listening, by a hash of their addresses.

The supervisor holds the port with a bound socket that never listens (so it is sent no
connections), starts the workers, starts a new one when one dies, and on SIGTERM or SIGINT
passes SIGTERM on and waits for every worker to finish its requests. It keeps no state that
matters: each worker is a whole gateway, as `waystation serve` with one worker is.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import signal
import socket
import sys
import time
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger("waystation.workers")

STARTUP_FAILURE = 3  # uvicorn's exit status when the app cannot start
_POLL_SECONDS = 0.2


def reuse_port_supported() -> bool:
    """SO_REUSEPORT spreads connections over listeners on Linux (elsewhere it may not)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to `host:port` that other processes of this user may bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def exit_zero_after_drain() -> None:
    """uvicorn drains on SIGTERM, then re-raises the signal under the handler that was in place
    before it started; a no-op one makes a completed drain exit with status 0."""
    signal.signal(signal.SIGTERM, lambda *_: None)


def _worker(options: dict[str, Any], host: str, port: int) -> None:
    """One worker: its own listening socket, then uvicorn serving the gateway on it."""
    gc.disable()  # until the app is built: `server.factory.tune_gc` turns it back on
    import uvicorn

    exit_zero_after_drain()
    sock = bind(host, port)
    server = uvicorn.Server(uvicorn.Config(**options, workers=1))
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


class Supervisor:
    def __init__(self, count: int, options: dict[str, Any], holder: socket.socket,
                 drain_seconds: float) -> None:
        """`holder`: the port, bound by `bind` (it is closed when serving ends)."""
        self._count = count
        self._options = options
        self._holder = holder
        self._host, self._port = holder.getsockname()[:2]
        self._drain = drain_seconds
        self._context = multiprocessing.get_context("spawn")
        self._stopping = False

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT; the exit status."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        workers = [self._start() for _ in range(self._count)]
        log.info("serving on %s:%d with %d worker processes (SO_REUSEPORT)",
                 self._host, self._port, self._count)
        try:
            status = self._watch(workers)
        finally:
            self._stop(workers)
            self._holder.close()
        return status

    def _on_signal(self, _signum: int, _frame: object) -> None:
        self._stopping = True

    def _start(self) -> BaseProcess:
        process = self._context.Process(
            target=_worker, args=(self._options, self._host, self._port),
            name="waystation-worker", daemon=False)
        process.start()
        return process

    def _watch(self, workers: list[BaseProcess]) -> int:
        while not self._stopping:
            for index, process in enumerate(workers):
                if process.is_alive():
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    log.error("worker %s could not start; stopping", process.pid)
                    return STARTUP_FAILURE
                log.warning("worker %s exited with status %s; starting another",
                            process.pid, process.exitcode)
                workers[index] = self._start()
            time.sleep(_POLL_SECONDS)
        return 0

    def _stop(self, workers: list[BaseProcess]) -> None:
        for process in workers:
            if process.is_alive():
                process.terminate()  # SIGTERM: the worker drains, then exits
        deadline = time.monotonic() + self._drain + 5
        for process in workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.error("worker %s did not stop in time; killing it", process.pid)
                process.kill()
                process.join(5)
