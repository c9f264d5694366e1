# SPDX-License-Identifier: Apache-2.0
"""The hub's CSV cells: what a spreadsheet would run is escaped, and a reader always gets the text back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.csv_cells import FORMULA_PREFIXES, escape_cell, unescape_cell


@pytest.mark.parametrize("prefix", FORMULA_PREFIXES)
def test_text_a_spreadsheet_would_run_is_escaped(prefix: str) -> None:
    assert escape_cell(prefix + "SUM(A1)") == "'" + prefix + "SUM(A1)"


def test_a_checkpoint_root_starting_with_plus_reads_back() -> None:
    root = "+BBS4ZJqm5n0aQhL2cRrBmmC3Ccnl3Bpm3nQ3Y3O5gY="
    assert escape_cell(root) == "'" + root
    assert unescape_cell(escape_cell(root)) == root


def test_plain_text_is_left_alone() -> None:
    assert escape_cell("la-strada-ua") == "la-strada-ua"
    assert unescape_cell("la-strada-ua") == "la-strada-ua"


@given(st.text())
def test_every_text_round_trips(text: str) -> None:
    cell = escape_cell(text)
    assert unescape_cell(cell) == text
    assert not cell.startswith(FORMULA_PREFIXES)
