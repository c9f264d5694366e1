# SPDX-License-Identifier: Apache-2.0
"""The outbox: sealed releases waiting for the hub, delivered with retries, resumable across restarts.

:meth:`Outbox.enqueue` signs and seals a prepared release once and stores the envelope; from then on every attempt
sends exactly those bytes. The hub recognises a repeat by the payload's hash and answers with the receipt it gave
the first time, so a retry after a lost response never makes a duplicate (and a crash between the hub's commit and
the node's never loses the receipt: the next run fetches it).

:func:`deliver` works through the queue, oldest first:

* accepted (201, or 200 for a repeat): the receipt is verified against the hub's log key pinned at ``init`` and
  the payload bytes this node signed; only then, in one transaction, the item and its release become
  ``delivered`` and the receipt is stored;
* transient failure (no connection, timeout, 5xx, 408, 429): the attempt is recorded with the error and the time
  of the next attempt (exponential backoff with full jitter from :mod:`secrets`, or the hub's ``Retry-After`` if
  longer). The run retries after that pause while it is short (``max_wait``) and attempts are left
  (``attempts_per_run``); otherwise it stops, and the item waits for the next ``submit`` or ``sync``;
* permanent refusal (409, other 4xx): the item and its release become ``failed`` with the hub's explanation;
  ``submit`` queues it again once the cause is fixed;
* a receipt that does not verify, or an answer outside the protocol: nothing is marked delivered, the error is
  recorded, and the run stops with :class:`~node.errors.ReceiptInvalid` / :class:`~node.errors.HubResponseInvalid`.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Literal

from node.client import HubClient
from node.errors import HubResponseInvalid, HubUnreachable, ReceiptInvalid, SubmissionRejected
from node.i18n import N_, Text
from node.ledger import StoredRelease
from node.store import transaction
from protocol.crypto import SealingKey, SigningKey, seal_envelope
from protocol.errors import ProtocolError
from protocol.messages import Receipt, format_timestamp
from protocol.note import NoteVerifier
from protocol.receipt import VerifiedReceipt, verify_receipt

__all__ = ["DeliveryReport", "Outbox", "OutboxItem", "Outcome", "RetryPolicy", "deliver"]

_log = logging.getLogger(__name__)
# A fixed column list spliced into SQL (S608 silenced there); values are always bound.
_COLUMNS: Final = (
    "o.id, o.period, o.revision, o.payload_hash, o.envelope, o.status, o.attempts, o.next_attempt_at, "
    "o.last_error, o.queued_at, r.payload"
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How patiently one run retries a transient failure."""

    attempts_per_run: int = 4
    base_delay: float = 2.0
    max_delay: float = 300.0
    #: The longest pause a run sits through; a longer one (backoff or Retry-After) ends the run.
    max_wait: float = 120.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Pause before attempt ``attempt + 1``: full jitter over ``base · 2^(attempt-1)`` (capped), or longer
        if the hub asked for it."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** max(0, min(attempt - 1, 40)))
        jittered = ceiling * secrets.randbelow(1_000_001) / 1_000_000
        return max(jittered, retry_after or 0.0)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One sealed release in the outbox."""

    id: int
    period: str
    revision: int
    payload_hash: str
    envelope: bytes
    status: str
    attempts: int
    next_attempt_at: str
    last_error: str | None
    queued_at: str
    #: The canonical payload bytes that were signed (from the ledger), to check the receipt against.
    payload_bytes: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one item in a run."""

    period: str
    revision: int
    result: Literal["delivered", "already_delivered", "pending", "failed"]
    detail: str = ""
    leaf_index: int | None = None
    tree_size: int | None = None
    next_attempt_at: str | None = None
    #: For a release the hub refused by one of its plausibility rules (a cap, say): what to do about it.
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    outcomes: tuple[Outcome, ...]

    @property
    def pending(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.result == "pending")

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.result == "failed")


