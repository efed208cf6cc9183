"""The official `orq-ai-sdk` against the gateway: 4.17 in-process, 4.1 in its own interpreter.

4.1.x calls `/v2/gateway/chat/completions` and 4.17 calls `/v2/router/chat/completions`; both
send `Accept: application/json;q=1, text/event-stream;q=0` even when streaming.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from orq_ai_sdk import Orq, models

from tests.conftest import RunningGateway
from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]
ORQ41 = ROOT / ".deps" / "orq41"


@pytest.fixture
def orq(gateway: RunningGateway) -> Orq:
    return Orq(api_key=gateway.key, server_url=gateway.url)


def test_non_streaming(orq: Orq, fake_openai: FakeOpenAI) -> None:
    res = orq.router.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hello orq"}])
    assert res.choices[0].message.content == "Echo: hello orq"
    assert res.model == "openai/gpt-4o-mini"
    assert res.usage is not None and res.usage.total_tokens
    assert fake_openai.requests[-1].path == "/v1/chat/completions"


def test_streaming(orq: Orq) -> None:
    text = ""
    usage = None
    with orq.router.chat.completions.create(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "a b c"}],
            stream=True, stream_options={"include_usage": True}) as stream:
        for event in stream:
            for choice in event.data.choices:
                text += choice.delta.content or ""
            usage = event.data.usage or usage
    assert text == "Echo: a b c"
    assert usage is not None


def test_tools_with_the_orq_sdk(orq: Orq) -> None:
    res = orq.router.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "weather"}],
        tools=[{"type": "function", "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                           "required": ["city"]}}}],
        tool_choice="required")
    call = res.choices[0].message.tool_calls[0]
    assert res.choices[0].finish_reason == "tool_calls"
    assert json.loads(call.function.arguments) == {"city": "sample"}


def test_sdk_float_quirks_and_defaults_validate(orq: Orq, fake_openai: FakeOpenAI) -> None:
    res = orq.router.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "q"}],
        max_tokens=100, n=1, seed=3, temperature=0.5,
        response_format={"type": "json_schema",
                         "json_schema": {"name": "x", "schema": {"type": "object",
                                                                 "properties": {}}}})
    assert res.choices[0].message.content == "{}"
    sent = fake_openai.requests[-1].body
    assert sent["max_tokens"] == 100 and sent["n"] == 1


def test_errors_parse_as_api_error_responses(orq: Orq) -> None:
    with pytest.raises(models.APIErrorResponse) as info:
        orq.router.chat.completions.create(
            model="nosuch/model", messages=[{"role": "user", "content": "x"}])
    assert info.value.data.error.param == "model"
    with pytest.raises(models.APIErrorResponse) as info:
        orq.router.chat.completions.create(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "x"}],
            temperature=9)
    assert info.value.data.error.param == "temperature"
    bad = Orq(api_key="ws-wrong", server_url=orq.sdk_configuration.server_url)
    with pytest.raises(models.APIErrorResponse):
        bad.router.chat.completions.create(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "x"}])


def test_unbuilt_orq_features_are_refused_by_the_sdk_path(orq: Orq) -> None:
    with pytest.raises(models.APIErrorResponse) as info:
        orq.router.chat.completions.create(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "x"}],
            guardrails=[{"id": "orq_pii_detection", "execute_on": "input"}])
    assert info.value.data.error.param == "guardrails"


SCRIPT_41 = textwrap.dedent(
    """
    import json, sys
    import httpx
    from orq_ai_sdk import Orq
    url, key = sys.argv[1], sys.argv[2]
    paths = []
    http = httpx.Client(event_hooks={"request": [lambda r: paths.append(r.url.path)]})
    client = Orq(api_key=key, server_url=url, client=http)
    res = client.router.chat_completions(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "old sdk"}])
    out = {"content": res.choices[0].message.content, "model": res.model}
    text = ""
    for ev in client.router.chat_completions(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "x y"}],
            stream=True):
        for ch in ev.data.choices:
            text += ch.delta.content or ""
    out["streamed"] = text
    try:
        client.router.chat_completions(model="bad", messages=[{"role": "user", "content": "x"}])
    except Exception as exc:
        out["error_status"] = getattr(exc, "status_code", None)
    out["paths"] = sorted(set(paths))
    print(json.dumps(out))
    """
)


def test_orq_sdk_4_1_uses_the_gateway_path(gateway: RunningGateway,
                                           fake_openai: FakeOpenAI) -> None:
    if not (ORQ41 / "orq_ai_sdk").is_dir():
        pytest.fail(f"orq-ai-sdk 4.1.x is not installed in {ORQ41}: run the README's test "
                    "command, which installs it")
    env = {**os.environ, "PYTHONPATH": str(ORQ41)}
    proc = subprocess.run([sys.executable, "-c", SCRIPT_41, gateway.url, gateway.key],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["content"] == "Echo: old sdk"
    assert out["model"] == "openai/gpt-4o-mini"
    assert out["streamed"] == "Echo: x y"
    assert out["error_status"] == 404
    assert out["paths"] == ["/v2/gateway/chat/completions"]
