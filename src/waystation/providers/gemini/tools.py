"""Function tools and `tool_choice` → Gemini `functionDeclarations` and `toolConfig`.

| `tool_choice` | `functionCallingConfig` |
|---|---|
| `auto` (or unset) | `mode: AUTO` (`VALIDATED` when a tool is `strict`; unset sends nothing) |
| `none` | `mode: NONE` |
| `required` | `mode: ANY` |
| `{function: {name}}` | `mode: ANY`, `allowedFunctionNames: [name]` |

`strict: true` on a tool asks for arguments that follow its schema: Gemini's `VALIDATED` mode
(calls constrained to the declarations, text still allowed) is that promise; `ANY` is
constrained already. Parameters go as Gemini's `Schema` subset, converted by `schema.py`.
"""

from __future__ import annotations

from typing import Any

from waystation.errors import InvalidRequest
from waystation.providers.gemini.schema import convert_schema

CHOICE_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}


def function_declarations(tools: list[dict[str, Any]], provider: str) -> list[dict[str, Any]]:
    decls = []
    for i, tool in enumerate(tools):
        fn = tool["function"]
        decl: dict[str, Any] = {"name": fn["name"]}
        if fn.get("description"):
            decl["description"] = fn["description"]
        params = fn.get("parameters")
        if params is not None:
            schema = convert_schema(
                params,
                where=f"the parameters of tool '{fn['name']}'",
                param=f"tools[{i}].function.parameters",
                provider=provider,
            )
            # a function without arguments is declared without parameters: Gemini refuses
            # an OBJECT with no properties there
            if schema.get("properties") or schema.get("anyOf"):
                decl["parameters"] = schema
        decls.append(decl)
    return decls


def tool_config(
    choice: str | dict[str, Any] | None, tools: list[dict[str, Any]]
) -> dict[str, Any] | None:
    names = [t["function"]["name"] for t in tools]
    strict = any(t["function"].get("strict") is True for t in tools)
    if choice is None:
        return {"functionCallingConfig": {"mode": "VALIDATED"}} if strict and names else None
    if isinstance(choice, str):
        if not names:
            if choice == "required":
                raise InvalidRequest("tool_choice 'required' needs at least one tool.",
                                     param="tool_choice")
            return None
        mode = "VALIDATED" if choice == "auto" and strict else CHOICE_MODES[choice]
        return {"functionCallingConfig": {"mode": mode}}
    name = choice["function"]["name"]
    if name not in names:
        raise InvalidRequest(
            f"tool_choice names the function '{name}', which is not among the tools.",
            param="tool_choice.function.name",
        )
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}

