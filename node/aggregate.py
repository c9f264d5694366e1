# SPDX-License-Identifier: Apache-2.0
"""Prepare one month's true (noise-free) tables from a hotline's export: the input half of ``prepare``.

>>> import tempfile
>>> from pathlib import Path
>>> from protocol.taxonomy import builtin_taxonomy
>>> from node.synth import generate_export
>>> directory = tempfile.TemporaryDirectory()
>>> export = generate_export(out_dir=Path(directory.name), profile="md", months=2, seed=7)
>>> tables = prepare_tables(cases=export.cases, contacts=export.contacts, mapping=None, period="2025-02",
...                         taxonomy=builtin_taxonomy())
>>> tables
TrueTables(period='2025-02', tables=['cases_opened', 'contacts', 'persons_control', ...])
>>> tables.counts["persons_corridor"] == export.truth()["2025-02"]["persons_corridor"]
True
>>> directory.cleanup()

**What counts in a period** (the taxonomy's ``units``): a *person* registered in the month (see
:mod:`node.inputs.records` for how rows become persons) whose trafficking status is not
``NotAVictimOfTrafficking``; a *case* opened in the month with at least one such person of the month (its
``ext_CaseOpenedDate`` as the month's persons record it; a case without one is taken to open in the month of its
persons, so a case with persons registered in several months should record it); a *contact* made in the month, at
most C per contactor, C being the contacts table's contribution bound (3 in taxonomy v1): a contactor's contacts are
taken in date order, then row order, and the rest are left out. Cases and their codes depend on the month's persons
only, so that a person registered in another month never changes this month's release.

**Bounds, by construction.** A person adds 1 to each of at most ``l1`` distinct cells of a person table (exactly
one cell unless a dimension is multi-valued). A person belongs to one case (checked when reading), so adding or
removing a person creates, removes or moves one case: at most 2 in L1 and 1 per cell. A contactor adds at most
``l1`` contacts to a contacts table, and at most ``per_cell`` to any cell.

**Privacy.** :class:`TrueTables` lives in memory only. Nothing here writes a file or a log line; its ``repr`` and
``str`` name the tables but never show a count, and errors name rows and columns, never counts.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final

from node.i18n import N_, Text
from node.inputs import fields as f
from node.inputs.checks import (
    CHECK_ADVICE,
    has_field,
    missing_columns,
    month_of,
    period_problems,
    person_id_problem,
    unknown_problems,
)
from node.inputs.coding import Coder, Codes
from node.inputs.errors import InputError, InputProblem, ProblemLog
from node.inputs.fields import FieldCatalog
from node.inputs.mapping import ColumnMapping, load_mapping
from node.inputs.readers import InputSource, open_input
from node.inputs.records import Contact, Person, read_contacts, read_persons
from node.inputs.summary import DimensionShare, FileSummary, InputSummary, MappingUse, UnitReason
from node.inputs.text import normal
from protocol.taxonomy import Dimension, Table, Taxonomy

__all__ = ["PERSON_MONTH", "RECORD_MONTH", "ProgressCallback", "TrueTables", "prepare_tables"]

#: ``progress(rows done, rows expected or 0)``, called every few thousand rows and once at the end.
ProgressCallback = Callable[[int, int], None]
_PERIOD = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
#: Units of privacy a release declares (``PrivacyBlock.unit``): every bound holds per person registered in the month,
#: or only per record (row) of the export in the month (rows counted as persons, contacts without a contactor id).
PERSON_MONTH: Final = "person-month"
RECORD_MONTH: Final = "record-month"


@dataclass(frozen=True, slots=True, repr=False)
class TrueTables:
    """One month's true counts: held in memory only; never written, never logged.

    ``counts[table]`` is the dense vector of the table's cells in the taxonomy's order (``Table.cell_index``).
    ``summary`` is what the officer is shown of the export (true counts too: terminal only); ``unit`` the unit of
    privacy the release must declare.
    """

    period: str
    counts: Mapping[str, list[int]]
    summary: InputSummary | None = None
    unit: str = PERSON_MONTH

    def __repr__(self) -> str:
        return f"TrueTables(period={self.period!r}, tables={sorted(self.counts)})"

    __str__ = __repr__


def prepare_tables(
    *,
    cases: Path,
    contacts: Path | None,
    mapping: Path | None,
    period: str,
    taxonomy: Taxonomy,
    allow_unknown: bool = False,
    allow_empty: bool = False,
    rows_are_persons: bool = False,
    allow_other_months: bool = False,
    encoding: str | None = None,
    progress: ProgressCallback | None = None,
) -> TrueTables:
    """Read, check and aggregate an export into every table of ``taxonomy`` for ``period`` (``YYYY-MM``).

    Every person and case table is returned; the contact tables only when a contacts file is given. Raises
    :class:`~node.inputs.errors.InputError` (nothing is returned) if any row of either file has a problem, if a
    file has no row at all and ``allow_empty`` is not given, or if a check of the whole export fails
    (:mod:`node.inputs.checks`: mapped columns, person identifiers, the month, unknowns).
    """
    match = _PERIOD.fullmatch(period)
    if match is None:
        raise InputError([InputProblem("--period", None, None, Text(N_("a month YYYY-MM, such as 2025-03")))])
    month = (int(match[1]), int(match[2]))
    coder = Coder(taxonomy)  # first: a taxonomy this node cannot compute fails before any file is read
    catalog = FieldCatalog.from_taxonomy(taxonomy)
    columns = load_mapping(mapping, catalog=catalog) if mapping is not None else ColumnMapping()
    with _bulk_allocation():
        problems = ProblemLog()
        encoding = encoding or columns.encoding
        sources = [
            open_input(path, encoding=encoding, delimiter=columns.delimiter, problems=problems, allow_empty=allow_empty)
            for path in (cases, contacts)
            if path is not None
        ]
        case_source, contact_source = sources[0], (sources[1] if contacts is not None else None)
        for problem in missing_columns(columns, catalog, case_source, contact_source):
            problems.add(problem)
        has_id = has_field(case_source, columns, f.PERSON_ID)
        if not has_id and not rows_are_persons:
            problems.add(person_id_problem(case_source))
        ticks = _Progress(progress, sum(source.estimated_rows for source in sources))
        usage: dict[str, set[str]] = {}
        persons = read_persons(
            case_source,
            catalog=catalog,
            mapping=columns,
            allow_unknown=allow_unknown,
            problems=problems,
            tick=ticks.file(0, sources),
            usage=usage,
        )
        contact_list = None
        if contact_source is not None:
            contact_list = read_contacts(
                contact_source,
                catalog=catalog,
                mapping=columns,
                allow_unknown=allow_unknown,
                problems=problems,
                tick=ticks.file(1, sources),
                usage=usage,
            )
        problems.raise_if_any(advice=_value_advice(columns) if mapping is not None else None)
        ticks.finish()
        reading = _Reading(taxonomy, coder, period, month, persons, contact_list)
        checks = ProblemLog()
        for problem in reading.problems(
            case_source,
            contact_source,
            columns,
            allow_empty=allow_empty,
            allow_other_months=allow_other_months,
            allow_unknown=allow_unknown,
        ):
            checks.add(problem)
        checks.raise_if_any(advice=CHECK_ADVICE)
        counts, dropped = reading.tables()
        reasons = reading.unit_reasons(case_source, contact_source, rows_are_persons=rows_are_persons and not has_id)
        unit = RECORD_MONTH if reasons else PERSON_MONTH
        summary = InputSummary(
            period=period,
            files=reading.file_summaries(case_source, contact_source, dropped),
            shares=reading.shares(case_source, contact_source, columns),
            mapping=_mapping_use(columns, sources, usage) if mapping is not None else None,
            unit=unit,
            unit_reasons=reasons,
        )
        return TrueTables(period=period, counts=MappingProxyType(counts), summary=summary, unit=unit)


def _value_advice(mapping: ColumnMapping) -> str:
    return Text(
        N_(
            "Correct the export, or its mapping file %(mapping)s ([columns] for column names, [values.<field>] for "
            "values), and run prepare again; nothing was spent. To count values the taxonomy does not list as "
            "unknown instead, pass --allow-unknown."
        ),
        mapping=mapping.source,
    )


def _mapping_use(mapping: ColumnMapping, sources: Sequence[InputSource], usage: Mapping[str, set[str]]) -> MappingUse:
    headers = {normal(column) for source in sources for column in source.columns}
    used_values: dict[str, tuple[str, ...]] = {}
    unused_values: dict[str, tuple[str, ...]] = {}
    for name, values in mapping.values.items():
        matched = usage.get(name, set())
        used_values[name] = tuple(v for v in values if v in matched)
        unused_values[name] = tuple(v for v in values if v not in matched)
    return MappingUse(
        source=mapping.source,
        columns_used=tuple(c for c in mapping.columns if c in headers),
        columns_unused=tuple(c for c in mapping.columns if c not in headers),
        values_used=MappingProxyType(used_values),
        values_unused=MappingProxyType(unused_values),
    )


class _Reading:
    """The persons and contacts of a clean read, and what follows from them for one period."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        coder: Coder,
        period: str,
        month: tuple[int, int],
        persons: Sequence[Person],
        contacts: Sequence[Contact] | None,
    ) -> None:
        self.taxonomy = taxonomy
        self.coder = coder
        self.period = period
        self.month = month
        self.persons = persons
        self.contacts = contacts
        self.in_period = [p for p in persons if (p.registered.year, p.registered.month) == month]
        self.counted = [p for p in self.in_period if p.counts]
        self.coded = [coder.person(p) for p in self.counted]
        self.contacts_in_period = (
            [c for c in contacts if (c.day.year, c.day.month) == month] if contacts is not None else None
        )
        self.contact_dimensions: dict[str, Dimension] = {
            d.name: d for t in taxonomy.tables.values() if t.unit == "contact" for d in t.dimensions
        }
        self._contact_codes = (
            [coder.contact(tuple(self.contact_dimensions.values()), c) for c in self.contacts_in_period]
            if self.contacts_in_period is not None
            else None
        )

    def problems(
        self,
        cases: InputSource,
        contacts: InputSource | None,
        mapping: ColumnMapping,
        *,
        allow_empty: bool,
        allow_other_months: bool,
        allow_unknown: bool,
    ) -> list[InputProblem]:
        found = period_problems(
            cases,
            [month_of(p.registered) for p in self.persons],
            self.period,
            what="persons",
            verb="registered",
            allow_empty=allow_empty,
            allow_other_months=allow_other_months,
        )
        if contacts is not None and self.contacts is not None:
            found += period_problems(
                contacts,
                [month_of(c.day) for c in self.contacts],
                self.period,
                what="contacts",
                verb="made",
                allow_empty=allow_empty,
                allow_other_months=allow_other_months,
            )
        if found:
            return found
        shares = self.shares(cases, contacts, mapping)
        found += unknown_problems(
            cases, [s for s in shares if s.unit == "person"], self.period, allow_unknown=allow_unknown
        )
        if contacts is not None:
            contact_shares = [s for s in shares if s.unit == "contact"]
            found += unknown_problems(contacts, contact_shares, self.period, allow_unknown=allow_unknown)
        return found

    def shares(
        self, cases: InputSource, contacts: InputSource | None, mapping: ColumnMapping
    ) -> tuple[DimensionShare, ...]:
        """The share of unknown records in every dimension, over the period's counted persons and its contacts."""
        result = []
        for dimension in self.coder.person_dimensions:
            if dimension.input.rule == "derived":
                continue
            fields = _fields_of(dimension)
            present = any(has_field(cases, mapping, name) for name in fields)
            unknown = sum(1 for codes in self.coded if _is_unknown(dimension, codes[dimension.name]))
            unrecorded = sum(1 for person in self.counted if not _recorded(dimension, fields, person))
            result.append(
                DimensionShare(
                    dimension.name,
                    "person",
                    fields,
                    unknown,
                    unrecorded,
                    len(self.coded),
                    present,
                    dimension.multi_valued,
                )
            )
        if contacts is not None and self._contact_codes is not None:
            for dimension in self.contact_dimensions.values():
                fields = _fields_of(dimension)
                present = any(has_field(contacts, mapping, name) for name in fields)
                codes_of = self._contact_codes
                unknown = sum(1 for codes in codes_of if _is_unknown(dimension, codes[dimension.name]))
                unrecorded = sum(1 for c in self.contacts_in_period or () if not any(c.values.get(n) for n in fields))
                result.append(
                    DimensionShare(
                        dimension.name,
                        "contact",
                        fields,
                        unknown,
                        unrecorded,
                        len(codes_of),
                        present,
                        dimension.multi_valued,
                    )
                )
        return tuple(result)

    def tables(self) -> tuple[dict[str, list[int]], dict[str, int]]:
        """Every table's counts, and per contact table how many contacts its per-contactor cap left out."""
        counts: dict[str, list[int]] = {}
        dropped: dict[str, int] = {}
        for table in self.taxonomy.tables.values():
            if table.unit == "person":
                counts[table.name] = _person_table(table, self.coded)
            elif table.unit == "case":
                counts[table.name] = _case_table(table, self.coder, self.counted, self.coded, self.month)
            elif self.contacts_in_period is not None:
                counts[table.name], dropped[table.name] = _contact_table(table, self.coder, self.contacts_in_period)
        return counts, dropped

    def unit_reasons(
        self, cases: InputSource, contacts: InputSource | None, *, rows_are_persons: bool
    ) -> tuple[UnitReason, ...]:
        reasons = []
        if rows_are_persons:
            reasons.append(
                UnitReason(cases.name, f"no {f.PERSON_ID} column: every row counts as a person (--rows-are-persons)")
            )
        anonymous = sum(1 for c in self.contacts_in_period or () if c.anonymous)
        if contacts is not None and anonymous:
            reasons.append(
                UnitReason(
                    contacts.name,
                    f"{anonymous:,} contacts of {self.period} have no {f.CONTACTOR_ID}: each counts as a contactor of "
                    "its own, so a caller who called several times without one is protected less than a person. "
                    f"Record {f.CONTACTOR_ID} for every contact (a number kept for the caller) to release person-month",
                )
            )
        return tuple(reasons)

    def file_summaries(
        self, cases: InputSource, contacts: InputSource | None, dropped: Mapping[str, int]
    ) -> tuple[FileSummary, ...]:
        others = Counter(
            month_of(p.registered) for p in self.persons if (p.registered.year, p.registered.month) != self.month
        )
        rows_elsewhere = sum(p.rows for p in self.persons) - sum(p.rows for p in self.in_period)
        not_victims = sum(p.rows for p in self.in_period if not p.counts)
        skipped = [
            (f"rows of persons registered in other months than {self.period}", rows_elsewhere),
            (f"rows of persons of {self.period} whose {f.TRAFFICKING_STATUS} is {f.NOT_A_VICTIM}", not_victims),
        ]
        files = [
            FileSummary(
                name=cases.name,
                kind="cases",
                format=cases.format,
                encoding=cases.encoding,
                rows=sum(p.rows for p in self.persons),
                records=len(self.persons),
                in_period=len(self.in_period),
                rows_in_period=sum(p.rows for p in self.in_period),
                other_months=tuple(others.most_common()),
                skipped=tuple((why, n) for why, n in skipped if n),
            )
        ]
        if contacts is not None and self.contacts is not None and self.contacts_in_period is not None:
            other_contacts = Counter(month_of(c.day) for c in self.contacts if (c.day.year, c.day.month) != self.month)
            contact_skipped = [(f"contacts made in other months than {self.period}", sum(other_contacts.values()))]
            for name, n in dropped.items():
                bound = self.taxonomy.table(name).l1_bound
                contact_skipped.append((f"contacts beyond {bound} per contactor in a month ({name})", n))
            files.append(
                FileSummary(
                    name=contacts.name,
                    kind="contacts",
                    format=contacts.format,
                    encoding=contacts.encoding,
                    rows=len(self.contacts),
                    records=len(self.contacts),
                    in_period=len(self.contacts_in_period),
                    rows_in_period=len(self.contacts_in_period),
                    other_months=tuple(other_contacts.most_common()),
                    skipped=tuple((why, n) for why, n in contact_skipped if n),
                )
            )
        return tuple(files)


