"""Reading management-API query strings and bodies, leniently where the SDKs need it.

The orq SDKs send numbers typed as floats (`limit=5.0`), and SDK 4.1 turns a list inside an
object parameter into its Python repr (`tags=['a', 'b']`); both are accepted. Anything that
cannot be understood is a 400 naming the parameter, never silently ignored.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
import time
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from waystation.errors import InvalidRequest
from waystation.server.http import Request
from waystation.store.pagination import PageRequest

M = TypeVar("M", bound=BaseModel)
_PERIOD = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def integer(req: Request, name: str, default: int, low: int, high: int) -> int:
    raw = req.query.get(name)
    if raw is None:
        return default
    try:
        number = float(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be a number.", param=name) from None
    if not number.is_integer() or not low <= number <= high:
        raise InvalidRequest(f"{name} must be a whole number from {low} to {high}.", param=name)
    return int(number)


def page(req: Request, *, default: int = 10, high: int = 50) -> PageRequest:
    return PageRequest(
        limit=integer(req, "limit", default, 1, high),
        starting_after=req.query.get("starting_after") or None,
        ending_before=req.query.get("ending_before") or None,
    )


def boolean(req: Request, name: str, default: bool) -> bool:
    raw = req.query.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidRequest(f"{name} must be true or false.", param=name)


def timestamp(raw: str, name: str) -> float:
    """Unix seconds (or milliseconds), or ISO 8601 (a date alone is midnight UTC)."""
    text = raw.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return number / 1000 if number > 1e11 else number
    try:  # a "+" in an offset arrives as a space when the caller did not encode it
        moment = dt.datetime.fromisoformat(text.replace(" ", "+") if "T" in text else text)
    except ValueError:
        raise InvalidRequest(f"{name} must be an ISO 8601 time or unix seconds.",
                             param=name) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def window(req: Request, *, default_days: float | None) -> tuple[float | None, float | None]:
    """[since, until) from `from`/`to` (or `start`/`end`), or `period` (`7d`, `24h`) back
    from `to`; with none of them, the last `default_days` (None: all time)."""
    q = req.query
    names = [("from", "to"), ("start", "end"), ("start_date", "end_date")]
    low_name, high_name = next(((a, b) for a, b in names if a in q or b in q), names[0])
    until = timestamp(q[high_name], high_name) if q.get(high_name) else None
    since = timestamp(q[low_name], low_name) if q.get(low_name) else None
    period = q.get("period")
    if period:
        found = _PERIOD.match(period.strip().lower())
        if found is None:
            raise InvalidRequest("period must look like 30d, 24h, 15m or 1w.", param="period")
        if since is None:
            since = (until or time.time()) - float(found[1]) * _UNIT[found[2]]
    elif since is None and until is None and default_days is not None:
        since = time.time() - default_days * 86400
    if since is not None and until is not None and since >= until:
        raise InvalidRequest(f"{low_name} must be before {high_name}.", param=low_name)
    return since, until


def tags(req: Request) -> list[str]:
    """Tags to filter by, in any of the spellings the orq SDKs and docs use."""
    found: list[str] = []
    lists = req.query_lists
    for name in ("filter_by.tags", "filter_by[tags]", "filter_by_tags", "tags"):
        for raw in lists.get(name, []):
            found.extend(_tag_list(raw, name))
    raw_filter = req.query.get("filter_by")
    if raw_filter:
        try:
            parsed = orjson.loads(raw_filter)
        except orjson.JSONDecodeError:
            raise InvalidRequest('filter_by must be JSON such as {"tags": ["vip"]}.',
                                 param="filter_by") from None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("tags", []), list):
            raise InvalidRequest('filter_by must be JSON such as {"tags": ["vip"]}.',
                                 param="filter_by")
        found.extend(str(t) for t in parsed.get("tags", []))
    return list(dict.fromkeys(t for t in found if t))


def _tag_list(raw: str, name: str) -> list[str]:
    text = raw.strip()
    if not text.startswith("["):
        return [t.strip() for t in text.split(",")]
    try:
        value: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = None
    if not isinstance(value, list):
        raise InvalidRequest(f"{name} must be a list of tags.", param=name)
    return [str(v) for v in value]


async def body(req: Request, model: type[M], limit: int = 1024 * 1024) -> dict[str, Any]:
    """The JSON body validated by `model`, as the fields the caller actually sent."""
    raw = await req.body(limit)
    try:
        data = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as error:
        raise InvalidRequest(f"The request body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    try:
        return model.model_validate(data).model_dump(exclude_unset=True)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        param = ".".join(str(p) for p in first.get("loc", ()))
        if first.get("type") == "extra_forbidden":
            message = f"Unrecognized request argument supplied: {param}"
        else:
            message = f"Invalid value for {param}: {first.get('msg', 'invalid value')}"
        raise InvalidRequest(message, param=param or None) from None
