"""The fake Bedrock runtime, checked with the official client (boto3 `bedrock-runtime`).

boto3 signs with SigV4 (the fake verifies the signature), parses Converse answers into its
service model, and reads ConverseStream's binary frames checking both CRCs: if boto3 accepts
the fake's frames, the fake's event-stream encoding is right.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError
from tests.fakes.bedrock_server import ACCESS_KEY, FAIL_MIDWAY, SECRET_KEY, FakeBedrock
from tests.fakes.openai_server import Fault
from tests.fakes.server import module_fake

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
TOOLS = {"tools": [
    {"toolSpec": {"name": "get_weather", "inputSchema": {"json": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}},
    {"toolSpec": {"name": "get_time", "inputSchema": {"json": {
        "type": "object", "properties": {"tz": {"type": "string"}}}}}},
]}


fake = module_fake(FakeBedrock)


def client(fake: FakeBedrock, secret: str = SECRET_KEY) -> Any:
    return boto3.client("bedrock-runtime", endpoint_url=fake.endpoint, region_name="us-east-1",
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=secret,
                        config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture
def bedrock(fake: FakeBedrock) -> Any:
    fake.reset()
    return client(fake)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"text": text}]}]


def test_converse_answers_a_signed_request(fake: FakeBedrock, bedrock: Any) -> None:
    res = bedrock.converse(modelId=MODEL, messages=user("hello"),
                           system=[{"text": "be brief"}], inferenceConfig={"maxTokens": 50})
    assert res["output"]["message"]["content"] == [{"text": "Echo: hello"}]
    assert res["stopReason"] == "end_turn"
    assert res["usage"]["totalTokens"] == res["usage"]["inputTokens"] + res["usage"][
        "outputTokens"]
    assert fake.verified_signatures == 1
    assert fake.requests[-1].path == "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"


def test_converse_stream_frames_pass_botos_crc_checks(bedrock: Any) -> None:
    res = bedrock.converse_stream(modelId=MODEL, messages=user("weather and time"),
                                  toolConfig=TOOLS)
    events = list(res["stream"])
    kinds = [next(iter(e)) for e in events]
    assert kinds[0] == "messageStart" and kinds[-2:] == ["messageStop", "metadata"]
    starts = [e["contentBlockStart"]["start"]["toolUse"]["name"] for e in events
              if "contentBlockStart" in e]
    assert starts == ["get_weather", "get_time"]
    args = "".join(e["contentBlockDelta"]["delta"]["toolUse"]["input"] for e in events
                   if "contentBlockDelta" in e and e["contentBlockDelta"]["contentBlockIndex"] == 0)
    assert args == '{"city":"sample"}'
    assert events[-2]["messageStop"]["stopReason"] == "tool_use"
    assert events[-1]["metadata"]["usage"]["outputTokens"] > 0


def test_converse_stream_reasoning_with_signature(bedrock: Any) -> None:
    res = bedrock.converse_stream(
        modelId=MODEL, messages=user("think"), toolConfig=TOOLS,
        additionalModelRequestFields={"thinking": {"type": "enabled", "budget_tokens": 1024}})
    deltas = [e["contentBlockDelta"]["delta"] for e in res["stream"] if "contentBlockDelta" in e]
    thought = "".join(d["reasoningContent"].get("text", "") for d in deltas
                      if "reasoningContent" in d)
    signatures = [d["reasoningContent"]["signature"] for d in deltas
                  if "signature" in d.get("reasoningContent", {})]
    assert thought == "Let me think about the tools."
    assert len(signatures) == 1 and signatures[0].startswith("sig-")


def test_stream_exception_frame_is_raised_by_boto(bedrock: Any) -> None:
    res = bedrock.converse_stream(modelId=MODEL, messages=user(FAIL_MIDWAY))
    with pytest.raises(EventStreamError) as info:
        list(res["stream"])
    assert info.value.response["Error"]["Code"] == "modelStreamErrorException"


def test_errors_carry_their_type(fake: FakeBedrock, bedrock: Any) -> None:
    with pytest.raises(ClientError) as info:
        bedrock.converse(modelId=MODEL, messages=user("please fail 400"))
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    fake.add_fault(Fault(status=429))
    with pytest.raises(ClientError) as limited:
        bedrock.converse(modelId=MODEL, messages=user("hi"))
    assert limited.value.response["Error"]["Code"] == "ThrottlingException"


def test_wrong_secret_fails_the_signature_check(fake: FakeBedrock) -> None:
    with pytest.raises(ClientError) as info:
        client(fake, secret="not-the-secret").converse(modelId=MODEL, messages=user("hi"))
    assert info.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_invalid_conversation_is_a_validation_error(bedrock: Any) -> None:
    with pytest.raises(ClientError) as info:
        bedrock.converse(modelId=MODEL, messages=[
            {"role": "user", "content": [{"text": "a"}]},
            {"role": "user", "content": [{"text": "b"}]}])
    assert "alternate" in info.value.response["Error"]["Message"]