def _fields_of(dimension: Dimension) -> tuple[str, ...]:
    if dimension.input.rule == "age":
        return (f.BIRTHDATE,)
    return tuple(field_map.name for field_map in dimension.input.fields)


def _recorded(dimension: Dimension, fields: Sequence[str], person: Person) -> bool:
    """Whether the person's rows recorded any value for the dimension (its birthdate, for an age)."""
    if dimension.input.rule == "age":
        return person.birthdate is not None
    return any(person.values.get(name) for name in fields)


def _is_unknown(dimension: Dimension, codes: tuple[str, ...]) -> bool:
    if dimension.multi_valued:
        return not codes
    return codes[0] == dimension.input.missing


@contextlib.contextmanager
def _bulk_allocation() -> Iterator[None]:
    """Pause the cyclic garbage collector while rows are read: they form no cycles, and the collector's repeated
    passes over a growing heap of small objects would cost a third of the time (measured on 100,000 rows)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Progress:
    def __init__(self, callback: ProgressCallback | None, total: int) -> None:
        self._callback = callback
        self._total = total
        self._done = 0

    def file(self, index: int, sources: Sequence[InputSource]) -> Callable[[int], None] | None:
        callback = self._callback
        if callback is None:
            return None
        offset = sum(source.estimated_rows for source in sources[:index])

        def tick(done: int) -> None:
            self._done = offset + done
            callback(self._done, max(self._total, self._done))

        return tick

    def finish(self) -> None:
        if self._callback is not None:
            self._callback(max(self._total, self._done), max(self._total, self._done))


class _Cells:
    """Cell indexes of a table from per-dimension codes (row-major, like ``Table.cell_index``)."""

    def __init__(self, table: Table) -> None:
        shape = table.shape
        strides = [math.prod(shape[i + 1 :]) for i in range(len(shape))]
        self._parts = [
            (dimension.name, {code: position * stride for position, code in enumerate(dimension.code_names)})
            for dimension, stride in zip(table.dimensions, strides, strict=True)
        ]
        self.single = not table.multi_valued

    def one(self, codes: Codes) -> int:
        """The one cell of a record in a table without a multi-valued dimension."""
        index = 0
        for name, offsets in self._parts:
            index += offsets[codes[name][0]]
        return index

    def of(self, codes: Codes) -> list[int]:
        """Every cell a record with these codes falls in: one, or (multi-valued dimension) zero or more."""
        if self.single:
            return [self.one(codes)]
        per_dimension = [[offsets[code] for code in codes[name]] for name, offsets in self._parts]
        return [sum(parts) for parts in itertools.product(*per_dimension)]


def _add_bounded(counts: list[int], cells: Sequence[int], l1: int) -> None:
    """Add one record's contribution: 1 to each distinct cell, at most ``l1`` cells (every bound is ≥ 1 per cell)."""
    for cell in list(dict.fromkeys(cells))[:l1]:
        counts[cell] += 1


