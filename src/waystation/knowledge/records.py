"""Stored rows → the management API's answers (orq's shapes: `_id`, ISO 8601 times).

An external knowledge base's `api_key` is never part of an answer.
"""

from __future__ import annotations

from typing import Any

from waystation.knowledge.backend import Row
from waystation.knowledge.model import Hit
from waystation.store.times import iso

DOMAIN = "default"  # one workspace per gateway; orq's answers carry a domain id


def kb_out(row: Row) -> dict[str, Any]:
    out: dict[str, Any] = {
        "_id": row["id"], "key": row["key"], "type": row["type"], "domain_id": DOMAIN,
        "description": row.get("description"), "path": row.get("path"),
        "created": iso(row["created"]), "updated": iso(row["updated"]),
        "created_by_id": None, "updated_by_id": None,
    }
    if row["type"] == "external":
        config = row.get("external_config") or {}
        out["external_config"] = {"name": config.get("name"), "api_url": config.get("api_url")}
    else:
        out["model"] = row.get("embedding_model")
        out["retrieval_settings"] = row.get("retrieval_settings")
        out["dimensions"] = row.get("dimensions")
    return out


def datasource_out(row: Row) -> dict[str, Any]:
    return {
        "_id": row["id"], "knowledge_id": row["kb_id"], "display_name": row["display_name"],
        "description": row.get("description"), "status": row["status"],
        "status_reason": row.get("status_reason"), "file_id": row.get("file_id"),
        "chunks_count": int(row.get("chunks_count") or 0),
        "metadata": row.get("metadata") or {},
        "created": iso(row["created"]), "updated": iso(row["updated"]),
        "created_by_id": None, "update_by_id": None,
    }


def chunk_out(row: Row) -> dict[str, Any]:
    out = {
        "_id": row["id"], "text": row["text"], "enabled": bool(row["enabled"]),
        "status": row["status"], "metadata": row.get("metadata") or {},
        "datasource_id": row.get("datasource_id"),
        "created": iso(row["created"]), "updated": iso(row["updated"]),
        "created_by_id": None, "update_by_id": None,
    }
    if row.get("embedding") is not None:
        out["embedding"] = row["embedding"]
    return out


def match_out(hit: Hit, *, vectors: bool, metadata: bool, scores: bool) -> dict[str, Any]:
    """One search match: `{id, text, vector?, metadata?, scores?}` (orq §6.1)."""
    out: dict[str, Any] = {"id": hit.id, "text": hit.text}
    if vectors and hit.vector is not None:
        out["vector"] = hit.vector
    if metadata:
        out["metadata"] = hit.metadata
    if scores:
        out["scores"] = {"search_score": round(hit.score, 6)}
        if hit.rerank_score is not None:
            out["scores"]["rerank_score"] = round(hit.rerank_score, 6)
    return out
