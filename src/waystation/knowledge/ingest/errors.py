"""Why an ingestion failed, in words a datasource's `status_reason` can show a user.

The kinds are few and stable, so an operator (or a test) can tell "this file will never work"
(unsupported, empty, corrupt, too large) from "try again" (embedding, storage).
"""

from __future__ import annotations

from typing import Literal

FailureKind = Literal["unsupported_type", "empty_text", "corrupt_file", "too_large",
                      "file_missing", "embedding_failed", "storage_failed"]


class IngestError(Exception):
    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.message = message

    @property
    def reason(self) -> str:
        """The datasource's failure reason: `<kind>: <message>`."""
        return f"{self.kind}: {self.message}"
