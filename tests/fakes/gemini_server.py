"""A fake Gemini API (`generateContent`, `streamGenerateContent?alt=sse`) on 127.0.0.1.

It speaks the real wire format: camelCase JSON, `x-goog-api-key` auth (a bad key is a 400
INVALID_ARGUMENT with reason API_KEY_INVALID, as Google answers), `{"error": {code, message,
status, details}}` errors, SSE events of whole `GenerateContentResponse` objects framed with
CRLF and no `[DONE]`. It checks requests the way Gemini does where a translation bug would show:
unknown fields, roles, part shapes, upper-case schema types and known schema keywords, both
thinking budget and level set, as many function responses as calls, and (for gemini-3 models)
a thought signature on the first function call of every model turn.

Answers are deterministic from the request: function calls (two in parallel, each streamed in
its own event) when functions are offered, "The tool said: …" after function responses, JSON
sampled from `responseSchema`, and "Echo: <text>" otherwise, with a thought part when thoughts
are asked for. Magic prompts: "please block" (promptFeedback), "please filter" (SAFETY),
"please malform" (MALFORMED_FUNCTION_CALL). Lifecycle, recording and faults come from
`tests.fakes.server`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from tests.fakes import server

REQUEST_FIELDS = {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig",
                  "safetySettings", "cachedContent"}
PART_DATA = {"text", "inlineData", "fileData", "functionCall", "functionResponse"}
PART_FIELDS = PART_DATA | {"thought", "thoughtSignature"}
GENERATION_FIELDS = {"temperature", "topP", "topK", "maxOutputTokens", "stopSequences",
                     "candidateCount", "seed", "presencePenalty", "frequencyPenalty",
                     "responseLogprobs", "logprobs", "responseMimeType", "responseSchema",
                     "thinkingConfig"}
SCHEMA_FIELDS = {"type", "format", "title", "description", "nullable", "enum", "maxItems",
                 "minItems", "properties", "required", "minProperties", "maxProperties",
                 "minLength", "maxLength", "pattern", "example", "anyOf", "propertyOrdering",
                 "default", "items", "minimum", "maximum"}
SCHEMA_TYPES = {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"}
LEVELS = {"MINIMAL", "LOW", "MEDIUM", "HIGH", "XHIGH"}
MODES = {"AUTO", "ANY", "NONE", "VALIDATED"}


class Invalid(Exception):
    """The request breaks a rule Gemini enforces: answered as 400 INVALID_ARGUMENT."""


@dataclass
class Fault(server.Fault):
    """One scripted misbehaviour for the next request (of `model`, if given)."""

    die_after_events: int | None = None  # stream: cut the connection after N events


@dataclass
class Recorded:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]
    model: str
    method: str


def signature_for(name: str) -> str:
    """The (base64, as Gemini's bytes field is) thought signature the fake gives a call."""
    return base64.b64encode(f"sig:{name}".encode()).decode()


def error_body(status: int, name: str, message: str, details: list[Any] | None = None) -> bytes:
    err: dict[str, Any] = {"code": status, "message": message, "status": name}
    if details:
        err["details"] = details
    return orjson.dumps({"error": err})


class FakeGemini(server.FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.api_key = "gemini-fake-key"
        self._counter = 0

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1beta/models/{tail}", self._handle)
        app.router.add_post("/v1/models/{tail}", self._handle)

    # -- the API --------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        model, _, method = request.match_info["tail"].rpartition(":")
        try:
            body = camel(orjson.loads(await request.read()))
        except orjson.JSONDecodeError:
            return _json_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        self.requests.append(Recorded(request.path, dict(request.query), dict(request.headers),
                                      body, model, method))
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        if key != self.api_key:
            return _json_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a "
                               "valid API key.", [{"@type": "type.googleapis.com/google.rpc."
                                                   "ErrorInfo", "reason": "API_KEY_INVALID"}])
        if method not in ("generateContent", "streamGenerateContent"):
            return _json_error(404, "NOT_FOUND", f"Method {method} not found.")
        if model.startswith("missing"):
            return _json_error(404, "NOT_FOUND", f"models/{model} is not found for API "
                               "version v1beta, or is not supported for generateContent.")
        fault = self._take_fault(model)
        failed = await self._answer_fault(request, fault)
        if failed is not None:
            return failed
        try:
            check_request(body, model)
        except Invalid as exc:
            return _json_error(400, "INVALID_ARGUMENT", str(exc))
        self._counter += 1
        answer = build_answer(body, model, f"fake-resp-{self._counter}")
        if method == "generateContent":
            return web.Response(body=orjson.dumps(answer), content_type="application/json")
        if request.query.get("alt") != "sse":
            return _json_error(400, "INVALID_ARGUMENT", "this fake streams only with alt=sse")
        return await self._stream(request, stream_events(answer), fault)

    async def _stream(self, request: web.Request, events: list[dict[str, Any]],
                      fault: Fault | None) -> web.StreamResponse:
        resp = await self._open_stream(request)
        for n, event in enumerate(events):
            if fault and fault.die_after_events is not None and n >= fault.die_after_events:
                self._hang_up(request, flush=True)  # sends what was written, then hangs up
                return resp
            await resp.write(b"data: " + orjson.dumps(event) + b"\r\n\r\n")
        await resp.write_eof()
        return resp


def _json_error(status: int, name: str, message: str,
                details: list[Any] | None = None) -> web.Response:
    return web.Response(body=error_body(status, name, message, details), status=status,
                        content_type="application/json")


# -- checks ---------------------------------------------------------------------------------
# Values that are free JSON (a Struct, a map of names): their keys are data, never renamed.
FREE_JSON = {"args", "response", "example", "default", "properties"}


def camel(value: Any) -> Any:
    """Protobuf JSON accepts a field's proto name (snake_case) as well as its JSON name
    (lowerCamelCase), as Google does; the checks below then see one spelling."""
    if isinstance(value, list):
        return [camel(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, sub in value.items():
        name = _lower_camel(key)
        if name == "properties" and isinstance(sub, dict):
            out[name] = {k: camel(v) for k, v in sub.items()}
        else:
            out[name] = sub if name in FREE_JSON else camel(sub)
    return out


def _lower_camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def check_request(body: dict[str, Any], model: str) -> None:
    for key in body:
        if key not in REQUEST_FIELDS:
            raise Invalid(f'Invalid JSON payload received. Unknown name "{key}": Cannot find '
                          "field.")
    contents = body.get("contents")
    if not contents:
        raise Invalid("* GenerateContentRequest.contents: contents is not specified")
    for i, content in enumerate(contents):
        _check_content(content, i, contents, model)
    for part in (body.get("systemInstruction") or {}).get("parts", []):
        _check_part(part, "systemInstruction")
    for tool in body.get("tools") or []:
        for decl in tool.get("functionDeclarations") or []:
            if "parameters" in decl:
                check_schema(decl["parameters"], f"function {decl['name']}")
    mode = ((body.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("mode")
    if mode is not None and mode not in MODES:
        raise Invalid(f"Invalid value at 'tool_config.function_calling_config.mode': {mode}")
    _check_generation(body.get("generationConfig") or {})


def _check_content(content: dict[str, Any], i: int, contents: list[Any], model: str) -> None:
    if content.get("role") not in ("user", "model"):
        raise Invalid(f"Please use a valid role: user, model (contents[{i}]).")
    parts = content.get("parts")
    if not parts:
        raise Invalid(f"* GenerateContentRequest.contents[{i}].parts: contents.parts must "
                      "not be empty.")
    for part in parts:
        _check_part(part, f"contents[{i}]")
    calls = [p for p in parts if "functionCall" in p]
    if calls and model.startswith("gemini-3") and "thoughtSignature" not in calls[0]:
        raise Invalid(f"Function call is missing a thought_signature in functionCall parts "
                      f"(contents[{i}]).")
    responses = [p for p in parts if "functionResponse" in p]
    if responses:
        before = contents[i - 1]["parts"] if i else []
        if len(responses) != len([p for p in before if "functionCall" in p]):
            raise Invalid("Please ensure that the number of function response parts is equal "
                          "to the number of function call parts of the function call turn.")


def _check_part(part: dict[str, Any], where: str) -> None:
    unknown = set(part) - PART_FIELDS
    data = set(part) & PART_DATA
    if unknown or len(data) != 1:
        raise Invalid(f"Invalid part in {where}: {sorted(part)}")
    if "inlineData" in part and not {"mimeType", "data"} <= set(part["inlineData"]):
        raise Invalid(f"inlineData needs mimeType and data ({where})")
    if "fileData" in part and "fileUri" not in part["fileData"]:
        raise Invalid(f"fileData needs fileUri ({where})")
    if "functionResponse" in part:
        fr = part["functionResponse"]
        if not fr.get("name") or not isinstance(fr.get("response"), dict):
            raise Invalid(f"functionResponse needs a name and a response object ({where})")


def check_schema(schema: dict[str, Any], where: str) -> None:
    unknown = set(schema) - SCHEMA_FIELDS
    if unknown:
        raise Invalid(f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}" '
                      f"in the schema of {where}: Cannot find field.")
    if "anyOf" not in schema and schema.get("type") not in SCHEMA_TYPES:
        raise Invalid(f"Invalid value at schema type ({where}): {schema.get('type')}")
    for sub in (schema.get("properties") or {}).values():
        check_schema(sub, where)
    for sub in schema.get("anyOf") or []:
        check_schema(sub, where)
    if "items" in schema:
        check_schema(schema["items"], where)
    if "enum" in schema and not all(isinstance(v, str) for v in schema["enum"]):
        raise Invalid(f"enum values must be strings ({where})")


def _check_generation(config: dict[str, Any]) -> None:
    for key in config:
        if key not in GENERATION_FIELDS:
            raise Invalid(f'Invalid JSON payload received. Unknown name "{key}" at '
                          "'generation_config': Cannot find field.")
    thinking = config.get("thinkingConfig") or {}
    if "thinkingBudget" in thinking and "thinkingLevel" in thinking:
        raise Invalid("You cannot use both thinking_level and the legacy thinking_budget "
                      "parameter in the same request.")
    if "thinkingLevel" in thinking and thinking["thinkingLevel"] not in LEVELS:
        raise Invalid(f"Invalid thinking level: {thinking['thinkingLevel']}")
    if "responseSchema" in config:
        check_schema(config["responseSchema"], "responseSchema")


# -- answers --------------------------------------------------------------------------------
def sample(schema: dict[str, Any]) -> Any:
    if schema.get("anyOf"):
        return sample(schema["anyOf"][0])
    kind = schema.get("type")
    if kind == "OBJECT":
        return {k: sample(v) for k, v in (schema.get("properties") or {}).items()}
    if kind == "ARRAY":
        return [sample(schema.get("items") or {"type": "STRING"})]
    if kind in ("NUMBER", "INTEGER"):
        return 42
    if kind == "BOOLEAN":
        return True
    return schema["enum"][0] if schema.get("enum") else "sample"


def _texts(parts: list[dict[str, Any]]) -> str:
    return " ".join(p["text"] for p in parts if isinstance(p.get("text"), str))


def _answer_parts(body: dict[str, Any], model: str) -> list[dict[str, Any]]:
    last = body["contents"][-1]["parts"]
    config = body.get("generationConfig") or {}
    results = [p["functionResponse"] for p in last if "functionResponse" in p]
    if results:
        said = "; ".join(f"{r['name']}={orjson.dumps(r['response']).decode()}" for r in results)
        return [{"text": f"The tool said: {said}"}]
    tools = [d for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
    calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if tools and calling.get("mode") != "NONE":
        allowed = calling.get("allowedFunctionNames") or [d["name"] for d in tools]
        chosen = [d for d in tools if d["name"] in allowed][:2]
        return [{"functionCall": {"name": d["name"], "args": sample(d.get("parameters") or {})},
                 **({"thoughtSignature": signature_for(d["name"])} if i == 0 else {})}
                for i, d in enumerate(chosen)]
    if config.get("responseMimeType") == "application/json":
        return [{"text": orjson.dumps(sample(config.get("responseSchema") or {})).decode()}]
    media = [p.get("inlineData", p.get("fileData", {})).get("mimeType") for p in last
             if "inlineData" in p or "fileData" in p]
    text = f"Echo: {_texts(last)}" + (f" [saw {', '.join(map(str, media))}]" if media else "")
    return [{"text": text}]


def _candidate(body: dict[str, Any], model: str, index: int) -> dict[str, Any]:
    config = body.get("generationConfig") or {}
    parts = _answer_parts(body, model)
    finish = "STOP"
    limit = config.get("maxOutputTokens")
    if limit is not None and limit < 5 and "text" in parts[0]:
        parts[0]["text"] = " ".join(parts[0]["text"].split()[:limit])
        finish = "MAX_TOKENS"
    for stop in config.get("stopSequences") or []:
        if "text" in parts[0] and stop in parts[0]["text"]:
            parts[0]["text"] = parts[0]["text"].split(stop)[0]
    if model.startswith("gemini-3") and "text" in parts[-1]:
        parts[-1]["thoughtSignature"] = signature_for("text")
    if ((config.get("thinkingConfig") or {}).get("includeThoughts")):
        parts.insert(0, {"text": "Let me think about that.", "thought": True})
    cand: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "finishReason": finish}
    if index:
        cand["index"] = index  # proto3 JSON leaves out a 0
    if config.get("responseLogprobs"):
        cand["logprobsResult"] = _logprobs(parts, config.get("logprobs") or 0)
    return cand


def _logprobs(parts: list[dict[str, Any]], top: int) -> dict[str, Any]:
    words = " ".join(p["text"] for p in parts if not p.get("thought") and "text" in p).split()
    chosen = [{"token": w, "tokenId": i, "logProbability": -0.5 * (i + 1)}
              for i, w in enumerate(words)]
    tops = [{"candidates": [c, {"token": "other", "tokenId": 99, "logProbability": -9.0}][:top]}
            for c in chosen]
    return {"chosenCandidates": chosen, "topCandidates": tops}


def build_answer(body: dict[str, Any], model: str, response_id: str) -> dict[str, Any]:
    config = body.get("generationConfig") or {}
    prompt_words = sum(len(_texts(c["parts"]).split()) for c in body["contents"]) + 3
    last_text = _texts(body["contents"][-1]["parts"])
    out: dict[str, Any] = {"modelVersion": model, "responseId": response_id}
    if "please block" in last_text:
        out["promptFeedback"] = {"blockReason": "SAFETY"}
        out["usageMetadata"] = {"promptTokenCount": prompt_words, "totalTokenCount": prompt_words}
        return out
    cands = [_candidate(body, model, i) for i in range(config.get("candidateCount") or 1)]
    if "please filter" in last_text:
        cands = [{"finishReason": "SAFETY", "safetyRatings": [
            {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}]}]
    if "please malform" in last_text:
        cands = [{"content": {"parts": [{"text": ""}], "role": "model"},
                  "finishReason": "MALFORMED_FUNCTION_CALL"}]
    answer_words = sum(len(_texts([p for p in (c.get("content") or {}).get("parts", [])
                                   if not p.get("thought")]).split()) for c in cands)
    usage: dict[str, Any] = {"promptTokenCount": prompt_words, "candidatesTokenCount": answer_words}
    if (config.get("thinkingConfig") or {}).get("includeThoughts"):
        usage["thoughtsTokenCount"] = 5
    if "cache-me" in _texts((body.get("systemInstruction") or {}).get("parts", [])):
        usage["cachedContentTokenCount"] = 2
    usage["totalTokenCount"] = sum(v for k, v in usage.items() if k != "cachedContentTokenCount")
    out["candidates"] = cands
    out["usageMetadata"] = usage
    return out


def stream_events(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The events Gemini would stream for this answer: text in word slices, each function
    call whole in its own event, the finish reason and full usage in the last event."""
    head = {"modelVersion": answer["modelVersion"], "responseId": answer["responseId"]}
    usage = answer.get("usageMetadata") or {}
    partial = {"usageMetadata": {"promptTokenCount": usage.get("promptTokenCount", 0)}}
    if "promptFeedback" in answer:
        return [{**head, "promptFeedback": answer["promptFeedback"], "usageMetadata": usage}]
    events: list[dict[str, Any]] = []
    for cand in answer["candidates"]:
        slot = {"index": cand["index"]} if "index" in cand else {}
        for part in (cand.get("content") or {}).get("parts", []):
            for piece in _slices(part):
                events.append({**head, **partial, "candidates": [
                    {"content": {"parts": [piece], "role": "model"}, **slot}]})
        last = {k: v for k, v in cand.items() if k != "content"}
        last["content"] = {"parts": [{"text": ""}], "role": "model"}
        events.append({**head, "candidates": [last], "usageMetadata": usage})
    return events


def _slices(part: dict[str, Any]) -> list[dict[str, Any]]:
    text = part.get("text")
    if not isinstance(text, str) or "functionCall" in part or not text:
        return [part]
    words = text.split(" ")
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
    out = [{**{k: v for k, v in part.items() if k not in ("text", "thoughtSignature")},
            "text": p} for p in pieces]
    if "thoughtSignature" in part:
        out[-1]["thoughtSignature"] = part["thoughtSignature"]
    return out
