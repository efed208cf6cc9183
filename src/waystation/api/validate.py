"""Raw request bytes → a validated `ChatCall`, or an `InvalidRequest` naming the field.

The pydantic model checks shapes, types, enums and ranges; the rules that span fields are
checked here so each error can name the field it is about.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson
from pydantic import ValidationError

from waystation.api.chat_request import (
    RETRY_COUNT,
    ChatCompletionRequest,
    LoadBalancer,
    LoadBalancerEntry,
    Orq,
    ThinkingEnabled,
)
from waystation.api.errors_path import invalid_request_from
from waystation.cache.policy import requested_ttl
from waystation.core.call import ChatCall
from waystation.errors import InvalidRequest, UnsupportedFeature
from waystation.prompts.variables import collect
from waystation.routing.options import (
    DEFAULT_FALLBACK_CODES,
    DEFAULT_RETRY_CODES,
    RetryPolicy,
    RoutingOptions,
)

# Fields the gateway itself consumes; never forwarded to a provider.
GATEWAY_FIELDS = frozenset(
    {
        "orq", "name", "metadata", "retry", "fallbacks", "fallback_on_codes", "cache",
        "load_balancer", "timeout", "variables", "guardrails", "plugins",
    }
)

# Features of the API that this build does not implement yet. Each is refused with a 400 that
# names it: an accepted field must do what it says.
NOT_BUILT: dict[str, str] = {
    "guardrails": "guardrails",
    "plugins": "plugins",
}

# Integer fields the SDK may send as int-valued floats; forwarded as ints.
_INT_FIELDS = ("max_tokens", "max_completion_tokens", "n", "top_logprobs")


# The top-level routing fields. A caller sends the same settings with every request, and
# validating them and building their options was a fifth of parsing a request that has them:
# once a request has validated, the options its routing fields' JSON made are kept
# (`_SEEN_ROUTING`, bounded), and a later request with the same JSON validates the rest of
# its body only. Equal JSON is an equal value, so it validates alike.
_ROUTING_KEYS = ("retry", "fallbacks", "fallback_on_codes", "load_balancer", "timeout")
_ROUTING_KEY_SET = frozenset(_ROUTING_KEYS)
_SEEN_ROUTING: dict[bytes, RoutingOptions] = {}
_SEEN_ROUTING_LIMIT = 1024


def parse_chat_request(raw: bytes) -> ChatCall:
    data = _load_object(raw)
    key = _routing_key(data)
    seen = None if key is None else _SEEN_ROUTING.get(key)
    try:
        req = ChatCompletionRequest.model_validate(
            data if seen is None else {k: v for k, v in data.items() if k not in _ROUTING_KEY_SET})
    except ValidationError as exc:
        raise invalid_request_from(exc, data) from None
    if req.orq is None or req.orq.prompt is None:
        check_parameter_rules(req)
        _check_required(req, data)
    # else: the stored prompt may supply the model, messages and parameters; the preparer
    # checks these rules on the request as resolved (`validate_resolved`)
    _refuse_unbuilt_features(data)
    routing = seen if seen is not None else routing_options(req)
    if key is not None and seen is None and len(_SEEN_ROUTING) < _SEEN_ROUTING_LIMIT:
        _SEEN_ROUTING[key] = routing
    return _to_call(req, data, routing)


def _routing_key(data: dict[str, Any]) -> bytes | None:
    """The JSON of the request's top-level routing fields; None when it has none, or has an
    `orq` object (whose routing fields the top-level ones are merged with)."""
    if "orq" in data or _ROUTING_KEY_SET.isdisjoint(data):  # most requests: one C loop
        return None
    return orjson.dumps([(name, data[name]) for name in _ROUTING_KEYS if name in data])


def validate_resolved(data: dict[str, Any]) -> ChatCompletionRequest:
    """Check fields as a request would be checked: shapes, ranges and cross-field rules.

    For what was not one request as sent: a stored prompt's config (at create and update
    time), and a request once a stored prompt's messages and parameters are merged into it.
    """
    try:
        req = ChatCompletionRequest.model_validate(data)
    except ValidationError as exc:
        raise invalid_request_from(exc, data) from None
    check_parameter_rules(req)
    return req


def _load_object(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise InvalidRequest("The request body is empty; send a JSON object.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return data


def check_parameter_rules(req: ChatCompletionRequest) -> None:
    """The rules that span parameters, each error naming the field it is about."""
    if req.top_logprobs is not None and not req.logprobs:
        raise InvalidRequest("top_logprobs requires logprobs to be true.", param="top_logprobs")
    if req.modalities and "audio" in req.modalities and req.audio is None:
        raise InvalidRequest("audio is required when modalities contains 'audio'.", param="audio")
    if isinstance(req.thinking, ThinkingEnabled):
        limit = req.max_tokens or req.max_completion_tokens
        if limit is not None and req.thinking.budget_tokens >= limit:
            raise InvalidRequest(
                "thinking.budget_tokens must be less than max_tokens.",
                param="thinking.budget_tokens",
            )
    if req.stream_options is not None and not req.stream:
        raise InvalidRequest(
            "stream_options is only allowed when stream is true.", param="stream_options"
        )


def _check_required(req: ChatCompletionRequest, data: dict[str, Any]) -> None:
    """`data`: the request as sent (its routing fields may not have been validated again)."""
    if (req.model is None and pick_feature(req, "load_balancer") is None
            and data.get("load_balancer") is None):
        raise InvalidRequest("model is required unless a load_balancer is given.", param="model")
    if not req.messages:
        raise InvalidRequest("messages must hold at least one message.", param="messages")


def _refuse_unbuilt_features(data: dict[str, Any]) -> None:
    orq = data.get("orq") or {}
    for path, feature in NOT_BUILT.items():
        value = orq.get(path[4:]) if path.startswith("orq.") else data.get(path)
        if value is not None:
            raise UnsupportedFeature(
                f"'{path}' ({feature}) is not supported by this gateway yet; remove the field.",
                param=path,
            )


def _to_call(req: ChatCompletionRequest, data: dict[str, Any], routing: RoutingOptions
             ) -> ChatCall:
    body = {k: v for k, v in data.items() if k not in GATEWAY_FIELDS}
    for key in _INT_FIELDS:
        value = body.get(key)
        if isinstance(value, float):
            body[key] = int(value)
    include_usage = bool(req.stream_options and req.stream_options.include_usage)
    orq = req.orq
    return ChatCall(
        model=req.model or "",
        stream=bool(req.stream),
        include_usage=include_usage,
        body=body,
        name=req.name if req.name is not None else (orq.name if orq else None),
        metadata=req.metadata,
        routing=routing,
        variables=collect(req.variables, orq.inputs if orq else None),
        contact=_contact(orq),
        thread=orq.thread.model_dump(exclude_none=True) if orq and orq.thread else None,
        prompt_id=orq.prompt.id if orq and orq.prompt else None,
        cache_ttl=requested_ttl(data),
        knowledge=[q.model_dump(exclude_unset=True) for q in orq.knowledge_bases]
        if orq and orq.knowledge_bases else [],
    )


def _contact(orq: Orq | None) -> dict[str, Any] | None:
    """`orq.identity` is the newer name of `orq.contact`; the newer one wins."""
    if orq is None:
        return None
    person = orq.identity or orq.contact
    return person.model_dump(exclude_none=True) if person is not None else None


def pick_feature(req: Any, name: str) -> Any:
    """A feature given at the top level wins over the same one inside `orq` (any request model
    with those fields: chat, embeddings, rerank)."""
    value = getattr(req, name)
    if value is None and req.orq is not None:
        value = getattr(req.orq, name)
    return value


NO_ROUTING = RoutingOptions()


def routing_options(req: Any) -> RoutingOptions:
    """The request's routing settings. Most requests send none and share `NO_ROUTING`; the rest
    repeat a few settings, so options are built once per distinct setting (`_built`).

    It runs for every request, so it reads each field once and makes no generator. It reads
    the fields from the models' `__dict__`, where pydantic keeps them: an attribute of a model
    goes through its `__getattr__` hook and costs as much as ten dictionary lookups."""
    fields = req.__dict__
    orq = fields["orq"]
    retry, fallbacks, codes = fields["retry"], fields["fallbacks"], fields["fallback_on_codes"]
    balancer, timeout = fields["load_balancer"], fields["timeout"]
    if orq is not None:  # the top level wins (pick_feature)
        inner = orq.__dict__
        retry = inner["retry"] if retry is None else retry
        fallbacks = inner["fallbacks"] if fallbacks is None else fallbacks
        codes = inner["fallback_on_codes"] if codes is None else codes
        balancer = inner["load_balancer"] if balancer is None else balancer
        timeout = inner["timeout"] if timeout is None else timeout
    if balancer is None and retry is None and fallbacks is None and timeout is None:
        return NO_ROUTING
    entries: list[LoadBalancerEntry] | list[Any] = []
    if isinstance(balancer, LoadBalancer):
        entries = balancer.models
    elif isinstance(balancer, list):
        entries = balancer
    retry_codes = None if retry is None else retry.get("on_codes")
    return _built(
        tuple([(e.model, e.weight) for e in entries]) if entries else (),
        tuple([f["model"] for f in fallbacks]) if fallbacks else (),
        tuple(codes) if codes else None,
        None if retry is None else retry.get("count", RETRY_COUNT),
        tuple(retry_codes) if retry_codes else None,
        timeout["call_timeout"] if timeout is not None else None,
    )


@functools.lru_cache(maxsize=1024)
def _built(
    balanced: tuple[tuple[str, float], ...],
    fallbacks: tuple[str, ...],
    fallback_codes: tuple[int, ...] | None,
    retry_count: int | None,
    retry_codes: tuple[int, ...] | None,
    timeout_ms: float | None,
) -> RoutingOptions:
    """Options are frozen, so one instance serves every request with the same settings."""
    return RoutingOptions(
        balanced=balanced,
        fallbacks=fallbacks,
        fallback_on_codes=frozenset(fallback_codes) if fallback_codes else DEFAULT_FALLBACK_CODES,
        retry=RetryPolicy(
            count=retry_count,
            on_codes=frozenset(retry_codes) if retry_codes else DEFAULT_RETRY_CODES,
        ) if retry_count is not None else RetryPolicy(),
        call_timeout=timeout_ms / 1000 if timeout_ms is not None else None,
    )
