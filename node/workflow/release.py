# SPDX-License-Identifier: Apache-2.0
"""A month's release, from the case export to the stored noisy payload: ``prepare`` and ``correct``.

::

    export = Export(cases=Path("cases.csv"), contacts=Path("calls.csv"))
    check_period_over("2025-03", now=clock())
    with home.database() as db:
        prepared = prepare_release(home, db, export, period="2025-03", clock=clock)
        shown = preview_release(home, Ledger(db), prepared)

The true counts are read (:func:`read_tables`), noised once and stored through the ledger, which checks the
budget caps first (:func:`make_release`); they are never kept. ``prepare`` makes a month's first release (and,
in a secure group, the round's vectors); ``correct`` makes a new revision, or replaces one never sent
(:func:`quote_correction` says which, and what it spends, before anything is read).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from node import round_store
from node.budget import BudgetConfig, Standing, check_caps
from node.errors import NoSuchRelease, PeriodNotOver
from node.home import NodeHome
from node.i18n import N_, Text
from node.ledger import UNSENT, Ledger, StoredRelease
from node.noise import calibrate
from node.regional import RegionalAccuracy, regional_accuracy, release_scales
from node.release import DEFAULT_TOP, TablePreview, check_tables, noisy_payload, preview
from protocol.messages import SubmissionPayload
from protocol.period import Period

if TYPE_CHECKING:
    from node.aggregate import TrueTables

__all__ = [
    "CorrectionQuote",
    "Export",
    "PreparedRelease",
    "ReleasePreview",
    "TableReader",
    "check_period_over",
    "correct_release",
    "make_release",
    "prepare_release",
    "preview_release",
    "quote_correction",
    "read_tables",
]

_log = logging.getLogger("node")


@dataclass(frozen=True, slots=True)
class Export:
    """The export files and the officer's statements about them, as ``prepare`` and ``correct`` take them."""

    cases: Path
    contacts: Path | None = None
    mapping: Path | None = None
    allow_unknown: bool = False
    allow_empty: bool = False
    rows_are_persons: bool = False
    allow_other_months: bool = False
    encoding: str | None = None


@dataclass(frozen=True, slots=True)
class PreparedRelease:
    """The month's release as stored, and whether this call made it (``False``: it was there already)."""

    release: StoredRelease
    new: bool


@dataclass(frozen=True, slots=True)
class ReleasePreview:
    """What the officer is shown of a stored release: its largest noisy cells, the regional accuracy, the budget."""

    release: StoredRelease
    previews: tuple[TablePreview, ...]
    regional: tuple[RegionalAccuracy, ...]
    standing: Standing
    new: bool


@dataclass(frozen=True, slots=True)
class CorrectionQuote:
    """What a correction of ``latest.period`` would do, to show before the officer confirms it.

    ``replaces``: the latest revision was never sent, so the correction replaces it and spends nothing more;
    otherwise it is a new revision spending ``budget.release`` more (the caps were checked).
    """

    latest: StoredRelease
    standing: Standing
    budget: BudgetConfig

    @property
    def replaces(self) -> bool:
        return self.latest.status in UNSENT

    @property
    def revision(self) -> int:
        """The revision the correction will have."""
        return self.latest.revision if self.replaces else self.latest.revision + 1


class TableReader(Protocol):
    """Reads a month's true tables from an export (:func:`read_tables`, or a wrapper that shows progress)."""

    def __call__(self, home: NodeHome, export: Export, period: str) -> TrueTables: ...


def check_period_over(period: str, *, now: datetime) -> None:
    """Raise :class:`~node.errors.PeriodNotOver` unless ``period`` has ended by ``now``."""
    if Period.parse(period).end > now:
        raise PeriodNotOver(Text(N_("%(period)s is not over yet"), period=period))


def read_tables(
    home: NodeHome, export: Export, period: str, *, progress: Callable[[int, int], None] | None = None
) -> TrueTables:
    """Read and check the export (every check of :mod:`node.inputs`) into the month's true tables.

    ``progress(done, total)`` is called as rows are read. The tables' ``summary`` holds true counts: show it on
    the terminal only.
    """
    import node.aggregate  # the input half: imported only when an export is read (and replaceable in tests)

    _log.info("reading %s%s for %s", export.cases, f" and {export.contacts}" if export.contacts else "", period)
    return node.aggregate.prepare_tables(
        cases=export.cases,
        contacts=export.contacts,
        mapping=export.mapping,
        period=period,
        taxonomy=home.taxonomy,
        allow_unknown=export.allow_unknown,
        allow_empty=export.allow_empty,
        rows_are_persons=export.rows_are_persons,
        allow_other_months=export.allow_other_months,
        encoding=export.encoding,
        progress=progress,
    )


