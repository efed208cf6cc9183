"""`{{name}}` substitution: every position, both input forms, missing values, PII masking."""

from __future__ import annotations

from typing import Any

import orjson

from waystation.api.validate import parse_chat_request
from waystation.prompts.variables import MASK, collect, mask, substitute_messages


def call_with(**fields: Any):  # type: ignore[no-untyped-def]
    body = {"model": "openai/gpt-4o-mini", **fields}
    return parse_chat_request(orjson.dumps(body))


def test_substitution_in_every_role_and_text_part() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "Help {{customer_name}}."},
        {"role": "developer", "content": [{"type": "text", "text": "Tier {{tier}}"}]},
        {"role": "user", "content": [
            {"type": "text", "text": "I am {{customer_name}} ({{tier}})"},
            {"type": "image_url", "image_url": {"url": "https://x/{{tier}}.png"}},
        ]},
        {"role": "assistant", "content": "Hello {{customer_name}}"},
        {"role": "tool", "tool_call_id": "c", "content": "{{tier}} ok"},
    ]
    variables = collect({"customer_name": "Jane", "tier": "gold"}, None)
    result = substitute_messages(messages, variables)
    assert messages[0]["content"] == "Help Jane."
    assert messages[1]["content"][0]["text"] == "Tier gold"
    assert messages[2]["content"][0]["text"] == "I am Jane (gold)"
    assert messages[2]["content"][1]["image_url"]["url"] == "https://x/{{tier}}.png"
    assert messages[3]["content"] == "Hello Jane"
    assert messages[4]["content"] == "gold ok"
    assert sorted(set(result.used)) == ["customer_name", "tier"]
    assert result.missing == []


def test_names_are_case_sensitive_and_only_word_characters() -> None:
    messages = [{"role": "user", "content": "{{Name}} {{name}} {{ name }} {{na-me}}"}]
    result = substitute_messages(messages, collect({"name": "x"}, None))
    assert messages[0]["content"] == "{{Name}} x {{ name }} {{na-me}}"
    assert result.missing == ["Name"]


def test_no_recursive_expansion_and_no_code() -> None:
    messages = [{"role": "user", "content": "{{a}} and {{b}}"}]
    substitute_messages(messages, collect({"a": "{{b}}", "b": "{% raise %}${x}"}, None))
    assert messages[0]["content"] == "{{b}} and {% raise %}${x}"


def test_missing_placeholders_are_left_and_listed() -> None:
    messages = [{"role": "user", "content": "Hi {{first}} {{last}}"}]
    result = substitute_messages(messages, collect({"first": "Ann"}, None))
    assert messages[0]["content"] == "Hi Ann {{last}}"
    assert result.missing == ["last"]


def test_list_and_object_forms_and_precedence() -> None:
    inputs = [_entry("a", "from-inputs"), _entry("b", 5), _entry("c", None), _entry("d", True)]
    variables = collect({"a": "from-top"}, inputs)
    assert variables.values == {"a": "from-top", "b": "5", "d": "true"}
    assert collect(None, {"x": {"k": 1}}).values == {"x": '{"k":1}'}


def _entry(key: str, value: Any, is_pii: bool = False):  # type: ignore[no-untyped-def]
    from waystation.api.chat_request import InputEntry

    return InputEntry(key=key, value=value, is_pii=is_pii)


def test_pii_flags_come_from_the_list_form() -> None:
    variables = collect(None, [_entry("email", "a@b.c", True), _entry("name", "Al")])
    assert variables.pii == frozenset({"email"})


def test_mask_replaces_every_occurrence_everywhere() -> None:
    obj = {"messages": [{"content": "mail a@b.c now"}], "n": 1, "list": ["a@b.c"]}
    assert mask(obj, ["a@b.c"]) == {"messages": [{"content": f"mail {MASK} now"}], "n": 1,
                                    "list": [MASK]}
    assert mask(obj, []) is obj


def test_the_validator_builds_variables_from_both_layouts() -> None:
    call = call_with(messages=[{"role": "user", "content": "x"}], variables={"a": 1},
                     orq={"inputs": [{"key": "s", "value": "v", "is_pii": True}]})
    assert call.variables.values == {"a": "1", "s": "v"}
    assert call.variables.pii == frozenset({"s"})
    assert "variables" not in call.body and "orq" not in call.body
