# SPDX-License-Identifier: Apache-2.0
"""Hotline policies and backfill approvals (both logged), and the plausibility checks of ingest.

A hotline's policy (:class:`~protocol.messages.HotlinePolicyEntry`) is logged with its enrolment and again each
time the operator changes it; the latest one applies. A hotline enrolled before policies existed has none logged
and follows :meth:`protocol.plausibility.Policy.default` until the operator logs one, which is what an auditor
concludes from the log alone. Backfill approvals (:class:`~protocol.messages.BackfillApprovedEntry`) admit
periods before the policy's first period.

A policy may also declare ``reporting_from``, the first month the hotline is *expected* to report (completeness
counts every month from it on; see :mod:`hub.services.scope`). ``tipshare-hub hotline add`` always logs it, by
default :func:`default_reporting_from`: the month before enrolment if the hotline enrolled by that month's
deadline (it can still report it on time), else the month of enrolment.

:meth:`PolicyService.check` applies :func:`protocol.plausibility.check_plausible` with what the hub holds;
:meth:`PolicyService.check_daily` applies the hub's own daily caps (distinct months and revisions a hotline
submits in 24 hours), which are rate limits, not log rules: an auditor does not re-apply them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Final

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.errors import BadRequest, DailyCapReached, ImplausibleRelease, NotFound
from hub.models import BackfillApproval, Hotline, HotlinePolicyRecord, Submission, SubmissionSpend
from hub.services.log import Appended, TransparencyLog
from protocol.messages import (
    PROTOCOL_VERSION,
    BackfillApprovedEntry,
    BudgetCap,
    HotlinePolicyEntry,
    SubmissionPayload,
    format_timestamp,
)
from protocol.period import Period
from protocol.plausibility import Implausible, Policy, Standing, amount_text, check_plausible
from protocol.taxonomy import Taxonomy

__all__ = ["DAY", "PolicyEvent", "PolicyService", "PolicyTerms", "PolicyView", "default_reporting_from"]

#: The window of the daily caps.
DAY: Final = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class PolicyTerms:
    """What the operator asks for; a field left ``None`` keeps the current policy's value (at enrolment: the
    default)."""

    #: measure -> (period cap, year cap), decimal strings; replaces every cap when given.
    caps: Mapping[str, tuple[str, str]] | None = None
    max_monthly_volume: int | None = None
    first_period: str | None = None
    reason: str | None = None
    #: The first month the hotline is expected to report (``None``: keep the current one, if any).
    reporting_from: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyEvent:
    """A policy or backfill approval, and the log entry that records it."""

    entry: HotlinePolicyEntry | BackfillApprovedEntry
    appended: Appended


@dataclass(frozen=True, slots=True)
class PolicyView:
    """The policy that applies to a hotline now, as text; ``log_index`` is ``None`` when none was logged."""

    hotline_id: str
    #: (measure, period cap, year cap)
    caps: tuple[tuple[str, str, str], ...]
    max_monthly_volume: int
    first_period: str
    reason: str | None
    effective_at: datetime | None
    log_index: int | None
    backfills: tuple[BackfillApproval, ...]
    #: The first month the hotline is expected to report; ``None``: not declared (its key validity decides).
    reporting_from: str | None = None


def _invalid(what: str, error: ValidationError) -> BadRequest:
    problems = "; ".join(f"{'.'.join(map(str, p['loc'])) or what}: {p['msg']}" for p in error.errors(include_url=False))
    return BadRequest(f"the {what} cannot be recorded: {problems}")


class PolicyService:
    """Policies, backfill approvals and spends, bound to a session and the log."""

    def __init__(self, session: Session, log: TransparencyLog) -> None:
        self._session = session
        self._log = log

    # ------------------------------------------------------------------------------------------- policies

    def log_policy(self, hotline_id: str, terms: PolicyTerms, *, now: datetime) -> PolicyEvent:
        """Log a new policy for ``hotline_id``: ``terms`` over the one that applies now (logged, or the default)."""
        now = self._log.entry_time(now)  # never before the entry logged last
        current = self.policy(hotline_id)
        caps = (
            dict(terms.caps)
            if terms.caps is not None
            else {m: (amount_text(p), amount_text(y)) for m, (p, y) in current.caps.items()}
        )
        volume = terms.max_monthly_volume or current.max_monthly_volume
        first_period = terms.first_period or current.first_period
        logged = self.policy_entry(hotline_id)
        reporting_from = terms.reporting_from or (logged.reporting_from if logged is not None else None)
        reason = terms.reason.strip() if terms.reason and terms.reason.strip() else None
        try:
            entry = HotlinePolicyEntry(
                type="log_entry",
                version=PROTOCOL_VERSION,
                kind="hotline_policy",
                hotline_id=hotline_id,
                caps=tuple(
                    BudgetCap(measure=measure, period=period, year=year)  # type: ignore[arg-type]
                    for measure, (period, year) in sorted(caps.items())
                ),
                max_monthly_volume=volume,
                first_period=first_period,
                reason=reason,
                effective_at=format_timestamp(now),
                reporting_from=reporting_from,
            )
        except ValidationError as e:
            raise _invalid("policy", e) from None
        appended = self._log.append(entry.canonical_bytes(), kind=entry.kind, now=now)
        self._session.add(
            HotlinePolicyRecord(
                log_index=appended.index, hotline_id=hotline_id, entry=entry.canonical_bytes(), effective_at=now
            )
        )
        self._session.flush()
        return PolicyEvent(entry=entry, appended=appended)

    def policy_entry(self, hotline_id: str) -> HotlinePolicyEntry | None:
        """The policy logged last for ``hotline_id``, if any."""
        record = self._latest(hotline_id)
        return None if record is None else HotlinePolicyEntry.from_canonical(record.entry)

    def _latest(self, hotline_id: str) -> HotlinePolicyRecord | None:
        return self._session.scalars(
            select(HotlinePolicyRecord)
            .where(HotlinePolicyRecord.hotline_id == hotline_id)
            .order_by(HotlinePolicyRecord.log_index.desc())
            .limit(1)
        ).first()

    def view(self, hotline_id: str) -> PolicyView:
        """The policy that applies to ``hotline_id`` now, with its backfill approvals."""
        record = self._latest(hotline_id)
        backfills = tuple(self.backfills(hotline_id))
        if record is None:
            default = self.policy(hotline_id)
            caps = tuple((m, amount_text(p), amount_text(y)) for m, (p, y) in sorted(default.caps.items()))
            return PolicyView(
                hotline_id, caps, default.max_monthly_volume, default.first_period, None, None, None, backfills
            )
        entry = HotlinePolicyEntry.from_canonical(record.entry)
        return PolicyView(
            hotline_id,
            tuple((c.measure, c.period, c.year) for c in entry.caps),
            entry.max_monthly_volume,
            entry.first_period,
            entry.reason,
            record.effective_at,
            record.log_index,
            backfills,
            entry.reporting_from,
        )

    def policy(self, hotline_id: str) -> Policy:
        """The policy that applies to ``hotline_id`` now: the one logged last, else the protocol's default (whose
        first period follows from the month the hotline was enrolled in)."""
        entry = self.policy_entry(hotline_id)
        if entry is not None:
            return Policy.from_entry(entry)
        return Policy.default(enrolled=format_timestamp(self._hotline(hotline_id).enrolled_at)[:7])

    # ------------------------------------------------------------------------------------------- backfills

    def approve_backfill(
        self, hotline_id: str, *, first_period: str, last_period: str, reason: str, now: datetime
    ) -> PolicyEvent:
        """Log the operator's approval for ``hotline_id`` to release ``first_period`` .. ``last_period``."""
        now = self._log.entry_time(now)  # never before the entry logged last
        self._hotline(hotline_id)
        try:
            entry = BackfillApprovedEntry(
                type="log_entry",
                version=PROTOCOL_VERSION,
                kind="backfill_approved",
                hotline_id=hotline_id,
                first_period=first_period,
                last_period=last_period,
                reason=reason.strip(),
                effective_at=format_timestamp(now),
            )
        except ValidationError as e:
            raise _invalid("backfill approval", e) from None
        appended = self._log.append(entry.canonical_bytes(), kind=entry.kind, now=now)
        self._session.add(
            BackfillApproval(
                log_index=appended.index,
                hotline_id=hotline_id,
                first_period=first_period,
                last_period=last_period,
                reason=entry.reason,
                approved_at=now,
            )
        )
        self._session.flush()
        return PolicyEvent(entry=entry, appended=appended)

    def backfills(self, hotline_id: str) -> list[BackfillApproval]:
        return list(
            self._session.scalars(
                select(BackfillApproval)
                .where(BackfillApproval.hotline_id == hotline_id)
                .order_by(BackfillApproval.log_index)
            )
        )

    # ------------------------------------------------------------------------------------------- at ingest

    def standing(self, payload: SubmissionPayload) -> Standing:
        """What ``payload``'s hotline had accepted before: spends of its year, latest revision of its period."""
        year = payload.period[:4]
        spends = self._session.execute(
            select(SubmissionSpend.measure, SubmissionSpend.spent).where(
                SubmissionSpend.hotline_id == payload.hotline_id,
                SubmissionSpend.period >= f"{year}-01",
                SubmissionSpend.period <= f"{year}-12",
            )
        ).all()
        year_spent: dict[str, Fraction] = {}
        for spend_measure, spent in spends:
            year_spent[spend_measure] = year_spent.get(spend_measure, Fraction(0)) + Fraction(Decimal(spent))
        latest = self._session.scalar(
            select(func.max(Submission.revision)).where(
                Submission.hotline_id == payload.hotline_id, Submission.period == payload.period
            )
        )
        approved = self._session.scalars(
            select(BackfillApproval.log_index).where(
                BackfillApproval.hotline_id == payload.hotline_id,
                BackfillApproval.first_period <= payload.period,
                BackfillApproval.last_period >= payload.period,
            )
        ).first()
        return Standing(
            year_spent=year_spent,
            latest_revision=latest,
            backfill_approved=approved is not None,
        )

    def check(self, payload: SubmissionPayload, taxonomy: Taxonomy) -> None:
        """Raise :class:`ImplausibleRelease` if ``payload`` breaks a rule of :mod:`protocol.plausibility`."""
        try:
            check_plausible(payload, taxonomy, self.policy(payload.hotline_id), self.standing(payload))
        except Implausible as e:
            raise ImplausibleRelease(str(e), rule=e.rule, limit=e.limit, value=e.value) from None

    def check_daily(self, hotline_id: str, period: str, *, now: datetime, max_periods: int, max_revisions: int) -> None:
        """Raise :class:`DailyCapReached` if one more submission of ``period`` would pass a daily cap."""
        recent = self._session.execute(
            select(Submission.period, Submission.received_at).where(
                Submission.hotline_id == hotline_id, Submission.received_at > now - DAY
            )
        ).all()
        if len(recent) >= max_revisions:
            oldest = min(at for _, at in recent)
            raise DailyCapReached(
                f"hotline {hotline_id} made {len(recent)} submissions in the last 24 hours, the most this hub "
                f"accepts (TIPSHARE_HUB_MAX_REVISIONS_PER_DAY = {max_revisions}); try again later",
                rule="revisions_per_day",
                limit=str(max_revisions),
                value=str(len(recent) + 1),
                retry_after=_seconds_until(oldest + DAY, now),
            )
        last_of: dict[str, datetime] = {}
        for recent_period, at in recent:
            last_of[recent_period] = max(at, last_of.get(recent_period, at))
        if period not in last_of and len(last_of) >= max_periods:
            raise DailyCapReached(
                f"hotline {hotline_id} submitted {len(last_of)} different months in the last 24 hours, the most "
                f"this hub accepts (TIPSHARE_HUB_MAX_PERIODS_PER_DAY = {max_periods}); {period} waits until later",
                rule="periods_per_day",
                limit=str(max_periods),
                value=str(len(last_of) + 1),
                retry_after=_seconds_until(min(last_of.values()) + DAY, now),
            )

    def record_spend(self, submission: Submission, payload: SubmissionPayload) -> None:
        """Count an accepted submission's declared spend against its hotline's caps."""
        self._session.add(
            SubmissionSpend(
                submission_id=submission.id,
                hotline_id=payload.hotline_id,
                period=payload.period,
                measure=payload.privacy.measure,
                spent=payload.privacy.spent,
            )
        )

    # ------------------------------------------------------------------------------------------- helpers

    def _hotline(self, hotline_id: str) -> Hotline:
        hotline = self._session.get(Hotline, hotline_id)
        if hotline is None:
            raise NotFound(f"hotline {hotline_id} is not enrolled")
        return hotline


def default_reporting_from(enrolled_at: datetime, deadline_days: int, *, first_period: str | None = None) -> str:
    """The first month a hotline enrolled at ``enrolled_at`` is expected to report, unless the operator says.

    The month before enrolment if the hotline enrolled by that month's deadline (its end plus ``deadline_days``
    days), else the month of enrolment; never before ``first_period`` (the first month it may release):

    >>> from datetime import UTC
    >>> default_reporting_from(datetime(2026, 12, 6, 9, tzinfo=UTC), 15)
    '2026-11'
    >>> default_reporting_from(datetime(2026, 12, 20, 9, tzinfo=UTC), 15)
    '2026-12'
    """
    month = Period.containing(enrolled_at)
    if enrolled_at <= month.start + timedelta(days=deadline_days):
        month -= 1
    chosen = month.text
    return max(chosen, first_period) if first_period is not None else chosen


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, int((moment - now).total_seconds()) + 1)
