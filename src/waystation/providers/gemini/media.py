"""Images, audio and files in caller messages → Gemini `inlineData` and `fileData` parts.

Bytes sent inline (a base64 `data:` URI) become `inlineData`; a URL becomes `fileData`, whose
MIME type Gemini wants to be told. We take it from the caller (a file part's `mimeType`), else
guess it from the URL's extension, else refuse with a 400 naming the part: a wrong guess would
be worse than a clear error. Files uploaded to Gemini's own Files API are the exception: Google
already knows their type, so their URI goes without one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from waystation.errors import InvalidRequest, UnsupportedParameter
from waystation.providers.refusals import DROP_HINT

EXTENSION_MIME = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "heic": "image/heic",
    "heif": "image/heif",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "md": "text/md",
    "html": "text/html",
    "htm": "text/html",
    "csv": "text/csv",
    "xml": "text/xml",
    "json": "application/json",
    "wav": "audio/wav",
    "mp3": "audio/mp3",
    "aiff": "audio/aiff",
    "aac": "audio/aac",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "mp4": "video/mp4",
    "mpeg": "video/mpeg",
    "mov": "video/mov",
    "avi": "video/avi",
    "webm": "video/webm",
    "wmv": "video/wmv",
    "3gp": "video/3gpp",
}

AUDIO_FORMAT_MIME = {"wav": "audio/wav", "mp3": "audio/mp3"}

FILES_API_HOST = "generativelanguage.googleapis.com"


def image_part(part: dict[str, Any], param: str, provider: str, drop: bool) -> dict[str, Any]:
    """An `image_url` content part: a data URI goes inline, a URL goes by reference."""
    image = part["image_url"]
    detail = image.get("detail")
    if detail not in (None, "auto") and not drop:
        raise UnsupportedParameter(
            f"'detail: {detail}' on an image is not supported by provider '{provider}' "
            f"(Gemini chooses the resolution itself). {DROP_HINT}",
            param=f"{param}.image_url.detail",
        )
    url = image["url"]
    if url.startswith("data:"):
        return inline_from_data_uri(url, None, f"{param}.image_url.url")
    return file_reference(url, None, f"{param}.image_url.url", what="image")


def audio_part(part: dict[str, Any]) -> dict[str, Any]:
    audio = part["input_audio"]
    return {"inlineData": {"mimeType": AUDIO_FORMAT_MIME[audio["format"]],
                           "data": audio["data"]}}


def file_part(part: dict[str, Any], param: str) -> dict[str, Any]:
    """A `file` content part: `file_data` goes inline, `uri` by reference; `file_id` cannot go."""
    file = part["file"]
    mime = file.get("mimeType")
    if file.get("file_data") is not None:
        data = file["file_data"]
        if data.startswith("data:"):
            return inline_from_data_uri(data, mime, f"{param}.file.file_data")
        mime = mime or guess_mime(file.get("filename") or "")
        if mime is None:
            raise InvalidRequest(
                "A file sent as raw base64 needs its type: give 'mimeType', a filename with a "
                "known extension, or a 'data:<type>;base64,' URI.",
                param=f"{param}.file.file_data",
            )
        return {"inlineData": {"mimeType": mime, "data": data}}
    if file.get("uri") is not None:
        hint = mime or guess_mime(file.get("filename") or "")
        return file_reference(file["uri"], hint, f"{param}.file.uri", what="file")
    raise InvalidRequest(
        "Gemini cannot read files by 'file_id'; send the file as 'file_data' (a data URI) or "
        "as a 'uri' (an https URL or a Gemini Files API URI).",
        param=f"{param}.file.file_id",
    )


def inline_from_data_uri(uri: str, mime_hint: str | None, param: str) -> dict[str, Any]:
    head, sep, data = uri.partition(",")
    meta = head[len("data:"):].split(";")
    if not sep or "base64" not in meta[1:]:
        raise InvalidRequest(
            "A data URI must be base64-encoded: 'data:<type>;base64,<data>'.", param=param
        )
    mime = meta[0] or mime_hint
    if not mime:
        raise InvalidRequest("The data URI does not say its media type.", param=param)
    return {"inlineData": {"mimeType": mime, "data": data}}


def file_reference(uri: str, mime: str | None, param: str, *, what: str) -> dict[str, Any]:
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https", "gs"):
        raise InvalidRequest(
            f"The {what} URL must be an http(s) URL or a data URI; got scheme "
            f"'{parts.scheme or '(none)'}'.",
            param=param,
        )
    mime = mime or guess_mime(parts.path)
    if mime is None and not _is_files_api(parts.netloc, parts.path):
        raise InvalidRequest(
            f"Cannot tell the media type of the {what} at '{uri[:200]}' from its extension, "
            "and Gemini needs it: use a URL ending in a known extension (png, jpg, webp, pdf, "
            "…), or send the bytes as a data URI.",
            param=param,
        )
    ref: dict[str, Any] = {"fileUri": uri}
    if mime is not None:
        ref["mimeType"] = mime
    return {"fileData": ref}


def guess_mime(path: str) -> str | None:
    name = path.rsplit("/", 1)[-1]
    if "." not in name:
        return None
    return EXTENSION_MIME.get(name.rsplit(".", 1)[-1].lower())


def _is_files_api(host: str, path: str) -> bool:
    return host == FILES_API_HOST and "/files/" in path
