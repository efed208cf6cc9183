"""Bedrock authentication: a bearer API key, or SigV4 signed by botocore.

botocore is an optional extra (`pip install waystation[bedrock]`), imported only when a request
needs signing. Credentials come from botocore's standard chain (environment, shared files,
SSO, container and instance roles), resolved once per adapter and kept: refreshable
credentials (roles, SSO) renew themselves when they expire, through
`get_frozen_credentials()`. The chain is read at the first Bedrock request, not at import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from waystation.errors import ProviderNotConfigured, UpstreamError

SIGNING_NAME = "bedrock"

CredentialSource = Callable[[], Any]


def _botocore_chain() -> Any:
    import botocore.session

    return botocore.session.get_session().get_credentials()


class BedrockAuth:
    __slots__ = ("_credentials", "_resolved", "_source")

    def __init__(self, source: CredentialSource | None = None) -> None:
        self._source = source or _botocore_chain
        self._credentials: Any = None
        self._resolved = False

    def headers(
        self, *, provider: str, token: str | None, region: str, url: str, body: bytes,
        headers: Mapping[str, str],
    ) -> dict[str, str]:
        """The request headers with authentication added (bearer, or a SigV4 signature)."""
        if token:
            return {**headers, "authorization": f"Bearer {token}"}
        try:
            from botocore.auth import SigV4Auth
            from botocore.awsrequest import AWSRequest
        except ImportError:
            raise ProviderNotConfigured(
                f"The provider '{provider}' signs requests with botocore, which is not "
                "installed: pip install 'waystation[bedrock]' (or set AWS_BEARER_TOKEN_BEDROCK).",
                provider=provider,
            ) from None
        frozen = self._frozen(provider)
        request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
        SigV4Auth(frozen, SIGNING_NAME, region).add_auth(request)
        return {str(k): str(v) for k, v in request.headers.items()}

    def _frozen(self, provider: str) -> Any:
        if not self._resolved:
            self._credentials = self._source()
            self._resolved = True
        if self._credentials is None:
            raise ProviderNotConfigured(
                f"The provider '{provider}' has no credentials: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or a profile or role), or AWS_BEARER_TOKEN_BEDROCK.",
                provider=provider,
            )
        try:
            frozen = self._credentials.get_frozen_credentials()
        except Exception as exc:  # a failed refresh (STS, SSO, metadata service)
            raise UpstreamError(
                f"{provider}: cannot refresh the AWS credentials: {exc}",
                provider=provider, code="upstream_authentication_failed",
            ) from exc
        if not frozen.access_key or not frozen.secret_key:
            raise ProviderNotConfigured(
                f"The provider '{provider}' has incomplete AWS credentials: set both "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.",
                provider=provider,
            )
        return frozen
