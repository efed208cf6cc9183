"""Log setup: plain text for people, one JSON object a line for collectors."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,  # which worker, with `--workers N`
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def _no_websocket_advice(record: logging.LogRecord) -> bool:
    """uvicorn follows "Unsupported upgrade request." with advice to install a WebSocket
    library. The gateway asks it for none on purpose (no route speaks WebSocket; such a
    request is answered as plain HTTP), so installing one would change nothing."""
    return not str(record.msg).startswith("No supported WebSocket library detected")


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    uvicorn_errors = logging.getLogger("uvicorn.error")
    if _no_websocket_advice not in uvicorn_errors.filters:
        uvicorn_errors.addFilter(_no_websocket_advice)
    logging.getLogger("uvicorn.access").disabled = True
