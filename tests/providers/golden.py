"""What the golden-file tests of every provider share.

A golden case is a JSON file holding an input and its expected output. Two layouts are in use:

* a folder per kind (`golden/encode/*.json`, `golden/stream/*.json` …), the expected half under
  the key that names the outcome (`wire`, `completion`, `chunks` or `error`): `case_paths`
  and `check_outcome`;
* one folder whose cases name their `kind`, the expected half under `expect`: `kind_params`
  and `check_expect`.

Run with WAYSTATION_UPDATE_GOLDEN=1 to rewrite the expected halves after a deliberate change
(then read the diff: the goldens are the specification). Streams are decoded from bytes fed in
small slices, as a network delivers them, so parsers must reassemble what the slices cut.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from waystation.core.accumulate import StreamAccumulator
from waystation.errors import GatewayError
from waystation.providers.base import Adapter, Chunk, Target, WireRequest

UPDATE = os.environ.get("WAYSTATION_UPDATE_GOLDEN") == "1"
OUTCOMES = ("wire", "completion", "chunks", "error")


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(path.read_bytes())
    return data


# -- a folder per kind ------------------------------------------------------------------------
def case_paths(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json"))


def check_outcome(path: Path, case: dict[str, Any], key: str, actual: Any) -> None:
    """Compare with the golden half under `key`, or rewrite it in update mode (an unchanged
    half is written back as stored, its keys in their stored order)."""
    if UPDATE:
        if case.get(key) == actual:
            actual = case[key]
        for outcome in OUTCOMES:
            case.pop(outcome, None)
        case[key] = actual
        path.write_bytes(orjson.dumps(case, option=orjson.OPT_INDENT_2) + b"\n")
        return
    assert key in case, f"{path.name} has no '{key}'; run with WAYSTATION_UPDATE_GOLDEN=1"
    assert actual == case[key], path.name


# -- one folder, cases naming their kind ------------------------------------------------------
def kind_params(golden: Path, kind: str) -> list[Any]:
    """The cases of `kind` as `(path, data)` parameters, each with its file's stem as id."""
    out = []
    for path in sorted(golden.glob("*.json")):
        data = json.loads(path.read_text())
        if data["kind"] == kind:
            out.append(pytest.param(path, data, id=path.stem))
    return out


def with_parity(params: list[Any]) -> list[Any]:
    """The stream cases that name their non-streamed answer under `parity`."""
    return [p for p in params if "parity" in p.values[1]]


def check_expect(path: Path, data: dict[str, Any], actual: Any) -> None:
    """Compare (as JSON) with the stored expectation, or store it in update mode."""
    actual = json.loads(orjson.dumps(actual))
    if UPDATE:
        data["expect"] = actual
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    assert "expect" in data, f"{path.name} has no expectation yet"
    assert actual == data["expect"]


# -- translating ------------------------------------------------------------------------------
def body_bytes(body: Any) -> bytes:
    """A golden body: a string is sent as it is, anything else as JSON."""
    return body.encode() if isinstance(body, str) else orjson.dumps(body)


def wire_dict(wire: WireRequest) -> dict[str, Any]:
    return {"method": wire.method, "url": wire.url, "headers": dict(wire.headers),
            "body": orjson.loads(wire.body)}


def error_dict(exc: GatewayError) -> dict[str, Any]:
    out: dict[str, Any] = {"class": type(exc).__name__, "status": exc.status, "type": exc.type,
                           "code": exc.code, "param": exc.param, "message": exc.message,
                           "retryable": exc.retryable}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        out["retry_after"] = retry_after
    return out


def decode_stream_until_error(
    adapter: Adapter, target: Target, raw: bytes, step: int
) -> tuple[list[Chunk], GatewayError | None]:
    """Feed `raw` in slices of `step` bytes, then close: the chunks, and the error that ended
    the stream early (None when it ended well)."""
    parser = adapter.event_parser()
    decoder = adapter.stream_decoder(target)
    chunks: list[Chunk] = []
    try:
        for i in range(0, len(raw), step):
            for event in parser.feed(raw[i:i + step]):
                chunks.extend(decoder.feed(event))
        for event in parser.close():
            chunks.extend(decoder.feed(event))
        chunks.extend(decoder.close())
    except GatewayError as exc:
        return chunks, exc
    return chunks, None


def decode_stream(adapter: Adapter, target: Target, raw: bytes, step: int) -> list[Chunk]:
    """The chunks of a stream fed in slices of `step` bytes; its error, raised."""
    chunks, exc = decode_stream_until_error(adapter, target, raw, step)
    if exc is not None:
        raise exc
    return chunks


def accumulate(chunks: Iterable[Chunk]) -> dict[str, Any]:
    """The answer the chunks add up to, as the gateway accumulates a stream."""
    acc = StreamAccumulator()
    for chunk in chunks:
        acc.add(chunk)
    return acc.result()


MapError = Callable[[str, int, Mapping[str, str], bytes], GatewayError]


def check_error_cases(path: Path, map_error: MapError, fields: tuple[str, ...]) -> None:
    """An `errors.json` file: each case's status, headers and body → the typed error (its
    class and `fields`), all compared at once with the file's expectation."""
    data = json.loads(path.read_text())
    out = []
    for case in data["cases"]:
        err = map_error(data["model"], case["status"], case["headers"], body_bytes(case["body"]))
        out.append({"class": type(err).__name__, **{name: getattr(err, name) for name in fields}})
    check_expect(path, data, out)
