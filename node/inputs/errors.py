# SPDX-License-Identifier: Apache-2.0
"""Errors of the node's input stage: what is wrong with an export or a mapping file, and where.

The tree (both derive from :class:`node.errors.NodeError`)::

    NodeError
    └── InputError        the export breaks a rule: every problem found, with file, row, column and what was expected
        └── MappingError  the column mapping file (TOML) is invalid

An input is checked completely before anything is released: every problem is collected (up to
:data:`MAX_PROBLEMS_KEPT` in detail, the rest counted) and raised together, so that the data officer can correct
the whole export in one pass.

**Values stay on screen.** A problem keeps the offending value (shortened, with control characters escaped so that a
cell cannot drive the officer's terminal) because the officer needs it to find the record. The value appears only in
:meth:`InputError.diagnostics`, which the CLI prints to the officer's terminal; ``str()`` and ``repr()`` of the
errors and problems leave it out, so that a log line or a traceback never carries part of a record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from node.errors import NodeError
from node.i18n import N_, gettext, ngettext, translate

__all__ = [
    "MAX_PROBLEMS_KEPT",
    "MAX_PROBLEMS_SHOWN",
    "InputError",
    "InputProblem",
    "MappingError",
    "ProblemLog",
    "shown_value",
]

#: Problems kept in detail; beyond this only their number is kept (a wholly wrong file has millions).
MAX_PROBLEMS_KEPT: Final = 2000
#: Groups of problems :meth:`InputError.diagnostics` lists before summing up the rest.
MAX_PROBLEMS_SHOWN: Final = 20
_MAX_VALUE_CHARS: Final = 40
#: Column names come from the file too: shortened and escaped like values, but never left out.
_MAX_COLUMN_CHARS: Final = 80
_ROWS_SHOWN_PER_GROUP: Final = 5


def shown_value(value: str, limit: int = _MAX_VALUE_CHARS) -> str:
    """``value`` fit for a terminal: at most ``limit`` characters, control and format characters escaped."""
    shortened = value if len(value) <= limit else value[: limit - 1] + "…"
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in shortened)


@dataclass(frozen=True, slots=True)
class InputProblem:
    """One thing wrong with an input file.

    ``row`` is 1-based: in a CSV file the header is row 1 (the numbering of a spreadsheet); in a JSON file it is the
    number of the record in its list; in a JSON Lines file (``row_label`` ``"line"``) the line number. ``None``
    means the file as a whole (for example, it is not valid CSV).
    ``column`` is the column (CSV) or key (JSON) as the file names it; when a mapping renamed it, the HTCDS field
    follows in brackets. ``value`` is shown to the officer only (see the module docstring).
    """

    file: str
    row: int | None
    column: str | None
    expected: str
    value: str | None = field(default=None, repr=False)
    row_label: str = "row"

    def where(self, *, translated: bool = False) -> str:
        """``cases.csv, row 7, column prs_Gender``: the location, without the value (in the officer's language if
        ``translated``)."""
        say = gettext if translated else _english
        parts = [self.file]
        if self.row is not None:
            label = _ROW_LABELS.get(self.row_label)
            parts.append(say(label) % {"n": self.row} if label else f"{self.row_label} {self.row}")
        if self.column is not None:
            kind = _COLUMN_KINDS.get(self.row_label)
            column = shown_value(self.column, _MAX_COLUMN_CHARS)
            parts.append(say(kind) % {"name": column} if kind else column)
        return ", ".join(parts)

    def describe(self, *, with_value: bool, translated: bool = False) -> str:
        """One line: where, what was found (only if ``with_value``) and what was expected."""
        say = gettext if translated else _english
        where = self.where(translated=translated)
        expected = translate(self.expected) if translated else str(self.expected)
        if self.value is None:
            return say(N_("%(where)s: expected %(expected)s")) % {"where": where, "expected": expected}
        if with_value:
            found = say(N_("%(value)s is not accepted")) % {"value": repr(self.value)}
        else:
            found = say(N_("a value is not accepted"))
        return say(N_("%(where)s: %(found)s; expected %(expected)s")) % {
            "where": where,
            "found": found,
            "expected": expected,
        }

    def __str__(self) -> str:
        return self.describe(with_value=False)


def _english(message: str) -> str:
    return message


_ROW_LABELS: Final = {"row": N_("row %(n)s"), "record": N_("record %(n)s"), "line": N_("line %(n)s")}
_ROWS_LABELS: Final = {
    "row": N_("rows %(rows)s"),
    "record": N_("records %(rows)s"),
    "line": N_("lines %(rows)s"),
}
_COLUMN_KINDS: Final = {"row": N_("column %(name)s"), "record": N_("field %(name)s"), "line": N_("field %(name)s")}


class InputError(NodeError):
    """The input cannot be released as it is; ``problems`` says every place and what was expected there."""

    def __init__(
        self, problems: Iterable[InputProblem], *, total: int | None = None, advice: str | None = None
    ) -> None:
        self.problems: tuple[InputProblem, ...] = tuple(problems)
        self.total: int = max(total or 0, len(self.problems))
        self.advice = advice
        if not self.problems:
            raise ValueError("an InputError needs at least one problem")
        first = self.problems[0]
        noun = "problem" if self.total == 1 else "problems"
        super().__init__(f"{self.total} {noun} in {self._subject}; the first: {first}")

    def diagnostics(self) -> str:
        """Every problem, for the officer's screen: grouped by file, column, value and expectation, with rows."""
        groups: dict[tuple[str, str | None, str | None, str, str], list[int | None]] = {}
        for problem in self.problems:
            key = (problem.file, problem.column, problem.value, problem.expected, problem.row_label)
            groups.setdefault(key, []).append(problem.row)
        lines = [f"{type(self).__name__}: {self._headline()}"]
        for (file, column, value, expected, label), rows in list(groups.items())[:MAX_PROBLEMS_SHOWN]:
            known = [r for r in rows if r is not None]
            problem = InputProblem(file, None, column, expected, value, label)
            where = problem.describe(with_value=True, translated=True)
            if len(known) == 1:
                one = InputProblem(file, known[0], column, expected, value, label)
                where = one.describe(with_value=True, translated=True)
            elif known:
                listed = ", ".join(str(r) for r in known[:_ROWS_SHOWN_PER_GROUP])
                if len(known) > _ROWS_SHOWN_PER_GROUP:
                    listed += gettext(N_(" and %(count)s more")) % {"count": f"{len(known) - _ROWS_SHOWN_PER_GROUP:,}"}
                plural = _ROWS_LABELS.get(label)
                where = f"{where} ({gettext(plural) % {'rows': listed} if plural else f'{label} {listed}'})"
            lines.append(f"  - {where}")
        shown = sum(len(rows) for rows in list(groups.values())[:MAX_PROBLEMS_SHOWN])
        if self.total > shown:
            rest = self.total - shown
            more = ngettext(
                "  ... and %(count)s more problem not shown.", "  ... and %(count)s more problems not shown.", rest
            )
            lines.append(more % {"count": f"{rest:,}"})
        lines.append(translate(self.advice) if self.advice else self._advice())
        return "\n".join(lines)

    def _headline(self) -> str:
        return ngettext(
            "%(count)s problem in the input; nothing was released.",
            "%(count)s problems in the input; nothing was released.",
            self.total,
        ) % {"count": f"{self.total:,}"}

    _subject = "the input"

    def _advice(self) -> str:
        return gettext(
            N_(
                "Correct the export, or map its column names and values to HTCDS in a mapping file (--mapping), and "
                "run prepare again. To count values the taxonomy does not list as unknown instead, pass "
                "--allow-unknown."
            )
        )


