# SPDX-License-Identifier: Apache-2.0
"""Verified ingest: from the bytes of an envelope to a stored, logged, rolled-up submission and its receipt.

Order of checks (each failure raises, and the caller's transaction stores nothing):

1. the body is the canonical JSON of an envelope of protocol ``tipshare/1``;
2. the hotline is enrolled and the claimed key is its key valid now (not revoked, not rotated out);
3. the envelope header signature, the sealed box, and the payload signature verify (opaque failures);
4. the payload names the same hotline and key, follows a taxonomy the hub knows, has the taxonomy's dense
   tables, consistent privacy declarations, and a period that is over (a node releases a month once it has ended,
   so that all its cases are in: a release of the month still running is refused) and is not before the
   earliest period;
5. idempotency: the same payload again returns the receipt it got the first time; the same
   (hotline, period, revision) with other bytes is a conflict, and so is a revision not newer than every one held
   (withdrawn revisions included);
6. the hotline's daily caps (distinct months, and revisions, submitted in 24 hours: 429 with Retry-After), then
   plausibility (:mod:`protocol.plausibility`, with the hotline's logged policy: budget caps, noise floor, cell
   bounds, next revision, first period or an approved backfill), each refusal naming its rule, limit and value.

Then, atomically: the log entry is appended (and a checkpoint signed), the submission stored, the rollups updated.

:meth:`IngestService.submit` is the one sequence, the same for the server, the tests and the benchmarks: steps
1-4 in a read transaction (no writer lock: workers parse, decrypt and check signatures in parallel), then the
per-hotline rate limit (counted only once the signature proves who sent it, so no one else can use up a
hotline's allowance), then step 5 onwards in a write transaction, which checks the key again.

>>> result = IngestService(context, hotline_limit=HotlineLimit(limiter, Rate(6))).submit(body)  # doctest: +SKIP
>>> result.created, result.receipt.submission_id                                              # doctest: +SKIP
(True, 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.context import HubContext
from hub.db import read_session, write_session
from hub.errors import LogIntegrityError, PeriodOutOfRange, RateLimited, RevisionConflict
from hub.models import Hotline, LogLeaf, RoundReleaseNoise, SecaggRound, Submission
from hub.ratelimit import Limiter, Rate
from hub.services.log import TransparencyLog
from hub.services.policies import PolicyService
from hub.services.registry import Registry
from hub.services.rollups import Rollups
from protocol.crypto import VerifiedSubmission, VerifyKey, open_envelope
from protocol.errors import TaxonomyViolation
from protocol.messages import (
    PROTOCOL_VERSION,
    Envelope,
    Receipt,
    SubmissionEntry,
    SubmissionPayload,
    b64encode,
    format_timestamp,
)
from protocol.receipt import make_receipt
from protocol.validation import check_payload

__all__ = ["HotlineLimit", "IngestResult", "IngestService", "receipt_for"]


@dataclass(frozen=True, slots=True)
class IngestResult:
    receipt: Receipt
    #: False when the payload had been accepted before (the stored receipt is returned).
    created: bool


@dataclass(frozen=True, slots=True)
class HotlineLimit:
    """The per-hotline submission rate, and the limiter whose buckets count it."""

    limiter: Limiter
    rate: Rate


class IngestService:
    """Ingest of one envelope's bytes: :meth:`submit` opens its own transactions (see the module's docstring)."""

    def __init__(self, context: HubContext, *, hotline_limit: HotlineLimit | None = None) -> None:
        self._context = context
        self._hotline_limit = hotline_limit

    def submit(self, body: bytes) -> IngestResult:
        """Verify (read transaction), count against the hotline's rate, accept (write transaction).

        The one way in, for the route, the tests and the benchmarks alike: :meth:`verify` and :meth:`accept` are
        its stages, public so that the ingest benchmark can time them, not to be called one without the other.
        """
        now = self._context.clock()
        verified = self.verify(body, now=now)
        self._take_hotline_allowance(verified.payload.hotline_id)
        return self.accept(verified, now=now)

    def verify(self, body: bytes, *, now: datetime) -> VerifiedSubmission:
        """Steps 1-4, in a read transaction of their own (no writer lock); a stage of :meth:`submit`."""
        with read_session(self._context.sessions) as session:
            return _Steps(self._context, session).verify(body, now=now)

    def accept(self, verified: VerifiedSubmission, *, now: datetime) -> IngestResult:
        """Step 5 and the append, in the writer's transaction (committed on return); a stage of :meth:`submit`."""
        with write_session(self._context.sessions) as session:
            return _Steps(self._context, session).accept(verified, now=now)

    def _take_hotline_allowance(self, hotline_id: str) -> None:
        if self._hotline_limit is None:
            return
        wait = self._hotline_limit.limiter.take(("submit", "hotline", hotline_id), self._hotline_limit.rate)
        if wait is not None:
            self._context.metrics.request_limited("submit-hotline")
            raise RateLimited(
                f"too many submissions from hotline {hotline_id}; try again in {wait} s", retry_after=wait
            )


