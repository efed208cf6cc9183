"""Every failure reaches the caller as an OpenAI-style error body with the right status."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import MASTER_KEY, RunningGateway, gateway_env
from tests.fakes.openai_server import FakeOpenAI, Fault

MSG = [{"role": "user", "content": "hi"}]


def post(gw: RunningGateway, body: Any, *, key: str | None = MASTER_KEY,
         path: str = "/v2/gateway/chat/completions", **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    headers.update(kw.pop("headers", {}))
    if isinstance(body, bytes):
        return httpx.post(gw.url + path, content=body, headers=headers, timeout=30, **kw)
    return httpx.post(gw.url + path, json=body, headers=headers, timeout=30, **kw)


def error_of(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    err = resp.json()["error"]
    assert set(err) >= {"code", "message", "param", "type"}
    assert err["message"]
    return err


def test_missing_key_is_401(gateway: RunningGateway) -> None:
    err = error_of(post(gateway, {"model": "openai/gpt-4o-mini", "messages": MSG}, key=None), 401)
    assert err["type"] == "authentication_error" and err["code"] == "missing_api_key"


def test_wrong_key_is_401(gateway: RunningGateway) -> None:
    err = error_of(post(gateway, {"model": "openai/gpt-4o-mini", "messages": MSG},
                        key="ws-wrong"), 401)
    assert err["code"] == "invalid_api_key"
    resp = httpx.post(f"{gateway.url}/v1/chat/completions", json={},
                      headers={"Authorization": "Basic abc"})
    error_of(resp, 401)


def test_validation_error_names_the_field(gateway: RunningGateway) -> None:
    err = error_of(post(gateway, {"model": "openai/gpt-4o-mini", "messages": MSG,
                                  "temperature": 3}), 400)
    assert err["param"] == "temperature" and err["type"] == "invalid_request_error"


def test_unknown_field_is_400(gateway: RunningGateway) -> None:
    err = error_of(post(gateway, {"model": "openai/gpt-4o-mini", "messages": MSG,
                                  "frobnicate": True}), 400)
    assert err["param"] == "frobnicate"


def test_feature_not_built_is_400_naming_it(gateway: RunningGateway) -> None:
    err = error_of(post(gateway, {"model": "openai/gpt-4o-mini", "messages": MSG,
                                  "guardrails": [{"id": "orq_pii_detection",
                                                  "execute_on": "input"}]}), 400)
    assert err["param"] == "guardrails" and err["code"] == "unsupported_feature"


def test_invalid_json_is_400(gateway: RunningGateway) -> None:
    error_of(post(gateway, b"{nope"), 400)


def test_unknown_model_and_provider_are_404(gateway: RunningGateway) -> None:
    err = error_of(post(gateway, {"model": "gpt-4o", "messages": MSG}), 404)
    assert err["param"] == "model"
    err = error_of(post(gateway, {"model": "acme/x", "messages": MSG}), 404)
    assert "acme" in err["message"] and err["code"] == "provider_not_found"


def test_unknown_path_is_404_and_wrong_method_405(gateway: RunningGateway) -> None:
    error_of(httpx.get(f"{gateway.url}/v2/nothing"), 404)
    resp = httpx.get(f"{gateway.url}/v1/chat/completions")
    error_of(resp, 405)


def test_provider_without_credentials_names_the_variable(gateway: RunningGateway) -> None:
    err = error_of(post(gateway, {"model": "mistral/mistral-small-latest", "messages": MSG}), 503)
    assert "MISTRAL_API_KEY" in err["message"]


def test_unsupported_parameter_for_the_provider(gateway: RunningGateway) -> None:
    err = error_of(post(gateway, {"model": "openai/gpt-4o-mini", "messages": MSG,
                                  "top_k": 5}), 400)
    assert err["param"] == "top_k" and "openai" in err["message"]


def test_body_too_large_is_413(fake_openai: FakeOpenAI, tmp_path: Path,
                               start_gateway: Any) -> None:
    gw = start_gateway(gateway_env(fake_openai, tmp_path, WAYSTATION_MAX_BODY_BYTES="1000"))
    big = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "x" * 2000}]}
    err = error_of(post(gw, big), 413)
    assert err["code"] == "request_too_large"


def test_the_providers_own_400_is_surfaced(gateway: RunningGateway) -> None:
    err = error_of(post(gateway, {"model": "openai/gpt-4o-mini",
                                  "messages": [{"role": "user", "content": "please fail 400"}]}),
                   400)
    assert "the fake refuses this" in err["message"]
    assert err["param"] == "messages" and err["code"] == "invalid_value"


def test_provider_500_is_502(gateway: RunningGateway, fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(status=500))
    err = error_of(post(gateway, {"model": "openai/gpt-4o-mini", "messages": MSG}), 502)
    assert "injected failure 500" in err["message"]


def test_provider_503_and_429_keep_their_status(gateway: RunningGateway,
                                                fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(status=503))
    error_of(post(gateway, {"model": "openai/gpt-4o-mini", "messages": MSG}), 503)
    fake_openai.add_fault(Fault(status=429, headers={"Retry-After": "7"}))
    resp = post(gateway, {"model": "openai/gpt-4o-mini", "messages": MSG})
    assert error_of(resp, 429)["type"] == "rate_limit_error"
    assert resp.headers["retry-after"] == "7"


def test_provider_rejecting_our_credentials_is_502_not_401(
        fake_openai: FakeOpenAI, tmp_path: Path, start_gateway: Any) -> None:
    gw = start_gateway(gateway_env(fake_openai, tmp_path, OPENAI_API_KEY="sk-wrong"))
    err = error_of(post(gw, {"model": "openai/gpt-4o-mini", "messages": MSG}), 502)
    assert err["code"] == "upstream_authentication_failed"


def test_errors_before_the_first_byte_of_a_stream_are_plain_json(
        gateway: RunningGateway, fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(status=503))
    error_of(post(gateway, {"model": "openai/gpt-4o-mini", "messages": MSG, "stream": True}), 503)


def test_stream_dying_mid_way_ends_with_an_error_event(gateway: RunningGateway,
                                                       fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(die_after_chunks=2))
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=0)
    got = []
    with pytest.raises(openai.APIError):
        for chunk in client.chat.completions.create(
                model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "a b c d"}],
                stream=True):
            got.append(chunk)
    assert len(got) == 2


def test_unreachable_provider_is_502(fake_openai: FakeOpenAI, tmp_path: Path,
                                     start_gateway: Any) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    gw = start_gateway(gateway_env(fake_openai, tmp_path,
                                   OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1"))
    err = error_of(post(gw, {"model": "openai/gpt-4o-mini", "messages": MSG}), 502)
    assert err["code"] == "upstream_connection_error"


def test_connection_reset_is_502(gateway: RunningGateway, fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(reset=True))
    error_of(post(gateway, {"model": "openai/gpt-4o-mini", "messages": MSG}), 502)


def test_hanging_provider_is_504(fake_openai: FakeOpenAI, tmp_path: Path,
                                 start_gateway: Any) -> None:
    gw = start_gateway(gateway_env(fake_openai, tmp_path, WAYSTATION_UPSTREAM_TIMEOUT="0.5"))
    fake_openai.add_fault(Fault(hang=3))
    err = error_of(post(gw, {"model": "openai/gpt-4o-mini", "messages": MSG}), 504)
    assert err["code"] == "upstream_timeout"


def test_client_disconnect_cancels_the_upstream_stream(gateway: RunningGateway,
                                                       fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(chunk_delay=0.2))
    words = " ".join(f"w{i}" for i in range(50))
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions",
                      headers={"Authorization": f"Bearer {gateway.key}"},
                      json={"model": "openai/gpt-4o-mini", "stream": True,
                            "messages": [{"role": "user", "content": words}]}) as resp:
        lines = resp.iter_lines()
        assert next(lines).startswith("data: ")
    # the client is gone after two of fifty slow chunks; the upstream stream must end early
    deadline = time.monotonic() + 10
    while fake_openai.cancelled_streams == 0 and time.monotonic() < deadline:
        threading.Event().wait(0.05)
    assert fake_openai.cancelled_streams == 1
    assert fake_openai.completed_streams == 0
