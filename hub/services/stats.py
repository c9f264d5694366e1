# SPDX-License-Identifier: Apache-2.0
"""Regional statistics: sums of hotlines' noisy counts, each with a 95 % interval from the public noise scales.

>>> result = StatsService(session, taxonomy).query(                                  # doctest: +SKIP
...     StatsQuery("persons_corridor", group_by=("period",), filters={"citizenship": ("UA",)}), now=now)
>>> row = result.rows[0]                                                              # doctest: +SKIP
>>> dict(row.keys), row.estimate, (row.ci95_low, row.ci95_high), row.obs_status      # doctest: +SKIP
({'period': '2025-11'}, 41, (25, 57), 'A')

Everything is read from the rollups (:mod:`hub.services.rollups`) in the caller's read snapshot, together with
the latest signed checkpoint, so an answer names the log state it reflects. SQL does the grouping; the cost of a
query depends on the cells it sums and the rows it returns, never on the number of submissions.

How a row is computed
---------------------
``estimate``
    the sum of the current noisy cells of every hotline in scope, over the row's cells and months. It is unbiased
    and never clipped (``clip`` adds a separate ``display_estimate = max(0, estimate)`` for display only).
``ci95_low``, ``ci95_high``
    ``estimate ∓ h`` (not clipped), with ``h`` from :func:`protocol.accuracy.sum_interval` of the row's noise
    terms: in one month each cell carries the terms of ``rollup_noise`` (``n`` hotlines with one mechanism and
    scale), so a row that sums ``k`` cells a month gets ``(mechanism, scale, n·k)`` per month, per scope. ``k``
    is the product, over the table's dimensions not grouped by, of the codes the filters allow. Intervals never
    come from the values.
``hotlines_reporting``, ``hotlines_expected``
    distinct hotlines in scope whose current submission holds the table for a month of the row, and those
    expected to report a month of the row (rule in :mod:`hub.services.scope`). A row not grouped by period covers
    the whole range.

Months nobody in scope reported have no rollup rows and add nothing. Grouped by ``period``, the answer has a row
for every requested month and combination of the other keys, and months without data get ``estimate: null`` (so
a chart shows a gap, not a zero); otherwise, with no data in the whole range, the answer has no rows.

Flags (SDMX cross-domain code lists)
------------------------------------
``obs_status``: ``A`` normal; ``U`` low reliability, when the interval is wider than the estimate
(:func:`protocol.accuracy.is_wide`: ``h > |estimate|``, so the sign itself is uncertain) or the estimate is
negative; ``O`` missing value, for a month no hotline in scope reported. ``wide_interval`` is the ``is_wide``
flag itself. ``conf_status`` is always ``F`` (free): differential privacy, not suppression, protects these
numbers, and nothing is withheld.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final, Literal, NamedTuple

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from hub.errors import HubError, InvalidQuery, NotFound
from hub.i18n import N_, dimension_term
from hub.i18n import gettext as _
from hub.models import LogCheckpoint, ReleaseNoise, RollupCell, RollupNoise, RoundReleaseNoise
from hub.services.csv_files import write_csv
from hub.services.export_metadata import filters_text, group_by_text
from hub.services.scope import (
    Expected,
    ResolvedScope,
    Scope,
    expected_hotlines,
    hotlines_in_scope,
    period_range,
    period_text,
    resolve_scope,
)
from hub.services.units import REGION_NOTE, unit_notes
from protocol.accuracy import Interval, NoiseGroup, interval_bounds, is_wide, sum_interval
from protocol.api import CONFIDENCE, MAX_ROWS, PERIOD, observation_status
from protocol.merkle import EMPTY_ROOT
from protocol.messages import b64encode
from protocol.period import month_number
from protocol.questions import Question, question_text
from protocol.taxonomy import Table, Taxonomy

__all__ = [
    "UNIT_LABELS",
    "CheckpointRef",
    "Group",
    "ObsStatus",
    "StatsQuery",
    "StatsResult",
    "StatsRow",
    "StatsService",
    "check_row_limit",
    "latest_checkpoint",
    "stats_question",
    "stats_to_csv",
]

#: What a table's numbers count, by taxonomy unit. Never "prevalence": only what was reported to hotlines.
UNIT_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "person": "potential victims reported to hotlines",
        "case": "cases opened by hotlines",
        "contact": "contacts received by hotlines",
    }
)

ObsStatus = Literal["A", "U", "O"]

_DIMENSION_COLUMNS: Final = (RollupCell.d1, RollupCell.d2, RollupCell.d3)
_NOT_CLIPPED: Final = N_("Estimates and intervals are unbiased sums of noisy counts, never clipped at zero.")


@dataclass(frozen=True, slots=True)
class StatsQuery:
    """One statistics query; :meth:`StatsService.query` validates every field.

    ``group_by`` holds dimension names of the table and/or ``"period"``; ``filters`` maps dimension names to the
    codes to keep; periods are ``YYYY-MM`` (default: the 12 months before ``now``); ``allowed_countries`` is the
    caller's token scope (``None``: the whole region); ``clip`` asks for ``display_estimate``.
    """

    table: str
    group_by: tuple[str, ...] = ()
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    period_from: str | None = None
    period_to: str | None = None
    scope: Scope = field(default_factory=Scope.region)
    allowed_countries: frozenset[str] | None = None
    clip: bool = False


@dataclass(frozen=True, slots=True)
class CheckpointRef:
    """The signed log state an answer reflects: tree size, root hash and the signed note (``None``: empty log)."""

    size: int
    root_hash: bytes
    note: str | None

    @property
    def origin(self) -> str | None:
        return self.note.split("\n", 1)[0] if self.note else None

    @property
    def root_hash_b64(self) -> str:
        return b64encode(self.root_hash)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatsRow:
    """One answer row. ``estimate`` and the interval are ``None`` for a month no hotline in scope reported.

    The fields are those of :class:`protocol.api.StatsRow`, in its order: the answer's rows are serialised
    straight from these objects (:func:`hub.schemas_stats.stats_answer_json`)."""

    keys: Mapping[str, str] = field(hash=False)
    estimate: int | None
    ci95_low: int | None
    ci95_high: int | None
    display_estimate: int | None = None
    std: float | None
    interval_method: Literal["exact", "normal"] | None
    coverage: float | None
    hotlines_reporting: int
    hotlines_expected: int
    obs_status: ObsStatus
    conf_status: Literal["F"] = "F"
    wide_interval: bool


@dataclass(frozen=True, slots=True)
class StatsResult:
    """An answer and everything needed to read and reproduce it."""

    table: str
    description: str
    unit: str
    unit_label: str
    taxonomy_id: str
    taxonomy_hash: str
    group_by: tuple[str, ...]
    filters: Mapping[str, tuple[str, ...]] = field(hash=False)
    scope: Scope
    #: Countries the answer covers when the caller's token is limited to some (``None``: no limit applied).
    countries: tuple[str, ...] | None
    period_from: str
    period_to: str
    periods_with_data: tuple[str, ...]
    confidence: float
    clip: bool
    checkpoint: CheckpointRef
    generated_at: datetime
    notes: tuple[str, ...]
    rows: tuple[StatsRow, ...]

    #: Estimates and intervals are never clipped; only ``display_estimate`` is (when ``clip``).
    clip_negative: Literal[False] = False


def check_row_limit(group_by: Sequence[str], months: int, rows: int, limit: int) -> None:
    """Refuse an answer of more than ``limit`` rows (counted from the group keys and months, before querying)."""
    if rows > limit:
        raise InvalidQuery(
            f"group_by {','.join(group_by)} over {months} months gives up to {rows} rows; an answer has at most "
            f"{limit}: group by fewer dimensions, filter codes, or shorten period_from..period_to"
        )


def latest_checkpoint(session: Session) -> CheckpointRef:
    """The latest signed checkpoint, read in ``session`` (so in the same snapshot as the rollups)."""
    # The query of TransparencyLog.latest_checkpoint(), which would need the log's signing key to construct.
    latest = session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.size.desc()).limit(1)).first()
    if latest is None:
        return CheckpointRef(size=0, root_hash=EMPTY_ROOT, note=None)
    return CheckpointRef(size=latest.size, root_hash=latest.root_hash, note=latest.note)


class StatsService:
    """Statistics over the rollups, bound to a read session (one snapshot) and the hub's current taxonomy."""

    def __init__(self, session: Session, taxonomy: Taxonomy, *, max_rows: int = MAX_ROWS) -> None:
        self._session = session
        self._taxonomy = taxonomy
        self._max_rows = max_rows

    def query(self, q: StatsQuery, *, now: datetime) -> StatsResult:
        table = self._table(q.table)
        group_by = _group_by(table, q.group_by)
        filters = _filters(table, q.filters)
        first, last = period_range(q.period_from, q.period_to, now=now)
        periods = range(first, last + 1)
        key_lists = _key_lists(table, group_by, filters)
        rows_at_most = math.prod(len(codes) for codes in key_lists) * (len(periods) if PERIOD in group_by else 1)
        check_row_limit(group_by, len(periods), rows_at_most, self._max_rows)
        scope = resolve_scope(self._session, q.scope, allowed_countries=q.allowed_countries)
        checkpoint = latest_checkpoint(self._session)
        reported = self._reported(table.name, scope, first, last)
        builder = _RowBuilder(
            table=table,
            group_by=group_by,
            periods=periods,
            cells_per_group=math.prod(
                len(filters.get(d.name, d.code_names)) for d in table.dimensions if d.name not in group_by
            ),
            noise=self._noise(table.name, scope, first, last),
            reported=reported,
            expected=expected_hotlines(hotlines_in_scope(self._session, scope), reported, periods),
            clip=q.clip,
        )
        sums = self._sums(table, group_by, filters, scope, first, last)
        rows = builder.rows(sums, list(itertools.product(*key_lists)))
        return StatsResult(
            table=table.name,
            description=table.description,
            unit=table.unit,
            unit_label=UNIT_LABELS.get(table.unit, table.unit),
            taxonomy_id=self._taxonomy.id,
            taxonomy_hash=self._taxonomy.content_hash,
            group_by=group_by,
            filters=MappingProxyType(filters),
            scope=q.scope,
            countries=tuple(sorted(scope.countries)) if q.allowed_countries is not None and scope.countries else None,
            period_from=period_text(first),
            period_to=period_text(last),
            periods_with_data=tuple(period_text(p) for p in sorted(builder.noise)),
            confidence=CONFIDENCE,
            clip=q.clip,
            checkpoint=checkpoint,
            generated_at=now,
            notes=(
                *_notes(table, group_by, filters, scope, q.allowed_countries),
                *unit_notes(self._session, scope, first, last),
            ),
            rows=rows,
        )

    # ------------------------------------------------------------------------------------------- reading

    def _table(self, name: str) -> Table:
        table = self._taxonomy.tables.get(name)
        if table is None:
            raise NotFound(
                f"taxonomy {self._taxonomy.id} has no table {name!r}; its tables are: "
                + ", ".join(sorted(self._taxonomy.tables))
            )
        return table

    def _noise(
        self, table: str, scope: ResolvedScope, first: int, last: int
    ) -> dict[int, list[list[tuple[str, str, int]]]]:
        """Per month with data: one list of ``(mechanism, scale, hotlines)`` terms per rollup scope."""
        found = self._session.execute(
            select(RollupNoise.period, RollupNoise.terms).where(
                RollupNoise.table_name == table,
                RollupNoise.scope.in_(scope.rollup_scopes),
                RollupNoise.period.between(period_text(first), period_text(last)),
            )
        ).all()
        noise: dict[int, list[list[tuple[str, str, int]]]] = {}
        for period, terms in found:
            noise.setdefault(month_number(period), []).append(_decode_terms(table, terms))
        return noise

    def _reported(self, table: str, scope: ResolvedScope, first: int, last: int) -> dict[int, frozenset[str]]:
        found: list[Any] = [
            *self._session.execute(
                select(ReleaseNoise.period, ReleaseNoise.hotline_id)
                .where(
                    ReleaseNoise.table_name == table,
                    ReleaseNoise.is_current.is_(True),
                    ReleaseNoise.period.between(period_text(first), period_text(last)),
                    scope.release_filter(),
                )
                .distinct()
            ).all()
        ]
        rounds = scope.round_filter()
        if rounds is not None:  # survivors of a round whose sum is in this scope reported through it
            found += self._session.execute(
                select(RoundReleaseNoise.period, RoundReleaseNoise.hotline_id)
                .where(
                    RoundReleaseNoise.table_name == table,
                    RoundReleaseNoise.period.between(period_text(first), period_text(last)),
                    rounds,
                )
                .distinct()
            ).all()
        reported: dict[int, set[str]] = {}
        for period, hotline_id in found:
            reported.setdefault(month_number(period), set()).add(hotline_id)
        return {month: frozenset(ids) for month, ids in reported.items()}

    def _sums(
        self,
        table: Table,
        group_by: tuple[str, ...],
        filters: Mapping[str, tuple[str, ...]],
        scope: ResolvedScope,
        first: int,
        last: int,
    ) -> dict[Group, tuple[int, int]]:
        """``SUM(value), COUNT(*)`` per group, grouped and filtered in SQL."""
        columns = [_column(table, name).label(f"g{i}") for i, name in enumerate(group_by)]
        conditions: list[ColumnElement[bool]] = [
            RollupCell.table_name == table.name,
            RollupCell.scope.in_(scope.rollup_scopes),
            RollupCell.period.between(period_text(first), period_text(last)),
        ]
        conditions += [_column(table, name).in_(codes) for name, codes in filters.items()]
        statement = select(*columns, func.sum(RollupCell.value), func.count()).where(*conditions)
        if columns:
            statement = statement.group_by(*columns)
        at = group_by.index(PERIOD) if PERIOD in group_by else None
        sums: dict[Group, tuple[int, int]] = {}
        for *values, total, count in self._session.execute(statement):
            if not count:
                continue  # no group columns and no rows: SQL still answers one row of NULL, 0
            month = None if at is None else month_number(values.pop(at))
            sums[Group(month, tuple([str(v) for v in values]))] = (int(total), int(count))
        return sums