class _Steps:
    """The steps of ingest, in one transaction each: :meth:`verify` in a read one, :meth:`accept` in the writer's."""

    def __init__(self, context: HubContext, session: Session) -> None:
        self._context = context
        self._session = session
        self._log = TransparencyLog(session, signer=context.log_signer)
        self._registry = Registry.open(context, session, log=self._log)

    def verify(self, body: bytes, *, now: datetime) -> VerifiedSubmission:
        """Steps 1-4: everything that needs no writer lock (parsing, crypto, taxonomy checks)."""
        envelope = Envelope.from_canonical(body)

        def key_for(hotline_id: str, key_id: str) -> VerifyKey:
            return self._registry.key_for_submission(hotline_id, key_id, now=now)

        verified = open_envelope(envelope, hub_key=self._context.envelope_keys(now), hotline_key=key_for)
        payload = verified.payload
        if payload.taxonomy.id not in self._context.taxonomies:
            raise TaxonomyViolation(f"this hub does not know taxonomy {payload.taxonomy.id!r}")
        check_payload(payload, self._context.taxonomy_by_id(payload.taxonomy.id), now=now)
        if payload.period < self._context.settings.earliest_period:
            raise PeriodOutOfRange(
                f"period {payload.period} is before {self._context.settings.earliest_period}, "
                "the earliest period this hub accepts"
            )
        if payload.period >= now.astimezone(UTC).strftime("%Y-%m"):  # periods not begun were refused above
            raise PeriodOutOfRange(
                f"period {payload.period} has not ended yet; a month's release is accepted once the month is over"
            )
        return verified

    def accept(self, verified: VerifiedSubmission, *, now: datetime) -> IngestResult:
        """Step 5 and the append, under the writer lock. The key is checked again: it may have been revoked since."""
        now = self._log.entry_time(now)  # never before the entry logged last (a worker's clock read before it)
        payload = verified.payload
        self._registry.key_for_submission(payload.hotline_id, payload.key_id, now=now)
        existing = self._session.scalars(
            select(Submission).where(Submission.payload_hash == verified.payload_hash)
        ).first()
        if existing is not None:
            return IngestResult(receipt=receipt_for(self._session, self._log, existing), created=False)
        same_revision = self._session.scalars(
            select(Submission).where(
                Submission.hotline_id == payload.hotline_id,
                Submission.period == payload.period,
                Submission.revision == payload.revision,
            )
        ).first()
        highest = self._session.scalar(  # withdrawn revisions included: their numbers stay taken
            select(func.max(Submission.revision)).where(
                Submission.hotline_id == payload.hotline_id, Submission.period == payload.period
            )
        )
        if same_revision is not None:
            withdrawn = (
                f" (and since withdrawn; the next revision of this month is {(highest or 0) + 1})"
                if same_revision.withdrawn_index is not None
                else ""
            )
            raise RevisionConflict(
                f"revision {payload.revision} of {payload.period} from {payload.hotline_id} was already accepted"
                f"{withdrawn} with other content; a correction must carry a higher revision number"
            )
        current = self._current(payload.hotline_id, payload.period)
        in_round = self._session.execute(
            select(RoundReleaseNoise.group_id, SecaggRound.round_number)
            .join(SecaggRound, SecaggRound.id == RoundReleaseNoise.round_id)
            .where(RoundReleaseNoise.hotline_id == payload.hotline_id, RoundReleaseNoise.period == payload.period)
            .limit(1)
        ).first()
        if in_round is not None:
            raise RevisionConflict(
                f"{payload.period} of {payload.hotline_id} is counted in the sum of secure round {in_round[1]} of "
                f"group {in_round[0]}: a local release of it would count the month twice, so none is accepted "
                "(a correction of a month in a round's sum cannot go in yet)"
            )
        if highest is not None and highest > payload.revision:
            raise RevisionConflict(
                f"revision {payload.revision} of {payload.period} is older than revision {highest}, "
                "which the hub already holds"
            )
        policies = PolicyService(self._session, self._log)
        settings = self._context.settings
        policies.check_daily(
            payload.hotline_id,
            payload.period,
            now=now,
            max_periods=settings.max_periods_per_day,
            max_revisions=settings.max_revisions_per_day,
        )
        policies.check(payload, self._context.taxonomy_by_id(payload.taxonomy.id))
        receipt = self._accept(verified, payload, current, now=now, policies=policies)
        return IngestResult(receipt=receipt, created=True)

    def _current(self, hotline_id: str, period: str) -> Submission | None:
        return self._session.scalars(
            select(Submission).where(
                Submission.hotline_id == hotline_id, Submission.period == period, Submission.is_current.is_(True)
            )
        ).first()

    def _accept(
        self,
        verified: VerifiedSubmission,
        payload: SubmissionPayload,
        current: Submission | None,
        *,
        now: datetime,
        policies: PolicyService,
    ) -> Receipt:
        entry = SubmissionEntry(
            type="log_entry",
            version=PROTOCOL_VERSION,
            kind="submission",
            hotline_id=payload.hotline_id,
            key_id=payload.key_id,
            period=payload.period,
            revision=payload.revision,
            payload_hash=verified.payload_hash,
            payload=b64encode(verified.payload_bytes),
            signature=b64encode(verified.signature),
            received_at=format_timestamp(now),
        )
        appended = self._log.append(entry.canonical_bytes(), kind="submission", now=now)
        submission = Submission(
            hotline_id=payload.hotline_id,
            key_id=payload.key_id,
            period=payload.period,
            revision=payload.revision,
            taxonomy_id=payload.taxonomy.id,
            payload_hash=verified.payload_hash,
            payload=verified.payload_bytes,
            signature=verified.signature,
            received_at=now,
            leaf_index=appended.index,
            is_current=True,
            privacy_unit=payload.privacy.unit,
        )
        self._session.add(submission)
        self._session.flush()
        policies.record_spend(submission, payload)
        hotline = self._session.get(Hotline, payload.hotline_id)
        if hotline is None:  # the key lookup above found it in this transaction: only a damaged database lacks it
            raise LogIntegrityError(f"hotline {payload.hotline_id!r} has a key but no registration in the database")
        old_payload = SubmissionPayload.from_canonical(current.payload) if current is not None else None
        replaced = self._context.taxonomy_by_id(old_payload.taxonomy.id) if old_payload is not None else None
        Rollups(self._session, self._context.taxonomy_by_id(payload.taxonomy.id), replaced=replaced).replace(
            hotline_id=hotline.id,
            country=hotline.country,
            new=submission,
            new_payload=payload,
            old=current,
            old_payload=old_payload,
        )
        return make_receipt(
            submission_id=submission.id,
            leaf_index=appended.index,
            leaf=entry.canonical_bytes(),
            inclusion_proof=self._log.inclusion_proof(appended.index, appended.checkpoint.size),
            checkpoint_note=appended.checkpoint.note,
        )


def receipt_for(session: Session, log: TransparencyLog, submission: Submission) -> Receipt:
    """The receipt a stored submission got when it was accepted (same checkpoint, same proof: same bytes), unless
    that checkpoint predates a handover of the log key: then it is proven in the latest tree, signed by today's key."""
    leaf = session.get(LogLeaf, submission.leaf_index)
    if leaf is None:
        raise LogIntegrityError(
            f"submission {submission.id} names log leaf {submission.leaf_index}, which the database does not hold"
        )
    size = submission.leaf_index + 1
    checkpoint = log.checkpoint_at(size)
    if not log.signed_by_current_key(checkpoint.note):
        size = log.size()
        checkpoint = log.checkpoint_at(size)
    return make_receipt(
        submission_id=submission.id,
        leaf_index=submission.leaf_index,
        leaf=leaf.data,
        inclusion_proof=log.inclusion_proof(submission.leaf_index, size),
        checkpoint_note=checkpoint.note,
    )
