"""User content parts (text, images, files) → Anthropic content blocks.

Images and documents travel either by URL or inline as base64, which is what Anthropic's
`source` objects express; a data URI is split into its media type and data. What a Messages
request cannot carry (audio input, file ids of another service, media types Claude does not
read) goes through the policy: refused by name, or dropped when the operator says so.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from waystation.providers.anthropic.policy import ParamPolicy

Block = dict[str, Any]

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_DATA_URI = re.compile(r"^data:(?P<mime>[^;,]*)(?P<params>(?:;[^;,]*)*),(?P<data>.*)$", re.S)
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp")


def with_cache_control(block: Block, part: dict[str, Any]) -> Block:
    """Carry the caller's prompt-caching breakpoint onto the block it belongs to."""
    if part.get("cache_control") is not None:
        block["cache_control"] = part["cache_control"]
    return block


def text_block(part: dict[str, Any]) -> Block:
    return with_cache_control({"type": "text", "text": part["text"]}, part)


def user_blocks(content: Any, path: str, policy: ParamPolicy) -> list[Block]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    out: list[Block] = []
    for j, part in enumerate(content):
        block = _user_part(part, f"{path}.content[{j}]", policy)
        if block is not None:
            out.append(with_cache_control(block, part))
    return out


def _user_part(part: dict[str, Any], path: str, policy: ParamPolicy) -> Block | None:
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "text": part["text"]}
    if kind == "image_url":
        return _image(part["image_url"], path, policy)
    if kind == "file":
        return _file(part["file"], path, policy)
    policy.unsupported(f"{path}.{kind}", f"content parts of type '{kind}' cannot be sent")
    return None


def _image(image: dict[str, Any], path: str, policy: ParamPolicy) -> Block | None:
    detail = image.get("detail")
    if detail not in (None, "auto"):
        policy.unsupported(f"{path}.image_url.detail", "Claude has no image detail setting")
    url = str(image["url"])
    if not url.startswith("data:"):
        return {"type": "image", "source": {"type": "url", "url": url}}
    mime, data = _parse_data_uri(url, f"{path}.image_url.url", policy)
    if mime not in IMAGE_TYPES:
        policy.unsupported(f"{path}.image_url.url", f"images of type '{mime}' cannot be sent")
        return None
    return {"type": "image", "source": {"type": "base64", "media_type": mime, "data": data}}


def _file(file: dict[str, Any], path: str, policy: ParamPolicy) -> Block | None:
    if file.get("file_id") is not None:
        policy.unsupported(f"{path}.file.file_id", "send the file inline as file_data")
        return None
    if file.get("uri") is not None:
        return _file_by_url(file, path, policy)
    mime, data = _parse_data_uri(str(file.get("file_data") or ""), f"{path}.file.file_data",
                                 policy)
    mime = mime or str(file.get("mimeType") or "")
    if mime in IMAGE_TYPES:
        return {"type": "image", "source": {"type": "base64", "media_type": mime, "data": data}}
    if mime == "application/pdf":
        source = {"type": "base64", "media_type": mime, "data": data}
        return _titled({"type": "document", "source": source}, file)
    if mime == "text/plain":
        text = _decode_text(data, f"{path}.file.file_data", policy)
        source = {"type": "text", "media_type": mime, "data": text}
        return _titled({"type": "document", "source": source}, file)
    policy.unsupported(f"{path}.file.file_data", f"files of type '{mime}' cannot be sent")
    return None


def _file_by_url(file: dict[str, Any], path: str, policy: ParamPolicy) -> Block | None:
    url = str(file["uri"])
    mime = str(file.get("mimeType") or "")
    lower = url.lower().split("?", 1)[0]
    if mime == "application/pdf" or (not mime and lower.endswith(".pdf")):
        return _titled({"type": "document", "source": {"type": "url", "url": url}}, file)
    if mime in IMAGE_TYPES or (not mime and lower.endswith(_IMAGE_EXTENSIONS)):
        return {"type": "image", "source": {"type": "url", "url": url}}
    policy.unsupported(f"{path}.file.uri", "only PDF and image URLs can be sent")
    return None


def _titled(block: Block, file: dict[str, Any]) -> Block:
    if file.get("filename"):
        block["title"] = file["filename"]
    return block


def _parse_data_uri(uri: str, param: str, policy: ParamPolicy) -> tuple[str, str]:
    """`data:<mime>;base64,<data>` → (mime, data); only base64 data URIs can be forwarded."""
    m = _DATA_URI.match(uri)
    if m is None or ";base64" not in m.group("params").lower():
        raise policy.invalid(param, f"'{param}' must be a base64 data URI (data:<type>;base64,…)")
    return m.group("mime").strip().lower(), m.group("data")


def _decode_text(data: str, param: str, policy: ParamPolicy) -> str:
    try:
        return base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise policy.invalid(param, f"'{param}' is not base64-encoded UTF-8 text") from None
