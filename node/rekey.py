# SPDX-License-Identifier: Apache-2.0
"""Replacing the hotline's own signing key while keeping the node home, its ledger and its receipts.

Two steps, because the hub's operator acts in between:

1. ``tipshare-node rekey`` (:func:`start_rekey`) makes a new key, ``signing-key.next`` (0600), and prints its
   enrollment line for ``tipshare-hub hotline rotate-key --line "…"``. The node keeps signing with the current key:
   deliver what is queued (``sync``) before the operator rotates, because the hub refuses the old key from then on.
2. ``tipshare-node rekey --confirm`` (:func:`confirm_rekey`), once the operator has rotated: every release not yet
   delivered (prepared, approved, or failed, for instance refused with ``key_not_valid`` after the rotation) is
   rewritten to name the new key (same noise, same spend, same nonce: the ledger is unchanged) and one that failed is
   approved again, so the next ``sync`` signs and sends it with the new key. Then ``config.toml`` names the new key,
   and the old key file is kept as ``signing-key.retired-<key id>`` before the new one takes its place.

Each step is idempotent and ordered so that ``rekey --confirm`` run again after a crash finishes the job. It refuses
while releases signed with the old key are still queued: they would be refused or, if already accepted, conflict.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from node.errors import KeyFileError, NodeError
from node.home import NodeHome, render_config
from node.i18n import N_, Text
from node.keystore import create_signing_key, load_signing_key, write_private_file
from node.store import transaction
from protocol.crypto import SigningKey, payload_hash
from protocol.messages import SubmissionPayload

__all__ = ["NEXT_KEY_FILE", "RekeyBlocked", "Rekeyed", "confirm_rekey", "pending_key", "start_rekey"]

NEXT_KEY_FILE: Final = "signing-key.next"


class RekeyBlocked(NodeError):
    """The new key cannot take over yet."""

    hint = (
        "Run `tipshare-node sync` to deliver what is queued (with the current key, or until the hub refuses it), "
        "then `tipshare-node rekey --confirm` again."
    )


@dataclass(frozen=True, slots=True)
class Rekeyed:
    old_key_id: str
    new_key_id: str
    #: ``(period, revision)`` of the releases rewritten to name the new key.
    rewritten: tuple[tuple[str, int], ...]
    home: NodeHome


def _next_path(home: NodeHome) -> Path:
    return home.layout.root / NEXT_KEY_FILE


def pending_key(home: NodeHome) -> SigningKey | None:
    """The new key waiting for the operator's rotation, if ``rekey`` made one."""
    path = _next_path(home)
    return load_signing_key(path) if path.exists() else None


def start_rekey(home: NodeHome) -> tuple[SigningKey, bool]:
    """The new key (made now, or the one already waiting) and whether it was made now."""
    waiting = pending_key(home)
    if waiting is not None:
        return waiting, False
    return create_signing_key(_next_path(home)), True


def confirm_rekey(home: NodeHome, db: sqlite3.Connection) -> Rekeyed:
    """Switch to the waiting key (see the module for the steps and their order)."""
    new = pending_key(home)
    if new is None:
        raise KeyFileError(
            Text(N_("no new key is waiting in %(path)s"), path=str(_next_path(home))),
            hint=Text(N_("Run `tipshare-node rekey` first, and give the line it prints to your hub operator.")),
        )
    queued = db.execute("SELECT period, revision FROM outbox WHERE status = 'queued' ORDER BY id").fetchall()
    if queued:
        listed = ", ".join(f"{period} revision {revision}" for period, revision in queued)
        raise RekeyBlocked(Text(N_("releases signed with the current key are still queued: %(listed)s"), listed=listed))
    old_key_id, new_key_id = home.config.key_id, new.verify_key.key_id
    rewritten = _rewrite_unsent(db, new_key_id)
    config = dataclasses.replace(home.config, public_key=new.verify_key.to_text(), key_id=new_key_id)
    write_private_file(home.layout.config, render_config(config).encode("utf-8"))
    retired = home.layout.root / f"signing-key.retired-{old_key_id}"
    if not retired.exists() and old_key_id != new_key_id:
        os.link(home.layout.key, retired)
    os.replace(_next_path(home), home.layout.key)
    return Rekeyed(old_key_id, new_key_id, rewritten, NodeHome(home.layout, config, home.taxonomy))


def _rewrite_unsent(db: sqlite3.Connection, key_id: str) -> tuple[tuple[str, int], ...]:
    rows = db.execute(
        "SELECT period, revision, payload FROM releases WHERE status IN ('prepared', 'approved', 'failed') "
        "ORDER BY period, revision"
    ).fetchall()
    done: list[tuple[str, int]] = []
    with transaction(db):
        for period, revision, payload in rows:
            unsigned = SubmissionPayload.from_canonical(bytes(payload))
            if unsigned.key_id == key_id:
                continue
            rekeyed = SubmissionPayload.from_json(
                json.dumps({**unsigned.model_dump(mode="json"), "key_id": key_id}).encode()
            )
            data = rekeyed.canonical_bytes()
            db.execute(
                "UPDATE releases SET payload = ?, payload_hash = ?, "
                "status = CASE status WHEN 'failed' THEN 'approved' ELSE status END WHERE period = ? AND revision = ?",
                (data, payload_hash(data), period, revision),
            )
            db.execute("DELETE FROM outbox WHERE period = ? AND revision = ? AND status = 'failed'", (period, revision))
            done.append((str(period), int(revision)))
    return tuple(done)
