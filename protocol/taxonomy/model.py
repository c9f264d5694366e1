# SPDX-License-Identifier: Apache-2.0
"""The taxonomy's model: dimensions (closed code lists and the rule that codes a record), dense tables over them,
the coordinators' workload, and the validated :class:`Taxonomy` that holds them (built by
:mod:`protocol.taxonomy.document` from a document, never directly)."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from protocol.errors import TaxonomyViolation

__all__ = [
    "CODE_KINDS",
    "INPUT_RULES",
    "MAX_CELLS_PER_TABLE",
    "MAX_CODES_PER_DIMENSION",
    "MAX_CONTRIBUTION_BOUND",
    "MAX_DIMENSIONS_PER_TABLE",
    "MAX_WEIGHT",
    "TAXONOMY_V1_ID",
    "TAXONOMY_V2_ID",
    "UNITS",
    "AgeRange",
    "Code",
    "Dimension",
    "FieldMap",
    "InputRule",
    "Table",
    "Taxonomy",
    "WorkloadQuestion",
    "same_cells",
]

#: The ids of the taxonomies shipped with this package (a hub publishes and accepts both; new nodes follow v2).
TAXONOMY_V1_ID: Final = "tipshare-taxonomy/1"
TAXONOMY_V2_ID: Final = "tipshare-taxonomy/2"
#: What a table counts.
UNITS: Final = frozenset({"person", "case", "contact"})
#: How a dimension's code is computed from a record (each is described in the document's ``input_rules``).
INPUT_RULES: Final = frozenset({"first", "several", "priority", "each", "country", "age", "derived"})
#: Kinds of codes in a country dimension.
CODE_KINDS: Final = frozenset({"country", "region", "special"})
MAX_DIMENSIONS_PER_TABLE: Final = 3
MAX_CODES_PER_DIMENSION: Final = 1000
MAX_CELLS_PER_TABLE: Final = 1_000_000
MAX_CONTRIBUTION_BOUND: Final = 1000
MAX_WEIGHT: Final = 1000


@dataclass(frozen=True, slots=True)
class Code:
    """One code of a dimension. ``kind`` is set in country dimensions only (country, region or special)."""

    code: str
    label: str
    kind: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class FieldMap:
    """How the values recorded in one input field (HTCDS name, or ``ext_*`` extension) map to codes."""

    name: str
    values: Mapping[str, str] = field(hash=False)
    note: str = ""


@dataclass(frozen=True, slots=True)
class AgeRange:
    """Ages ``min_age``..``max_age`` (inclusive; ``None``: no upper limit) get ``code``."""

    code: str
    min_age: int
    max_age: int | None


@dataclass(frozen=True, slots=True)
class InputRule:
    """How a node computes a dimension's code from a record; see the document's ``input_rules``."""

    rule: str
    fields: tuple[FieldMap, ...] = ()
    missing: str | None = None
    several: str | None = None
    priority: tuple[str, ...] = ()
    any_code: str | None = None
    ranges: tuple[AgeRange, ...] = ()
    derived_from: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    regions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    note: str = ""


@dataclass(frozen=True, slots=True)
class Dimension:
    """A closed, ordered code list and the rule that maps record values onto it."""

    name: str
    description: str
    codes: tuple[Code, ...]
    input: InputRule
    code_names: tuple[str, ...] = field(init=False)
    _positions: Mapping[str, int] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        names = tuple(code.code for code in self.codes)
        object.__setattr__(self, "code_names", names)
        object.__setattr__(self, "_positions", MappingProxyType({c: i for i, c in enumerate(names)}))

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def multi_valued(self) -> bool:
        """True if one record can count under several codes (input rule ``each``)."""
        return self.input.rule == "each"

    def index_of(self, code: str) -> int:
        """Position of ``code`` in this dimension's code list."""
        try:
            return self._positions[code]
        except (KeyError, TypeError):
            raise TaxonomyViolation(f"{code!r} is not a code of dimension {self.name!r}") from None

    def code(self, code: str) -> Code | None:
        """The entry of ``code`` in this dimension's code list, or None if it has no such code."""
        position = self._positions.get(code)
        return None if position is None else self.codes[position]


