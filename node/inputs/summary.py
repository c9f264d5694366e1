# SPDX-License-Identifier: Apache-2.0
"""What the officer is shown of an export before anything is released: the local summary of ``prepare``.

It holds **true counts** (rows read, persons in the month, how many of them are unknown in each dimension), so it
lives in memory only: ``prepare`` prints it to the terminal (stderr) and forgets it. It is never written to a file
or a log, never part of a ``--json`` document, never sent (its ``repr`` shows no number).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["DimensionShare", "FileSummary", "InputSummary", "MappingUse", "UnitReason"]


@dataclass(frozen=True, slots=True)
class FileSummary:
    """One file as read: rows, and the records of the period and of other months."""

    name: str
    kind: str  # "cases" or "contacts"
    format: str
    encoding: str
    rows: int
    #: Persons (cases file) or contacts (contacts file) found in the file.
    records: int
    in_period: int
    #: Rows of the persons (or contacts) of the period.
    rows_in_period: int
    #: ``(month, records)`` of the other months, most first.
    other_months: tuple[tuple[str, int], ...]
    #: ``(why, rows)``: rows read but not counted in the period's tables.
    skipped: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class DimensionShare:
    """How many records of the period are unknown in one dimension (``unknown`` of ``total``): its missing code,
    or no code of a multi-valued one; ``unrecorded`` of them had no value at all in the dimension's fields (an
    explicitly recorded "Unknown" is unknown, but recorded)."""

    dimension: str
    unit: str  # "person" or "contact"
    fields: tuple[str, ...]
    unknown: int
    unrecorded: int
    total: int
    #: Whether the export has a column for the dimension at all (without one, every record is unknown).
    present: bool
    multi_valued: bool = False

    @property
    def share(self) -> float:
        return self.unknown / self.total if self.total else 0.0

    @property
    def unrecorded_share(self) -> float:
        return self.unrecorded / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class MappingUse:
    """Which entries of the mapping file matched something in the export."""

    source: str
    columns_used: tuple[str, ...]
    columns_unused: tuple[str, ...]
    #: ``field -> source values that matched at least one cell``, and those that matched none.
    values_used: Mapping[str, tuple[str, ...]] = field(hash=False)
    values_unused: Mapping[str, tuple[str, ...]] = field(hash=False)


@dataclass(frozen=True, slots=True)
class UnitReason:
    """Why the release declares a weaker unit of privacy than one person in a month."""

    file: str
    text: str


@dataclass(frozen=True, slots=True, repr=False)
class InputSummary:
    """Everything ``prepare`` shows about the export (see the module docstring)."""

    period: str
    files: tuple[FileSummary, ...]
    shares: tuple[DimensionShare, ...]
    mapping: MappingUse | None
    unit: str
    unit_reasons: tuple[UnitReason, ...]

    def __repr__(self) -> str:
        return f"InputSummary(period={self.period!r}, files={[f.name for f in self.files]}, unit={self.unit!r})"

    __str__ = __repr__
