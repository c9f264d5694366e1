# SPDX-License-Identifier: Apache-2.0
"""The outcome of ``tipshare-audit verify``: what was checked, how much of it, and every failure.

:meth:`VerifyReport.document` is the ``--json`` form (stable keys); :mod:`auditor.views` renders it for people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from auditor.findings import Failure
from auditor.rounds import RoundSummary
from protocol.messages import b64encode

__all__ = ["EstimatesSummary", "StatsSummary", "VerifyReport"]


@dataclass(slots=True)
class StatsSummary:
    """How many published answers and rows were recomputed and compared."""

    answers: int = 0
    rows: int = 0
    tables: set[str] = field(default_factory=set)
    groupings: set[tuple[str, str]] = field(default_factory=set)
    scopes: set[str] = field(default_factory=set)
    #: Why nothing was compared, when nothing was.
    skipped: str | None = None

    def document(self) -> dict[str, Any]:
        return {
            "answers": self.answers,
            "rows": self.rows,
            "tables": sorted(self.tables),
            "groupings": len(self.groupings),
            "scopes": sorted(self.scopes),
            "skipped": self.skipped,
        }


@dataclass(slots=True)
class EstimatesSummary:
    """How many least-squares answers (``/v1/estimates``) and rows were recomputed and compared."""

    answers: int = 0
    rows: int = 0
    #: ``(unit, group_by)`` of every question compared.
    questions: set[tuple[str, str]] = field(default_factory=set)
    scopes: set[str] = field(default_factory=set)
    #: Questions the hub refused as not answerable, as the log implies it must.
    refused: int = 0
    #: Why nothing (or not everything) was compared.
    skipped: str | None = None

    @property
    def units(self) -> list[str]:
        return sorted({unit for unit, _ in self.questions})

    def document(self) -> dict[str, Any]:
        return {
            "answers": self.answers,
            "rows": self.rows,
            "units": self.units,
            "questions": len(self.questions),
            "scopes": sorted(self.scopes),
            "refused": self.refused,
            "skipped": self.skipped,
        }


@dataclass(slots=True)
class VerifyReport:
    hub_url: str
    origin: str = ""
    log_vkey: str = ""
    fingerprint: str = ""
    pinned_how: Literal["explicit", "first-use", ""] = ""
    #: True when this run pinned the key (the first run on a state DIR).
    pinned_now: bool = False
    checkpoint_size: int | None = None
    checkpoint_root: bytes | None = None
    consistent_with: list[int] = field(default_factory=list)
    entries_total: int = 0
    entries_new: int = 0
    #: Entries this run checked, and those whose checks earlier runs concluded and saved (resumed from).
    entries_checked: int = 0
    entries_resumed: int = 0
    key_events: int = 0
    enrolments: int = 0
    rotations: int = 0
    revocations: int = 0
    hotlines: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    submissions: int = 0
    accepted: int = 0
    #: Accepted submissions that a valid withdrawal took out of the statistics.
    withdrawn: int = 0
    current: int = 0
    periods: list[str] = field(default_factory=list)
    stats: StatsSummary = field(default_factory=StatsSummary)
    estimates: EstimatesSummary = field(default_factory=EstimatesSummary)
    #: Secure-aggregation rounds re-added from the log (:mod:`auditor.rounds`).
    rounds: RoundSummary = field(default_factory=RoundSummary)
    failures: list[Failure] = field(default_factory=list)
    #: Declared privacy spends added up per hotline, calendar year and measure, beside the year cap that applies.
    budgets: list[dict[str, str]] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    #: Whether the state DIR was updated (only when the log itself verified).
    state_saved: bool = False
    #: What the auditor should know about this run that is not a failure (a state DIR upgraded, say).
    notices: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def verdict(self) -> Literal["VERIFIED", "FAILED"]:
        return "VERIFIED" if self.ok else "FAILED"

    def document(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "hub": self.hub_url,
            "log": {
                "origin": self.origin,
                "vkey": self.log_vkey,
                "fingerprint": self.fingerprint,
                "pinned": self.pinned_how or None,
                "pinned_now": self.pinned_now,
            },
            "checkpoint": None
            if self.checkpoint_size is None or self.checkpoint_root is None
            else {"size": self.checkpoint_size, "root_hash": b64encode(self.checkpoint_root)},
            "consistent_with": sorted(self.consistent_with),
            "entries": {"total": self.entries_total, "new": self.entries_new},
            "entry_checks": {
                "this_run": self.entries_checked,
                "resumed": self.entries_resumed,
            },
            "key_events": {
                "total": self.key_events,
                "enrolments": self.enrolments,
                "rotations": self.rotations,
                "revocations": self.revocations,
            },
            "hotlines": self.hotlines,
            "countries": self.countries,
            "submissions": {"total": self.submissions, "valid": self.accepted, "current": self.current},
            "withdrawn": self.withdrawn,
            "periods": self.periods,
            "statistics": self.stats.document(),
            "estimates": self.estimates.document(),
            "rounds": self.rounds.document(),
            "failures": [failure.document() for failure in self.failures],
            "budgets": list(self.budgets),
            "requests": dict(sorted(self.requests.items())),
            "state_saved": self.state_saved,
            "notices": list(self.notices),
        }
