# SPDX-License-Identifier: Apache-2.0
"""What verification found wrong: :class:`Failure`, named by the :class:`Check` that failed.

A failure says *what* failed (the check), *where* (log entry index, hotline, table, row keys) and *how*
(a sentence a person can act on). Verification collects failures instead of stopping at the first, so one run
names everything that is wrong; the check names are stable strings for ``--json`` consumers.

>>> f = Failure(Check.KEY, "key 0f1e… of ua-a was revoked", index=12, hotline_id="ua-a")
>>> f.where()
'entry 12, hotline ua-a'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from auditor.i18n import gettext as _

__all__ = ["Check", "Failure"]


class Check(StrEnum):
    """The checks ``tipshare-audit verify`` runs, in the order it runs them."""

    #: The hub presents the log key (and origin) pinned in the state DIR.
    IDENTITY = "identity"
    #: The checkpoint is a note signed by the pinned log key, for the pinned origin.
    CHECKPOINT = "checkpoint"
    #: The checkpoint is not smaller than one seen before (no rollback), nor another root for a seen size (fork).
    ROLLBACK = "rollback"
    #: The hub's consistency proof from every checkpoint seen before to the new one verifies.
    CONSISTENCY = "consistency"
    #: The hub served every entry up to the checkpoint's size, each with the leaf hash of its data.
    ENTRIES = "entries"
    #: The Merkle root rebuilt from all the leaves equals the checkpoint's root (and every earlier one's).
    ROOT = "root"
    #: The checkpoint carries cosignatures by the number of witnesses the state DIR requires (``--witness``).
    WITNESSES = "witnesses"
    #: A log entry parses as a tipshare/1 log entry.
    ENTRY = "entry"
    #: An entry's time (``received_at``, ``effective_at``) is not before an earlier entry's: none was backdated.
    TIME = "entry-time"
    #: The key history the log records is well formed (no reused keys, rotations of the current key, ...).
    KEY_HISTORY = "key-history"
    #: A submission names a key enrolled for its hotline and valid when the hub received it.
    KEY = "key"
    #: The submission's signature verifies with that key.
    SIGNATURE = "signature"
    #: The payload matches its entry (hash, hotline, period, revision) and its taxonomy, and is not a duplicate.
    PAYLOAD = "payload"
    #: A hotline policy or backfill approval in the log names an enrolled hotline.
    POLICY = "policy"
    #: The submission meets the plausibility rules (``protocol.plausibility``) under its hotline's logged policy:
    #: budget caps per period and year, noise floor, cell and table bounds, next revision, first period.
    PLAUSIBILITY = "plausibility"
    #: A withdrawal is signed by the hub's log key and withdraws an accepted submission once; a revocation of a
    #: compromised key comes after the withdrawal of everything signed with it since.
    WITHDRAWAL = "withdrawal"
    #: A published statistic equals the one recomputed from the signed payloads.
    STATISTICS = "statistics"
    #: A downloaded answer file (``check FILE``) names a checkpoint of the verified log.
    FILE = "file"
    #: A published least-squares estimate (``/v1/estimates``) equals the one recomputed from the signed payloads,
    #: and the taxonomies combined define every table and dimension name alike.
    ESTIMATES = "estimates"
    #: A downloaded completeness file (``check FILE``) equals the reporting grid re-derived from the log: every
    #: hotline and month, its status, expected flag, receive times, revisions and deadline.
    COMPLETENESS = "completeness"
    #: A secure-aggregation round re-added from the log (:mod:`auditor.rounds`): members' signatures, the roster's
    #: sealing keys and tables, the transcript's rules, a result only on a sound transcript, a failure the log bears
    #: out, and the hub's round answer equal to the logged result.
    ROUNDS = "rounds"


@dataclass(frozen=True, slots=True)
class Failure:
    """One thing that did not verify."""

    check: Check
    message: str
    index: int | None = None
    hotline_id: str | None = None
    table: str | None = None
    keys: Mapping[str, str] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if self.keys is not None:
            object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))

    def where(self) -> str:
        """Where the failure is, for people: ``entry 12, hotline ua-a, table contacts, period=2026-09``."""
        parts = []
        if self.index is not None:
            parts.append(_("entry {index}").format(index=self.index))
        if self.hotline_id is not None:
            parts.append(_("hotline {hotline}").format(hotline=self.hotline_id))
        if self.table is not None:
            parts.append(_("table {table}").format(table=self.table))
        if self.keys:
            parts.append(" ".join(f"{name}={code}" for name, code in self.keys.items()))
        return ", ".join(parts)

    def document(self) -> dict[str, Any]:
        """The failure as JSON."""
        return {
            "check": str(self.check),
            "message": self.message,
            "index": self.index,
            "hotline_id": self.hotline_id,
            "table": self.table,
            "keys": dict(self.keys) if self.keys is not None else None,
        }
