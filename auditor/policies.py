# SPDX-License-Identifier: Apache-2.0
"""Hotline policies, backfill approvals and spends, replayed from the log: the auditor's side of
:mod:`protocol.plausibility`, so it reaches the hub's conclusions from the log alone.

A submission is judged by the policy of its hotline logged last before it (a ``hotline_policy`` entry), else by
:meth:`protocol.plausibility.Policy.default` with the month of the hotline's first ``key_enrolled`` entry; by the
``backfill_approved`` entries before it; and by what the accepted submissions before it spent. Declared spends are
added up per hotline, calendar year and measure (:meth:`PolicyBook.spends`): every accepted revision counts.

>>> book = PolicyBook()
>>> book.spends()
{}
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from auditor.findings import Check, Failure
from auditor.i18n import T_
from protocol.messages import BackfillApprovedEntry, HotlinePolicyEntry, KeyEventEntry, SubmissionPayload
from protocol.plausibility import Policy, Standing, amount_text, check_plausible
from protocol.taxonomy import Taxonomy

__all__ = ["PolicyBook", "Spend", "budget_rows"]

_MEASURES = {"discrete_gaussian": "rho", "discrete_laplace": "epsilon"}


@dataclass(frozen=True, slots=True)
class Spend:
    """What one accepted submission declared it spent."""

    hotline_id: str
    period: str
    revision: int
    measure: str
    spent: Fraction


class PolicyBook:
    """The policies, approvals and spends of every hotline, as far as the entries applied so far go."""

    def __init__(self) -> None:
        self._enrolled: dict[str, str] = {}
        self._policies: dict[str, Policy] = {}
        self._backfills: dict[str, list[tuple[str, str]]] = {}
        self._spends: list[Spend] = []
        self._year_spent: dict[tuple[str, str], dict[str, Fraction]] = {}
        self._latest: dict[tuple[str, str], int] = {}
        #: (log index, hotline, reporting_from) of every policy applied, in log order.
        self._reporting_from: list[tuple[int, str, str | None]] = []

    def note_key_event(self, event: KeyEventEntry) -> None:
        """Remember the month a hotline was first enrolled in (its default first period follows from it)."""
        if event.kind == "key_enrolled":
            self._enrolled.setdefault(event.hotline_id, event.effective_at[:7])

    def apply(self, index: int, entry: HotlinePolicyEntry | BackfillApprovedEntry) -> list[Failure]:
        """Apply a policy or backfill approval; one for a hotline not enrolled is a failure and changes nothing."""
        if entry.hotline_id not in self._enrolled:
            return [
                Failure(
                    Check.POLICY,
                    T_(
                        "a {kind} entry for hotline {hotline}, which no earlier entry enrolls",
                        kind=entry.kind,
                        hotline=entry.hotline_id,
                    ),
                    index=index,
                    hotline_id=entry.hotline_id,
                )
            ]
        if isinstance(entry, HotlinePolicyEntry):
            self._policies[entry.hotline_id] = Policy.from_entry(entry)
            self._reporting_from.append((index, entry.hotline_id, entry.reporting_from))
        else:
            self._backfills.setdefault(entry.hotline_id, []).append((entry.first_period, entry.last_period))
        return []

    def reporting_from(self, *, size: int) -> dict[str, str]:
        """Per hotline, the first month its latest policy among the first ``size`` entries declares it is expected
        to report (a hotline whose latest policy declares none is left out: its key windows decide)."""
        declared: dict[str, str | None] = {}
        for index, hotline_id, month in self._reporting_from:
            if index < size:
                declared[hotline_id] = month
        return {hotline_id: month for hotline_id, month in declared.items() if month is not None}

    def policy(self, hotline_id: str) -> Policy:
        """The policy that applies to ``hotline_id`` now (the hotline is enrolled: its key was checked)."""
        found = self._policies.get(hotline_id)
        return found if found is not None else Policy.default(enrolled=self._enrolled[hotline_id])

    def standing(self, payload: SubmissionPayload) -> Standing:
        return Standing(
            year_spent=dict(self._year_spent.get((payload.hotline_id, payload.period[:4]), {})),
            latest_revision=self._latest.get((payload.hotline_id, payload.period)),
            backfill_approved=any(
                first <= payload.period <= last for first, last in self._backfills.get(payload.hotline_id, ())
            ),
        )

    def check(self, payload: SubmissionPayload, taxonomy: Taxonomy) -> None:
        """Raise :class:`protocol.plausibility.Implausible` if ``payload`` breaks a rule, as the hub would have."""
        check_plausible(payload, taxonomy, self.policy(payload.hotline_id), self.standing(payload))

    def note_accepted(self, *, hotline_id: str, period: str, revision: int, mechanism: str, spent: str) -> None:
        """Count an accepted submission's declared spend (and revision)."""
        measure = _MEASURES[mechanism]
        amount = Fraction(Decimal(spent))
        self._spends.append(Spend(hotline_id, period, revision, measure, amount))
        year = self._year_spent.setdefault((hotline_id, period[:4]), {})
        year[measure] = year.get(measure, Fraction(0)) + amount
        self._latest[(hotline_id, period)] = max(revision, self._latest.get((hotline_id, period), 0))

    def spends(self) -> dict[tuple[str, str, str], Fraction]:
        """Declared spends added up per (hotline, year, measure), over every accepted submission."""
        totals: dict[tuple[str, str, str], Fraction] = {}
        for spend in self._spends:
            key = (spend.hotline_id, spend.period[:4], spend.measure)
            totals[key] = totals.get(key, Fraction(0)) + spend.spent
        return totals


def budget_rows(book: PolicyBook) -> list[dict[str, str]]:
    """The report's budget table: per hotline, year and measure, the declared spends added up, the year cap of the
    policy that applies now, and whether they exceed it (``over``: a policy lowered after the spends, since every
    submission that would have passed its cap at the time is a failure already)."""
    rows = []
    for (hotline_id, year, measure), spent in sorted(book.spends().items()):
        caps = book.policy(hotline_id).caps.get(measure)
        cap = caps[1] if caps is not None else None
        rows.append(
            {
                "hotline_id": hotline_id,
                "year": year,
                "measure": measure,
                "spent": amount_text(spent),
                "year_cap": amount_text(cap) if cap is not None else "none",
                "over": "yes" if cap is None or spent > cap else "no",
            }
        )
    return rows
