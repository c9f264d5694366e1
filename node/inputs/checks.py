# SPDX-License-Identifier: Apache-2.0
"""Checks of a whole export, before anything is released: the mistakes no single cell shows.

Each check adds an :class:`~node.inputs.errors.InputProblem` naming the file and what to do; ``prepare`` refuses
the export with all of them (nothing drawn, nothing spent, nothing stored), as it does for bad cells.

* **Mapped columns** (:func:`missing_columns`): every column the mapping file names for a field must be in the
  export it belongs to (a person field in the cases file, a contact field in the contacts file, when one is
  given). Headers are compared after Unicode normalisation; a header that differs only by look-alike letters is
  named.
* **Who is a person** (:func:`person_id_problem`): without an ``ext_PersonID`` column every row counts as a person.
  An export with one row per ``hte_`` event would then count a person with r rows r times, beyond the bound the
  release declares, so it is refused unless the officer states ``--rows-are-persons``; the release then declares
  the weaker unit of privacy ``record-month``.
* **The month** (:func:`period_problems`): no person (or contact) of the export falls in ``--period`` (refused
  unless ``--allow-empty``), or few do (under a fifth) while more than half fall in one other month (refused unless
  ``--allow-other-months``): both are the marks of a wrong ``--period`` or of another month's export, with a few
  late entries of the month asked. An export of many months (a year's cases, prepared month by month) passes.
  The months the records do fall in are named (not how many).
* **Unknowns** (:func:`unknown_problems`): in a single-valued dimension whose column is in the export, more than
  :data:`UNKNOWN_SHARE_LIMIT` of the period's records with no value recorded at all is refused unless
  ``--allow-unknown`` (the limit's comment says why four in five, not a half): it is the mark of a column that
  does not hold what its name or the mapping says, or that the export left empty. A value recorded as unknown
  ("Unknown", ``ZZ``) is information, not a failure, and a multi-valued dimension (methods of control) without a
  value means none was reported; both are shown in the summary, never refused.

Messages name files, months, columns and fields, never a count: counts belong to the summary on the terminal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Final

from node.i18n import N_, Text
from node.inputs import fields as f
from node.inputs.errors import InputProblem
from node.inputs.fields import FieldCatalog
from node.inputs.mapping import ColumnMapping
from node.inputs.readers import InputSource
from node.inputs.summary import DimensionShare
from node.inputs.text import difference, look_alike, normal

__all__ = [
    "CHECK_ADVICE",
    "UNKNOWN_SHARE_LIMIT",
    "missing_columns",
    "month_of",
    "period_problems",
    "person_id_problem",
    "unknown_problems",
]

#: Share of a dimension's records that may have no value recorded without ``--allow-unknown``. Not a half: helplines
#: leave sparse fields (who recruited, how) blank for many persons (synthetic months reach 47 %), and a limit they
#: cross every month would make --allow-unknown a habit, which also turns values the taxonomy does not list into
#: unknowns. A column the export did not fill, or one that holds something else, leaves (nearly) everything blank.
UNKNOWN_SHARE_LIMIT: Final = 0.8
#: The last line of an error made of these checks' problems.
CHECK_ADVICE: Final = Text(
    N_(
        "Nothing was spent. Correct what is named above, or pass the option it names if the export is right, and run "
        "prepare again (`tipshare-node prepare --check ...` checks an export without drawing noise or spending budget)."
    )
)
_MONTHS_NAMED: Final = 6
#: The refusals of a month without records of ``--period``, and of one with few, for each kind of record.
_NONE_IN_PERIOD: Final = {
    "persons": N_(
        "persons registered in %(period)s (--period); none of its persons is: they were registered in %(named)s. "
        "Check --period and that this is the month's export; if %(period)s really had nobody to count, pass "
        "--allow-empty"
    ),
    "contacts": N_(
        "contacts made in %(period)s (--period); none of its contacts is: they were made in %(named)s. Check "
        "--period and that this is the month's export; if %(period)s really had nobody to count, pass --allow-empty"
    ),
}
_FEW_IN_PERIOD: Final = {
    "persons": N_(
        "more of its persons registered in %(period)s (--period); few were, and most were registered in %(top)s "
        "(its persons fall in %(every)s). Check --period and that this is the month's export; if it really covers "
        "several months, pass --allow-other-months"
    ),
    "contacts": N_(
        "more of its contacts made in %(period)s (--period); few were, and most were made in %(top)s (its contacts "
        "fall in %(every)s). Check --period and that this is the month's export; if it really covers several "
        "months, pass --allow-other-months"
    ),
}
#: The period holds "few" of a file's records below 1 in this many.
_FEW: Final = 5


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _header_row(source: InputSource) -> int | None:
    return 1 if source.format == "csv" else None


def missing_columns(
    mapping: ColumnMapping, catalog: FieldCatalog, cases: InputSource, contacts: InputSource | None
) -> list[InputProblem]:
    """A problem for each column the mapping names for a field that is not in the export it belongs to."""
    problems: list[InputProblem] = []
    for column, target in mapping.columns.items():
        if not target:
            continue  # mapped to "": ignored, present or not
        source = cases if target in catalog.persons else contacts
        if source is None or column in {normal(c) for c in source.columns}:
            continue
        resembling = look_alike(column, source.columns)
        hint = (
            Text(
                N_(' (its header "%(header)s" looks the same but has %(difference)s: correct one of the two)'),
                header=resembling,
                difference=difference(resembling, column),
            )
            if resembling is not None
            else ""
        )
        problems.append(
            InputProblem(
                source.name,
                _header_row(source),
                None,
                Text(
                    N_(
                        'the column "%(column)s" that %(mapping)s maps to %(field)s ([columns]); the export has no '
                        "such column%(hint)s. Export it with that column, or delete the line from [columns] if your "
                        "system does not record it"
                    ),
                    column=column,
                    mapping=mapping.source,
                    field=target,
                    hint=hint,
                ),
                row_label=source.row_label,
            )
        )
    return problems


def has_field(source: InputSource, mapping: ColumnMapping, name: str) -> bool:
    """Whether a column of ``source`` carries field ``name`` (by its own name or through the mapping)."""
    return any(mapping.field_for(column) == name for column in source.columns)


def person_id_problem(source: InputSource) -> InputProblem:
    return InputProblem(
        source.name,
        None,
        None,
        Text(
            N_(
                "a person identifier column, %(field)s (or a column the mapping maps to it): without one every row "
                "counts as a person, so a person with several rows (one per hte_ event is the usual shape) would be "
                "counted several times and protected less than the release declares. Add the column to the export; "
                "or, if every row is a person of its own, pass --rows-are-persons (the release then declares the "
                "weaker unit of privacy record-month, and the hub shows it)"
            ),
            field=f.PERSON_ID,
        ),
        row_label=source.row_label,
    )


def period_problems(
    source: InputSource,
    months: Sequence[str],
    period: str,
    *,
    what: str,
    verb: str,
    allow_empty: bool,
    allow_other_months: bool,
) -> list[InputProblem]:
    """Problems with the months of the file's records (``what``: "persons", "contacts"; ``verb``: "registered")."""
    if not months:
        return []
    counts = Counter(months)
    others = [(month, n) for month, n in counts.most_common() if month != period]
    named = ", ".join(month for month, _ in others[:_MONTHS_NAMED]) + (", ..." if len(others) > _MONTHS_NAMED else "")
    if period not in counts:
        if allow_empty:
            return []
        expected = Text(
            _NONE_IN_PERIOD[what],
            period=period,
            named=named,
        )
        return [InputProblem(source.name, None, None, expected, row_label=source.row_label)]
    top, n = others[0] if others else (None, 0)
    if top is None or allow_other_months or 2 * n <= len(months) or _FEW * counts[period] >= len(months):
        return []
    every = ", ".join(sorted(counts)[:_MONTHS_NAMED]) + (", ..." if len(counts) > _MONTHS_NAMED else "")
    expected = Text(_FEW_IN_PERIOD[what], period=period, top=top, every=every)
    return [InputProblem(source.name, None, None, expected, row_label=source.row_label)]


def unknown_problems(
    source: InputSource, shares: Iterable[DimensionShare], period: str, *, allow_unknown: bool
) -> list[InputProblem]:
    """A problem for each single-valued dimension (with a column in the export) that more than the limit of its
    records leave unrecorded."""
    if allow_unknown:
        return []
    problems = []
    for share in shares:
        if not share.present or share.multi_valued or share.unrecorded_share <= UNKNOWN_SHARE_LIMIT:
            continue
        expected = Text(
            N_(
                "a %(dimension)s recorded (%(fields)s) for at least a fifth of the %(unit)ss of %(period)s; more than "
                "four in five have none. Check that the column holds what its name or the mapping says and that the "
                "export filled it in; to release it as it is (unknown), pass --allow-unknown"
            ),
            dimension=share.dimension,
            fields=", ".join(share.fields),
            unit=share.unit,
            period=period,
        )
        problems.append(InputProblem(source.name, None, None, expected, row_label=source.row_label))
    return problems
