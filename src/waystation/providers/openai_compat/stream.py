"""OpenAI chat SSE → our chunks: the same chunks, with the public model name and finish reasons."""

from __future__ import annotations

import orjson

from waystation.core.finish import normalise_finish_reason
from waystation.errors import UpstreamBadResponse, UpstreamConnectionError, UpstreamError
from waystation.providers.base import Chunk, Target
from waystation.providers.upstream_status import error_for_status
from waystation.transport.sse import SSEEvent


class OpenAIStreamDecoder:
    __slots__ = ("_done", "_finished", "_target")

    def __init__(self, target: Target) -> None:
        self._target = target
        self._done = False
        self._finished = False

    def feed(self, event: SSEEvent) -> list[Chunk]:
        data = event.data
        if data == "[DONE]":
            self._done = True
            return []
        if not data:
            return []
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise UpstreamBadResponse(
                f"{self._target.provider_name} sent a stream event that is not JSON",
                provider=self._target.provider_name,
            ) from None
        if not isinstance(chunk, dict):
            raise UpstreamBadResponse(
                f"{self._target.provider_name} sent a stream event that is not an object",
                provider=self._target.provider_name,
            )
        if "error" in chunk and "choices" not in chunk:
            raise _stream_error(chunk, self._target)
        chunk["model"] = self._target.public_model
        choices = chunk.get("choices")
        if choices:
            for choice in choices:
                reason = choice.get("finish_reason")
                if reason is not None:
                    choice["finish_reason"] = normalise_finish_reason(reason)
                    self._finished = True
                else:
                    choice["finish_reason"] = None
        return [chunk]

    def close(self) -> list[Chunk]:
        if not self._done and not self._finished:
            raise UpstreamConnectionError(
                f"{self._target.provider_name} ended the stream before the answer was complete",
                provider=self._target.provider_name,
            )
        return []


def _stream_error(chunk: dict[str, object], target: Target) -> UpstreamError:
    err = chunk.get("error")
    message = ""
    code = None
    if isinstance(err, dict):
        message = str(err.get("message") or "")
        code = str(err["code"]) if err.get("code") is not None else None
    elif isinstance(err, str):
        message = err
    return error_for_status(502, message, provider=target.provider_name, headers={}, code=code)
