"""Persistence: API keys, contacts, threads, traces and prompts, in SQLite or PostgreSQL.

`Store.open(url)` builds everything over one engine; nothing connects until first use, and
the schema is brought up to date at start-up (`Database.start`) or by `waystation db upgrade`.
"""

from __future__ import annotations

from dataclasses import dataclass

from waystation.store.contacts import ContactStore
from waystation.store.database import Database
from waystation.store.keys import KeyStore
from waystation.store.prompts import PromptStore
from waystation.store.threads import ThreadQueries
from waystation.store.trace_writes import TraceSink
from waystation.store.traces import TraceQueries


@dataclass(frozen=True, slots=True)
class Store:
    db: Database
    keys: KeyStore
    contacts: ContactStore
    traces: TraceQueries
    threads: ThreadQueries
    sink: TraceSink
    prompts: PromptStore

    @classmethod
    def open(cls, url: str, *, log_bodies: bool = True) -> Store:
        db = Database(url)
        return cls(db, KeyStore(db), ContactStore(db), TraceQueries(db), ThreadQueries(db),
                   TraceSink(db, log_bodies=log_bodies), PromptStore(db))
