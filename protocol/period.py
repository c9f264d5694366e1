# SPDX-License-Identifier: Apache-2.0
"""Months, as the protocol names them: ``YYYY-MM`` text, and month numbers (``year * 12 + month - 1``), so that a
range of months is a range of integers. Every package reads and writes months through this module.

>>> period = Period.parse("2026-11")
>>> period.number, str(period + 2), period.start.isoformat(), period.end.isoformat()
(24322, '2027-01', '2026-11-01T00:00:00+00:00', '2026-12-01T00:00:00+00:00')
>>> month_number("2026-01") - month_number("2025-12"), month_text(24311)
(1, '2025-12')
>>> months_between("2025-11", "2026-02")
['2025-11', '2025-12', '2026-01', '2026-02']
>>> Period.containing(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)).text
'2026-12'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

__all__ = ["PERIOD_PATTERN", "Period", "month_number", "month_start", "month_text", "months_between"]

#: A month as the protocol writes it.
PERIOD_PATTERN: Final = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
_PERIOD: Final = re.compile(PERIOD_PATTERN)


@dataclass(frozen=True, order=True, slots=True)
class Period:
    """One month, by its number (``year * 12 + month - 1``); ordered, and moved by adding months."""

    number: int

    @classmethod
    def parse(cls, text: str) -> Period:
        """The month a ``YYYY-MM`` text names; :class:`ValueError` for anything else."""
        if not isinstance(text, str) or not _PERIOD.fullmatch(text):
            raise ValueError(f"a period is a month written YYYY-MM, such as 2026-10; got {text!r}")
        return cls(int(text[:4]) * 12 + int(text[5:7]) - 1)

    @classmethod
    def containing(cls, moment: datetime) -> Period:
        """The month an instant falls in, in UTC (a naive datetime is taken as UTC)."""
        utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        return cls(utc.year * 12 + utc.month - 1)

    @property
    def year(self) -> int:
        return self.number // 12

    @property
    def month(self) -> int:
        """1 to 12."""
        return self.number % 12 + 1

    @property
    def text(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> datetime:
        """The month's first instant (UTC)."""
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the month (UTC): the month is ``[start, end)``."""
        return (self + 1).start

    def __add__(self, months: int) -> Period:
        return Period(self.number + months)

    def __sub__(self, months: int) -> Period:
        return Period(self.number - months)

    def __str__(self) -> str:
        return self.text


def month_number(text: str) -> int:
    """The number of a ``YYYY-MM`` month (:class:`ValueError` for anything else)."""
    return Period.parse(text).number


def month_text(number: int) -> str:
    """The ``YYYY-MM`` text of a month number."""
    return Period(number).text


def month_start(number: int) -> datetime:
    """The first instant (UTC) of a month number."""
    return Period(number).start


def months_between(first: str, last: str) -> list[str]:
    """Every ``YYYY-MM`` from ``first`` to ``last``, both included (none if ``first`` is after ``last``)."""
    return [month_text(number) for number in range(month_number(first), month_number(last) + 1)]
