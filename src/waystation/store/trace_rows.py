"""From recorded traces to table rows: pure, and run in a worker thread by the writer.

Encoding bodies to JSON is the costly part of storing a trace; doing it here, off the event loop,
keeps even a large batch from delaying requests. Values are clipped to their column sizes and
credential-like keys are scrubbed, so one odd request can never make a whole batch fail.

Rows are tuples in the column orders below, ready for a driver's `executemany` or COPY: no
per-row work is left for the event loop. Each order is checked against `store/schema.py` at
import, so a column added there and not here fails loudly instead of being left empty.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Table

from waystation.observe.pricing import Cost, TokenCounts, round_money
from waystation.observe.trace import Attempt, Trace
from waystation.store.ids import is_ulid, new_ulid
from waystation.store.schema import trace_metadata, traces
from waystation.store.times import utc_day

REDACTED = "[redacted]"
# Keys whose values are secrets wherever they appear in a stored body.
_SECRET_KEYS = frozenset({
    "authorization", "proxy-authorization", "api_key", "api-key", "apikey", "x-api-key",
    "access_token", "refresh_token", "client_secret", "password", "secret", "cookie",
    "set-cookie", "x-goog-api-key",
})
# A secret key as it looks in encoded JSON once lower-cased: without one, a body needs no scrub.
_SECRET_KEY_IN_JSON = re.compile("|".join(re.escape(f'"{key}":') for key in sorted(_SECRET_KEYS)))
# How every secret key ends, as encoded JSON: a body with none of these has no secret key, and
# looking for six substrings is quicker than the expression above, which tries every key at
# every quote.
_SECRET_ENDINGS = tuple(f'{end}":' for end in (
    "key", "token", "secret", "password", "cookie", "authorization"))
if not all(any(f'"{key}":'.endswith(end) for end in _SECRET_ENDINGS) for key in _SECRET_KEYS):
    raise RuntimeError("a secret key ends in none of _SECRET_ENDINGS")


def checked_columns(table: Table, names: tuple[str, ...]) -> tuple[str, ...]:
    """`names`, once they are known to be exactly the table's columns."""
    if sorted(names) != sorted(table.c.keys()):
        raise RuntimeError(f"the writer's columns for {table.name} differ from the schema's: "
                           f"{sorted(set(names) ^ set(table.c.keys()))}")
    return names


# The order of the values in the tuples `build_rows` makes.
TRACE_COLUMNS = checked_columns(traces, (
    "id", "request_id", "created", "day", "key_id", "name", "requested_model", "model",
    "status", "failed", "stream", "latency_ms", "ttft_ms", "usage", "prompt_tokens",
    "completion_tokens", "total_tokens", "cached_tokens", "reasoning_tokens", "cost",
    "cost_details", "cache_hit", "attempts", "contact_id", "thread_id", "metadata", "error",
    "request", "response", "extra"))
METADATA_COLUMNS = checked_columns(trace_metadata, ("trace_id", "key", "value"))
_CREATED = TRACE_COLUMNS.index("created")
_SLICE = 25  # traces built between two pauses: about half a millisecond of work


class RecordedTrace(NamedTuple):
    """A finished trace and its price, as the recorder queues it (a tuple: made per request).

    `tokens` are the counts the recorder read from the usage to price it, kept so the writer
    need not read them again (None: read them from the usage).
    """

    trace: Trace
    cost: Cost | None = None
    tokens: TokenCounts | None = None


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


Row = tuple[Any, ...]


@dataclass(slots=True)
class TraceRows:
    """One batch as rows; every row's first value is its trace's id."""

    traces: list[Row] = field(default_factory=list)  # TRACE_COLUMNS
    metadata: list[Row] = field(default_factory=list)  # METADATA_COLUMNS
    contacts: dict[str, ContactSeen] = field(default_factory=dict)
    threads: dict[str, ThreadSeen] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return [row[0] for row in self.traces]

    def rename(self, taken: Collection[str]) -> None:
        """Give each trace whose id is taken a new one, in every row that names it.

        A caller may send the same X-Request-ID twice; the second trace gets an id of its own
        (its `request_id` still says what the caller sent).
        """
        new = {row[0]: new_ulid(row[_CREATED]) for row in self.traces if row[0] in taken}
        if not new:
            return
        self.traces, self.metadata = (
            [(new[row[0]], *row[1:]) if row[0] in new else row for row in rows]
            for rows in (self.traces, self.metadata))


def encode(value: Any) -> str | None:
    """JSON text of `value`; anything JSON has no form for is written as its `str`."""
    if value is None:
        return None
    try:  # the usual value is parsed JSON: orjson's defaults take it, and are the fastest
        return orjson.dumps(value).decode()
    except TypeError:
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def decode(value: str | None) -> Any:
    return None if value is None else orjson.loads(value)


def clip(value: Any, size: int) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    if len(text) <= size and "\x00" not in text:
        return text
    return text.replace("\x00", "")[:size]


