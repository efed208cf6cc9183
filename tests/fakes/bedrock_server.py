"""A fake Bedrock runtime (Converse and ConverseStream) over real HTTP on 127.0.0.1.

It authenticates like the service: a SigV4 `Authorization` header, whose signature it checks
with botocore against the secret of a known access key (or a bearer API key); it checks
requests where a translator can go wrong (known fields, content-block unions, alternating
roles starting with a user, `toolConfig` present when the conversation holds tool blocks,
tool results answering earlier calls, thinking blocks keeping their signature); it answers
deterministically (echo text, parallel tool calls, the forced structured-output tool, signed
reasoning when thinking is on, guardrail interventions, cache usage for cache points), and it
streams in the binary `application/vnd.amazon.eventstream` framing, encoded here with real
CRCs. Errors carry `x-amzn-ErrorType`. It records every request and injects faults.
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
import zlib
from typing import Any

import orjson
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.fakes.server import FakeServer, Fault, sample_for_schema

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "fake-session-token"
BEARER_TOKEN = "bedrock-api-key-fake"
FAIL_MIDWAY = "please fail midway"
GUARDRAIL = "please trip the guardrail"

REQUEST_FIELDS = frozenset({
    "messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig",
    "additionalModelRequestFields", "promptVariables", "additionalModelResponseFieldPaths",
    "requestMetadata", "performanceConfig", "serviceTier", "outputConfig",
})
BLOCK_KINDS = frozenset({"text", "image", "document", "video", "audio", "toolUse",
                         "toolResult", "guardContent", "cachePoint", "reasoningContent"})


def encode_frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude, string headers, payload, both CRC32s."""
    head = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        head += bytes([len(raw_name)]) + raw_name + b"\x07"
        head += struct.pack(">H", len(raw_value)) + raw_value
    total = 12 + len(head) + len(payload) + 4
    prelude = struct.pack(">II", total, len(head))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + head + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event_frame(event_type: str, body: dict[str, Any]) -> bytes:
    payload = orjson.dumps({**body, "p": "abcdefghijklmnopqrstuvwxyzABCDEFGH"[:len(event_type)]})
    return encode_frame({":event-type": event_type, ":content-type": "application/json",
                         ":message-type": "event"}, payload)


def exception_frame(kind: str, message: str) -> bytes:
    payload = orjson.dumps({"message": message, "originalStatusCode": 500})
    return encode_frame({":exception-type": kind, ":content-type": "application/json",
                         ":message-type": "exception"}, payload)


