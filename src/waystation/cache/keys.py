"""The exact-match cache key: a canonical hash of everything that changes the answer.

Two requests share a key only when the provider would be asked exactly the same thing by the
same tenant: same models, same (resolved) messages, same generation parameters. Fields that
only label, route or deliver the request are left out, so that a streamed and a non-streamed
call, or two calls with different trace names, share one entry.

The rule for a field we do not know about is to *keep* it in the key: a needless miss costs
one upstream call, a wrong hit returns another question's answer.

Canonical form: JSON with sorted keys, no whitespace, and every int-valued float written as an
int (SDKs send ``"n": 1.0`` where others send ``1``; JSON numbers have no type, so both mean the
same request). Strings are compared exactly: the key is case-sensitive, as the orq API says.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

KEY_VERSION = b"waystation-cache-v1\n"
"""Mixed into every hash: changing what a key covers changes this, so old entries go unread."""

EXCLUDED_FIELDS: frozenset[str] = frozenset(
    {
        # how the answer is delivered, not what it is
        "stream",
        "stream_options",
        # labels for traces and billing
        "metadata",
        "name",
        # who the end user is: OpenAI uses `user`/`safety_identifier` for abuse monitoring and
        # `prompt_cache_key` to route to its own prompt cache; none changes the generated text
        "user",
        "safety_identifier",
        "prompt_cache_key",
        # the gateway's own settings: routing and resilience, caching, and the `orq` object
        # (thread, contact/identity, prompt, inputs, knowledge bases: their effect is already in
        # the resolved messages the route passes)
        "orq",
        "retry",
        "timeout",
        "fallbacks",
        "fallback_on_codes",
        "load_balancer",
        "cache",
        "variables",
        # replaced by the resolved model list given separately
        "model",
    }
)

# Beyond ±2**53 a float no longer holds every integer, and orjson refuses ints beyond 64 bits:
# such values are left as floats.
_EXACT_INT_LIMIT = 2.0**53


def cache_key(tenant: str, models: Sequence[str], body: Mapping[str, Any]) -> str:
    """The hex SHA-256 key of one request for one tenant.

    `tenant` is the caller's API-key id: it is hashed in, so one tenant never reads another's
    answers. `models` is the resolved model list in the order it will be tried (the chosen
    model, or the load-balancer models then the fallbacks, as given). `body` is the request
    after variable substitution and prompt/knowledge resolution (`ChatCall.body`).
    """
    if not tenant:
        raise ValueError("cache_key needs a tenant: entries are isolated per API key")
    if not models:
        raise ValueError("cache_key needs at least one model")
    payload = {
        "tenant": tenant,
        "models": list(models),
        "body": {k: v for k, v in body.items() if k not in EXCLUDED_FIELDS},
    }
    return hashlib.sha256(KEY_VERSION + canonical_json(payload)).hexdigest()


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, int-valued floats as ints.

    orjson writes every int-valued float below 2**53 with a ``.0`` (``1.0``, ``1e15`` as
    ``1000000000000000.0``), so a dump without ``.0`` has none to rewrite and is already
    canonical: most requests skip the walk over the body (a test pins this orjson behaviour).
    """
    dumped = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    if b".0" not in dumped:
        return dumped
    return orjson.dumps(_normalise(value), option=orjson.OPT_SORT_KEYS)


def _normalise(value: Any) -> Any:
    # Exact type checks first: this walk runs on every cached request, and the JSON a request
    # decodes to only holds dict, list, str, int, float, bool and None.
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        return {k: _normalise(v) for k, v in value.items()}
    if kind is list:
        return [_normalise(v) for v in value]
    if kind is float:
        if value.is_integer() and abs(value) < _EXACT_INT_LIMIT:
            return int(value)
        return value
    if isinstance(value, Mapping):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if isinstance(value, float):
        return _normalise(float(value))
    return value
