"""Variables through a real gateway: what the provider receives, and what the trace keeps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
from orq_ai_sdk import Orq

from tests.conftest import gateway_env
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.recorder import ListRecorder
from waystation.prompts.variables import MASK
from waystation.store.trace_rows import RecordedTrace, build_rows


def test_orq_sdk_variables_reach_the_provider_substituted(
        fake_openai: FakeOpenAI, tmp_path: Path, start_gateway: Any) -> None:
    gw = start_gateway(gateway_env(fake_openai, tmp_path))
    recorder = ListRecorder()
    gw.app.recorder = recorder
    orq = Orq(api_key=gw.key, server_url=gw.url)
    res = orq.router.chat.completions.create(
        model="openai/gpt-4o-mini",
        messages=[{"role": "system", "content": "Help {{customer_name}} with {{issue}}."},
                  {"role": "user", "content": "I am {{customer_name}}, mail {{email}}"}],
        variables={"customer_name": "Jane", "issue": "billing"},
        orq={"inputs": [{"key": "email", "value": "jane@example.com", "is_pii": True}]})
    sent = fake_openai.requests[-1].body["messages"]
    assert sent[0]["content"] == "Help Jane with billing."
    assert sent[1]["content"] == "I am Jane, mail jane@example.com"
    assert res.choices[0].message.content == "Echo: I am Jane, mail jane@example.com"
    trace = recorder.wait_for(1)[-1]
    assert trace.extra["variables"]["pii"] == ["email"]
    text = repr(trace.request) + repr(trace.response)
    assert "jane@example.com" not in text and MASK in text
    assert "Jane" in text  # only the PII value is masked
    # the stored row holds the masked response, not the JSON the caller was sent
    row = build_rows([RecordedTrace(trace)], log_bodies=True).traces[0]
    stored = " ".join(str(value) for value in row)
    assert "jane@example.com" not in stored and MASK in stored


def test_orq_inputs_object_form_with_the_openai_sdk_and_missing_names(
        fake_openai: FakeOpenAI, tmp_path: Path, start_gateway: Any) -> None:
    gw = start_gateway(gateway_env(fake_openai, tmp_path))
    recorder = ListRecorder()
    gw.app.recorder = recorder
    client = openai.OpenAI(base_url=f"{gw.url}/v2/proxy", api_key=gw.key)
    client.chat.completions.create(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "{{greeting}} {{who}}"}],
        extra_body={"orq": {"inputs": {"greeting": "Hello"}}})
    assert fake_openai.requests[-1].body["messages"][0]["content"] == "Hello {{who}}"
    assert recorder.wait_for(1)[-1].extra["variables"]["missing"] == ["who"]