def scrub(value: Any) -> Any:
    """A copy of `value` with the values of credential-like keys replaced."""
    if isinstance(value, Mapping):
        return {k: REDACTED if str(k).lower() in _SECRET_KEYS else scrub(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def yield_gil() -> None:
    """Let a thread waiting for the GIL (the event loop's) take it now."""
    time.sleep(0)


def encode_scrubbed(value: Any) -> str | None:
    """`encode(scrub(value))`, without the copy for the usual body that holds no secret key.
    `value` may be JSON already (bytes, from `Trace.compact`).

    Scrubbing walks and copies the whole body in Python, which was most of a trace's cost;
    searching the encoded text for the keys is one scan in C.
    """
    text = value.decode() if isinstance(value, bytes) else encode(value)
    if text is None:
        return None
    low = text.lower()
    for end in _SECRET_ENDINGS:
        if end in low:
            break
    else:
        return text
    if _SECRET_KEY_IN_JSON.search(low):
        return encode(scrub(orjson.loads(value) if isinstance(value, bytes) else value))
    return text


def build_rows(
    items: Sequence[RecordedTrace],
    *,
    log_bodies: bool,
    pause: Callable[[], object] | None = None,
) -> TraceRows:
    """The batch's rows. `pause` is called after every slice of traces: a worker thread passes
    `yield_gil`, so the event loop never waits a whole switch interval (5 ms) for the GIL.
    """
    rows = TraceRows()
    used: set[str] = set()
    day_number, day = -1, ""  # a batch's traces share a day or two: formatted once each
    for index, item in enumerate(items, 1):
        if pause is not None and index % _SLICE == 0:
            pause()
        trace = item.trace
        trace_id = trace.id if is_ulid(trace.id) and trace.id not in used else None
        trace_id = trace_id or new_ulid(trace.created or None)
        used.add(trace_id)
        number = int(trace.created // 86_400)
        if number != day_number:
            day_number, day = number, utc_day(number * 86_400)
        rows.traces.append(_trace_row(trace_id, day, item, log_bodies))
        if trace.metadata:
            for key, value in trace.metadata.items():
                rows.metadata.append((trace_id, clip(key, 64), clip(value, 512)))
        if trace.contact is not None:  # most traces name neither: no call for them
            _see_contact(rows.contacts, trace)
        if trace.thread is not None:
            _see_thread(rows.threads, trace)
    return rows


def contact_external_id(trace: Trace) -> str | None:
    if trace.contact_external_id:
        return trace.contact_external_id
    contact = trace.contact or {}
    found = contact.get("id")
    return str(found) if found not in (None, "") else None


def _trace_row(trace_id: str, day: str, item: RecordedTrace, log_bodies: bool) -> Row:
    """The `traces` row, in TRACE_COLUMNS order, with the Python types both drivers bind as-is.

    This runs for every stored trace and is most of the writer's own work, so it makes few
    calls: values that are usually None or short are tested inline before `clip` or `encode`
    is called, and the cost's parts and the attempts' durations are stored unrounded (they
    are rounded when read; only the `cost` column, which usage reports sum, is rounded here).
    """
    trace = item.trace
    tokens = item.tokens if item.tokens is not None else TokenCounts.of(trace.usage)
    request_id, requested, model = trace.id, trace.requested_model, trace.model
    thread = trace.thread
    thread_id = None if thread is None else thread.get("id")
    cost = None if item.cost is None else item.cost.parts()  # rounded when read
    return (
        trace_id,  # id
        request_id if type(request_id) is str and len(request_id) <= 128
        and "\x00" not in request_id else clip(request_id, 128),  # request_id
        trace.created,  # created
        day,  # day
        None if trace.key_id is None else clip(trace.key_id, 64),  # key_id
        None if trace.name is None else clip(trace.name, 10_000),  # name
        requested if requested is None or (type(requested) is str and len(requested) <= 255
        and "\x00" not in requested) else clip(requested, 255),  # requested_model
        model if model is None or (type(model) is str and len(model) <= 255
        and "\x00" not in model) else clip(model, 255),  # model
        int(trace.status or 0),  # status
        trace.status >= 400 or trace.error is not None,  # failed
        bool(trace.stream),  # stream
        trace.latency_ms,  # latency_ms
        trace.ttft_ms,  # ttft_ms
        _stored(trace.usage_json, trace.usage),  # usage
        tokens.prompt,  # prompt_tokens
        tokens.completion,  # completion_tokens
        tokens.total,  # total_tokens
        tokens.cached,  # cached_tokens
        tokens.reasoning,  # reasoning_tokens
        None if cost is None else round_money(cost["total"]),  # cost
        None if cost is None else orjson.dumps(cost).decode(),  # cost_details
        None if trace.cache_hit is None else bool(trace.cache_hit),  # cache_hit
        _attempts(trace.attempts),  # attempts
        None if trace.contact is None and trace.contact_external_id is None
        else clip(contact_external_id(trace), 255),  # contact_id
        clip(thread_id, 255) if thread_id not in (None, "") else None,  # thread_id
        encode(trace.metadata) if trace.metadata else None,  # metadata
        None if trace.error is None else encode(trace.error),  # error
        encode_scrubbed(trace.request_json or trace.request) if log_bodies else None,  # request
        _stored(trace.response_json, trace.response) if log_bodies else None,  # response
        encode_scrubbed(trace.extra) if log_bodies and trace.extra else None,  # extra
    )


def _attempts(attempts: list[Attempt]) -> str:
    """The attempts as JSON: orjson writes the dataclasses' fields from their `__dict__`, in
    `Attempt.as_dict`'s keys and order (durations unrounded)."""
    try:
        return orjson.dumps(attempts).decode()
    except TypeError:  # a field that is not plain JSON: the general encoder writes its text
        return encode([a.as_dict() for a in attempts]) or "[]"


def _stored(json: bytes | None, value: Any) -> str | None:
    """A body as stored: its JSON when the trace kept one (sent, or compacted), else encoded."""
    return encode(value) if json is None else json.decode()


def _see_contact(seen: dict[str, ContactSeen], trace: Trace) -> None:
    """Only a contact object in the body upserts; the identity header alone only labels."""
    contact = trace.contact
    if contact is None or not isinstance(contact, Mapping):  # most traces: no ABC check
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
    if thread is None or not isinstance(thread, Mapping) or thread.get("id") in (None, ""):
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
