# SPDX-License-Identifier: Apache-2.0
"""The round's vector layout: the roster's tables of its taxonomy, cell i meaning the same to everyone."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.errors import SecureAggregationError
from protocol.secagg import coordinator
from protocol.secagg.encoding import DEFAULT_OFFSET
from protocol.secagg.layout import RoundLayout, layout_of_roster, taxonomy_ref
from protocol.taxonomy import builtin_taxonomy

V2 = builtin_taxonomy(2)
TABLES = ("persons_exploitation_group", "persons_total", "persons_citizenship")


def _roster(tables: tuple[str, ...], length: int, taxonomy_version: int = 2):  # type: ignore[no-untyped-def]
    return coordinator.make_roster(
        group="region-east",
        period="2026-10",
        round_number=0,
        threshold=2,
        taxonomy=taxonomy_ref(builtin_taxonomy(taxonomy_version)),
        tables=tables,
        vector_length=length,
        offset=DEFAULT_OFFSET,
        members=[
            ("hotline-a", "x25519:" + "A" * 42 + "4="),
            ("hotline-b", "x25519:" + "B" * 42 + "4="),
            ("hotline-c", "x25519:" + "C" * 42 + "4="),
        ],
    )


def test_tables_follow_each_other_in_the_rosters_order() -> None:
    layout = RoundLayout(V2, TABLES)
    assert layout.length == 5 + 1 + 62
    assert layout.span("persons_exploitation_group") == (0, 5)
    assert layout.span("persons_total") == (5, 6)
    assert layout.span("persons_citizenship") == (6, 68)


@given(st.lists(st.integers(-(2**40), 2**40), min_size=68, max_size=68))
def test_split_is_the_inverse_of_vector(cells: list[int]) -> None:
    layout = RoundLayout(V2, TABLES)
    assert layout.vector(layout.split(cells)) == cells


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"persons_total": [1], "persons_exploitation_group": [0] * 5}, "missing: persons_citizenship"),
        (
            {"persons_total": [1], "persons_exploitation_group": [0] * 5, "persons_citizenship": [0] * 62, "x": [1]},
            "not in the round: x",
        ),
        ({"persons_total": [1, 2], "persons_exploitation_group": [0] * 5, "persons_citizenship": [0] * 62}, "1 cells"),
    ],
)
def test_a_vector_holds_exactly_the_rounds_tables(values: dict[str, list[int]], words: str) -> None:
    with pytest.raises(SecureAggregationError, match=words):
        RoundLayout(V2, TABLES).vector(values)


def test_unknown_or_repeated_tables_are_refused() -> None:
    with pytest.raises(SecureAggregationError, match="no table 'persons_nowhere'"):
        RoundLayout(V2, ("persons_total", "persons_nowhere"))
    with pytest.raises(SecureAggregationError, match="each table once"):
        RoundLayout(V2, ("persons_total", "persons_total"))
    with pytest.raises(SecureAggregationError, match="at least one table"):
        RoundLayout(V2, ())


def test_a_roster_is_read_only_with_the_taxonomy_it_names_and_its_true_length() -> None:
    assert layout_of_roster(_roster(TABLES, 68), V2).length == 68
    with pytest.raises(SecureAggregationError, match="names taxonomy tipshare-taxonomy/1"):
        layout_of_roster(_roster(("persons_control",), 45, taxonomy_version=1), V2)
    with pytest.raises(SecureAggregationError, match="declares 67 cells"):
        layout_of_roster(_roster(TABLES, 67), V2)


def test_a_roster_names_each_table_once() -> None:
    with pytest.raises(ValueError, match="a table appears twice"):
        _roster(("persons_total", "persons_total"), 2)


def test_a_table_outside_the_round_has_no_span_and_a_vector_of_another_length_does_not_split() -> None:
    layout = RoundLayout(V2, TABLES)
    with pytest.raises(
        SecureAggregationError,
        match="the round adds persons_exploitation_group, persons_total, persons_citizenship, not 'contacts'",
    ):
        layout.span("contacts")
    for length in (67, 69, 0):
        with pytest.raises(SecureAggregationError, match=f"the round's vector has 68 cells, got {length}"):
            layout.split([0] * length)
