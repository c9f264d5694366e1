# SPDX-License-Identifier: Apache-2.0
"""What the node keeps of its secure rounds: the month's round vectors, drawn once by ``prepare``, and how far
``sync`` took part (the ``rounds`` table of the node database, :mod:`node.store`; see :mod:`node.rounds`).

The vectors are each table's true counts plus the node's noise *share* (σ²/t,
:func:`node.secure_group.add_noise_shares`): they leave the node only masked. Beside them, each table's one-cell
total (the true cells' sum plus a discrete Gaussian of its own, :func:`node.secure_group.draw_totals`), released
with the masked vector for the auditor's check; only the noisy total is kept. The row also records the round's
spend with both guarantees, the totals' included (:class:`~node.secure_group.RoundSpend`).
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Final

from node.budget import decimal_text
from node.errors import NoiseError
from node.home import NodeHome
from node.secure_group import add_noise_shares, draw_totals, plan_shares
from node.store import transaction
from protocol.messages import format_timestamp

__all__ = ["ACTIVE", "RoundStore", "StoredRound", "prepare_round"]

#: Statuses of a round the node still takes part in: its month's local release is held.
ACTIVE: Final = ("waiting", "shares", "masked", "revealed")
_COLUMNS: Final = (
    "period, group_id, taxonomy_hash, vectors, against_hub, against_all_others, members, threshold, status, "
    "round_number, detail, noise, totals, scaling"
)
_log = logging.getLogger("node.rounds")


@dataclass(frozen=True, slots=True)
class StoredRound:
    """A month's round as the node database holds it."""

    period: str
    group_id: str
    taxonomy_hash: str
    #: Each table's cells: true count plus the node's noise share.
    vectors: dict[str, tuple[int, ...]]
    against_hub: Decimal
    against_all_others: Decimal
    members: int
    threshold: int
    status: str
    round_number: int | None
    detail: str | None
    #: table -> σ of the node's noise share (declared with the masked vector); None for a round prepared before
    #: the node kept it.
    noise: dict[str, str] | None = None
    #: table -> (one-cell total, its σ), released with the masked vector; None for a round prepared before the
    #: node drew them.
    totals: dict[str, tuple[int, str]] | None = None
    #: The scaling factor γ the vectors were drawn for (``γ · counts`` plus shares on that lattice; 1: unscaled).
    scaling: int = 1


class RoundStore:
    """The ``rounds`` table of the node database."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def get(self, period: str) -> StoredRound | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM rounds WHERE period = ?", (period,)).fetchone()  # noqa: S608
        return None if row is None else _stored(row)

    def active(self) -> list[StoredRound]:
        """Rounds the node still takes part in, by period."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM rounds WHERE status IN ({', '.join('?' * len(ACTIVE))}) ORDER BY period",  # noqa: S608
            ACTIVE,
        )
        return [_stored(row) for row in rows]

    def all(self) -> list[StoredRound]:
        """Every month's round the node prepared, by period (``status`` and ``budget`` show them)."""
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM rounds ORDER BY period")  # noqa: S608
        return [_stored(row) for row in rows]

    def held_periods(self) -> set[str]:
        """Months whose local releases wait for their round (never queued meanwhile). Once the round is over, a
        correction of the month goes out as a local release (the first revision, in the round's sum, never does)."""
        return {r.period for r in self.active()}

    def record(self, stored: StoredRound, *, now: datetime) -> StoredRound:
        """Store a month's round vectors once; an existing row is returned unchanged."""
        with transaction(self._db):
            existing = self.get(stored.period)
            if existing is not None:
                return existing
            stamp = format_timestamp(now)
            self._db.execute(
                f"INSERT INTO rounds ({_COLUMNS}, created_at, updated_at) VALUES "  # noqa: S608
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    stored.period,
                    stored.group_id,
                    stored.taxonomy_hash,
                    json.dumps({k: list(v) for k, v in stored.vectors.items()}, sort_keys=True).encode(),
                    decimal_text(stored.against_hub),
                    decimal_text(stored.against_all_others),
                    stored.members,
                    stored.threshold,
                    stored.status,
                    stored.round_number,
                    stored.detail,
                    None if stored.noise is None else json.dumps(stored.noise, sort_keys=True),
                    None if stored.totals is None else json.dumps(stored.totals, sort_keys=True),
                    None if stored.scaling == 1 else stored.scaling,
                    stamp,
                    stamp,
                ),
            )
        return stored

    def update(self, period: str, *, status: str, round_number: int | None, detail: str | None, now: datetime) -> None:
        with transaction(self._db):
            self._db.execute(
                "UPDATE rounds SET status = ?, round_number = ?, detail = ?, updated_at = ? WHERE period = ?",
                (status, round_number, detail, format_timestamp(now), period),
            )
            if status == "done":  # the round's sum holds the month: its local release is never sent
                self._db.execute(
                    "UPDATE releases SET status = 'superseded' "
                    "WHERE period = ? AND revision = 1 AND status IN ('prepared', 'approved')",
                    (period,),
                )


