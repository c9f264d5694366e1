# SPDX-License-Identifier: Apache-2.0
"""Months (:mod:`protocol.period`): text and numbers agree, ranges are integer ranges, instants fall in their month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.period import Period, month_number, month_start, month_text, months_between


@given(st.integers(min_value=12, max_value=9999 * 12 + 11))
def test_text_and_number_agree(number: int) -> None:
    text = month_text(number)
    assert month_number(text) == number
    assert Period.parse(text) == Period(number)
    assert str(Period(number)) == text
    assert month_start(number) == Period(number).start


@given(st.datetimes(min_value=datetime(1, 2, 1), max_value=datetime(9999, 11, 30)))
def test_an_instant_falls_in_its_month(moment: datetime) -> None:
    period = Period.containing(moment.replace(tzinfo=UTC))
    assert period.start <= moment.replace(tzinfo=UTC) < period.end
    assert (period + 1).start == period.end
    assert period - 1 < period < period + 1


def test_an_instant_with_an_offset_is_read_in_utc() -> None:
    kyiv = timezone(timedelta(hours=2))
    assert Period.containing(datetime(2026, 12, 1, 1, 0, tzinfo=kyiv)).text == "2026-11"


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "26-01", "2026-01\n", " 2026-01", "2026/01", ""])
def test_anything_but_yyyy_mm_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        Period.parse(text)


def test_months_between_is_inclusive_and_empty_backwards() -> None:
    assert months_between("2025-12", "2026-01") == ["2025-12", "2026-01"]
    assert months_between("2026-01", "2026-01") == ["2026-01"]
    assert months_between("2026-02", "2026-01") == []