class FakeBedrock(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.verified_signatures = 0

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/model/{tail:.+}", self._handle)

    def reset(self) -> None:
        super().reset()
        self.verified_signatures = 0

    # -- handler ---------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        path = request.raw_path
        body = orjson.loads(raw) if raw else {}
        self._record(request, body, path)
        denied = self._authenticate(request, raw)
        if denied is not None:
            return denied
        stream = path.endswith("/converse-stream")
        if not (stream or path.endswith("/converse")):
            return error_response(404, "UnknownOperationException", "Unknown operation")
        problem = validate(body)
        if problem:
            return error_response(400, "ValidationException", problem)
        fault = self._take_fault(request.match_info["tail"].rsplit("/", 1)[0])
        failed = await self._answer_fault(request, fault)
        if failed is not None:
            return failed
        text = last_user_text(body)
        if text == "please fail 400":
            return error_response(400, "ValidationException", "The fake refuses this input.")
        answer = make_answer(body)
        if stream:
            return await self._stream(request, answer, failing=text == FAIL_MIDWAY)
        return web.Response(body=orjson.dumps(answer), content_type="application/json",
                            headers={"x-amzn-RequestId": "00000000-fake-4000-8000-request000"})

    def _fault_response(self, fault: Fault) -> web.Response:
        kind = (fault.body or {}).get("type", "ThrottlingException")
        return error_response(fault.status, kind, "Too many requests, please wait before "
                              "trying again.", fault.headers)

    def _authenticate(self, request: web.Request, raw: bytes) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            if auth[len("Bearer "):] == BEARER_TOKEN:
                return None
            return error_response(403, "UnrecognizedClientException",
                                  "The security token included in the request is invalid.")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return error_response(403, "MissingAuthenticationTokenException",
                                  "Missing Authentication Token")
        if not verify_sigv4(request, raw):
            return error_response(403, "InvalidSignatureException",
                                  "The request signature we calculated does not match the "
                                  "signature you provided.")
        self.verified_signatures += 1
        return None

    async def _stream(self, request: web.Request, answer: dict[str, Any],
                      *, failing: bool) -> web.StreamResponse:
        resp = await self._open_stream(request, "application/vnd.amazon.eventstream")
        frames = stream_frames(answer)
        if failing:
            frames = [*frames[:3], exception_frame(
                "modelStreamErrorException", "The model stream failed; retry your request.")]
        for frame in frames:
            # split frames across writes, so readers must reassemble them
            half = len(frame) // 2
            await resp.write(frame[:half])
            await asyncio.sleep(0)
            await resp.write(frame[half:])
        await resp.write_eof()
        return resp


def error_response(status: int, kind: str, message: str,
                   headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps({"message": message}), status=status, content_type="application/json",
        headers={"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/",
                 **(headers or {})})


def verify_sigv4(request: web.Request, raw: bytes) -> bool:
    """Recompute the signature over the headers the client signed, with botocore."""
    fields = dict(
        item.strip().split("=", 1)
        for item in request.headers["Authorization"][len("AWS4-HMAC-SHA256 "):].split(",")
    )
    access_key, date, region, service, _ = fields["Credential"].split("/")
    if access_key != ACCESS_KEY or service != "bedrock":
        return False
    signed = fields["SignedHeaders"].split(";")
    headers = {name: request.headers.get(name, "") for name in signed}
    token = request.headers.get("X-Amz-Security-Token")
    if token is not None and (token != SESSION_TOKEN or "x-amz-security-token" not in signed):
        return False
    url = f"http://{request.headers['Host']}{request.raw_path}"
    aws = AWSRequest(method=request.method, url=url, data=raw, headers=headers)
    aws.context["timestamp"] = request.headers.get("X-Amz-Date", "")
    if not aws.context["timestamp"].startswith(date):
        return False
    signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY, token), service, region)
    canonical = signer.canonical_request(aws)
    expected = signer.signature(signer.string_to_sign(aws, canonical), aws)
    return bool(expected == fields["Signature"])


def validate(body: dict[str, Any]) -> str | None:
    """What the service's validation would refuse, in the terms a translator can get wrong."""
    unknown = set(body) - REQUEST_FIELDS
    if unknown:
        return f"Unknown field(s): {sorted(unknown)}"
    messages = body.get("messages") or []
    if not messages or messages[0].get("role") != "user":
        return "A conversation must start with a user message."
    calls: set[str] = set()
    for i, msg in enumerate(messages):
        if i and msg.get("role") == messages[i - 1].get("role"):
            return "A conversation must alternate between user and assistant roles."
        problem = _check_blocks(msg.get("content") or [], i, calls)
        if problem:
            return problem
    if calls and not body.get("toolConfig"):
        return "The toolConfig field must be defined when using toolUse and toolResult."
    return None


def _check_blocks(blocks: list[dict[str, Any]], i: int, calls: set[str]) -> str | None:
    if not blocks:
        return f"messages.{i}.content must not be empty"
    for block in blocks:
        keys = set(block)
        if len(keys) != 1 or not keys <= BLOCK_KINDS:
            return f"messages.{i}: a content block holds exactly one member, not {sorted(keys)}"
        if "text" in block and not block["text"].strip():
            return f"messages.{i}: text content blocks must be non-empty"
        if "toolUse" in block:
            calls.add(block["toolUse"]["toolUseId"])
        if "toolResult" in block and block["toolResult"]["toolUseId"] not in calls:
            return f"messages.{i}: toolResult answers an unknown toolUseId"
        reasoning = block.get("reasoningContent") or {}
        if "reasoningText" in reasoning and not reasoning["reasoningText"].get("signature"):
            return f"messages.{i}: a thinking block must keep its signature"
    return None


def last_user_text(body: dict[str, Any]) -> str:
    for msg in reversed(body.get("messages") or []):
        if msg["role"] == "user":
            texts = [b["text"] for b in msg["content"] if "text" in b]
            if texts:
                return " ".join(texts)
    return ""


