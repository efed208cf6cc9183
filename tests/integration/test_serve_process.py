"""`waystation serve` and `waystation keys` as real processes: start-up, keys, logs, draining."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.openai_server import FakeOpenAI, Fault

WAYSTATION = [sys.executable, "-m", "waystation.cli.main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env(home: Path, fake: FakeOpenAI, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WAYSTATION_", "OPENAI_"))}
    env.update({"WAYSTATION_HOME": str(home), "OPENAI_BASE_URL": fake.base_url,
                "OPENAI_API_KEY": fake.api_key, "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


class Served:
    def __init__(self, env: dict[str, str], port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [*WAYSTATION, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited:\n" + "\n".join(self.lines))
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError("server did not become ready:\n" + "\n".join(self.lines))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(30)
        self._reader.join(5)
        return code


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[object]:
    started: list[Served] = []

    def start(env: dict[str, str]) -> Served:
        # A free port is only free until something binds it: the other test processes open
        # connections (whose local ports come from the same range) and servers of their own.
        # A start that lost its port to one of them is tried again on another.
        tries = 3
        while True:
            s = Served(env, free_port())
            started.append(s)
            try:
                s.wait_ready()
                return s
            except AssertionError:
                s._reader.join(5)  # the exited server's last lines
                tries -= 1
                if not tries or not any("address already in use" in ln.lower()
                                        for ln in s.lines):
                    raise

    yield start
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait(10)


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WAYSTATION, *args], env=env, capture_output=True, text=True,
                          timeout=60)


def chat(url: str, key: str, **kw: object) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                      json={"model": "openai/gpt-4o-mini",
                            "messages": [{"role": "user", "content": "hi"}], **kw}, timeout=30)


def test_first_start_creates_a_key_prints_it_once_and_never_serves_open(
        serve: object, tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    env = base_env(tmp_path / "home", fake_openai)
    server = serve(env)  # type: ignore[operator]
    created = [ln.strip() for ln in server.lines if ln.strip().startswith("ws-")]
    assert len(created) == 1, server.lines
    key = created[0]
    assert any("No API key existed" in ln for ln in server.lines)
    assert chat(server.url, key).status_code == 200
    assert chat(server.url, "ws-guess").status_code == 401
    assert server.stop() == 0
    again = serve(env)  # type: ignore[operator]
    assert not any(ln.strip().startswith("ws-") for ln in again.lines)
    assert chat(again.url, key).status_code == 200


def logging_pids(server: Served, text: str) -> set[int]:
    """The pids in the JSON log lines that contain `text` (written with `": "` separators)."""
    return {json.loads(ln)["pid"] for ln in list(server.lines)
            if ln.startswith("{") and text in ln.replace('":"', '": "')}


def worker_pids(server: Served, count: int) -> set[int]:
    """The pids of the workers whose start-up completed, once `count` of them have."""
    deadline = time.monotonic() + 30
    ready: set[int] = set()
    while len(ready) < count and time.monotonic() < deadline:
        ready = logging_pids(server, "Application startup complete")
        time.sleep(0.05)
    assert len(ready) >= count, server.lines
    return ready


def two_workers(serve: object, tmp_path: Path, fake_openai: FakeOpenAI, key: str,
                **env: str) -> tuple[Served, set[int]]:
    """`serve` with two workers and JSON logs, and the workers' pids once both have started."""
    server: Served = serve(base_env(  # type: ignore[operator]
        tmp_path / "home", fake_openai, WAYSTATION_MASTER_KEY=key, WAYSTATION_WORKERS="2",
        WAYSTATION_LOG_FORMAT="json", **env))
    return server, worker_pids(server, 2)


