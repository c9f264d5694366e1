# SPDX-License-Identifier: Apache-2.0
"""Which cells a round's vector holds, in which order: the roster's tables of its taxonomy, one after another.

A round adds the members' releases of some tables of one taxonomy. The roster names the taxonomy (id and content
hash) and the tables, in the order their cells follow each other in the vector; each table's cells keep the
taxonomy's dense row-major order (the last dimension varies fastest), so cell ``i`` of the vector means the same
to every member, to the hub and to an auditor.

>>> from protocol.taxonomy import builtin_taxonomy
>>> layout = RoundLayout(builtin_taxonomy(2), ("persons_total", "persons_exploitation_group"))
>>> layout.length, layout.span("persons_exploitation_group")
(6, (1, 6))
>>> layout.split(layout.vector({"persons_total": [7], "persons_exploitation_group": [1, 2, 3, 0, 1]}))
{'persons_total': (7,), 'persons_exploitation_group': (1, 2, 3, 0, 1)}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from protocol.errors import SecureAggregationError
from protocol.messages import TaxonomyRef
from protocol.secagg.messages import RoundRoster
from protocol.taxonomy import Taxonomy

__all__ = ["RoundLayout", "layout_of_roster", "taxonomy_ref"]


def taxonomy_ref(taxonomy: Taxonomy) -> TaxonomyRef:
    """The reference a roster carries for ``taxonomy``."""
    return TaxonomyRef(id=taxonomy.id, hash=taxonomy.content_hash)


class RoundLayout:
    """The vector of a round over ``tables`` of ``taxonomy``: where each table's cells start and end."""

    def __init__(self, taxonomy: Taxonomy, tables: Sequence[str]) -> None:
        if not tables:
            raise SecureAggregationError("a round adds at least one table")
        if len(set(tables)) != len(tables):
            raise SecureAggregationError(f"a round names each table once, got {', '.join(tables)}")
        spans: dict[str, tuple[int, int]] = {}
        start = 0
        for name in tables:
            if name not in taxonomy.tables:
                raise SecureAggregationError(
                    f"taxonomy {taxonomy.id} has no table {name!r}; its tables are: {', '.join(taxonomy.tables)}"
                )
            end = start + taxonomy.tables[name].cell_count
            spans[name] = (start, end)
            start = end
        self.taxonomy = taxonomy
        self.tables = tuple(tables)
        self.length = start
        self._spans = MappingProxyType(spans)

    def span(self, table: str) -> tuple[int, int]:
        """``(start, end)`` of ``table``'s cells in the vector."""
        if table not in self._spans:
            raise SecureAggregationError(f"the round adds {', '.join(self.tables)}, not {table!r}")
        return self._spans[table]

    def vector(self, values: Mapping[str, Sequence[int]]) -> list[int]:
        """The vector of one member: each table's cells (exactly the round's tables, each complete) in order."""
        missing = [name for name in self.tables if name not in values]
        extra = sorted(set(values) - set(self.tables))
        if missing or extra:
            raise SecureAggregationError(
                "a member's vector holds exactly the round's tables"
                + (f"; missing: {', '.join(missing)}" if missing else "")
                + (f"; not in the round: {', '.join(extra)}" if extra else "")
            )
        out: list[int] = []
        for name in self.tables:
            start, end = self._spans[name]
            cells = values[name]
            if len(cells) != end - start:
                raise SecureAggregationError(f"table {name} has {end - start} cells, got {len(cells)}")
            out.extend(cells)
        return out

    def split(self, vector: Sequence[int]) -> dict[str, tuple[int, ...]]:
        """A vector (a member's, or the round's sum) back into its tables."""
        if len(vector) != self.length:
            raise SecureAggregationError(f"the round's vector has {self.length} cells, got {len(vector)}")
        return {name: tuple(vector[start:end]) for name, (start, end) in self._spans.items()}


def layout_of_roster(roster: RoundRoster, taxonomy: Taxonomy) -> RoundLayout:
    """The layout a roster declares, checked: ``taxonomy`` is the one it names (id and content hash) and its
    ``vector_length`` is the tables' cells."""
    if (roster.taxonomy.id, roster.taxonomy.hash) != (taxonomy.id, taxonomy.content_hash):
        raise SecureAggregationError(
            f"the roster names taxonomy {roster.taxonomy.id} ({roster.taxonomy.hash}), not {taxonomy.id} "
            f"({taxonomy.content_hash})"
        )
    layout = RoundLayout(taxonomy, roster.tables)
    if layout.length != roster.vector_length:
        raise SecureAggregationError(
            f"the roster declares {roster.vector_length} cells, but its tables {', '.join(roster.tables)} have "
            f"{layout.length}"
        )
    return layout
