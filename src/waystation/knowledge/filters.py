"""`filter_by`: the metadata filter of a knowledge-base search, parsed once into a small tree.

Grammar (orq API §3.4, operators in both spellings, `eq` and `$eq`):

    Filter   := {"and": [Filter, …]} | {"or": [Filter, …]} | FieldCond
    FieldCond:= {"<metadata key>": OpObj, …}          several keys are ANDed
    OpObj    := {"eq"|"ne": scalar} | {"gt"|"gte"|"lt"|"lte": number}
              | {"in"|"nin": [scalar, …]} | {"exists": bool}   several operators are ANDed

Scalars are strings, numbers and booleans, the types chunk metadata may hold; comparisons are
type-exact (`true` never equals `1`, `"2"` never equals `2`). As in MongoDB, whose operators
these are, `ne` and `nin` also match chunks that lack the key. Each backend compiles the tree
to its own SQL; `matches` is the reference semantics they are tested against. Anything that
cannot be understood is an `InvalidRequest` whose message and `param` say where.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from waystation.errors import InvalidRequest

Scalar = str | int | float | bool
Metadata = dict[str, Scalar]
Operator = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "exists"]

_OPERATORS: frozenset[str] = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in", "nin",
                                        "exists"})
_KEY = re.compile(r"^[A-Za-z0-9_\-. :/]{1,64}$")
MAX_DEPTH = 4
MAX_LIST = 1000


@dataclass(frozen=True, slots=True)
class Condition:
    key: str
    op: Operator
    value: Any  # Scalar, list[Scalar] (in/nin) or bool (exists)


@dataclass(frozen=True, slots=True)
class Group:
    kind: Literal["and", "or"]
    items: tuple[Filter, ...]


Filter = Condition | Group


def parse_filter(raw: Any, param: str = "filter_by") -> Filter | None:
    """The filter tree, or None for "no filter" (absent, null or `{}`)."""
    if raw is None or raw == {}:
        return None
    return _parse(raw, param, 0)


def _bare(name: str) -> str:
    return name[1:] if name.startswith("$") else name


def _parse(raw: Any, param: str, depth: int) -> Filter:
    if depth > MAX_DEPTH:
        raise InvalidRequest(f"{param}: filters may nest at most {MAX_DEPTH} levels.",
                             param=param)
    if not isinstance(raw, dict) or not raw:
        raise InvalidRequest(f"{param} must be a non-empty object such as "
                             '{"lang": {"eq": "en"}}.', param=param)
    groups = [k for k in raw if _bare(k) in ("and", "or")]
    if groups:
        if len(raw) != 1:
            raise InvalidRequest(f"{param}: '{groups[0]}' must be the only key of its object.",
                                 param=param)
        name = groups[0]
        items = raw[name]
        where = f"{param}.{name}"
        if not isinstance(items, list) or not items:
            raise InvalidRequest(f"{where} must be a non-empty list of filters.", param=where)
        kind: Literal["and", "or"] = "and" if _bare(name) == "and" else "or"
        return Group(kind, tuple(_parse(item, f"{where}[{i}]", depth + 1)
                                 for i, item in enumerate(items)))
    conditions: list[Filter] = []
    for key, ops in raw.items():
        conditions.extend(_field(key, ops, f"{param}.{key}"))
    return conditions[0] if len(conditions) == 1 else Group("and", tuple(conditions))


def _field(key: str, ops: Any, param: str) -> list[Filter]:
    if key.startswith("$"):
        raise InvalidRequest(f"{param}: unknown operator '{key}' where a metadata key or "
                             "'and'/'or' was expected.", param=param)
    if not _KEY.match(key):
        raise InvalidRequest(f"{param}: metadata keys are 1-64 letters, digits or _-. :/",
                             param=param)
    if not isinstance(ops, dict) or not ops:
        raise InvalidRequest(f"{param} must be an operator object such as {{\"eq\": \"en\"}}.",
                             param=param)
    out: list[Filter] = []
    for name, value in ops.items():
        op = _bare(name)
        where = f"{param}.{name}"
        if op not in _OPERATORS:
            raise InvalidRequest(f"{where}: unknown operator '{name}'; use one of "
                                 "eq, ne, gt, gte, lt, lte, in, nin, exists.", param=where)
        out.append(Condition(key, op, _operand(op, value, where)))  # type: ignore[arg-type]
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | bool) or _is_number(value)


def _operand(op: str, value: Any, where: str) -> Any:
    if op in ("eq", "ne"):
        if not _is_scalar(value):
            raise InvalidRequest(f"{where} takes a string, number or boolean.", param=where)
        return value
    if op in ("gt", "gte", "lt", "lte"):
        if not _is_number(value):
            raise InvalidRequest(f"{where} takes a number.", param=where)
        return value
    if op in ("in", "nin"):
        if (not isinstance(value, list) or not value or len(value) > MAX_LIST
                or not all(_is_scalar(v) for v in value)):
            raise InvalidRequest(f"{where} takes a non-empty list of strings, numbers or "
                                 f"booleans (at most {MAX_LIST}).", param=where)
        return list(value)
    if not isinstance(value, bool):
        raise InvalidRequest(f"{where} takes true or false.", param=where)
    return value


def same(a: Any, b: Any) -> bool:
    """Type-exact equality of metadata scalars: booleans equal only booleans."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    return bool(a == b)


def matches(f: Filter | None, metadata: Metadata) -> bool:
    """Whether a chunk's metadata passes the filter: the semantics every backend must share."""
    if f is None:
        return True
    if isinstance(f, Group):
        results = (matches(item, metadata) for item in f.items)
        return all(results) if f.kind == "and" else any(results)
    present = f.key in metadata
    value = metadata.get(f.key)
    if f.op == "exists":
        return present is f.value
    if f.op == "eq":
        return present and same(value, f.value)
    if f.op == "ne":
        return not (present and same(value, f.value))
    if f.op == "in":
        return present and any(same(value, v) for v in f.value)
    if f.op == "nin":
        return not (present and any(same(value, v) for v in f.value))
    if not present or not _is_number(value):
        return False
    number = float(value)  # type: ignore[arg-type]
    limit = float(f.value)
    return {"gt": number > limit, "gte": number >= limit,
            "lt": number < limit, "lte": number <= limit}[f.op]


def check_metadata(metadata: Any, param: str = "metadata") -> Metadata:
    """Chunk metadata as stored: a flat object of strings, numbers and booleans."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidRequest(f"{param} must be an object.", param=param)
    for key, value in metadata.items():
        if not _KEY.match(str(key)):
            raise InvalidRequest(f"{param}.{key}: keys are 1-64 letters, digits or _-. :/",
                                 param=f"{param}.{key}")
        if not _is_scalar(value):
            raise InvalidRequest(f"{param}.{key} must be a string, number or boolean.",
                                 param=f"{param}.{key}")
    return dict(metadata)
