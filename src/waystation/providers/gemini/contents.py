"""OpenAI-format messages → Gemini `systemInstruction` and `contents`.

Gemini has one system instruction, two roles (`user`, `model`) and typed parts. So system and
developer messages are gathered, in order, into `systemInstruction`; assistant messages become
`model` turns whose tool calls are `functionCall` parts; tool results become `functionResponse`
parts of a `user` turn. Gemini matches a result to its call by function *name*, which the
OpenAI tool message does not carry: it is recovered from the earlier assistant tool call with
the same id. Results that follow one another go in one turn, as Gemini wants for parallel calls.
Reasoning text from earlier answers is not sent back (Gemini keeps its context in the thought
signatures, which are); per-message names and cache hints have no Gemini equivalent and are
left out.
"""

from __future__ import annotations

from typing import Any

import orjson

from waystation.errors import InvalidRequest, UnsupportedParameter
from waystation.providers.gemini import call_ids, media

Part = dict[str, Any]
Content = dict[str, Any]


def build_contents(
    messages: list[dict[str, Any]], *, provider: str, drop: bool, sign_unsigned_calls: bool
) -> tuple[Content | None, list[Content]]:
    """`(systemInstruction or None, contents)` for the caller's messages."""
    names = _call_names(messages)
    system: list[Part] = []
    contents: list[Content] = []
    for i, msg in enumerate(messages):
        role, param = msg["role"], f"messages[{i}]"
        if role in ("system", "developer"):
            system.extend({"text": t} for t in _texts(msg["content"]) if t)
        elif role == "user":
            contents.append({"role": "user", "parts": _user_parts(msg, param, provider, drop)})
        elif role == "assistant":
            parts = _model_parts(msg, param, provider, drop, sign_unsigned_calls)
            if parts:
                contents.append({"role": "model", "parts": parts})
        else:  # tool, or the deprecated function role
            _add_result(contents, _function_response(msg, param, names))
    if not contents:
        raise InvalidRequest(
            "Gemini needs at least one user, assistant or tool message besides the system "
            "messages.",
            param="messages",
        )
    return ({"parts": system} if system else None), contents


def _call_names(messages: list[dict[str, Any]]) -> dict[str, str]:
    names: dict[str, str] = {}
    for msg in messages:
        if msg["role"] == "assistant":
            for call in msg.get("tool_calls") or ():
                name = (call.get("function") or {}).get("name")
                if name:
                    names[call["id"]] = name
    return names


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [p["text"] for p in content if p.get("type") == "text"]
    return []


def _user_parts(msg: dict[str, Any], param: str, provider: str, drop: bool) -> list[Part]:
    content = msg["content"]
    if isinstance(content, str):
        return [{"text": content}]
    parts: list[Part] = []
    for j, part in enumerate(content):
        where = f"{param}.content[{j}]"
        kind = part["type"]
        if kind == "text":
            parts.append({"text": part["text"]})
        elif kind == "image_url":
            parts.append(media.image_part(part, where, provider, drop))
        elif kind == "input_audio":
            parts.append(media.audio_part(part))
        else:
            parts.append(media.file_part(part, where))
    return parts


def _model_parts(
    msg: dict[str, Any], param: str, provider: str, drop: bool, sign_unsigned_calls: bool
) -> list[Part]:
    if msg.get("audio") is not None and not drop:
        raise UnsupportedParameter(
            f"An earlier audio answer cannot be sent to provider '{provider}'; send its "
            "transcript as content instead.",
            param=f"{param}.audio",
        )
    parts, signature = _model_text(msg)
    if signature and parts:
        parts[-1]["thoughtSignature"] = signature
    calls = [_function_call(c, f"{param}.tool_calls[{j}]")
             for j, c in enumerate(msg.get("tool_calls") or ())]
    legacy = msg.get("function_call")
    if legacy:
        calls.append({"functionCall": {"name": legacy.get("name") or "",
                                       "args": _arguments(legacy.get("arguments"),
                                                          f"{param}.function_call.arguments")}})
    if calls and sign_unsigned_calls and "thoughtSignature" not in calls[0]:
        calls[0]["thoughtSignature"] = call_ids.UNSIGNED_CALL_SIGNATURE
    return parts + calls


def _model_text(msg: dict[str, Any]) -> tuple[list[Part], str | None]:
    """Text parts of an earlier answer, and the thought signature that goes on the last one."""
    content = msg.get("content")
    signature = msg.get("reasoning_signature")
    parts: list[Part] = []
    if isinstance(content, str):
        if content:
            parts.append({"text": content})
    elif isinstance(content, list):
        for part in content:
            kind = part.get("type")
            if kind == "text":
                parts.append({"text": part["text"]})
            elif kind == "refusal" and part.get("refusal"):
                parts.append({"text": part["refusal"]})
            elif kind == "reasoning" and not signature:
                signature = part.get("signature")
    if msg.get("refusal") and not parts:
        parts.append({"text": msg["refusal"]})
    return parts, signature


def _function_call(call: dict[str, Any], param: str) -> Part:
    fn = call["function"]
    if not fn.get("name"):
        raise InvalidRequest("A tool call sent back to Gemini needs its function name.",
                             param=f"{param}.function.name")
    body: dict[str, Any] = {
        "name": fn["name"],
        "args": _arguments(fn.get("arguments"), f"{param}.function.arguments"),
    }
    if not call_ids.is_synthesized(call["id"]):
        body["id"] = call["id"]
    part: Part = {"functionCall": body}
    google = (call.get("extra_content") or {}).get("google") or {}
    signature = call.get("thought_signature") or google.get("thought_signature")
    if signature:
        part["thoughtSignature"] = signature
    return part


def _arguments(raw: str | None, param: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        args = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest("Tool call arguments must be a JSON object; these are not JSON.",
                             param=param) from None
    if not isinstance(args, dict):
        raise InvalidRequest("Tool call arguments must be a JSON object.", param=param)
    return args


def _function_response(msg: dict[str, Any], param: str, names: dict[str, str]) -> Part:
    call_id = msg.get("tool_call_id")
    if msg["role"] == "function":
        name = msg["name"]
    else:
        found = names.get(call_id) if call_id else None
        if found is None:
            raise InvalidRequest(
                f"The tool message's tool_call_id '{call_id}' matches no tool call of an "
                "earlier assistant message, and Gemini needs the called function's name.",
                param=f"{param}.tool_call_id",
            )
        name = found
    body: dict[str, Any] = {"name": name, "response": _result_object(msg["content"])}
    if call_id and not call_ids.is_synthesized(call_id):
        body["id"] = call_id
    return {"functionResponse": body}


def _result_object(content: Any) -> dict[str, Any]:
    """Gemini wants an object: a JSON-object result goes as is, anything else as `output`."""
    text = "".join(_texts(content)) if content is not None else ""
    if text.startswith("{"):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            return value
    return {"output": text}


def _add_result(contents: list[Content], part: Part) -> None:
    last = contents[-1] if contents else None
    if last is not None and last["role"] == "user" and all(
        "functionResponse" in p for p in last["parts"]
    ):
        last["parts"].append(part)
    else:
        contents.append({"role": "user", "parts": [part]})