def make_release(
    home: NodeHome,
    ledger: Ledger,
    tables: TrueTables,
    *,
    now: datetime,
    correction: bool = False,
    key_id: str | None = None,
) -> PreparedRelease:
    """Calibrate the noise for ``tables``, draw it once and store the release through the ledger (which checks
    the caps first and raises :class:`~node.errors.BudgetExceeded`).

    ``correction``: a new revision of a month already sent (or the replacement of one never sent). ``key_id`` is
    the signing key's id (default: read from the node's key file).
    """
    if key_id is None:
        key_id = home.signing_key().verify_key.key_id
    counts, period = dict(tables.counts), tables.period
    names = check_tables(home.taxonomy, counts)
    plan = calibrate(home.taxonomy, names, home.config.budget)
    _log.info(
        "noise for %s: %s",
        period,
        ", ".join(
            f"{t.table} {plan.mechanism} scale {t.scale_text} ({plan.measure} {t.noise().spent})" for t in plan.tables
        ),
    )

    def build(revision: int) -> SubmissionPayload:
        return noisy_payload(
            counts=counts,
            plan=plan,
            taxonomy=home.taxonomy,
            hotline_id=home.config.hotline_id,
            key_id=key_id,
            period=period,
            revision=revision,
            now=now,
            unit=tables.unit,
        )

    try:
        release, created = ledger.record(
            period=period, budget=home.config.budget, spend=plan.spent, build=build, correction=correction, now=now
        )
    finally:
        counts.clear()  # the true counts are not needed any more
    _log.info("stored %s revision %d (%s)", release.period, release.revision, release.payload_hash)
    return PreparedRelease(release, created)


def _release_from_export(
    home: NodeHome,
    ledger: Ledger,
    export: Export,
    *,
    period: str,
    correction: bool,
    clock: Callable[[], datetime],
    read: TableReader,
) -> tuple[TrueTables, PreparedRelease]:
    """Read the export and make the release: the part ``prepare`` and ``correct`` share."""
    key_id = home.signing_key().verify_key.key_id  # a key problem shows before a long read
    tables = read(home, export, period)
    return tables, make_release(home, ledger, tables, key_id=key_id, correction=correction, now=clock())


def prepare_release(
    home: NodeHome,
    db: sqlite3.Connection,
    export: Export,
    *,
    period: str,
    clock: Callable[[], datetime],
    read: TableReader = read_tables,
) -> PreparedRelease:
    """The month's release: the one already prepared (unchanged, nothing read), else a new one from ``export``.

    A new release is made only within the budget caps (checked before the export is read). In a secure group, the
    round's vectors are drawn too; the release is then the fallback.
    """
    ledger = Ledger(db)
    existing = ledger.latest(period)
    if existing is not None:
        return PreparedRelease(existing, new=False)
    check_caps(ledger.standing(home.config.budget, period), home.config.budget.release)
    tables, prepared = _release_from_export(
        home, ledger, export, period=period, correction=False, clock=clock, read=read
    )
    round_store.prepare_round(home, db, tables.counts, period=period, release_spend=prepared.release.spent, now=clock())
    return prepared


def quote_correction(home: NodeHome, ledger: Ledger, period: str) -> CorrectionQuote:
    """What correcting ``period`` would do; raises :class:`~node.errors.NoSuchRelease` if it has no release, and
    :class:`~node.errors.BudgetExceeded` if a new revision would pass a cap."""
    latest = ledger.latest(period)
    if latest is None:
        raise NoSuchRelease(
            Text(N_("%(period)s has no release to correct"), period=period),
            hint=Text(N_("Use `tipshare-node prepare` for it.")),
        )
    budget = home.config.budget
    quote = CorrectionQuote(latest=latest, standing=ledger.standing(budget, period), budget=budget)
    if not quote.replaces:
        check_caps(quote.standing, budget.release)
    return quote


def correct_release(
    home: NodeHome,
    ledger: Ledger,
    export: Export,
    *,
    period: str,
    clock: Callable[[], datetime],
    read: TableReader = read_tables,
) -> PreparedRelease:
    """A corrected release of ``period`` from ``export``: a new revision (more budget), or, if the latest was never
    sent, its replacement (its spend given back). Show :func:`quote_correction` to the officer first."""
    return _release_from_export(home, ledger, export, period=period, correction=True, clock=clock, read=read)[1]


def preview_release(
    home: NodeHome, ledger: Ledger, prepared: PreparedRelease, *, top: int = DEFAULT_TOP
) -> ReleasePreview:
    """What the officer is shown of ``prepared``: each table's ``top`` largest noisy cells, the accuracy of regional
    sums, and the budget standing of its period."""
    release = prepared.release
    payload = release.payload()
    taxonomy = home.taxonomy_of(payload.taxonomy.id, payload.taxonomy.hash)  # an earlier release may follow another
    return ReleasePreview(
        release=release,
        previews=preview(payload, taxonomy, top=top),
        regional=regional_accuracy(taxonomy, release_scales(payload.privacy)),
        standing=ledger.standing(home.config.budget, release.period),
        new=prepared.new,
    )
