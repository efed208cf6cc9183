"""`/v2/files`: upload (JSON with base64 content, or multipart/form-data), list, get, delete.

A file is at most 10 MB (`413` beyond): the body is read with a bound that leaves room for
base64 or multipart framing, and the decoded bytes are checked against the limit itself.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import TYPE_CHECKING

from waystation.api.files import FileAnswer, FileList, FileUpload, boundary_of, parse_multipart
from waystation.errors import InvalidRequest, PayloadTooLarge
from waystation.knowledge.ingest.pipeline import MAX_FILE_BYTES
from waystation.server.http import Request
from waystation.server.routes import query
from waystation.server.routing import Route
from waystation.store.files import FileStore

if TYPE_CHECKING:
    from waystation.server.app import Gateway

_FRAMING = 64 * 1024  # multipart headers and boundaries around a file


@dataclass(frozen=True, slots=True)
class FileRoutes:
    store: FileStore
    max_bytes: int

    async def create(self, req: Request) -> None:
        content_type = req.headers.get("content-type", "")
        if content_type.lower().startswith("multipart/form-data"):
            raw = await req.body(self.max_bytes + _FRAMING)
            form = parse_multipart(raw, boundary_of(content_type))
            part = form.parts.get("file")
            if part is None:
                raise InvalidRequest("The form needs a `file` part.", param="file")
            name, data, declared = part.filename or "upload", part.data, part.content_type
            purpose = form.text("purpose")
        else:
            upload = await query.body(req, FileUpload, limit=self.max_bytes * 4 // 3 + _FRAMING)
            try:
                data = base64.b64decode(upload["content"], validate=True)
            except (binascii.Error, ValueError):
                raise InvalidRequest("content must be the file's bytes in base64.",
                                     param="content") from None
            name, declared = upload["filename"], upload.get("content_type")
            purpose = upload.get("purpose")
        if len(data) > self.max_bytes:
            raise PayloadTooLarge(f"The file is {len(data)} bytes; the limit is "
                                  f"{self.max_bytes} bytes.")
        if not data:
            raise InvalidRequest("The file is empty.", param="file")
        record = await self.store.create(name, data, purpose=purpose, content_type=declared)
        await req.send_json(200, {"file": record})

    async def list(self, req: Request) -> None:
        items, has_more = await self.store.list(query.page(req, default=25, high=200),
                                                req.query.get("purpose") or None)
        await req.send_json(200, {"object": "list", "data": items, "has_more": has_more})

    async def get(self, req: Request) -> None:
        await req.send_json(200, {"file": await self.store.get(req.path_params["file_id"])})

    async def delete(self, req: Request) -> None:
        await self.store.delete(req.path_params["file_id"])
        await req.send_json(200, {})


def register(app: Gateway) -> None:
    r = FileRoutes(app.files, MAX_FILE_BYTES)
    item = "/v2/files/{file_id}"
    for route in (
        Route("POST", "/v2/files", r.create, summary="Upload a file (JSON with base64 "
              "`content`, or multipart/form-data with a `file` part; at most 10 MB)",
              body=FileUpload, answer=FileAnswer, tag="files"),
        Route("GET", "/v2/files", r.list, summary="List files, newest first (cursor "
              "pagination, `purpose` filter)", answer=FileList, tag="files",
              query=("limit", "starting_after", "ending_before", "purpose")),
        Route("GET", item, r.get, summary="Get a file's metadata", answer=FileAnswer,
              tag="files"),
        Route("DELETE", item, r.delete, summary="Delete a file", tag="files"),
    ):
        app.router.add(route)
