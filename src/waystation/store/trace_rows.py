"""From recorded traces to table rows: pure, and run in a worker thread by the writer.

Encoding bodies to JSON is the costly part of storing a trace; doing it here, off the event loop,
keeps even a large batch from delaying requests. Values are clipped to their column sizes and
credential-like keys are scrubbed, so one odd request can never make a whole batch fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from waystation.observe.pricing import Cost, TokenCounts
from waystation.observe.trace import Trace
from waystation.store.ids import is_ulid, new_ulid
from waystation.store.times import utc_day

REDACTED = "[redacted]"
# Keys whose values are secrets wherever they appear in a stored body.
_SECRET_KEYS = frozenset({
    "authorization", "proxy-authorization", "api_key", "api-key", "apikey", "x-api-key",
    "access_token", "refresh_token", "client_secret", "password", "secret", "cookie",
    "set-cookie", "x-goog-api-key",
})


@dataclass(frozen=True, slots=True)
class RecordedTrace:
    """A finished trace and its price, as the recorder queues it."""

    trace: Trace
    cost: Cost | None = None


@dataclass(slots=True)
class ContactSeen:
    """What the traces of one batch say about one contact (later traces win)."""

    external_id: str
    first: float
    last: float
    fields: dict[str, str] = field(default_factory=dict)
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None


@dataclass(slots=True)
class ThreadSeen:
    id: str
    first: float
    last: float
    tags: list[str] = field(default_factory=list)


@dataclass(slots=True)
class TraceRows:
    traces: list[dict[str, Any]] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    metadata: list[dict[str, Any]] = field(default_factory=list)
    contacts: dict[str, ContactSeen] = field(default_factory=dict)
    threads: dict[str, ThreadSeen] = field(default_factory=dict)

    def rename(self, old: str, new: str) -> None:
        """Give a trace another id (its own was taken), in every row that names it."""
        for rows in (self.traces, self.bodies, self.metadata):
            for row in rows:
                key = "id" if "id" in row else "trace_id"
                if row[key] == old:
                    row[key] = new


def encode(value: Any) -> str | None:
    if value is None:
        return None
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def decode(value: str | None) -> Any:
    return None if value is None else orjson.loads(value)


def clip(value: Any, size: int) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text.replace("\x00", "")[:size]


def scrub(value: Any) -> Any:
    """A copy of `value` with the values of credential-like keys replaced."""
    if isinstance(value, Mapping):
        return {k: REDACTED if str(k).lower() in _SECRET_KEYS else scrub(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def build_rows(items: Sequence[RecordedTrace], *, log_bodies: bool) -> TraceRows:
    rows = TraceRows()
    used: set[str] = set()
    for item in items:
        trace = item.trace
        trace_id = trace.id if is_ulid(trace.id) and trace.id not in used else None
        trace_id = trace_id or new_ulid(trace.created or None)
        used.add(trace_id)
        rows.traces.append(_trace_row(trace_id, item))
        if log_bodies and (trace.request or trace.response or trace.extra):
            rows.bodies.append({
                "trace_id": trace_id,
                "request": encode(scrub(trace.request)),
                "response": encode(trace.response),
                "extra": encode(scrub(trace.extra)) if trace.extra else None,
            })
        for key, value in (trace.metadata or {}).items():
            rows.metadata.append({"trace_id": trace_id, "key": clip(key, 64),
                                  "value": clip(value, 512)})
        _see_contact(rows.contacts, trace)
        _see_thread(rows.threads, trace)
    return rows


def contact_external_id(trace: Trace) -> str | None:
    if trace.contact_external_id:
        return trace.contact_external_id
    contact = trace.contact or {}
    found = contact.get("id")
    return str(found) if found not in (None, "") else None


def _trace_row(trace_id: str, item: RecordedTrace) -> dict[str, Any]:
    trace = item.trace
    tokens = TokenCounts.of(trace.usage)
    created = trace.created
    thread_id = (trace.thread or {}).get("id")
    return {
        "id": trace_id,
        "request_id": clip(trace.id, 128),
        "created": created,
        "day": utc_day(created),
        "key_id": clip(trace.key_id, 64),
        "name": clip(trace.name, 10_000),
        "requested_model": clip(trace.requested_model, 255),
        "model": clip(trace.model, 255),
        "status": int(trace.status or 0),
        "failed": bool(trace.status >= 400 or trace.error is not None),
        "stream": bool(trace.stream),
        "latency_ms": trace.latency_ms,
        "ttft_ms": trace.ttft_ms,
        "usage": encode(trace.usage),
        "prompt_tokens": tokens.prompt,
        "completion_tokens": tokens.completion,
        "total_tokens": tokens.total,
        "cached_tokens": tokens.cached,
        "reasoning_tokens": tokens.reasoning,
        "cost": None if item.cost is None else round(item.cost.total, 10),
        "cost_details": None if item.cost is None else encode(item.cost.as_dict()),
        "cache_hit": trace.cache_hit,
        "attempts": encode([a.as_dict() for a in trace.attempts]),
        "contact_id": clip(contact_external_id(trace), 255),
        "thread_id": clip(thread_id, 255) if thread_id not in (None, "") else None,
        "metadata": encode(trace.metadata) if trace.metadata else None,
        "error": encode(trace.error),
    }


def _see_contact(seen: dict[str, ContactSeen], trace: Trace) -> None:
    """Only a contact object in the body upserts; the identity header alone only labels."""
    contact = trace.contact
    if not isinstance(contact, Mapping):
        return
    external_id = clip(contact_external_id(trace), 255)
    if not external_id:
        return
    entry = seen.get(external_id)
    if entry is None:
        entry = seen[external_id] = ContactSeen(external_id, trace.created, trace.created)
    entry.first, entry.last = min(entry.first, trace.created), max(entry.last, trace.created)
    for source, column in (("display_name", "display_name"), ("email", "email"),
                           ("logo_url", "avatar_url"), ("avatar_url", "avatar_url")):
        value = contact.get(source)
        if isinstance(value, str) and value:
            entry.fields[column] = value[:2048]
    tags = contact.get("tags")
    if isinstance(tags, list):
        entry.tags = _clean_tags(tags)
    metadata = _merge_metadata(contact.get("metadata"))
    if metadata:
        entry.metadata = {**(entry.metadata or {}), **metadata}


def _see_thread(seen: dict[str, ThreadSeen], trace: Trace) -> None:
    thread = trace.thread
    if not isinstance(thread, Mapping) or thread.get("id") in (None, ""):
        return
    thread_id = clip(thread["id"], 255) or ""
    entry = seen.get(thread_id)
    if entry is None:
        entry = seen[thread_id] = ThreadSeen(thread_id, trace.created, trace.created)
    entry.first, entry.last = min(entry.first, trace.created), max(entry.last, trace.created)
    tags = thread.get("tags")
    if isinstance(tags, list):
        entry.tags = union_tags(entry.tags, _clean_tags(tags))


def _merge_metadata(value: Any) -> dict[str, Any]:
    """The orq SDK sends contact metadata as a list of objects, older clients as one object."""
    if isinstance(value, Mapping):
        return dict(value)
    merged: dict[str, Any] = {}
    if isinstance(value, list):
        for part in value:
            if isinstance(part, Mapping):
                merged.update(part)
    return merged


def _clean_tags(tags: Iterable[Any]) -> list[str]:
    return union_tags([], [str(t)[:255] for t in tags if isinstance(t, str | int) and str(t)])


def union_tags(first: Iterable[str], second: Iterable[str]) -> list[str]:
    """Both lists' tags, in first-seen order, each once."""
    out: list[str] = []
    for tag in (*first, *second):
        if tag not in out:
            out.append(tag)
    return out
