# SPDX-License-Identifier: Apache-2.0
"""A hub whose transparency log holds tens of thousands of genuine, signed submissions, built in seconds.

Through ingest, 50,000 submissions would take minutes even with small payloads (every one signs a checkpoint and
rewrites rollups in its own transaction). :func:`build_hub` instead writes what those ingests would have left:

* hotlines enrolled through the hub's registry (real log entries and checkpoints for the key events);
* for each (hotline, period): a payload signed by the hotline's key, its ``submission`` log entry, the leaf, the
  Merkle nodes each append completes (:func:`protocol.merkle.nodes_completed_by_append`), and at the end one
  checkpoint of the whole tree signed with the hub's log key (:func:`protocol.checkpoint.sign_checkpoint`);
* the submissions, noise rows and rollups (every scope), through :func:`bench.loader.load_releases`.

Payload and entry bytes are encoded with ``json.dumps(sort_keys=True, separators=(",", ":"),
ensure_ascii=False)``, which is byte-identical to RFC 8785 for these documents (ASCII keys, integers, strings);
the first ones are checked against :func:`protocol.canonical.canonical_bytes` and parsed back as the protocol
messages. :func:`check_built_hub` runs the hub's own log self-check (:func:`hub.services.logcheck.check_log`) and
rollup rebuild (:func:`hub.services.rebuild.check_rollups`) over a built hub; the auditor benchmark runs it on a
small instance first. Later submissions through the real ingest extend the built log (their appends prove
consistency with the built checkpoint).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from sqlalchemy import insert, select

from bench.fixtures import COUNTRIES, NOW, ORIGIN, BenchHub, NodeRelease, month_text, new_hub, payload_for
from bench.loader import SCOPE_LEVELS, LoadedRelease, load_releases
from hub.db import make_engine, make_sessionmaker, read_session
from hub.keys import load_keys
from hub.models import LogCheckpoint, LogLeaf, LogNode
from protocol.canonical import canonical_bytes
from protocol.checkpoint import Checkpoint, sign_checkpoint
from protocol.crypto import SUBMISSION_CONTEXT, SigningKey
from protocol.merkle import NodeID, leaf_hash, nodes_completed_by_append, root_hash_from_nodes
from protocol.messages import PROTOCOL_VERSION, SubmissionEntry, SubmissionPayload, b64encode, format_timestamp
from protocol.taxonomy import Taxonomy

__all__ = ["BuiltLog", "SignedEntry", "build_hub", "check_built_hub"]

_CHECKED: Final = 20  # entries whose fast encoding is checked against the protocol's own


@dataclass(frozen=True, slots=True)
class SignedEntry:
    """What the auditor must check for one submission entry: its leaf, payload, signature and key."""

    leaf: bytes
    payload: bytes
    signature: bytes
    key: SigningKey


@dataclass(frozen=True, slots=True)
class BuiltLog:
    hub: BenchHub
    #: Log size after the build (key events + submissions).
    size: int
    key_events: int
    entries: tuple[SignedEntry, ...]
    log_vkey: str


def _fast_canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def build_hub(
    workdir: Path,
    taxonomy: Taxonomy,
    bank: Sequence[NodeRelease],
    *,
    hotlines: int,
    months: int,
    first_period: tuple[int, int],
    scope_levels: Sequence[str] = SCOPE_LEVELS,
) -> BuiltLog:
    """A hub with ``hotlines`` hotlines each reporting ``months`` months from ``first_period`` (year, month)."""
    enrolled = [(f"au-{i:04d}", COUNTRIES[i % len(COUNTRIES)]) for i in range(hotlines)]
    hub = new_hub(workdir, enrolled)
    keys = load_keys(hub.settings.keys_dir)
    signer = keys.log_signer(ORIGIN)
    engine = make_engine(hub.settings.resolved_database_url)
    try:
        with read_session(make_sessionmaker(engine)) as session:
            hashes = list(session.scalars(select(LogLeaf.leaf_hash).order_by(LogLeaf.index)))
            found = session.execute(select(LogNode.level, LogNode.index, LogNode.hash))
            nodes = {NodeID(level, index): value for level, index, value in found}
        key_events = len(hashes)
        templates = [
            payload_for(
                release, taxonomy, hub.keys[enrolled[0][0]], hotline_id=enrolled[0][0], period="2020-01"
            ).model_dump(mode="json")
            for release in bank
        ]
        leaves: list[dict[str, Any]] = []
        new_nodes: list[dict[str, Any]] = []
        releases: list[LoadedRelease] = []
        entries: list[SignedEntry] = []
        start_index = first_period[0] * 12 + first_period[1] - 1
        for m in range(months):
            period = month_text(start_index + m - 12 * (start_index // 12), start_year=start_index // 12)
            year, month = int(period[:4]), int(period[5:])
            received_base = (datetime(year, month, 1, tzinfo=UTC) + timedelta(days=32)).replace(day=1)
            for i, (hotline_id, country) in enumerate(enrolled):
                key = hub.keys[hotline_id]
                bank_index = (i + m) % len(bank)
                document = dict(templates[bank_index])
                document.update(
                    hotline_id=hotline_id,
                    key_id=key.verify_key.key_id,
                    period=period,
                    nonce=b64encode(secrets.token_bytes(16)),
                )
                payload_bytes = _fast_canonical(document)
                signature = key.sign_message(SUBMISSION_CONTEXT, payload_bytes)
                digest = "sha256:" + hashlib.sha256(payload_bytes).hexdigest()
                received = received_base + timedelta(days=3, seconds=i)
                entry = {
                    "type": "log_entry",
                    "version": PROTOCOL_VERSION,
                    "kind": "submission",
                    "hotline_id": hotline_id,
                    "key_id": key.verify_key.key_id,
                    "period": period,
                    "revision": 1,
                    "payload_hash": digest,
                    "payload": b64encode(payload_bytes),
                    "signature": b64encode(signature),
                    "received_at": format_timestamp(received),
                }
                data = _fast_canonical(entry)
                if len(entries) < _CHECKED:
                    _check_encoding(document, payload_bytes, entry, data)
                index = len(hashes)
                hashed = leaf_hash(data)
                for node, value in nodes_completed_by_append(index, hashed, nodes.__getitem__):
                    nodes[node] = value
                    new_nodes.append({"level": node.level, "index": node.index, "hash": value})
                hashes.append(hashed)
                leaves.append(
                    {"index": index, "leaf_hash": hashed, "data": data, "kind": "submission", "appended_at": received}
                )
                entries.append(SignedEntry(leaf=data, payload=payload_bytes, signature=signature, key=key))
                releases.append(
                    LoadedRelease(
                        hotline_id=hotline_id,
                        country=country,
                        key_id=key.verify_key.key_id,
                        period=period,
                        revision=1,
                        received_at=received,
                        payload_hash=digest,
                        payload=payload_bytes,
                        signature=signature,
                        leaf_index=index,
                        taxonomy_id=taxonomy.id,
                        mechanism=str(document["privacy"]["mechanism"]),
                        scales={t["table"]: t["scale"] for t in document["privacy"]["tables"]},
                        bank=bank_index,
                    )
                )
        size = len(hashes)
        root = root_hash_from_nodes(size, nodes.__getitem__)
        with engine.begin() as connection:
            for start in range(0, len(leaves), 5000):
                connection.execute(insert(LogLeaf), leaves[start : start + 5000])
            for start in range(0, len(new_nodes), 5000):
                connection.execute(insert(LogNode), new_nodes[start : start + 5000])
            connection.execute(
                insert(LogCheckpoint),
                [
                    {
                        "size": size,
                        "root_hash": root,
                        "note": sign_checkpoint(Checkpoint(ORIGIN, size, root), signer),
                        "signed_at": NOW,
                    }
                ],
            )
        load_releases(engine, taxonomy, releases, [dict(r.tables) for r in bank], scope_levels=scope_levels)
    finally:
        engine.dispose()
    return BuiltLog(hub=hub, size=size, key_events=key_events, entries=tuple(entries), log_vkey=signer.verifier.vkey)


def _check_encoding(document: dict[str, Any], payload_bytes: bytes, entry: dict[str, Any], data: bytes) -> None:
    """The fast encoding is the protocol's: same bytes as RFC 8785, and they parse back as the messages."""
    if canonical_bytes(document) != payload_bytes or canonical_bytes(entry) != data:
        raise AssertionError("json.dumps and RFC 8785 disagree on a benchmark document")
    SubmissionPayload.from_canonical(payload_bytes)
    SubmissionEntry.from_canonical(data)


def check_built_hub(built: BuiltLog, taxonomies: dict[str, Taxonomy]) -> list[str]:
    """Problems the hub's own log self-check and rollup rebuild find in a built hub (empty: none)."""
    from hub.services.logcheck import check_log
    from hub.services.rebuild import check_rollups

    engine = make_engine(built.hub.settings.resolved_database_url)
    try:
        with read_session(make_sessionmaker(engine)) as session:
            log = check_log(session, signer=load_keys(built.hub.settings.keys_dir).log_signer(ORIGIN))
            problems = list(log.problems)
            if log.size != built.size:
                problems.append(f"the log self-check rebuilt {log.size} leaves, not {built.size}")
            problems += check_rollups(session, taxonomies)
    finally:
        engine.dispose()
    return problems