def _last_tool_result(body: dict[str, Any]) -> str | None:
    last = (body.get("messages") or [{}])[-1]
    results = [b["toolResult"] for b in last.get("content") or [] if "toolResult" in b]
    if not results:
        return None
    return " ".join(c.get("text", "") for c in results[-1]["content"])


def make_answer(body: dict[str, Any]) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    stop = "end_turn"
    extra = body.get("additionalModelRequestFields") or {}
    if (extra.get("thinking") or {}).get("type") == "enabled":
        thought = "Let me think about the tools."
        signature = "sig-" + hashlib.sha256(thought.encode()).hexdigest()[:24]
        blocks.append({"reasoningContent": {"reasoningText": {"text": thought,
                                                              "signature": signature}}})
    tool_config = body.get("toolConfig") or {}
    forced = ((tool_config.get("toolChoice") or {}).get("tool") or {}).get("name")
    result = _last_tool_result(body)
    if result is not None:
        blocks.append({"text": f"The tool said: {result}"})
    elif last_user_text(body) == GUARDRAIL:
        blocks.append({"text": "Sorry, the model cannot answer this question."})
        stop = "guardrail_intervened"
    elif tool_config.get("tools"):
        specs = [t["toolSpec"] for t in tool_config["tools"] if "toolSpec" in t]
        chosen = [s for s in specs if s["name"] == forced] if forced else specs[:2]
        for n, spec in enumerate(chosen):
            blocks.append({"toolUse": {"toolUseId": f"tooluse_{n}{spec['name'][:8]}",
                                       "name": spec["name"],
                                       "input": sample_for_schema(spec["inputSchema"]["json"])}})
        stop = "tool_use"
    else:
        blocks.append({"text": f"Echo: {last_user_text(body)}"})
    limit = (body.get("inferenceConfig") or {}).get("maxTokens")
    if limit is not None and limit < 5 and "text" in blocks[-1]:
        blocks[-1]["text"] = blocks[-1]["text"][:limit]
        stop = "max_tokens"
    return {"output": {"message": {"role": "assistant", "content": blocks}},
            "stopReason": stop, "usage": _usage(body, blocks), "metrics": {"latencyMs": 12}}


def _usage(body: dict[str, Any], blocks: list[dict[str, Any]]) -> dict[str, Any]:
    prompt = len(orjson.dumps(body.get("messages"))) // 20 + 3
    output = len(orjson.dumps(blocks)) // 20 + 1
    usage = {"inputTokens": prompt, "outputTokens": output, "totalTokens": prompt + output}
    if b"cachePoint" in orjson.dumps(body):
        usage.update(cacheReadInputTokens=0, cacheWriteInputTokens=1024)
        usage["totalTokens"] += 1024
    return usage


def _pieces(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def stream_frames(answer: dict[str, Any]) -> list[bytes]:
    """The ConverseStream frames for the same answer."""
    frames = [event_frame("messageStart", {"role": "assistant"})]
    for index, block in enumerate(answer["output"]["message"]["content"]):
        deltas: list[dict[str, Any]] = []
        if "text" in block:
            deltas = [{"text": piece} for piece in _pieces(block["text"], 6)]
        elif "reasoningContent" in block:
            thought = block["reasoningContent"]["reasoningText"]
            deltas = [{"reasoningContent": {"text": p}} for p in _pieces(thought["text"], 9)]
            deltas.append({"reasoningContent": {"signature": thought["signature"]}})
        elif "toolUse" in block:
            use = block["toolUse"]
            frames.append(event_frame("contentBlockStart", {"contentBlockIndex": index, "start": {
                "toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}}))
            deltas = [{"toolUse": {"input": p}}
                      for p in _pieces(orjson.dumps(use["input"]).decode(), 5)]
        frames += [event_frame("contentBlockDelta", {"contentBlockIndex": index, "delta": d})
                   for d in deltas]
        frames.append(event_frame("contentBlockStop", {"contentBlockIndex": index}))
    frames.append(event_frame("messageStop", {"stopReason": answer["stopReason"]}))
    frames.append(event_frame("metadata", {"usage": answer["usage"],
                                           "metrics": {"latencyMs": 12}}))
    return frames
