"""The Anthropic adapter's seams not covered by the golden files: URL and headers, model
profiles, malformed answers, and that the registry loads this adapter for its wire name."""

from __future__ import annotations

import orjson
import pytest

from waystation.api.validate import parse_chat_request
from waystation.config.catalogue import BUILTIN
from waystation.config.settings import ProviderConfig, load_settings
from waystation.core.call import ChatCall
from waystation.errors import UpstreamBadResponse
from waystation.providers.anthropic.profiles import ModelProfile, profile_for
from waystation.providers.anthropic.translate import AnthropicAdapter
from waystation.providers.base import Target
from waystation.providers.registry import Registry, load_adapters
from waystation.transport.sse import SSEEvent


def make_target(**options: str) -> Target:
    provider = ProviderConfig(
        spec=BUILTIN["anthropic"], base_url="http://127.0.0.1:9", api_key="sk-ant-key",
        key_var="ANTHROPIC_API_KEY", headers=(("anthropic-beta", "some-beta"),),
        options=options,
    )
    return Target(provider, "claude-haiku-4-5", "anthropic/claude-haiku-4-5")


def call(stream: bool = False) -> ChatCall:
    body = {"model": "anthropic/claude-haiku-4-5", "stream": stream,
            "messages": [{"role": "user", "content": "hi"}]}
    return parse_chat_request(orjson.dumps(body))


def test_encode_posts_to_v1_messages_with_key_and_version_headers() -> None:
    target = make_target(anthropic_version="2023-06-01")
    wire = AnthropicAdapter().encode(call(), target, drop_unsupported=False)
    assert wire.method == "POST"
    assert wire.url == "http://127.0.0.1:9/v1/messages"
    assert wire.headers["x-api-key"] == "sk-ant-key"
    assert wire.headers["anthropic-version"] == "2023-06-01"
    assert wire.headers["anthropic-beta"] == "some-beta"  # configured headers ride along
    assert wire.headers["accept"] == "application/json"
    assert "authorization" not in wire.headers


def test_encode_for_a_stream_asks_for_events_and_sets_stream() -> None:
    wire = AnthropicAdapter().encode(call(True), make_target(), drop_unsupported=False)
    assert wire.headers["accept"] == "text/event-stream"
    assert wire.headers["anthropic-version"] == "2023-06-01"  # the default when unset
    assert orjson.loads(wire.body)["stream"] is True


def test_the_version_variable_reaches_the_header() -> None:
    settings = load_settings({"ANTHROPIC_API_KEY": "k", "ANTHROPIC_VERSION": "2099-01-01",
                              "ANTHROPIC_BASE_URL": "http://127.0.0.1:9/"})
    target = Registry(settings).resolve("anthropic/claude-sonnet-4-5")
    wire = AnthropicAdapter().encode(call(), target, drop_unsupported=False)
    assert wire.headers["anthropic-version"] == "2099-01-01"
    assert wire.url == "http://127.0.0.1:9/v1/messages"


def test_the_registry_loads_this_adapter_for_the_anthropic_wire() -> None:
    assert isinstance(load_adapters()["anthropic"], AnthropicAdapter)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-sonnet-4-5", ModelProfile(True, False, False)),
        ("claude-sonnet-4-5-20250929", ModelProfile(True, False, False)),
        ("claude-haiku-4-5-20251001", ModelProfile(True, False, False)),
        ("claude-opus-4-1-20250805", ModelProfile(False, False, False)),
        ("claude-opus-4-5", ModelProfile(True, True, False)),
        ("claude-opus-4-6", ModelProfile(True, True, True)),
        ("claude-sonnet-4-6", ModelProfile(True, True, True)),
        ("claude-sonnet-4-20250514", ModelProfile(False, False, False)),
        ("claude-3-7-sonnet-20250219", ModelProfile(False, False, False)),
        ("claude-3-5-haiku-latest", ModelProfile(False, False, False)),
        ("claude-mythos-preview", ModelProfile(True, True, True)),
        ("my-alias", ModelProfile(True, True, True)),
    ],
)
def test_model_profiles_follow_the_model_name(model: str, expected: ModelProfile) -> None:
    assert profile_for(model) == expected


@pytest.mark.parametrize("body", [b"not json", b'{"type": "message"}', b"[1, 2]"])
def test_decode_refuses_an_answer_that_is_not_a_message(body: bytes) -> None:
    with pytest.raises(UpstreamBadResponse):
        AnthropicAdapter().decode(body, make_target())


def test_stream_refuses_an_event_that_is_not_json() -> None:
    decoder = AnthropicAdapter().stream_decoder(make_target())
    with pytest.raises(UpstreamBadResponse):
        decoder.feed(SSEEvent("{oops", "message_start"))


def test_stream_ignores_pings_and_unknown_events() -> None:
    decoder = AnthropicAdapter().stream_decoder(make_target())
    assert decoder.feed(SSEEvent('{"type": "ping"}', "ping")) == []
    assert decoder.feed(SSEEvent('{"type": "something_new"}', "something_new")) == []
