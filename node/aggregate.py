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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from node.inputs.coding import Coder, Codes
from node.inputs.errors import InputError, InputProblem, ProblemLog
from node.inputs.fields import FieldCatalog
from node.inputs.mapping import ColumnMapping, load_mapping
from node.inputs.readers import InputSource, open_input
from node.inputs.records import Contact, Person, read_contacts, read_persons
from protocol.taxonomy import Table, Taxonomy

__all__ = ["ProgressCallback", "TrueTables", "prepare_tables"]

#: ``progress(rows done, rows expected or 0)``, called every few thousand rows and once at the end.
ProgressCallback = Callable[[int, int], None]
_PERIOD = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


@dataclass(frozen=True, slots=True, repr=False)
class TrueTables:
    """One month's true counts: held in memory only; never written, never logged.

    ``counts[table]`` is the dense vector of the table's cells in the taxonomy's order (``Table.cell_index``).
    """

    period: str
    counts: Mapping[str, list[int]]

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
    encoding: str | None = None,
    progress: ProgressCallback | None = None,
) -> TrueTables:
    """Read, check and aggregate an export into every table of ``taxonomy`` for ``period`` (``YYYY-MM``).

    Every person and case table is returned; the contact tables only when a contacts file is given. Raises
    :class:`~node.inputs.errors.InputError` (nothing is returned) if any row of either file has a problem, or if
    a file has no row at all and ``allow_empty`` is not given.
    """
    match = _PERIOD.fullmatch(period)
    if match is None:
        raise InputError([InputProblem("--period", None, None, "a month YYYY-MM, such as 2025-03")])
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
        ticks = _Progress(progress, sum(source.estimated_rows for source in sources))
        persons = read_persons(
            sources[0],
            catalog=catalog,
            mapping=columns,
            allow_unknown=allow_unknown,
            problems=problems,
            tick=ticks.file(0, sources),
        )
        contact_list = None
        if contacts is not None:
            contact_list = read_contacts(
                sources[1],
                catalog=catalog,
                mapping=columns,
                allow_unknown=allow_unknown,
                problems=problems,
                tick=ticks.file(1, sources),
            )
        problems.raise_if_any()
        ticks.finish()
        counts = _tables(taxonomy, coder, persons, contact_list, month)
        return TrueTables(period=period, counts=MappingProxyType(counts))


def _tables(
    taxonomy: Taxonomy,
    coder: Coder,
    persons: Sequence[Person],
    contacts: Sequence[Contact] | None,
    month: tuple[int, int],
) -> dict[str, list[int]]:
    counted = [p for p in persons if p.counts and (p.registered.year, p.registered.month) == month]
    coded = [coder.person(p) for p in counted]
    counts: dict[str, list[int]] = {}
    for table in taxonomy.tables.values():
        if table.unit == "person":
            counts[table.name] = _person_table(table, coded)
        elif table.unit == "case":
            counts[table.name] = _case_table(table, coder, counted, coded, month)
        elif contacts is not None:
            in_month = [c for c in contacts if (c.day.year, c.day.month) == month]
            counts[table.name] = _contact_table(table, coder, in_month)
    return counts


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


def _contact_table(table: Table, coder: Coder, contacts: Sequence[Contact]) -> list[int]:
    by_contactor: dict[str, list[Contact]] = {}
    for contact in contacts:
        by_contactor.setdefault(contact.contactor, []).append(contact)
    counts = [0] * table.cell_count
    cells = _Cells(table)
    for items in by_contactor.values():
        taken = 0
        per_cell: dict[int, int] = {}
        for contact in sorted(items, key=lambda c: (c.day, c.row)):
            for cell in dict.fromkeys(cells.of(coder.contact(table.dimensions, contact))):
                if taken < table.l1_bound and per_cell.get(cell, 0) < table.per_cell_bound:
                    counts[cell] += 1
                    per_cell[cell] = per_cell.get(cell, 0) + 1
                    taken += 1
    return counts
