"""JSON Schema (what callers send for tools and structured output) → Gemini's `Schema`.

Gemini's `Schema` is a subset of OpenAPI 3.0: an upper-case `type` (required), `nullable`
instead of a type union with "null", string-only `enum`, `anyOf` but no `oneOf`/`allOf`/`not`,
no `$ref`, no `additionalProperties`. We send this subset (function `parameters` and
`responseSchema`) rather than the newer raw-JSON-Schema fields, because every Gemini model
takes it, and because converting here lets us refuse what cannot be said with a 400 that
names the tool and the keyword, before the request ever reaches Google.

The rules, applied recursively:
* converted without loss: `type: [T, "null"]` → `nullable`, `type: [A, B]` → `anyOf`,
  `anyOf`/`oneOf` with a `{"type": "null"}` member → `nullable`, `const` → one-value `enum`,
  `$ref` to `$defs`/`definitions` (inlined unless recursive), a one-member `allOf` (merged),
  `exclusiveMinimum`/`exclusiveMaximum` on integers (→ `minimum`/`maximum` ± 1);
* widened: `oneOf` → `anyOf` (generation produces one member either way);
* dropped, because they only annotate: `$schema`, `$id`, `$comment`, `examples`, `deprecated`,
  `readOnly`, `writeOnly`, `additionalProperties` (boolean or `{}`), unknown keywords, and a
  `format` Gemini does not know (formats are annotations in JSON Schema);
* refused: every other constraint Gemini cannot state (`not`, `if`, `patternProperties`,
  `additionalProperties` with a schema, tuples, `uniqueItems`, `multipleOf`, recursive `$ref`,
  a schema with no type, non-string `enum` values …).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from waystation.errors import UnsupportedParameter

TYPES = {
    "string": "STRING",
    "number": "NUMBER",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
    "array": "ARRAY",
    "object": "OBJECT",
    "null": "NULL",
}

# Same name and meaning in Gemini's Schema: copied as they are.
COPIED = frozenset(
    {
        "description", "title", "default", "example", "pattern", "minLength", "maxLength",
        "minimum", "maximum", "minItems", "maxItems", "minProperties", "maxProperties",
        "required", "propertyOrdering",
    }
)

# The annotations of a schema: with a type union they stay on the outer schema.
ANNOTATIONS = frozenset({"description", "title", "default", "example"})

# Keywords handled by their own rule below (not annotations, not refused).
HANDLED = frozenset(
    {
        "type", "enum", "const", "format", "properties", "items", "anyOf", "oneOf", "allOf",
        "$ref", "$defs", "definitions", "nullable", "additionalProperties", "uniqueItems",
        "exclusiveMinimum", "exclusiveMaximum",
    }
)

# Constraints with no Gemini equivalent: keyword → why, for the error message.
REFUSED = {
    "not": "Gemini has no negation",
    "if": "Gemini has no conditional schemas",
    "then": "Gemini has no conditional schemas",
    "else": "Gemini has no conditional schemas",
    "patternProperties": "Gemini objects only have named properties",
    "propertyNames": "Gemini objects only have named properties",
    "unevaluatedProperties": "Gemini objects only have named properties",
    "dependentRequired": "Gemini has no dependent requirements",
    "dependentSchemas": "Gemini has no dependent schemas",
    "dependencies": "Gemini has no dependent requirements",
    "prefixItems": "Gemini arrays have one item schema (no tuples)",
    "additionalItems": "Gemini arrays have one item schema (no tuples)",
    "unevaluatedItems": "Gemini arrays have one item schema (no tuples)",
    "contains": "Gemini arrays cannot require a matching item",
    "minContains": "Gemini arrays cannot require a matching item",
    "maxContains": "Gemini arrays cannot require a matching item",
    "multipleOf": "Gemini numbers have no multipleOf",
    "$dynamicRef": "Gemini schemas cannot refer to other schemas",
    "$recursiveRef": "Gemini schemas cannot refer to other schemas",
}

# The formats Gemini's Schema accepts, by type; any other format is an annotation and dropped.
FORMATS = {
    "NUMBER": frozenset({"float", "double"}),
    "INTEGER": frozenset({"int32", "int64"}),
    "STRING": frozenset({"enum", "date-time"}),
}

MAX_DEPTH = 48


@dataclass
class _Context:
    root: dict[str, Any]
    where: str  # "tool 'get_weather'" or "response_format 'answer'", for messages
    provider: str
    refs: list[str] = field(default_factory=list)

    def refuse(self, path: str, keyword: str, why: str) -> UnsupportedParameter:
        return UnsupportedParameter(
            f"The JSON Schema keyword '{keyword}' in {self.where} (at {path}) cannot be "
            f"expressed for provider '{self.provider}': {why}.",
            param=path,
        )


def convert_schema(
    schema: dict[str, Any], *, where: str, param: str, provider: str
) -> dict[str, Any]:
    """The Gemini `Schema` for one JSON Schema, or `UnsupportedParameter` naming the keyword."""
    ctx = _Context(root=schema, where=where, provider=provider)
    return _convert(schema, param, ctx, 0)


def _convert(node: Any, path: str, ctx: _Context, depth: int) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise ctx.refuse(path, "properties", f"nesting deeper than {MAX_DEPTH} levels")
    if not isinstance(node, dict):
        raise ctx.refuse(path, "type", "a boolean schema (any or no value) has no type")
    if "$ref" in node:
        return _with_ref(node, path, ctx, depth)
    if isinstance(node.get("allOf"), list):
        return _with_all_of(node, path, ctx, depth)
    for key in node:
        if key in REFUSED:
            raise ctx.refuse(f"{path}.{key}", key, REFUSED[key])
    for key in ("anyOf", "oneOf"):
        if isinstance(node.get(key), list):
            return _union(node, key, path, ctx, depth)
    kind = node.get("type")
    if isinstance(kind, list):
        return _type_union(node, kind, path, ctx, depth)
    return _single(node, path, ctx, depth)


def _single(node: dict[str, Any], path: str, ctx: _Context, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in node.items() if k in COPIED}
    values, nullable = _enum_values(node, path, ctx)
    gtype = _gemini_type(node, values, path, ctx)
    out["type"] = gtype
    if values is not None:
        out["enum"] = values
    if nullable or node.get("nullable") is True:
        out["nullable"] = True
    fmt = node.get("format")
    if isinstance(fmt, str) and fmt in FORMATS.get(gtype, ()):
        out["format"] = fmt
    _bounds(node, out, gtype, path, ctx)
    if node.get("uniqueItems") is True:
        raise ctx.refuse(f"{path}.uniqueItems", "uniqueItems", "Gemini arrays cannot demand "
                         "unique items")
    if gtype == "OBJECT":
        _object_members(node, out, path, ctx, depth)
    elif gtype == "ARRAY" and "items" in node:
        items = node["items"]
        if isinstance(items, list):
            raise ctx.refuse(f"{path}.items", "items", "Gemini arrays have one item schema "
                             "(no tuples)")
        out["items"] = _convert(items, f"{path}.items", ctx, depth + 1)
    return out


def _gemini_type(
    node: dict[str, Any], values: list[str] | None, path: str, ctx: _Context
) -> str:
    kind = node.get("type")
    if kind is None:
        if "properties" in node:
            kind = "object"
        elif "items" in node:
            kind = "array"
        elif values is not None:
            kind = "string"
    if not isinstance(kind, str) or kind not in TYPES:
        raise ctx.refuse(f"{path}.type", "type", "Gemini needs a type (string, number, "
                         "integer, boolean, array or object) for every value")
    return TYPES[kind]


def _enum_values(
    node: dict[str, Any], path: str, ctx: _Context
) -> tuple[list[str] | None, bool]:
    """String enum values and whether null is one of them (`const` is a one-value enum)."""
    key = "enum" if "enum" in node else "const" if "const" in node else None
    if key is None:
        return None, False
    raw = node[key] if key == "enum" else [node[key]]
    if not isinstance(raw, list):
        raise ctx.refuse(f"{path}.{key}", key, "enum must be a list")
    nullable = None in raw
    values = [v for v in raw if v is not None]
    if not values or not all(isinstance(v, str) for v in values):
        raise ctx.refuse(f"{path}.{key}", key, "Gemini enums hold strings only")
    return values, nullable


def _bounds(
    node: dict[str, Any], out: dict[str, Any], gtype: str, path: str, ctx: _Context
) -> None:
    """`exclusiveMinimum`/`exclusiveMaximum`: exact on integers, refused on other numbers."""
    for key, target, step in (("exclusiveMinimum", "minimum", 1), ("exclusiveMaximum",
                                                                    "maximum", -1)):
        value = node.get(key)
        if value is None or value is False:
            continue
        if value is True:  # draft 4: the bound itself is excluded
            value = node.get(target)
        exact = isinstance(value, int | float) and float(value).is_integer()
        if gtype != "INTEGER" or not exact:
            raise ctx.refuse(f"{path}.{key}", key, "Gemini bounds are inclusive; only an "
                             "integer bound can be made inclusive without changing meaning")
        out[target] = int(value) + step  # type: ignore[arg-type]


def _object_members(
    node: dict[str, Any], out: dict[str, Any], path: str, ctx: _Context, depth: int
) -> None:
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and extra:
        raise ctx.refuse(f"{path}.additionalProperties", "additionalProperties",
                         "Gemini objects only have named properties (no maps)")
    props = node.get("properties")
    if isinstance(props, dict) and props:
        out["properties"] = {
            name: _convert(sub, f"{path}.properties.{name}", ctx, depth + 1)
            for name, sub in props.items()
        }


def _union(
    node: dict[str, Any], key: str, path: str, ctx: _Context, depth: int
) -> dict[str, Any]:
    """`anyOf`/`oneOf`: null members become `nullable`; one member left is inlined."""
    members = node[key]
    others = [(i, m) for i, m in enumerate(members) if not _is_null(m)]
    nullable = len(others) < len(members)
    if not others:
        raise ctx.refuse(f"{path}.{key}", key, "a value that can only be null has no type")
    converted = [_convert(m, f"{path}.{key}[{i}]", ctx, depth + 1) for i, m in others]
    if nullable:
        for member in converted:
            member["nullable"] = True
    out: dict[str, Any] = converted[0] if len(converted) == 1 else {"anyOf": converted}
    for k, v in node.items():
        if k in COPIED:
            out[k] = v  # the outer description or default wins over a member's
    if node.get("nullable") is True:
        out["nullable"] = True
    return out


def _type_union(
    node: dict[str, Any], kinds: list[Any], path: str, ctx: _Context, depth: int
) -> dict[str, Any]:
    """`type: ["string", "null"]` → nullable; several types → `anyOf` of one type each."""
    rest = [k for k in kinds if k != "null"]
    nullable = len(rest) < len(kinds)
    if not rest:
        raise ctx.refuse(f"{path}.type", "type", "a value that can only be null has no type")
    if len(rest) == 1:
        single = _single({**node, "type": rest[0]}, path, ctx, depth)
        if nullable:
            single["nullable"] = True
        return single
    base = {k: v for k, v in node.items() if k not in ANNOTATIONS}
    members = [_single({**base, "type": k}, path, ctx, depth) for k in rest]
    if nullable:
        for member in members:
            member["nullable"] = True
    out: dict[str, Any] = {"anyOf": members}
    out.update((k, v) for k, v in node.items() if k in ANNOTATIONS)
    return out


def _with_ref(node: dict[str, Any], path: str, ctx: _Context, depth: int) -> dict[str, Any]:
    ref = node["$ref"]
    if not isinstance(ref, str) or not ref.startswith("#"):
        raise ctx.refuse(f"{path}.$ref", "$ref", "only references inside the schema "
                         "('#/$defs/…') can be inlined")
    if ref in ctx.refs:
        raise ctx.refuse(f"{path}.$ref", "$ref", f"'{ref}' is recursive, and Gemini schemas "
                         "cannot refer to themselves")
    target = _resolve_pointer(ctx.root, ref)
    if not isinstance(target, dict):
        raise ctx.refuse(f"{path}.$ref", "$ref", f"'{ref}' points to no schema")
    merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    ctx.refs.append(ref)
    try:
        return _convert(merged, path, ctx, depth + 1)
    finally:
        ctx.refs.pop()


def _with_all_of(
    node: dict[str, Any], path: str, ctx: _Context, depth: int
) -> dict[str, Any]:
    members = node["allOf"]
    if len(members) != 1 or not isinstance(members[0], dict):
        raise ctx.refuse(f"{path}.allOf", "allOf", "Gemini cannot intersect schemas (only a "
                         "one-member allOf can be inlined)")
    merged = {**members[0], **{k: v for k, v in node.items() if k != "allOf"}}
    return _convert(merged, path, ctx, depth + 1)


def _resolve_pointer(root: dict[str, Any], ref: str) -> Any:
    node: Any = root
    for raw in ref[1:].split("/")[1:] if ref != "#" else []:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


def _is_null(member: Any) -> bool:
    return isinstance(member, dict) and member.get("type") == "null"