def _person_table(table: Table, coded: Sequence[Codes]) -> list[int]:
    counts = [0] * table.cell_count
    cells = _Cells(table)
    if cells.single:  # one cell per person, within every bound (l1 >= 1)
        for codes in coded:
            counts[cells.one(codes)] += 1
        return counts
    for codes in coded:
        _add_bounded(counts, cells.of(codes), table.l1_bound)
    return counts


def _case_table(
    table: Table, coder: Coder, counted: Sequence[Person], coded: Sequence[Codes], month: tuple[int, int]
) -> list[int]:
    members: dict[str, list[int]] = {}
    for index, person in enumerate(counted):
        members.setdefault(person.case, []).append(index)
    counts = [0] * table.cell_count
    cells = _Cells(table)
    for indexes in members.values():
        opened = next((counted[i].case_opened for i in indexes if counted[i].case_opened is not None), None)
        if opened is not None and (opened.year, opened.month) != month:
            continue
        codes = coder.case(table.dimensions, [counted[i] for i in indexes], [coded[i] for i in indexes])
        _add_bounded(counts, cells.of(codes), 1)
    return counts


def _contact_table(table: Table, coder: Coder, contacts: Sequence[Contact]) -> tuple[list[int], int]:
    """The table's counts, and how many contacts added nothing to it (beyond their contactor's bound)."""
    by_contactor: dict[str, list[Contact]] = {}
    for contact in contacts:
        by_contactor.setdefault(contact.contactor, []).append(contact)
    counts = [0] * table.cell_count
    cells = _Cells(table)
    dropped = 0
    for items in by_contactor.values():
        taken = 0
        per_cell: dict[int, int] = {}
        for contact in sorted(items, key=lambda c: (c.day, c.row)):
            added = False
            for cell in dict.fromkeys(cells.of(coder.contact(table.dimensions, contact))):
                if taken < table.l1_bound and per_cell.get(cell, 0) < table.per_cell_bound:
                    counts[cell] += 1
                    per_cell[cell] = per_cell.get(cell, 0) + 1
                    taken += 1
                    added = True
            dropped += not added
    return counts, dropped
