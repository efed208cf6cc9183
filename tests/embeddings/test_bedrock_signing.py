"""Bedrock embeddings are signed with SigV4 by the Bedrock adapter's own `BedrockAuth`, over the
exact `/invoke` URL and body that are sent, and the signature checks out."""

from __future__ import annotations

from urllib.parse import urlsplit

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from waystation.config.catalogue import BUILTIN
from waystation.config.settings import ProviderConfig
from waystation.embeddings.call import EmbedCall
from waystation.embeddings.providers.bedrock import BedrockEmbedWire
from waystation.providers.base import Target, WireRequest

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def target(model: str) -> Target:
    config = ProviderConfig(spec=BUILTIN["bedrock"], base_url="", api_key=None,
                            key_var="AWS_BEARER_TOKEN_BEDROCK", options={"region": "us-west-2"})
    return Target(config, model, f"bedrock/{model}")


def fields_of(wire: WireRequest) -> dict[str, str]:
    header = wire.headers["Authorization"]
    assert header.startswith("AWS4-HMAC-SHA256 ")
    return dict(p.strip().split("=", 1) for p in header[len("AWS4-HMAC-SHA256 "):].split(","))


def valid(wire: WireRequest, secret: str) -> bool:
    fields = fields_of(wire)
    key, _, region, service, _ = fields["Credential"].split("/")
    lower = {k.lower(): v for k, v in wire.headers.items()}
    lower.setdefault("host", urlsplit(wire.url).netloc)
    signed = {name: lower[name] for name in fields["SignedHeaders"].split(";")}
    request = AWSRequest(method=wire.method, url=wire.url, data=wire.body, headers=signed)
    request.context["timestamp"] = lower["x-amz-date"]
    signer = SigV4Auth(Credentials(key, secret), service, region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)),
                                request)
    return bool(expected == fields["Signature"])


def test_titan_embedding_requests_are_signed_for_bedrock() -> None:
    wire = BedrockEmbedWire(lambda: Credentials("AKIDEXAMPLE", SECRET))
    tgt = target("amazon.titan-embed-text-v2:0")
    fields = wire.prepare(EmbedCall(model="x", inputs=["hello"]), tgt, drop=False)
    request = wire.encode(fields, ["hello"], tgt)
    assert request.url == ("https://bedrock-runtime.us-west-2.amazonaws.com/model/"
                           "amazon.titan-embed-text-v2:0/invoke")
    assert orjson.loads(request.body) == {"inputText": "hello"}
    assert fields_of(request)["Credential"].endswith("/us-west-2/bedrock/aws4_request")
    assert valid(request, SECRET)
    assert not valid(request, "another-secret")
