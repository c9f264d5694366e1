# SPDX-License-Identifier: Apache-2.0
"""Snapshots of a hub's whole state, to prove that a request changed nothing.

:func:`dump_database` reads every row of every table the database holds (reflected, so nothing the models forget is
missed), each table in primary-key order. :func:`snapshot_hub` adds what a client sees of the transparency log (the
entries and the signed checkpoint, as the exact response bytes) and, on PostgreSQL, the sequences (a rolled-back
insert still advances one). :meth:`HubState.to_bytes` renders all of it deterministically, so two snapshots are
compared byte for byte:

>>> before = snapshot_hub(engine, client, auditor_token)   # doctest: +SKIP
>>> client.post("/v1/submissions", content=b"junk", headers={"Content-Type": "application/json"})  # doctest: +SKIP
>>> assert_unchanged(before, snapshot_hub(engine, client, auditor_token))  # doctest: +SKIP
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Engine, MetaData, select, text

__all__ = ["Dump", "HubState", "assert_unchanged", "dump_database", "snapshot_hub"]

Dump = dict[str, list[tuple[Any, ...]]]


@functools.lru_cache(maxsize=8)
def _reflected(engine: Engine) -> MetaData:
    metadata = MetaData()
    metadata.reflect(engine)
    return metadata


#: Tables that count traffic rather than hold the hub's state: a request that changes nothing else still spends
#: from its rate-limit buckets.
TRAFFIC_TABLES = frozenset({"rate_limit_buckets"})


def dump_database(engine: Engine) -> Dump:
    """Every row of every table the database holds (but the rate limits' buckets), tables by name and rows in
    primary-key order."""
    dump: Dump = {}
    with engine.connect() as connection:
        for table in sorted(_reflected(engine).sorted_tables, key=lambda t: t.name):
            if table.name in TRAFFIC_TABLES:
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            dump[table.name] = [tuple(row) for row in connection.execute(select(table).order_by(*order))]
    return dump


def _sequences(engine: Engine) -> list[tuple[Any, ...]]:
    """``(name, last value)`` of every sequence (PostgreSQL); SQLite has none that matter."""
    if engine.dialect.name != "postgresql":
        return []
    query = text("SELECT schemaname, sequencename, last_value FROM pg_sequences ORDER BY schemaname, sequencename")
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


@dataclass(frozen=True, slots=True)
class HubState:
    """Everything a request to the hub could change: the database and the log as clients read it."""

    tables: Dump
    sequences: list[tuple[Any, ...]]
    log_entries: bytes
    log_checkpoint: bytes

    def parts(self) -> dict[str, bytes]:
        """Each table, the sequences and the two log views, rendered deterministically."""
        rendered = {f"table {name}": _render(rows) for name, rows in self.tables.items()}
        rendered["sequences"] = _render(self.sequences)
        rendered["log entries"] = self.log_entries
        rendered["log checkpoint"] = self.log_checkpoint
        return rendered

    def changed_parts(self, later: HubState) -> list[str]:
        """Names of the parts (tables, sequences, log views) that differ in ``later``."""
        old, new = self.parts(), later.parts()
        return sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name))

    def to_bytes(self) -> bytes:
        return b"".join(name.encode() + b"\n" + part + b"\n\n" for name, part in self.parts().items())


def _render(rows: list[tuple[Any, ...]]) -> bytes:
    return "\n".join(repr(row) for row in rows).encode()


def snapshot_hub(engine: Engine, client: httpx.Client, auditor_token: str) -> HubState:
    """The hub's state now: its database, and its log entries and checkpoint read over its audit API."""
    headers = {"Authorization": f"Bearer {auditor_token}"}
    checkpoint = client.get("/v1/log/checkpoint", headers=headers)
    entries = client.get("/v1/log/entries", params={"start": 0}, headers=headers)
    for response in (checkpoint, entries):
        assert response.status_code == 200, response.text
    assert entries.json()["end"] == entries.json()["tree_size"], "the log outgrew one page of entries"
    return HubState(dump_database(engine), _sequences(engine), entries.content, checkpoint.content)


def assert_unchanged(before: HubState, after: HubState) -> None:
    """The two snapshots are byte-for-byte identical (the message names every part that differs)."""
    changed = before.changed_parts(after)
    assert not changed, f"the hub's state changed: {changed}"
    assert before.to_bytes() == after.to_bytes()
