# SPDX-License-Identifier: Apache-2.0
"""Withdrawals: the operator takes an accepted submission out of the statistics, in the open.

A withdrawal is a ``submission_withdrawn`` log entry signed by the hub's log key (:mod:`protocol.withdrawal`),
naming the submission's log entry and the operator's reason. In the same transaction:

* the submission is flagged withdrawn (by that entry, when, why) and is never current again;
* if it was the current release of its (hotline, period), the highest revision left that is not withdrawn becomes
  current again (its genuine release counts once more), or nothing does; the rollups follow at once
  (:meth:`hub.services.rollups.Rollups.replace`), as a rebuild from the log would (:mod:`hub.services.rebuild`);
* the submission's entry stays in the log, and its revision number stays taken: the hotline's next release of
  that month carries a higher one, and supersedes it as any correction does.

:meth:`Withdrawals.revoke_compromised` revokes a stolen key with the time since which it is held compromised:
every submission signed with it and received at or after that time is withdrawn first, then the revocation is
logged (with ``compromised_since``), all in one transaction, so that the log shows the revocation right after
the withdrawals it required.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.context import HubContext
from hub.errors import BadRequest, Conflict, NotFound
from hub.models import Hotline, HotlineKey, Submission
from hub.services.log import Appended, TransparencyLog
from hub.services.registry import KeyEvent, Registry
from hub.services.rollups import Rollups
from protocol.messages import SubmissionPayload, format_timestamp
from protocol.withdrawal import sign_withdrawal

__all__ = ["AlreadyWithdrawn", "Revoked", "Withdrawals", "Withdrawn"]

#: Longest reason a withdrawal entry carries.
MAX_REASON: Final = 500


class AlreadyWithdrawn(Conflict):
    code = "already_withdrawn"
    title = "Submission already withdrawn"


@dataclass(frozen=True, slots=True)
class Withdrawn:
    """One withdrawal, the log entry that records it, and the revision of its month that counts now."""

    submission_id: int
    hotline_id: str
    period: str
    revision: int
    reason: str
    withdrawn_at: datetime
    appended: Appended
    #: The revision of (hotline, period) the statistics use after the withdrawal (``None``: none).
    current_revision: int | None


@dataclass(frozen=True, slots=True)
class Revoked:
    """A revocation of a compromised key, and the withdrawals logged with it (in log order)."""

    event: KeyEvent
    compromised_since: datetime
    withdrawn: tuple[Withdrawn, ...]


class Withdrawals:
    """Withdrawals, bound to a write session and the hub (its log key signs them)."""

    def __init__(self, context: HubContext, session: Session) -> None:
        self._context = context
        self._session = session
        self._log = TransparencyLog(session, signer=context.log_signer)

    def withdraw(self, submission_id: int, *, reason: str, now: datetime) -> Withdrawn:
        """Withdraw submission ``submission_id`` with ``reason`` (logged)."""
        submission = self._session.get(Submission, submission_id)
        if submission is None:
            raise NotFound(f"no submission has id {submission_id}")
        return self._withdraw(submission, reason=_reason(reason), now=now)

    def revoke_compromised(self, *, key_id: str, reason: str, since: datetime, now: datetime) -> Revoked:
        """Revoke key ``key_id`` as compromised since ``since``: withdraw every submission signed with it and
        received at or after ``since`` (oldest first), then log the revocation, naming ``since``."""
        text = _reason(reason)
        key = self._session.get(HotlineKey, key_id)
        if key is None:
            raise NotFound(f"no enrolled key has id {key_id}")
        if key.revoked_at is not None:
            raise Conflict(f"key {key_id} was already revoked at {format_timestamp(key.revoked_at)}")
        if since > now:
            raise BadRequest(
                f"compromised since {format_timestamp(since)} is in the future (now: {format_timestamp(now)}); "
                "give the earliest time the key may have been in someone else's hands"
            )
        since = since.replace(microsecond=0)  # the log's times are whole seconds
        signed = self._session.scalars(
            select(Submission)
            .where(
                Submission.key_id == key_id,
                Submission.received_at >= since,
                Submission.withdrawn_index.is_(None),
            )
            .order_by(Submission.leaf_index)
        ).all()
        prefix = f"signed with key {key_id}, compromised since {format_timestamp(since)}: "
        why = prefix + (text if len(prefix) + len(text) <= MAX_REASON else text[: MAX_REASON - len(prefix) - 1] + "…")
        withdrawn = tuple(self._withdraw(submission, reason=why, now=now) for submission in signed)
        event = Registry.open(self._context, self._session, log=self._log).revoke(
            key_id=key_id, reason=text, now=now, compromised_since=since
        )
        key.compromised_since = since
        self._session.flush()
        return Revoked(event=event, compromised_since=since, withdrawn=withdrawn)

    # ----------------------------------------------------------------------------------------- helpers

    def _withdraw(self, submission: Submission, *, reason: str, now: datetime) -> Withdrawn:
        if submission.withdrawn_index is not None:
            assert submission.withdrawn_at is not None
            raise AlreadyWithdrawn(
                f"submission {submission.id} ({submission.hotline_id} {submission.period} revision "
                f"{submission.revision}) was already withdrawn by log entry {submission.withdrawn_index} at "
                f"{format_timestamp(submission.withdrawn_at)}: {submission.withdraw_reason}"
            )
        now = self._log.entry_time(now)  # never before the entry logged last
        entry = sign_withdrawal(
            self._context.log_signer,
            leaf_index=submission.leaf_index,
            hotline_id=submission.hotline_id,
            key_id=submission.key_id,
            period=submission.period,
            revision=submission.revision,
            payload_hash=submission.payload_hash,
            reason=reason,
            withdrawn_at=format_timestamp(now),
        )
        appended = self._log.append(entry.canonical_bytes(), kind=entry.kind, now=now)
        submission.withdrawn_index = appended.index
        submission.withdrawn_at = now
        submission.withdraw_reason = reason
        current = self._fall_back(submission) if submission.is_current else self._current(submission)
        return Withdrawn(
            submission_id=submission.id,
            hotline_id=submission.hotline_id,
            period=submission.period,
            revision=submission.revision,
            reason=reason,
            withdrawn_at=now,
            appended=appended,
            current_revision=None if current is None else current.revision,
        )

    def _current(self, submission: Submission) -> Submission | None:
        return self._session.scalars(
            select(Submission).where(
                Submission.hotline_id == submission.hotline_id,
                Submission.period == submission.period,
                Submission.is_current.is_(True),
            )
        ).first()

    def _fall_back(self, withdrawn: Submission) -> Submission | None:
        """Take the withdrawn current release out of the rollups and bring back the highest revision left."""
        previous = self._session.scalars(
            select(Submission)
            .where(
                Submission.hotline_id == withdrawn.hotline_id,
                Submission.period == withdrawn.period,
                Submission.id != withdrawn.id,
                Submission.withdrawn_index.is_(None),
            )
            .order_by(Submission.revision.desc())
            .limit(1)
        ).first()
        hotline = self._session.get(Hotline, withdrawn.hotline_id)
        assert hotline is not None  # a stored submission's hotline is enrolled
        old_payload = SubmissionPayload.from_canonical(withdrawn.payload)
        new_payload = SubmissionPayload.from_canonical(previous.payload) if previous is not None else None
        taxonomy = self._context.taxonomy_by_id((new_payload or old_payload).taxonomy.id)
        replaced = self._context.taxonomy_by_id(old_payload.taxonomy.id)
        Rollups(self._session, taxonomy, replaced=replaced).replace(
            hotline_id=hotline.id,
            country=hotline.country,
            new=previous,
            new_payload=new_payload,
            old=withdrawn,
            old_payload=old_payload,
        )
        return previous


def _reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise BadRequest("a withdrawal needs a reason auditors can read")
    if len(text) > MAX_REASON or "\x00" in text:
        raise BadRequest(f"a reason is at most {MAX_REASON} characters, without NUL")
    return text