# ----------------------------------------------------------------------------------------------- validation


def _group_by(table: Table, group_by: Sequence[str]) -> tuple[str, ...]:
    allowed = (*table.dimension_names, PERIOD)
    for name in group_by:
        if name not in allowed:
            raise InvalidQuery(
                f"group_by names {name!r}, which is not a dimension of table {table.name!r}; "
                f"group by any of: {', '.join(allowed)}"
            )
    if len(set(group_by)) != len(group_by):
        raise InvalidQuery(f"group_by names a key twice: {','.join(group_by)}")
    return tuple(group_by)


def _filters(table: Table, filters: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """Filters in the table's dimension order, codes deduplicated and in code-list order."""
    for name in filters:
        if name not in table.dimension_names:
            raise InvalidQuery(
                f"filter {name!r} is not a dimension of table {table.name!r}; "
                f"its dimensions are: {', '.join(table.dimension_names)}"
            )
    result: dict[str, tuple[str, ...]] = {}
    for dimension in table.dimensions:
        if dimension.name not in filters:
            continue
        codes = filters[dimension.name]
        if isinstance(codes, str) or not codes:
            raise InvalidQuery(f"filter {dimension.name} needs a list of one or more codes")
        unknown = [code for code in codes if code not in dimension.code_names]
        if unknown:
            raise InvalidQuery(
                f"filter {dimension.name}: {', '.join(repr(c) for c in unknown)} is not a code of dimension "
                f"{dimension.name!r}; its codes are: {', '.join(dimension.code_names)}"
            )
        chosen = set(codes)
        result[dimension.name] = tuple(code for code in dimension.code_names if code in chosen)
    return result


# ----------------------------------------------------------------------------------------------- rows


def _column(table: Table, name: str) -> InstrumentedAttribute[str | None] | InstrumentedAttribute[str]:
    if name == PERIOD:
        return RollupCell.period
    return _DIMENSION_COLUMNS[table.dimension_names.index(name)]


def _key_lists(
    table: Table, group_by: tuple[str, ...], filters: Mapping[str, tuple[str, ...]]
) -> list[tuple[str, ...]]:
    """The codes each non-period group key may take (what the filters allow), in ``group_by`` order."""
    return [
        filters.get(name, table.dimensions[table.dimension_names.index(name)].code_names)
        for name in group_by
        if name != PERIOD
    ]


def _decode_terms(table: str, text: str) -> list[tuple[str, str, int]]:
    try:
        terms = [(str(m), str(s), int(n)) for m, s, n in json.loads(text)]
    except (ValueError, TypeError) as e:
        raise _inconsistent(table, f"unreadable noise terms {text[:80]!r}") from e
    return terms


def _inconsistent(table: str, detail: str) -> HubError:
    return HubError(
        f"the rollups of table {table!r} are inconsistent ({detail}); nothing is answered rather than a wrong "
        "interval: rebuild the rollups from the log"
    )


class Group(NamedTuple):
    """One answer row's key: its month (``None`` unless grouped by period) and its codes, in ``group_by`` order."""

    month: int | None
    codes: tuple[str, ...]


@dataclass(slots=True)
class _RowBuilder:
    """Turns per-group sums into rows: intervals from the noise terms, hotline counts, gap rows, order."""

    table: Table
    group_by: tuple[str, ...]
    periods: range
    cells_per_group: int
    #: per month with data: one list of ``(mechanism, scale, hotlines)`` terms per rollup scope
    noise: Mapping[int, list[list[tuple[str, str, int]]]]
    reported: Mapping[int, frozenset[str]]
    expected: Expected
    clip: bool
    _intervals: dict[tuple[int, ...], Interval] = field(default_factory=dict)
    _hotlines: dict[tuple[int, ...], tuple[int, int]] = field(default_factory=dict)
    _code_positions: list[Mapping[str, int]] = field(default_factory=list)
    _facts: dict[int | None, tuple[Interval, int, tuple[int, int]]] = field(default_factory=dict)

    def rows(self, sums: Mapping[Group, tuple[int, int]], combos: list[tuple[str, ...]]) -> tuple[StatsRow, ...]:
        by_period = PERIOD in self.group_by
        groups = len(combos) * (len(self.noise) if by_period else min(1, len(self.noise)))
        if len(sums) != groups:
            raise _inconsistent(self.table.name, f"{len(sums)} groups where {groups} were expected")
        rows = {group: self._row(group, total, count) for group, (total, count) in sums.items()}
        if by_period:
            for month in self.periods:
                if month not in self.noise:
                    rows.update({Group(month, combo): self._gap(Group(month, combo)) for combo in combos})
        return tuple(rows[group] for group in sorted(rows, key=self._order))

    def _row(self, group: Group, estimate: int, count: int) -> StatsRow:
        interval, cells, (reporting, expected) = self._month_facts(group.month)
        if count != cells:
            raise _inconsistent(self.table.name, f"{count} cells where {cells} belong")
        low, high = interval_bounds(estimate, interval)
        wide = is_wide(estimate, interval)
        return StatsRow(
            keys=self._keys(group),
            estimate=estimate,
            ci95_low=low,
            ci95_high=high,
            std=interval.std,
            interval_method=interval.method,
            coverage=interval.coverage,
            hotlines_reporting=reporting,
            hotlines_expected=expected,
            obs_status=observation_status(estimate, wide),
            wide_interval=wide,
            display_estimate=max(0, estimate) if self.clip else None,
        )

    def _gap(self, group: Group) -> StatsRow:
        return StatsRow(
            keys=self._keys(group),
            estimate=None,
            ci95_low=None,
            ci95_high=None,
            std=None,
            interval_method=None,
            coverage=None,
            hotlines_reporting=0,
            hotlines_expected=self._hotline_counts(() if group.month is None else (group.month,))[1],
            obs_status=observation_status(None, False),
            wide_interval=False,
        )

    def _month_facts(self, month: int | None) -> tuple[Interval, int, tuple[int, int]]:
        """For the rows of ``month`` (``None``: the whole range): their interval, the cells each sums, and the
        hotlines reporting and expected (cached: every row of a month shares them)."""
        facts = self._facts.get(month)
        if facts is None:
            covered = tuple(self.periods) if month is None else (month,)
            months = tuple(m for m in covered if m in self.noise)
            cells = self.cells_per_group * sum(len(self.noise[m]) for m in months)
            facts = self._facts[month] = (self._interval(months), cells, self._hotline_counts(covered))
        return facts

    def _interval(self, months: tuple[int, ...]) -> Interval:
        """The interval of a sum of ``cells_per_group`` cells in each of ``months`` (cached: rows share months)."""
        if months not in self._intervals:
            terms: list[NoiseGroup] = [
                (mechanism, scale, n * self.cells_per_group)
                for month in months
                for scope_terms in self.noise[month]
                for mechanism, scale, n in scope_terms
            ]
            self._intervals[months] = sum_interval(terms, CONFIDENCE)
        return self._intervals[months]

    def _hotline_counts(self, months: tuple[int, ...]) -> tuple[int, int]:
        """Hotlines reporting and expected in at least one of ``months`` (cached: rows share months)."""
        if months not in self._hotlines:
            reporting: set[str] = set()
            for month in months:
                reporting |= self.reported.get(month, frozenset())
            self._hotlines[months] = (len(reporting), len(self.expected.over(months)))
        return self._hotlines[months]

    def _keys(self, group: Group) -> Mapping[str, str]:
        """The row's keys, a plain dict (read once, by the answer's serialiser, which checks mappings slowly)."""
        if group.month is None:
            return dict(zip(self.group_by, group.codes, strict=True))
        at = self._period_at
        return dict(zip(self.group_by, (*group.codes[:at], period_text(group.month), *group.codes[at:]), strict=True))

    def _order(self, group: Group) -> tuple[int, ...]:
        """Months in order, codes in code-list order (not alphabetical), keys in ``group_by`` order."""
        order = [positions[code] for positions, code in zip(self._positions, group.codes, strict=True)]
        if PERIOD in self.group_by:
            order.insert(self._period_at, group.month or 0)
        return tuple(order)

    @property
    def _period_at(self) -> int:
        return self.group_by.index(PERIOD)

    @property
    def _positions(self) -> list[Mapping[str, int]]:
        """Per non-period group key: code -> its place in the code list (computed once per answer)."""
        if not self._code_positions:
            dimensions = {dimension.name: dimension for dimension in self.table.dimensions}
            for name in self.group_by:
                if name != PERIOD:
                    self._code_positions.append(
                        {code: dimensions[name].index_of(code) for code in dimensions[name].code_names}
                    )
        return self._code_positions


def _notes(
    table: Table,
    group_by: tuple[str, ...],
    filters: Mapping[str, tuple[str, ...]],
    scope: ResolvedScope,
    allowed_countries: frozenset[str] | None,
) -> tuple[str, ...]:
    notes = [_(_NOT_CLIPPED)]
    for dimension in table.dimensions:
        summed = dimension.name not in group_by and len(filters.get(dimension.name, dimension.code_names)) > 1
        if dimension.multi_valued and summed:
            notes.append(
                _(
                    "%(dimension)s is multi-valued: a %(unit)s counts once under every code that applies, so a sum "
                    "over several %(dimension)s codes counts (%(unit)s, code) pairs, not %(unit)ss"
                )
                % {"dimension": dimension_term(dimension.name), "unit": table.unit}
            )
    if scope.scope.level == "region" and allowed_countries is not None:
        notes.append(_(REGION_NOTE) % {"countries": ", ".join(sorted(allowed_countries))})
    return tuple(notes)


def stats_question(result: StatsResult) -> Question:
    """The question an answer answers (:mod:`protocol.questions`): written into its CSV files."""
    return Question(
        route="stats",
        name=result.table,
        group_by=result.group_by,
        filters=result.filters,
        period_from=result.period_from,
        period_to=result.period_to,
        scope_level=result.scope.level,
        scope_code=result.scope.code,
    )


def stats_to_csv(result: StatsResult) -> str:
    """The answer as CSV: one header row, one line per row; the question in words (``group_by``, ``filters``,
    ``period_from``, ``period_to``, ``scope``: :mod:`hub.services.export_metadata`), the checkpoint and the
    question as a request (:func:`protocol.questions.question_text`, what ``tipshare-audit check`` recomputes) are
    repeated on every line, with each row's ``interval_method``. ``scope`` names the countries of a
    country-limited token's region: ``region (MD, UA)``."""
    scope = str(result.scope)
    if result.countries is not None and result.scope.code is None:
        scope += f" ({', '.join(result.countries)})"
    question = question_text(stats_question(result))
    group_by, filters = group_by_text(result.group_by), filters_text(result.filters)
    header = [
        "table",
        *result.group_by,
        "estimate",
        "ci95_low",
        "ci95_high",
        *(["display_estimate"] if result.clip else []),
        "std",
        "hotlines_reporting",
        "hotlines_expected",
        "obs_status",
        "conf_status",
        "wide_interval",
        "interval_method",
        "unit",
        "group_by",
        "filters",
        "period_from",
        "period_to",
        "scope",
        "checkpoint_size",
        "checkpoint_root",
        "question",
    ]
    lines = (
        [
            result.table,
            *(row.keys[name] for name in result.group_by),
            row.estimate,
            row.ci95_low,
            row.ci95_high,
            *([row.display_estimate] if result.clip else []),
            None if row.std is None else f"{row.std:.3f}",
            row.hotlines_reporting,
            row.hotlines_expected,
            row.obs_status,
            row.conf_status,
            row.wide_interval,
            row.interval_method,
            result.unit_label,
            group_by,
            filters,
            result.period_from,
            result.period_to,
            scope,
            result.checkpoint.size,
            result.checkpoint.root_hash_b64,
            question,
        ]
        for row in result.rows
    )
    return write_csv(header, lines)