class MappingError(InputError):
    """The column mapping file is invalid (not TOML, unknown field names, values the taxonomy does not accept)."""

    _subject = "the mapping file"

    def _headline(self) -> str:
        return ngettext(
            "%(count)s problem in the mapping file; nothing was released.",
            "%(count)s problems in the mapping file; nothing was released.",
            self.total,
        ) % {"count": f"{self.total:,}"}

    def _advice(self) -> str:
        return gettext(
            N_("Correct the mapping file; node/inputs/example-mapping.toml shows every section it can have.")
        )


class ProblemLog:
    """Collects problems while an input is checked; keeps the first :data:`MAX_PROBLEMS_KEPT`, counts them all."""

    def __init__(self) -> None:
        self._kept: list[InputProblem] = []
        self.count = 0

    def __bool__(self) -> bool:
        return self.count > 0

    def add(self, problem: InputProblem) -> None:
        self.count += 1
        if len(self._kept) < MAX_PROBLEMS_KEPT:
            self._kept.append(problem)

    def error(self, kind: type[InputError] = InputError, *, advice: str | None = None) -> InputError:
        """The error carrying every problem collected so far (there must be at least one)."""
        return kind(self._kept, total=self.count, advice=advice)

    def raise_if_any(self, kind: type[InputError] = InputError, *, advice: str | None = None) -> None:
        if self.count:
            raise self.error(kind, advice=advice)
