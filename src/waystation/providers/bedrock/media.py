"""Images and documents → Converse `image` and `document` blocks.

Converse takes media as bytes (base64 in the JSON body) or as an S3 location, never as an
HTTP URL: data URIs are unpacked, `s3://` URIs become `s3Location`, and web URLs are refused
with a message that says so (fetching them would make the gateway an open proxy).
"""

from __future__ import annotations

import re
from typing import Any

from waystation.errors import InvalidRequest
from waystation.providers.refusals import Refusals

Block = dict[str, Any]

IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg",
                 "image/gif": "gif", "image/webp": "webp"}
DOCUMENT_FORMATS = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html",
    "text/plain": "txt",
    "text/markdown": "md",
}
_BY_EXTENSION = {fmt: mime for mime, fmt in {**IMAGE_FORMATS, **DOCUMENT_FORMATS}.items()}
_DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)(?:;[\w=.+-]+)*;base64,(?P<data>.*)$",
                       re.DOTALL)


def image_block(part: dict[str, Any], where: str, refusals: Refusals) -> Block | None:
    url = part["image_url"]["url"]
    if url.startswith("s3://"):
        mime = _BY_EXTENSION.get(url.rsplit(".", 1)[-1].lower(), "")
        return _image(mime, {"s3Location": {"uri": url}}, f"{where}.image_url.url")
    match = _DATA_URI.match(url)
    if match is None:
        refusals.refuse(
            f"{where}.image_url.url",
            "Bedrock takes images as base64 data URIs or s3:// URIs, not web URLs",
        )
        return None
    return _image(match["mime"], {"bytes": match["data"]}, f"{where}.image_url.url")


def _image(mime: str, source: dict[str, Any], param: str) -> Block:
    fmt = IMAGE_FORMATS.get(mime.lower())
    if fmt is None:
        raise InvalidRequest(
            f"{param}: Bedrock takes png, jpeg, gif or webp images, not '{mime or 'unknown'}'.",
            param=param,
        )
    return {"image": {"format": fmt, "source": source}}


class DocumentNames:
    """Converse wants a name per document (letters, digits, single spaces, - ( ) [ ])."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def name_for(self, filename: str | None) -> str:
        stem = (filename or "").rsplit(".", 1)[0]
        clean = re.sub(r"[^A-Za-z0-9\s\-()\[\]]", "-", stem)
        clean = re.sub(r"\s+", " ", clean).strip()[:180] or "document"
        name, n = clean, 1
        while name in self._used:
            n += 1
            name = f"{clean} ({n})"
        self._used.add(name)
        return name


def file_block(
    part: dict[str, Any], where: str, refusals: Refusals, names: DocumentNames
) -> Block | None:
    file = part["file"]
    param = f"{where}.file"
    if file.get("file_id") is not None:
        refusals.refuse(f"{param}.file_id", "Bedrock cannot read uploaded file ids")
        return None
    data = file.get("file_data")
    uri = file.get("uri")
    if data is not None:
        match = _DATA_URI.match(data)
        if match is None:
            raise InvalidRequest(f"{param}.file_data must be a base64 data URI.", param=param)
        mime, source = file.get("mimeType") or match["mime"], {"bytes": match["data"]}
    elif uri is not None and uri.startswith("s3://"):
        guessed = _BY_EXTENSION.get(uri.rsplit(".", 1)[-1].lower(), "")
        mime, source = file.get("mimeType") or guessed, {"s3Location": {"uri": uri}}
    else:
        refusals.refuse(f"{param}.uri", "Bedrock reads files from data URIs or s3:// URIs only")
        return None
    mime = mime.lower()
    if mime in IMAGE_FORMATS:
        return _image(mime, source, param)
    fmt = DOCUMENT_FORMATS.get(mime)
    if fmt is None:
        raise InvalidRequest(f"{param}: Bedrock cannot read '{mime}' files.", param=param)
    filename = file.get("filename") or (uri.rsplit("/", 1)[-1] if uri else None)
    return {"document": {"format": fmt, "name": names.name_for(filename), "source": source}}