class Outbox:
    """The ``outbox`` and ``receipts`` tables, and the status of the releases they concern."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def items(self, *, status: str | None = None) -> list[OutboxItem]:
        query = f"SELECT {_COLUMNS} FROM outbox o JOIN releases r USING (period, revision)"  # noqa: S608
        rows = (
            self._db.execute(query + " WHERE o.status = ? ORDER BY o.id", (status,))
            if status
            else self._db.execute(query + " ORDER BY o.id")
        )
        return [OutboxItem(*row) for row in rows]

    def item(self, period: str, revision: int) -> OutboxItem | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM outbox o JOIN releases r USING (period, revision) "  # noqa: S608
            "WHERE o.period = ? AND o.revision = ?",
            (period, revision),
        ).fetchone()
        return OutboxItem(*row) if row else None

    def enqueue(
        self, release: StoredRelease, *, signing_key: SigningKey, hub_key: SealingKey, now: datetime
    ) -> OutboxItem:
        """Sign and seal a prepared release and queue it; a failed one is queued again (same envelope)."""
        stamp = format_timestamp(now)
        with transaction(self._db):
            existing = self.item(release.period, release.revision)
            if existing is not None:
                if existing.status == "failed":
                    self._db.execute(
                        "UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = ?, updated_at = ? "
                        "WHERE id = ?",
                        (stamp, stamp, existing.id),
                    )
                    self._set_release_status(release, "queued")
            else:
                envelope = seal_envelope(release.payload(), signing_key=signing_key, hub_key=hub_key)
                self._db.execute(
                    "INSERT INTO outbox (period, revision, payload_hash, envelope, status, attempts, next_attempt_at,"
                    " queued_at, updated_at) VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, ?)",
                    (
                        release.period,
                        release.revision,
                        release.payload_hash,
                        envelope.canonical_bytes(),
                        stamp,
                        stamp,
                        stamp,
                    ),
                )
                self._set_release_status(release, "queued")
        queued = self.item(release.period, release.revision)
        if queued is None:  # pragma: no cover - inserted above
            raise RuntimeError("outbox item vanished")
        return queued

    def receipt(self, period: str, revision: int) -> Receipt | None:
        row = self._db.execute(
            "SELECT receipt FROM receipts WHERE period = ? AND revision = ?", (period, revision)
        ).fetchone()
        return Receipt.from_canonical(bytes(row[0])) if row else None

    def receipts(self) -> list[tuple[str, int, int, int, str]]:
        """``(period, revision, leaf_index, tree_size, received_at)`` of every stored receipt."""
        rows = self._db.execute(
            "SELECT period, revision, leaf_index, tree_size, received_at FROM receipts ORDER BY period, revision"
        )
        return [(str(p), int(r), int(i), int(s), str(t)) for p, r, i, s, t in rows]

    # ------------------------------------------------------------------ state changes (one transaction each)

    def _set_release_status(self, release: StoredRelease | OutboxItem, status: str) -> None:
        self._db.execute(
            "UPDATE releases SET status = ? WHERE period = ? AND revision = ?",
            (status, release.period, release.revision),
        )

    def record_error(self, item: OutboxItem, *, now: datetime, error: str, next_attempt: datetime | None) -> None:
        with transaction(self._db):
            self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, updated_at = ? "
                "WHERE id = ?",
                (error, format_timestamp(next_attempt or now), format_timestamp(now), item.id),
            )

    def mark_failed(self, item: OutboxItem, *, now: datetime, error: str) -> None:
        with transaction(self._db):
            self._db.execute(
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?, updated_at = ? "
                "WHERE id = ?",
                (error, format_timestamp(now), item.id),
            )
            self._set_release_status(item, "failed")

    def mark_delivered(self, item: OutboxItem, receipt: Receipt, verified: VerifiedReceipt, *, now: datetime) -> None:
        stamp = format_timestamp(now)
        with transaction(self._db):
            self._db.execute(
                "UPDATE outbox SET status = 'delivered', attempts = attempts + 1, last_error = NULL, updated_at = ? "
                "WHERE id = ?",
                (stamp, item.id),
            )
            self._set_release_status(item, "delivered")
            self._db.execute(
                "INSERT OR REPLACE INTO receipts (period, revision, payload_hash, submission_id, leaf_index, tree_size,"
                " receipt, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    item.period,
                    item.revision,
                    item.payload_hash,
                    receipt.submission_id,
                    verified.leaf_index,
                    verified.checkpoint.size,
                    receipt.canonical_bytes(),
                    stamp,
                ),
            )


def deliver(
    outbox: Outbox,
    client: HubClient,
    *,
    log_key: NoteVerifier,
    policy: RetryPolicy,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
) -> DeliveryReport:
    """Send every queued item, oldest first; see the module docstring for what each outcome does."""
    queue = outbox.items(status="queued")
    outcomes: list[Outcome] = []
    for position, item in enumerate(queue):
        outcome = _deliver_one(outbox, client, item, log_key=log_key, policy=policy, clock=clock, sleep=sleep)
        outcomes.append(outcome)
        if outcome.result == "pending":  # the hub is unreachable: the items behind this one would fare no better
            outcomes.extend(
                Outcome(rest.period, rest.revision, "pending", "not attempted: the hub is unreachable")
                for rest in queue[position + 1 :]
            )
            break
    return DeliveryReport(tuple(outcomes))


def _deliver_one(
    outbox: Outbox,
    client: HubClient,
    item: OutboxItem,
    *,
    log_key: NoteVerifier,
    policy: RetryPolicy,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
) -> Outcome:
    label = f"{item.period} revision {item.revision}"
    attempt = item.attempts
    tried = 0
    while True:
        attempt += 1
        tried += 1
        _log.info("sending %s to %s (attempt %d)", label, client.hub_url, attempt)
        try:
            result = client.submit(item.envelope)
            break
        except HubUnreachable as e:
            pause = policy.delay(attempt, e.retry_after)
            now = clock()
            next_attempt = now + timedelta(seconds=pause)
            outbox.record_error(item, now=now, error=str(e), next_attempt=next_attempt)
            _log.info("%s: %s", label, e)
            if tried >= policy.attempts_per_run or pause > policy.max_wait:
                return Outcome(
                    item.period, item.revision, "pending", str(e), next_attempt_at=format_timestamp(next_attempt)
                )
            _log.info("retrying %s in %.1f s", label, pause)
            sleep(pause)
        except SubmissionRejected as e:
            outbox.mark_failed(item, now=clock(), error=f"HTTP {e.status} {e.code}: {e.detail or e}")
            _log.warning("%s refused by the hub: %s", label, e)
            hint = e.next_step if e.code == "implausible_release" else None
            return Outcome(item.period, item.revision, "failed", str(e), hint=hint)
        except HubResponseInvalid as e:
            outbox.record_error(item, now=clock(), error=str(e), next_attempt=None)
            raise
    try:
        verified = verify_receipt(result.receipt, log_key=log_key, payload_bytes=item.payload_bytes)
    except ProtocolError as e:
        message = Text(
            N_("the hub's receipt for %(release)s does not verify against the pinned log key (%(error)s)"),
            release=label,
            error=str(e),
        )
        outbox.record_error(item, now=clock(), error=str(message), next_attempt=None)
        raise ReceiptInvalid(message) from e
    outbox.mark_delivered(item, result.receipt, verified, now=clock())
    _log.info("%s delivered: leaf %d of %d", label, verified.leaf_index, verified.checkpoint.size)
    return Outcome(
        item.period,
        item.revision,
        "delivered" if result.created else "already_delivered",
        leaf_index=verified.leaf_index,
        tree_size=verified.checkpoint.size,
    )