def _stored(row: Sequence[object]) -> StoredRound:
    period, group, taxonomy_hash, vectors, hub, others, members = row[:7]
    threshold, status, number, detail, noise, totals, scaling = row[7:]
    raw = json.loads(bytes(vectors) if isinstance(vectors, bytes | bytearray | memoryview) else str(vectors))
    return StoredRound(
        period=str(period),
        group_id=str(group),
        taxonomy_hash=str(taxonomy_hash),
        vectors={str(k): tuple(int(c) for c in v) for k, v in raw.items()},
        against_hub=Decimal(str(hub)),
        against_all_others=Decimal(str(others)),
        members=int(str(members)),
        threshold=int(str(threshold)),
        status=str(status),
        round_number=None if number is None else int(str(number)),
        detail=None if detail is None else str(detail),
        noise=None if noise is None else {str(k): str(v) for k, v in json.loads(str(noise)).items()},
        totals=None if totals is None else {str(k): (int(v[0]), str(v[1])) for k, v in json.loads(str(totals)).items()},
        scaling=1 if scaling is None else int(str(scaling)),
    )


# ------------------------------------------------------------------------------------------------- prepare


def prepare_round(
    home: NodeHome,
    db: sqlite3.Connection,
    counts: Mapping[str, Sequence[int]],
    *,
    period: str,
    release_spend: Decimal,
    now: datetime,
) -> StoredRound | None:
    """Draw the month's round vectors (true counts plus the node's noise shares) and one-cell totals once and keep
    them, with the round's spend; ``None`` for a node in no secure group. ``release_spend`` is the month's local
    release's spend, recorded in the ledger: it must bound the round's spend against the hub, the totals' included
    (of the two, only one is ever sent)."""
    config = home.config.secure_group
    if config is None:
        return None
    store = RoundStore(db)
    existing = store.get(period)
    if existing is not None:
        return existing
    plan = plan_shares(home.taxonomy, list(counts), home.config.budget, config)
    if plan.spend.against_hub > release_spend:  # pragma: no cover - both spend the budget's release
        raise NoiseError(f"the round's spend {float(plan.spend.against_hub)!r} exceeds the release's")
    vectors = add_noise_shares(plan, counts)
    totals = draw_totals(plan, counts)  # noisy; the true sums are never kept or logged
    _log.info("round vectors for %s: %s", period, plan.spend.describe())
    return store.record(
        StoredRound(
            period=period,
            group_id=config.group_id,
            taxonomy_hash=home.taxonomy.content_hash,
            vectors=vectors,
            against_hub=_up(plan.spend.against_hub),
            against_all_others=_up(plan.spend.against_all_others),
            members=plan.spend.members,
            threshold=plan.spend.threshold,
            status="waiting",
            round_number=None,
            detail=None,
            noise={share.table: share.scale_text for share in plan.shares},
            totals=totals,
            scaling=plan.scaling,
        ),
        now=now,
    )


def _up(value: Fraction) -> Decimal:
    """``value`` as an 18-place decimal rounded up (the ledger's amounts are decimals)."""
    return Decimal(math.ceil(value * 10**18)).scaleb(-18)