@dataclass(frozen=True, slots=True)
class Table:
    """A dense table: every cell of the product of its dimensions' code lists, in row-major order."""

    name: str
    description: str
    unit: str
    dimensions: tuple[Dimension, ...]
    l1_bound: int
    per_cell_bound: int
    shape: tuple[int, ...] = field(init=False)
    cell_count: int = field(init=False)
    _strides: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        shape = tuple(len(dimension) for dimension in self.dimensions)
        strides = tuple(math.prod(shape[i + 1 :]) for i in range(len(shape)))
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "cell_count", math.prod(shape))
        object.__setattr__(self, "_strides", strides)

    @property
    def dimension_names(self) -> tuple[str, ...]:
        return tuple(dimension.name for dimension in self.dimensions)

    @property
    def multi_valued(self) -> bool:
        """True if one person can count in several cells because a dimension is multi-valued."""
        return any(dimension.multi_valued for dimension in self.dimensions)

    @property
    def l2_sensitivity_squared(self) -> int:
        """Largest Σx² over contributions with Σx ≤ l1 and every x ≤ per_cell: (l1 // c)·c² + (l1 mod c)²."""
        full, rest = divmod(self.l1_bound, self.per_cell_bound)
        return full * self.per_cell_bound**2 + rest**2

    def cell_index(self, codes: Sequence[str]) -> int:
        """Position in the dense vector of the cell with one code per dimension (row-major)."""
        if isinstance(codes, str) or len(codes) != len(self.dimensions):
            raise TaxonomyViolation(
                f"table {self.name!r} needs one code for each of its dimensions {list(self.dimension_names)}, "
                f"got {codes!r}"
            )
        index = 0
        for dimension, stride, code in zip(self.dimensions, self._strides, codes, strict=True):
            try:
                index += dimension.index_of(code) * stride
            except TaxonomyViolation as e:
                raise TaxonomyViolation(f"table {self.name!r}: {e}") from None
        return index

    def cell_codes(self, index: int) -> tuple[str, ...]:
        """The codes of the cell at ``index`` in the dense vector; inverse of :meth:`cell_index`."""
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.cell_count:
            raise TaxonomyViolation(
                f"table {self.name!r} has cells 0..{self.cell_count - 1}; {index!r} is not one of them"
            )
        codes = []
        for dimension, stride in zip(self.dimensions, self._strides, strict=True):
            position, index = divmod(index, stride)
            codes.append(dimension.code_names[position])
        return tuple(codes)

    def iter_cells(self) -> Iterator[tuple[str, ...]]:
        """Every cell's codes, in dense (row-major) order."""
        return itertools.product(*(dimension.code_names for dimension in self.dimensions))


@dataclass(frozen=True, slots=True)
class WorkloadQuestion:
    """One question of the coordinators' workload the taxonomy's tables and budget weights were chosen for.

    A *cell* of the question is one combination of codes of ``dimensions`` (no dimension: the total), summed over
    ``months`` months. ``halfwidth`` is the 95 % half-width coordinators need for one such cell at the workload's
    reference number of hotlines, and ``priority`` how much that need weighs against the others. Budget weights
    minimise ``Σ priority · (expected half-width / halfwidth)²`` (:mod:`protocol.allocation`).
    """

    id: str
    description: str
    unit: str
    dimensions: tuple[str, ...]
    months: int
    halfwidth: int
    priority: int


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """A validated taxonomy document. Build it with :func:`load_taxonomy`, :func:`parse_taxonomy` or
    :func:`builtin_taxonomy`, never directly."""

    id: str
    version: int
    title: str
    description: str
    dimensions: Mapping[str, Dimension] = field(hash=False)
    tables: Mapping[str, Table] = field(hash=False)
    country_aliases: Mapping[str, str] = field(hash=False)
    country_regions: Mapping[str, str] = field(hash=False)
    content_hash: str
    _canonical: bytes = field(repr=False)
    #: The questions the tables and weights were chosen for (empty in taxonomy v1, which predates them).
    workload: tuple[WorkloadQuestion, ...] = ()
    #: Recorded budget weights: mechanism -> table -> whole-number weight (empty in taxonomy v1).
    budget_weights: Mapping[str, Mapping[str, int]] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    #: The number of hotlines the workload's half-widths are stated for (0 without a workload).
    workload_hotlines: int = 0

    @property
    def document(self) -> dict[str, Any]:
        """The taxonomy document as a fresh JSON value (a copy: changing it changes nothing here)."""
        value: dict[str, Any] = json.loads(self._canonical)
        return value

    @property
    def total_cells(self) -> int:
        """Cells in one monthly release: the sum over all tables."""
        return sum(table.cell_count for table in self.tables.values())

    def canonical_bytes(self) -> bytes:
        """The RFC 8785 bytes of the document; ``content_hash`` is their SHA-256."""
        return self._canonical

    def table(self, name: str) -> Table:
        try:
            return self.tables[name]
        except KeyError:
            raise TaxonomyViolation(
                f"taxonomy {self.id} has no table {name!r}; its tables are: {', '.join(self.tables)}"
            ) from None

    def dimension(self, name: str) -> Dimension:
        try:
            return self.dimensions[name]
        except KeyError:
            raise TaxonomyViolation(
                f"taxonomy {self.id} has no dimension {name!r}; its dimensions are: {', '.join(self.dimensions)}"
            ) from None


def same_cells(first: Table, second: Table) -> bool:
    """True if two tables (of two taxonomies) have the same unit, bounds, dimensions and code lists, so that their
    cells mean the same and can be summed together. Descriptions and input rules may differ.

    >>> from protocol.taxonomy import builtin_taxonomy
    >>> same_cells(builtin_taxonomy(1).table("contacts"), builtin_taxonomy(2).table("contacts"))
    True
    """
    return (
        first.unit == second.unit
        and first.l1_bound == second.l1_bound
        and first.per_cell_bound == second.per_cell_bound
        and first.dimension_names == second.dimension_names
        and all(a.code_names == b.code_names for a, b in zip(first.dimensions, second.dimensions, strict=True))
    )