def test_workers_are_separate_processes_that_all_serve(
        serve: object, tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    server, ready = two_workers(serve, tmp_path, fake_openai, "ws-master-workers")
    assert len(ready) == 2, server.lines
    assert server.proc.pid not in ready  # the supervisor only supervises
    for _ in range(10):
        assert chat(server.url, "ws-master-workers").status_code == 200
    assert server.stop() == 0


def test_new_connections_are_spread_over_the_workers(
        serve: object, tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    """Every worker listens on a socket of its own (SO_REUSEPORT) and new connections reach
    all of them."""
    server, workers = two_workers(serve, tmp_path, fake_openai, "ws-master-spread",
                                  WAYSTATION_LOG_LEVEL="info")
    for _ in range(40):  # a new connection each: all 40 on one worker has odds of 2 in 2**40
        assert chat(server.url, "ws-master-spread").status_code == 200
    time.sleep(0.5)
    answered = logging_pids(server, '"path": "/v1/chat/completions"')
    assert answered == workers, server.lines[-10:]
    assert server.stop() == 0


def test_a_worker_that_dies_is_replaced_and_serving_goes_on(
        serve: object, tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    server, first = two_workers(serve, tmp_path, fake_openai, "ws-master-dies")
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    now = worker_pids(server, 3)  # the replacement has started
    assert victim in now and len(now - first) == 1
    for _ in range(10):
        assert chat(server.url, "ws-master-dies").status_code == 200
    assert any("exited" in ln and str(victim) in ln for ln in server.lines)
    assert server.stop() == 0


def test_a_taken_port_is_one_clear_line_with_several_workers(
        tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    env = base_env(tmp_path / "home", fake_openai, WAYSTATION_MASTER_KEY="ws-master-taken",
                   WAYSTATION_WORKERS="2")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(env, "serve", "--host", "127.0.0.1", "--port", str(port))
    assert done.returncode == 1
    assert done.stderr.strip().startswith(f"error: cannot listen on 127.0.0.1:{port}")
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_served_workers_collect_garbage_rarely_and_ignore_start_up_objects(
        tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    # `serve` pauses the collector while the app is imported and built; building turns it on
    code = ("import gc\n"
            "gc.disable()\n"
            "from waystation.server.factory import GC_THRESHOLDS, build\n"
            "build()\n"
            "assert gc.isenabled()\n"
            "assert gc.get_threshold() == GC_THRESHOLDS, gc.get_threshold()\n"
            "assert gc.get_freeze_count() > 10_000, gc.get_freeze_count()\n")
    env = base_env(tmp_path / "home", fake_openai, WAYSTATION_MASTER_KEY="ws-master-gc")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_keys_cli_create_list_revoke_and_the_server_follows(
        serve: object, tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    env = base_env(tmp_path / "home", fake_openai, WAYSTATION_MASTER_KEY="ws-master")
    server = serve(env)  # type: ignore[operator]
    made = run_cli(env, "keys", "create", "--name", "ci")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("ws-")
    assert chat(server.url, key).status_code == 200  # picked up without a restart
    listed = run_cli(env, "keys", "list")
    assert "ci" in listed.stdout and "active" in listed.stdout and key not in listed.stdout
    db = (tmp_path / "home" / "waystation.db").read_bytes()
    assert key.encode() not in db  # only a hash is stored
    assert run_cli(env, "keys", "revoke", "ci").returncode == 0
    assert "revoked" in run_cli(env, "keys", "list").stdout
    deadline = time.monotonic() + 15
    while chat(server.url, key).status_code != 401:
        assert time.monotonic() < deadline, "revoked key still accepted"
        time.sleep(0.5)
    assert run_cli(env, "keys", "revoke", "nosuch").returncode == 1


def test_access_log_lines_in_json_never_carry_keys_or_bodies(
        serve: object, tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    env = base_env(tmp_path / "home", fake_openai, WAYSTATION_MASTER_KEY="ws-master-secret",
                   WAYSTATION_LOG_FORMAT="json", WAYSTATION_LOG_LEVEL="info")
    server = serve(env)  # type: ignore[operator]
    resp = chat(server.url, "ws-master-secret")
    rid = resp.headers["x-request-id"]
    server.stop()
    records = [json.loads(ln) for ln in server.lines if ln.startswith("{")]
    access = [r for r in records if r.get("request_id") == rid]
    assert len(access) == 1
    rec = access[0]
    assert rec["method"] == "POST" and rec["path"] == "/v1/chat/completions"
    assert rec["status"] == 200 and rec["model"] == "openai/gpt-4o-mini"
    assert isinstance(rec["latency_ms"], float)
    text = "\n".join(server.lines)
    assert "ws-master-secret" not in text and fake_openai.api_key not in text
    assert '"content"' not in text


def test_a_websocket_upgrade_is_answered_as_http_without_advice_to_install_a_library(
        serve: object, tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    """No route speaks WebSocket, so uvicorn is given no WebSocket library: an upgrade is
    answered as the plain request it also is, and the log does not tell operators to install
    one."""
    env = base_env(tmp_path / "home", fake_openai, WAYSTATION_MASTER_KEY="ws-master-secret")
    server = serve(env)  # type: ignore[operator]
    resp = httpx.get(f"{server.url}/v1/chat/completions", timeout=10, headers={
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert resp.status_code == 405
    assert resp.json()["error"]["code"] == "method_not_allowed"
    server.stop()
    text = "\n".join(server.lines)
    assert "Unsupported upgrade request" in text
    assert "WebSocket library" not in text


def test_a_config_error_is_one_clear_line(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    env = base_env(tmp_path, fake_openai, WAYSTATION_CONFIG=str(tmp_path / "missing.toml"))
    proc = run_cli(env, "serve")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "missing.toml" in proc.stderr


def test_sigterm_drains_in_flight_streams_then_exits_0(
        serve: object, tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    env = base_env(tmp_path / "home", fake_openai, WAYSTATION_MASTER_KEY="ws-m",
                   WAYSTATION_DRAIN_SECONDS="20")
    server = serve(env)  # type: ignore[operator]
    fake_openai.add_fault(Fault(chunk_delay=0.1))
    words = " ".join(f"w{i}" for i in range(20))
    received: list[str] = []

    def consume() -> None:
        with httpx.stream("POST", f"{server.url}/v1/chat/completions",
                          headers={"Authorization": "Bearer ws-m"}, timeout=30,
                          json={"model": "openai/gpt-4o-mini", "stream": True,
                                "messages": [{"role": "user", "content": words}]}) as resp:
            for line in resp.iter_lines():
                received.append(line)

    reader = threading.Thread(target=consume)
    reader.start()
    while not received:
        time.sleep(0.02)
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{server.url}/health", timeout=2)  # no new connections while draining
    reader.join(30)
    assert received[-2:] == ["data: [DONE]", ""] or received[-1] == "data: [DONE]"
    assert server.proc.wait(30) == 0
