"""Bedrock authentication: SigV4 by botocore (checked by recomputing the signature), credentials
resolved once and refreshed when they expire, bearer API keys, and clear configuration errors.
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, RefreshableCredentials

from waystation.config.catalogue import BUILTIN
from waystation.config.settings import ProviderConfig
from waystation.core.call import ChatCall
from waystation.errors import ProviderNotConfigured
from waystation.providers.base import Target, WireRequest
from waystation.providers.bedrock.translate import BedrockAdapter
from waystation.transport.http1 import _split

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
CALL = ChatCall(model=f"bedrock/{MODEL}", stream=False, include_usage=False,
                body={"model": f"bedrock/{MODEL}", "messages": [{"role": "user", "content": "hi"}]})


def target(token: str | None = None, model: str = MODEL) -> Target:
    provider = ProviderConfig(spec=BUILTIN["bedrock"], base_url="", api_key=token,
                              key_var="AWS_BEARER_TOKEN_BEDROCK", options={"region": "us-west-2"})
    return Target(provider, model, f"bedrock/{model}")


def auth_fields(wire: WireRequest) -> dict[str, str]:
    header = wire.headers["Authorization"]
    assert header.startswith("AWS4-HMAC-SHA256 ")
    return dict(p.strip().split("=", 1) for p in header[len("AWS4-HMAC-SHA256 "):].split(","))


def signature_is_valid(wire: WireRequest, secret: str, token: str | None = None) -> bool:
    """Recompute the signature over the signed headers, at the request's own timestamp."""
    fields = auth_fields(wire)
    key, _, region, service, _ = fields["Credential"].split("/")
    lower = {k.lower(): v for k, v in wire.headers.items()}
    lower.setdefault("host", urlsplit(wire.url).netloc)
    signed = {name: lower[name] for name in fields["SignedHeaders"].split(";")}
    request = AWSRequest(method=wire.method, url=wire.url, data=wire.body, headers=signed)
    request.context["timestamp"] = lower["x-amz-date"]
    signer = SigV4Auth(Credentials(key, secret, token), service, region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)),
                                request)
    return bool(expected == fields["Signature"])


def test_request_is_signed_with_sigv4_for_the_bedrock_service() -> None:
    creds = Credentials("AKIDEXAMPLE", SECRET, "session-token")
    wire = BedrockAdapter(lambda: creds).encode(CALL, target(), drop_unsupported=False)
    fields = auth_fields(wire)
    assert fields["Credential"].startswith("AKIDEXAMPLE/")
    assert fields["Credential"].endswith("/us-west-2/bedrock/aws4_request")
    assert "x-amz-security-token" in fields["SignedHeaders"].split(";")
    assert wire.headers["X-Amz-Security-Token"] == "session-token"
    assert wire.url == ("https://bedrock-runtime.us-west-2.amazonaws.com/model/"
                        "anthropic.claude-3-5-haiku-20241022-v1:0/converse")
    assert signature_is_valid(wire, SECRET, "session-token")
    assert not signature_is_valid(wire, "another-secret", "session-token")


def test_signed_path_is_the_path_the_http_client_sends() -> None:
    """The client sends the URL's path as written; a signature over another path is refused."""
    arn = "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/abc123"
    creds = Credentials("AKIDEXAMPLE", SECRET)
    for model in (MODEL, arn, "meta.llama3-70b-instruct-v1:0"):
        wire = BedrockAdapter(lambda: creds).encode(CALL, target(model=model),
                                                    drop_unsupported=False)
        assert _split(wire.url)[2] == urlsplit(wire.url).path


def test_credentials_are_resolved_once() -> None:
    calls: list[int] = []

    def source() -> Credentials:
        calls.append(1)
        return Credentials("AKIDEXAMPLE", SECRET)

    adapter = BedrockAdapter(source)
    for _ in range(3):
        adapter.encode(CALL, target(), drop_unsupported=False)
    assert len(calls) == 1


def test_expired_refreshable_credentials_are_renewed() -> None:
    issued: list[str] = []

    def refresh() -> dict[str, str]:
        key = f"ASIAROLE{len(issued)}"
        issued.append(key)
        past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
        return {"access_key": key, "secret_key": SECRET, "token": "t", "expiry_time":
                past.isoformat() if len(issued) == 1 else "2999-01-01T00:00:00Z"}

    creds = RefreshableCredentials.create_from_metadata(refresh(), refresh, "sts-assume-role")
    adapter = BedrockAdapter(lambda: creds)
    wire = adapter.encode(CALL, target(), drop_unsupported=False)
    assert auth_fields(wire)["Credential"].startswith("ASIAROLE1/")
    assert signature_is_valid(wire, SECRET, "t")


def test_bearer_api_key_replaces_signing() -> None:
    adapter = BedrockAdapter(lambda: pytest.fail("the credential chain must not be read"))
    wire = adapter.encode(CALL, target(token="bedrock-key"), drop_unsupported=False)
    assert wire.headers["authorization"] == "Bearer bedrock-key"
    assert "X-Amz-Date" not in wire.headers


def test_no_credentials_is_a_503_naming_the_variables() -> None:
    with pytest.raises(ProviderNotConfigured) as info:
        BedrockAdapter(lambda: None).encode(CALL, target(), drop_unsupported=False)
    message = info.value.message
    assert info.value.status == 503
    assert "AWS_ACCESS_KEY_ID" in message and "AWS_SECRET_ACCESS_KEY" in message
    assert "AWS_BEARER_TOKEN_BEDROCK" in message


def test_missing_botocore_says_to_install_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "botocore.auth", None)
    with pytest.raises(ProviderNotConfigured) as info:
        BedrockAdapter(lambda: None).encode(CALL, target(), drop_unsupported=False)
    assert "waystation[bedrock]" in info.value.message


def test_default_chain_reads_the_standard_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_aws_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    wire = BedrockAdapter().encode(CALL, target(), drop_unsupported=False)
    assert auth_fields(wire)["Credential"].startswith("AKIDFROMENV/")


def test_default_chain_without_credentials_is_not_configured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_aws_environment(monkeypatch, tmp_path)
    with pytest.raises(ProviderNotConfigured):
        BedrockAdapter().encode(CALL, target(), drop_unsupported=False)


def isolate_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ambient credentials, no shared files, and never the instance metadata service."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_BEARER_TOKEN_BEDROCK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
