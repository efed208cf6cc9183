"""JSON Schema → Gemini `Schema`: each rule of `schema.py`, one small case at a time.

The goldens show whole tool declarations; these pin the corners: what converts exactly, what
is dropped as annotation, and what is refused (with the keyword and where it is), never a crash.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from tests.fakes.gemini_server import check_schema

from waystation.errors import UnsupportedParameter
from waystation.providers.gemini.schema import MAX_DEPTH, convert_schema


def convert(schema: dict[str, Any]) -> dict[str, Any]:
    return convert_schema(schema, where="tool 't'", param="p", provider="google")


def obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


CONVERTED = [
    ("openapi nullable kept", obj(a={"type": "string", "nullable": True}),
     {"type": "STRING", "nullable": True}),
    ("oneOf widened to anyOf", obj(a={"oneOf": [{"type": "string"}, {"type": "boolean"}]}),
     {"anyOf": [{"type": "STRING"}, {"type": "BOOLEAN"}]}),
    ("anyOf with null and two types", obj(a={"anyOf": [{"type": "string"}, {"type": "integer"},
                                                      {"type": "null"}]}),
     {"anyOf": [{"type": "STRING", "nullable": True}, {"type": "INTEGER", "nullable": True}]}),
    ("enum with null", obj(a={"type": "string", "enum": ["x", None]}),
     {"type": "STRING", "enum": ["x"], "nullable": True}),
    ("enum alone is a string", obj(a={"enum": ["x", "y"]}),
     {"type": "STRING", "enum": ["x", "y"]}),
    ("properties alone is an object", obj(a={"properties": {"b": {"type": "boolean"}}}),
     {"type": "OBJECT", "properties": {"b": {"type": "BOOLEAN"}}}),
    ("items alone is an array", obj(a={"items": {"type": "number"}}),
     {"type": "ARRAY", "items": {"type": "NUMBER"}}),
    ("draft 4 exclusive bound on an integer",
     obj(a={"type": "integer", "minimum": 3, "exclusiveMinimum": True,
            "maximum": 9, "exclusiveMaximum": False}),
     {"type": "INTEGER", "minimum": 4, "maximum": 9}),
    ("annotations and unknown keywords dropped",
     obj(a={"type": "string", "$comment": "c", "x-vendor": 1, "readOnly": True,
            "examples": ["e"], "contentMediaType": "text/plain", "uniqueItems": False}),
     {"type": "STRING"}),
    ("a ref's siblings win", {"type": "object", "properties": {"a": {
        "$ref": "#/definitions/A", "description": "outer"}},
        "definitions": {"A": {"type": "string", "description": "inner"}}},
     {"type": "STRING", "description": "outer"}),
    ("json pointer escapes", {"type": "object", "properties": {"a": {"$ref": "#/$defs/a~1b"}},
                              "$defs": {"a/b": {"type": "boolean"}}},
     {"type": "BOOLEAN"}),
    ("the same definition twice is not recursion",
     {"type": "object", "properties": {"a": {"$ref": "#/$defs/X"}, "b": {"$ref": "#/$defs/X"}},
      "$defs": {"X": {"type": "integer"}}},
     {"type": "INTEGER"}),
    ("unknown format dropped, known kept", obj(a={"type": "string", "format": "uri"}),
     {"type": "STRING"}),
    ("nullable single type from anyOf keeps outer title",
     obj(a={"title": "A", "anyOf": [{"type": "number"}, {"type": "null"}]}),
     {"type": "NUMBER", "nullable": True, "title": "A"}),
]


@pytest.mark.parametrize(("schema", "expected"), [c[1:] for c in CONVERTED],
                         ids=[c[0] for c in CONVERTED])
def test_converts(schema: dict[str, Any], expected: dict[str, Any]) -> None:
    out = convert(schema)
    prop = out["properties"]["a"]
    assert prop == expected
    check_schema(out, "tool t")  # and what we send passes the fake's Gemini checks


REFUSED = [
    ("only null", obj(a={"type": ["null"]}), "type", "p.properties.a.type"),
    ("anyOf of only null", obj(a={"anyOf": [{"type": "null"}]}), "anyOf",
     "p.properties.a.anyOf"),
    ("allOf of two", obj(a={"allOf": [{"type": "string"}, {"minLength": 2}]}), "allOf",
     "p.properties.a.allOf"),
    ("boolean schema", obj(a=True), "type", "p.properties.a"),
    ("tuple items", obj(a={"type": "array", "items": [{"type": "string"}]}), "items",
     "p.properties.a.items"),
    ("unique items", obj(a={"type": "array", "uniqueItems": True}), "uniqueItems",
     "p.properties.a.uniqueItems"),
    ("const number", obj(a={"const": 3}), "const", "p.properties.a.const"),
    ("pattern properties", obj(a={"type": "object", "patternProperties": {"^x": {}}}),
     "patternProperties", "p.properties.a.patternProperties"),
    ("if/then", obj(a={"type": "string", "if": {"minLength": 1}, "then": {}}), "if",
     "p.properties.a.if"),
    ("dangling ref", obj(a={"$ref": "#/$defs/Missing"}), "$ref", "p.properties.a.$ref"),
    ("unknown type", obj(a={"type": "date"}), "type", "p.properties.a.type"),
    ("fractional exclusive bound on an integer", obj(a={"type": "integer",
                                                        "exclusiveMaximum": 2.5}),
     "exclusiveMaximum", "p.properties.a.exclusiveMaximum"),
]


@pytest.mark.parametrize(("schema", "keyword", "param"), [c[1:] for c in REFUSED],
                         ids=[c[0] for c in REFUSED])
def test_refuses_naming_keyword_and_place(schema: dict[str, Any], keyword: str,
                                          param: str) -> None:
    with pytest.raises(UnsupportedParameter) as info:
        convert(schema)
    assert info.value.param == param
    assert f"'{keyword}'" in info.value.message and "tool 't'" in info.value.message
    assert info.value.status == 400


def test_deep_nesting_is_a_400_not_a_crash() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(MAX_DEPTH + 5):
        schema = {"type": "array", "items": schema}
    with pytest.raises(UnsupportedParameter):
        convert({"type": "object", "properties": {"a": schema}})


def test_a_root_anyof_is_allowed_for_structured_output() -> None:
    out = convert({"anyOf": [{"type": "string"}, {"type": "object", "properties": {
        "n": {"type": "integer"}}}]})
    assert out == {"anyOf": [{"type": "STRING"}, {"type": "OBJECT", "properties": {
        "n": {"type": "INTEGER"}}}]}


KEYWORDS = ["type", "properties", "items", "anyOf", "oneOf", "allOf", "enum", "const", "$ref",
            "$defs", "nullable", "additionalProperties", "format", "minimum",
            "exclusiveMinimum", "uniqueItems", "not", "required", "description", "prefixItems"]
VALUES: list[Any] = [None, True, False, 0, 2.5, "string", "integer", "null", "object", "array",
                     "#/$defs/a", "#", ["string", "null"], [], {}, [1, "x"], ["x", None]]


def random_schema(rng: random.Random, depth: int) -> Any:
    if depth > 3 or rng.random() < 0.2:
        return rng.choice(VALUES)
    node: dict[str, Any] = {}
    for key in rng.sample(KEYWORDS, rng.randint(0, 4)):
        if key in ("properties", "$defs"):
            node[key] = {"a": random_schema(rng, depth + 1), "b": random_schema(rng, depth + 1)}
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            node[key] = [random_schema(rng, depth + 1) for _ in range(rng.randint(0, 3))]
        elif key in ("items", "not", "additionalProperties"):
            node[key] = random_schema(rng, depth + 1)
        else:
            node[key] = rng.choice(VALUES)
    return node


def test_any_schema_converts_or_is_refused_never_crashes() -> None:
    """Seeded random schemas, valid and not: the result is a schema Gemini accepts or a 400."""
    rng = random.Random(20240611)
    converted = refused = 0
    for _ in range(1500):
        schema = {"type": "object", "properties": {"a": random_schema(rng, 0)}}
        try:
            out = convert(schema)
        except UnsupportedParameter:
            refused += 1
            continue
        check_schema(out, "tool t")
        converted += 1
    assert converted > 20 and refused > 1000  # both paths were exercised
