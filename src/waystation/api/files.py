"""The `/v2/files` wire contract, and the multipart/form-data reader its uploads need.

Two upload forms are accepted: orq SDK 4.17's JSON body (`filename`, base64 `content`,
`purpose`, `content_type`) and the multipart form older SDKs and curl send (`file` part,
`purpose` field). Answers are orq SDK 4.17's `{"file": File}`, whose `File` also carries the
older management spellings (`_id`, `object`, `created`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import Literal

from pydantic import ConfigDict, Field

from waystation.api import LazyModel
from waystation.errors import InvalidRequest


class FileUpload(LazyModel):
    """The JSON upload body (orq SDK 4.17 `files.create`)."""

    model_config = ConfigDict(extra="forbid")
    filename: str = Field(min_length=1, max_length=1024)
    content: str = Field(description="The file's bytes, base64-encoded")
    purpose: str | None = None
    content_type: str | None = Field(None, max_length=255)
    project_id: str | None = None


class FileRecord(LazyModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    id: str = Field(alias="_id")
    file_id: str
    object: Literal["file"] = "file"
    purpose: str
    file_name: str
    bytes: str = Field(description="Size in bytes (a string, as orq sends int64 values)")
    content_type: str | None = None
    created: str
    created_at: str
    project_id: str


class FileAnswer(LazyModel):
    file: FileRecord


class FileList(LazyModel):
    object: Literal["list"] = "list"
    data: list[FileRecord]
    has_more: bool


@dataclass(slots=True)
class FormPart:
    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None


@dataclass(slots=True)
class Form:
    parts: dict[str, FormPart] = field(default_factory=dict)

    def text(self, name: str) -> str | None:
        part = self.parts.get(name)
        return part.data.decode("utf-8", errors="replace") if part is not None else None


_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


def boundary_of(content_type: str) -> bytes:
    found = _BOUNDARY.search(content_type)
    if found is None or not found.group(1).strip():
        raise InvalidRequest("A multipart/form-data body needs a boundary in its Content-Type.")
    return found.group(1).strip().encode("latin-1")


def parse_multipart(body: bytes, boundary: bytes) -> Form:
    """The parts of a complete (already size-bounded) multipart/form-data body, by name; the
    first part of a repeated name wins."""
    sections = (b"\r\n" + body).split(b"\r\n--" + boundary)  # a delimiter starts a line
    if len(sections) < 3:
        raise InvalidRequest("The multipart body has no parts (or the wrong boundary).")
    form = Form()
    for section in sections[1:]:
        if section.startswith(b"--"):
            break  # the closing delimiter
        section = section.removeprefix(b"\r\n")
        head, sep, content = section.partition(b"\r\n\r\n")
        if not sep:
            raise InvalidRequest("A multipart part has no blank line after its headers.")
        part = _part(head, content)
        form.parts.setdefault(part.name, part)
    return form


def _part(head: bytes, content: bytes) -> FormPart:
    message = Message()
    for line in head.decode("utf-8", errors="replace").split("\r\n"):
        header, sep, value = line.partition(":")
        if sep:
            message[header.strip()] = value.strip()
    if not message.get("content-disposition", "").lower().startswith("form-data"):
        raise InvalidRequest("Each multipart part needs Content-Disposition: form-data.")
    name = _param(message, "name")
    if not name:
        raise InvalidRequest("A multipart part has no name.")
    return FormPart(name, content, _param(message, "filename"),
                    message.get("content-type") or None)


def _param(message: Message, key: str) -> str | None:
    """A Content-Disposition parameter, RFC 2231 (`filename*=utf-8''…`) included."""
    value = message.get_param(key, header="content-disposition")
    if value is None:
        return None
    if isinstance(value, tuple):
        return collapse_rfc2231_value(value)
    return str(value)
