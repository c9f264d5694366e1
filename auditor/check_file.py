# SPDX-License-Identifier: Apache-2.0
"""``tipshare-audit check FILE``: a downloaded answer, recomputed from the signed log at the checkpoint it names.

>>> with StateStore.open(state_dir) as store:                                               # doctest: +SKIP
...     verification = Verification(client=client, store=store, now=now, log_key=vkey)
...     result = FileCheck(verification=verification, store=store).run(read_answer_file(data, name="a.csv"))
>>> result.verdict, result.rows                                                             # doctest: +SKIP
('VERIFIED', 3844)

A run:

1. **The log**, as ``verify`` checks it (steps 1 to 3 of :mod:`auditor.verify`: identity, checkpoint,
   consistency, every entry), updating the state DIR; a log that does not verify leaves nothing to recompute from.
2. **The checkpoint** the file names must be the log's: a JSON answer's signed note is verified (and adopted) as
   ``verify`` does; a CSV file names a tree size and root only, and that root must be the one rebuilt from the
   verified entries up to that size.
3. **The answer** (:mod:`auditor.answer_files`: what it answers) is recomputed at that tree size, and compared
   with the file: a JSON answer field by field as ``verify`` compares the hub's answers
   (:mod:`auditor.compare`, :mod:`auditor.compare_estimates`); a CSV or SDMX-CSV file line by line, every number
   and flag as the hub writes it (floats that come from numerical integration, ``coverage`` and ``p_zero``, to
   1e-9 relative), lines matched by their keys; a line missing, repeated or added is a failure.

Hotline scopes are not recomputed (as in ``verify``); a file about one hotline is refused as unusable.

A **completeness** file (:mod:`auditor.completeness`) is re-derived from the log at its checkpoint, whatever its
scope: every line keyed by hotline and month, its status, expected flag, receive times, revisions, ``corrected``
and deadline compared with the grid the log implies; a line missing, repeated or added is a failure naming the
hotline and month. The hub's ``deadline_days`` is read from the file's deadlines (no signed source names it) and
reported with the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditor.answer_files import AnswerFile
from auditor.compare import MAX_FAILURES_PER_ANSWER, compare_answer
from auditor.compare_estimates import compare_estimates
from auditor.completeness import CompletenessFile, GridLine, csv_columns, grid, sdmx_columns, summaries
from auditor.completeness import Render as GridRender
from auditor.errors import UsageError
from auditor.estimates import Asked
from auditor.file_lines import (
    Render,
    described,
    estimates_csv_columns,
    estimates_sdmx_columns,
    line_key,
    same,
    stats_csv_columns,
    stats_sdmx_columns,
)
from auditor.findings import Check, Failure
from auditor.i18n import T_, Joined
from auditor.monitor import LogMonitor
from auditor.published import PublishedCheckpoint, parse_stats
from auditor.state import StateStore
from auditor.stats import PERIOD, month_range
from auditor.verify import Verification
from protocol.api import EstimatesAnswer
from protocol.combination import NotAnswerable
from protocol.merkle import EMPTY_ROOT, root_hash
from protocol.messages import b64encode, format_timestamp
from protocol.questions import question_text

__all__ = ["FileCheck", "FileCheckResult"]


@dataclass
class FileCheckResult:
    """What ``check FILE`` found: the file, what it answers, the rows compared, and every failure."""

    file: str
    kind: str = ""
    format: str = ""
    question: str = ""
    checkpoint_size: int | None = None
    checkpoint_root: bytes | None = None
    rows: int = 0
    failures: list[Failure] = field(default_factory=list)
    #: Completeness: the hub's ``deadline_days`` as read from the file's deadlines (no signed source names it).
    deadline_days: int | None = None
    #: Completeness: ``deadline_days`` as a JSON answer states it (else read from the file's deadlines).
    deadline_days_stated: bool = False
    #: Completeness: the scope was taken from the file's lines (an SDMX-CSV message names none).
    scope_from_lines: bool = False

    @property
    def verdict(self) -> str:
        return "FAILED" if self.failures else "VERIFIED"

    def document(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "file": self.file,
            "kind": self.kind,
            "format": self.format,
            "question": self.question,
            "checkpoint": None
            if self.checkpoint_size is None or self.checkpoint_root is None
            else {"size": self.checkpoint_size, "root_hash": b64encode(self.checkpoint_root)},
            "rows": self.rows,
            "failures": [failure.document() for failure in self.failures],
        } | (
            {}
            if self.kind != "completeness"
            else {
                "deadline_days": self.deadline_days,
                "deadline_days_stated": self.deadline_days_stated,
                "scope_from_lines": self.scope_from_lines,
            }
        )


class FileCheck:
    """Checks one answer file against the log a :class:`Verification` verifies (in the state DIR ``store``)."""

    def __init__(self, *, verification: Verification, store: StateStore) -> None:
        self._verification = verification
        self._store = store

    def run(self, answer: AnswerFile | CompletenessFile, *, name: str) -> FileCheckResult:
        if isinstance(answer, CompletenessFile):
            return self._run_completeness(answer, name=name)
        question = answer.question
        result = FileCheckResult(
            file=name,
            kind=answer.kind,
            format=answer.format,
            question=question_text(question),
            checkpoint_size=answer.checkpoint_size,
            checkpoint_root=answer.checkpoint_root,
        )
        if question.scope_level == "hotline":
            raise UsageError(
                T_("{name} is about one hotline; tipshare-audit recomputes region and country answers only", name=name)
            )
        verification = self._verification
        monitor = verification.prepare()
        if monitor is not None:
            verification.read_rounds(monitor)  # a round's sum counts in the answer as the hub's did
            size = self._size(monitor, answer.checkpoint_size, answer.checkpoint_root, answer.checkpoint_note, result)
            if size is not None:
                if answer.kind == "stats":
                    self._stats(answer, size, result)
                else:
                    self._estimates(answer, size, result)
            verification.finish(monitor)
        log_failures = [f for f in verification.report.failures if f.check not in (Check.STATISTICS, Check.ESTIMATES)]
        result.failures = [*log_failures, *result.failures]
        return result

    # ------------------------------------------------------------------ the checkpoint

    def _size(
        self, monitor: LogMonitor, size: int, root: bytes, note: str | None, result: FileCheckResult
    ) -> int | None:
        """The tree size to recompute at, once the file's checkpoint is the log's; else ``None`` (failed)."""

        def fail(message: str) -> None:
            result.failures.append(Failure(Check.FILE, message))

        if monitor.broken:
            return None
        if note is not None or size == 0:
            ref = PublishedCheckpoint(size=size, root_hash=root, note=note)
            return self._verification.answer_size(monitor, ref, fail)
        if size > monitor.size:
            fail(
                T_(
                    "the file names checkpoint size {size}, beyond the hub's latest verified checkpoint ({latest}): "
                    "if the hub moved on since the file was downloaded, run check again",
                    size=size,
                    latest=monitor.size,
                )
            )
            return None
        rebuilt = root_hash(self._store.leaf_hashes()[:size]) if size else EMPTY_ROOT
        if rebuilt != root:
            fail(
                T_(
                    "the file names checkpoint size {size} with root {root}, but the verified log's root at that size "
                    "is {rebuilt}: the file was not computed from this log",
                    size=size,
                    root=b64encode(root),
                    rebuilt=b64encode(rebuilt),
                )
            )
            return None
        return size

    # ------------------------------------------------------------------ completeness

    def _run_completeness(self, answer: CompletenessFile, *, name: str) -> FileCheckResult:
        result = FileCheckResult(
            file=name,
            kind="completeness",
            format=answer.format,
            question=answer.question,
            checkpoint_size=answer.checkpoint_size,
            checkpoint_root=answer.checkpoint_root,
            scope_from_lines=not answer.scope_named,
            deadline_days_stated=answer.stated_deadline_days is not None,
        )
        verification = self._verification
        monitor = verification.prepare()
        if monitor is not None:
            verification.read_rounds(monitor)  # a round's survivors reported its month
            note = answer.checkpoint_note
            size = self._size(monitor, answer.checkpoint_size, answer.checkpoint_root, note, result)
            if size is not None:
                self._completeness(answer, size, result)
            verification.finish(monitor)
        log_failures = [f for f in verification.report.failures if f.check not in (Check.STATISTICS, Check.ESTIMATES)]
        result.failures = [*log_failures, *result.failures]
        return result

    def _completeness(self, answer: CompletenessFile, size: int, result: FileCheckResult) -> None:
        label = answer.question
        deadline_days = answer.deadline_days()
        if deadline_days is None:
            result.failures.append(
                Failure(
                    Check.COMPLETENESS,
                    f"{label}: no line has a deadline a whole number of days after its month's end, so the hub's "
                    "deadline_days cannot be read from the file: download it again from the hub",
                )
            )
            return
        result.deadline_days = deadline_days
        hotlines, submissions, made_after = self._verification.completeness_at(size)
        made_before = self._verification.now
        if answer.generated_at is not None:  # a JSON answer says when it was made: then every status is exact
            made = answer.generated_at
            if (made_after is not None and made < made_after) or made > made_before:
                result.failures.append(
                    Failure(
                        Check.COMPLETENESS,
                        f"{label}: generated_at {format_timestamp(made)} is before the last entry of its checkpoint "
                        f"or after this check ({format_timestamp(made_before)}): the answer misstates when it was made",
                    )
                )
                return
            made_after = made_before = made
        if answer.scope_level == "hotline":
            hotlines = [h for h in hotlines if h.id == answer.scope_code]
            if not hotlines:
                result.failures.append(
                    Failure(
                        Check.COMPLETENESS,
                        f"{label}: the log (size {size}) enrolled no hotline {answer.scope_code!r}",
                        hotline_id=answer.scope_code,
                    )
                )
                return
        elif answer.scope_level == "country":
            hotlines = [h for h in hotlines if h.country == answer.scope_code]
        elif answer.countries is not None:
            hotlines = [h for h in hotlines if h.country in answer.countries]
        lines = grid(
            hotlines,
            submissions,
            period_from=answer.period_from,
            period_to=answer.period_to,
            deadline_days=deadline_days,
            made_after=made_after,
            made_before=made_before,
            rounds=self._verification.round_reports_at(size),
        )
        expected = {(line.hotline_id, line.period): line for line in lines}
        columns = sdmx_columns() if answer.format == "sdmx-csv" else csv_columns()
        self._compare_grid(answer, expected, columns, result, label=label)
        if answer.format == "json":
            self._compare_summaries(answer, summaries(lines, deadline_days=deadline_days), result, label=label)

    def _compare_summaries(
        self,
        answer: CompletenessFile,
        expected: Mapping[str, Mapping[str, str]],
        result: FileCheckResult,
        *,
        label: str,
    ) -> None:
        """A JSON answer's per-month summaries (expected, reported, on time, the rates, ...) against the grid's."""

        def fail(message: str, period: str) -> None:
            result.failures.append(Failure(Check.COMPLETENESS, f"{label}: {message}", keys={"period": period}))

        seen: set[str] = set()
        for summary in answer.periods:
            period = summary["period"]
            if period in seen or period not in expected:
                fail("a month summary the answer repeats, or outside its period_from..period_to", period)
                continue
            seen.add(period)
            ours = expected[period]
            differ = [
                f"summary {name} in the answer {summary[name]!r}, recomputed {ours[name]!r}"
                for name in ours
                if summary.get(name) != ours[name]
            ]
            if differ:
                fail("; ".join(differ), period)
        for period in expected:
            if period not in seen:
                fail("missing: the answer has no summary of this month", period)

    def _compare_grid(
        self,
        answer: CompletenessFile,
        expected: Mapping[tuple[str, str], GridLine],
        columns: Mapping[str, GridRender],
        result: FileCheckResult,
        *,
        label: str,
    ) -> None:
        failures: list[Failure] = []

        def fail(message: str, hotline_id: str | None, period: str | None) -> None:
            failures.append(
                Failure(
                    Check.COMPLETENESS,
                    f"{label}: {message}",
                    hotline_id=hotline_id,
                    keys=None if period is None else {"period": period},
                )
            )

        missing_columns = [name for name in (*answer.keys, *columns) if name not in answer.header]
        if missing_columns:
            raise UsageError(
                T_(
                    "{file} lacks the column(s) {columns} of a completeness file",
                    file=result.file,
                    columns=", ".join(missing_columns),
                )
            )
        hotline_column, period_column = answer.keys
        seen: set[tuple[str, str]] = set()
        for line in answer.lines:
            key = (line[hotline_column], line[period_column])
            if key in seen:
                fail("the line appears twice", *key)
                continue
            seen.add(key)
            row = expected.get(key)
            if row is None:
                fail(
                    "in the file, but the log implies no such line (a hotline outside the scope or not enrolled at "
                    "this checkpoint, or a month outside the file's period_from..period_to)",
                    *key,
                )
                continue
            differ = []
            for name, render in columns.items():
                allowed = render(row)
                if line[name] in allowed:
                    continue
                recomputed = " or ".join(repr(text) for text in allowed)
                why = f" ({_status_rule(row)})" if name in ("status", "REPORTING_STATUS") else ""
                differ.append(f"{name} in the file {line[name]!r}, recomputed {recomputed}{why}")
            if differ:
                fail("; ".join(differ), *key)
        for key in expected:
            if key not in seen:
                fail("missing: the log implies this line (the hotline is in scope and the month in range)", *key)
        if len(failures) > MAX_FAILURES_PER_ANSWER:
            more = len(failures) - MAX_FAILURES_PER_ANSWER
            failures = failures[:MAX_FAILURES_PER_ANSWER]
            fail(f"... and {more} more differences in this file", None, None)
        result.rows = len(answer.lines)
        result.failures += failures

    # ------------------------------------------------------------------ statistics

    def _stats(self, answer: AnswerFile, size: int, result: FileCheckResult) -> None:
        question = answer.question
        identity = self._verification.identity
        assert identity is not None  # prepare() read it
        taxonomy = self._verification.taxonomy(identity.taxonomy_id, identity.taxonomy_hash)
        if question.name not in taxonomy.tables:
            raise UsageError(
                T_("the hub's taxonomy {id} has no table {name}", id=taxonomy.id, name=repr(question.name))
            )
        recomputed = self._verification.recomputation(size, taxonomy)
        countries = _countries(answer)
        expected = recomputed.rows(
            question.name,
            question.group_by,
            period_from=question.period_from,
            period_to=question.period_to,
            countries=countries,
            filters=question.filters,
        )
        scope = T_("region") if question.scope_code is None else T_("country {country}", country=question.scope_code)
        if answer.format == "json":
            published = parse_stats(answer.document, what=result.file)
            months = month_range(question.period_from, question.period_to)
            comparison = compare_answer(
                published,
                expected,
                expected_periods_with_data=recomputed.periods_with_data(question.name, months, countries),
                scope=scope,
            )
            result.rows, result.failures = comparison.rows, [*result.failures, *comparison.failures]
            return
        table = taxonomy.table(question.name)
        if answer.format == "csv":
            keys = list(question.group_by)
            columns = stats_csv_columns(answer.header) | described(
                answer.question, answer.countries, "csv", answer.header
            )
        else:
            keys = [*(d.upper() for d in question.group_by if d != PERIOD), "TIME_PERIOD"]
            columns = stats_sdmx_columns(question, table.dimension_names, answer.header) | described(
                question, answer.countries, "sdmx", answer.header
            )
        rows = {line_key(row.keys, question, answer.format): row for row in expected.values()}
        self._compare_lines(
            answer,
            keys,
            rows,
            columns,
            Check.STATISTICS,
            result,
            label=T_("{question} ({scope})", question=question.name, scope=scope),
        )

    # ------------------------------------------------------------------ estimates

    def _estimates(self, answer: AnswerFile, size: int, result: FileCheckResult) -> None:
        question = answer.question
        by_period = PERIOD in question.group_by
        asked = Asked(
            unit=question.name,
            group_by=tuple(d for d in question.group_by if d != PERIOD),
            by_period=by_period,
            period_from=question.period_from,
            period_to=question.period_to,
            filters=question.filters,
        )
        scope = T_("region") if question.scope_code is None else T_("country {country}", country=question.scope_code)
        label = T_("{question} ({scope})", question=asked.describe(), scope=scope)
        try:
            expected = self._verification.estimates_at(size).answer(asked, countries=_countries(answer))
        except NotAnswerable as e:
            result.failures.append(
                Failure(
                    Check.ESTIMATES,
                    T_(
                        "{question}: the log (size {size}) answers no such question: {reason}",
                        question=label,
                        size=size,
                        reason=str(e),
                    ),
                )
            )
            return
        if answer.format == "json":
            try:
                published = EstimatesAnswer.model_validate(answer.document)
            except ValueError as e:
                raise UsageError(
                    T_("{file} is not a complete estimates answer: {error}", file=result.file, error=e)
                ) from None
            comparison = compare_estimates(published, expected, asked=asked, label=label)
            result.rows, result.failures = comparison.rows, [*result.failures, *comparison.failures]
            return
        if answer.format == "csv":
            keys = list(question.group_by)
            columns = estimates_csv_columns() | described(question, answer.countries, "csv", answer.header)
        else:
            keys = [*(d.upper() for d in question.group_by if d != PERIOD), "TIME_PERIOD"]
            columns = estimates_sdmx_columns() | described(question, answer.countries, "sdmx", answer.header)
        rows = {line_key(row.keys, question, answer.format): row for row in expected.rows}
        self._compare_lines(answer, keys, rows, columns, Check.ESTIMATES, result, label=label)

    # ------------------------------------------------------------------ CSV lines

    def _compare_lines(
        self,
        answer: AnswerFile,
        keys: Sequence[str],
        expected: Mapping[tuple[str, ...], Any],
        columns: Mapping[str, Render],
        check: Check,
        result: FileCheckResult,
        *,
        label: str,
    ) -> None:
        failures: list[Failure] = []

        def fail(message: str, where: Mapping[str, str] | None) -> None:
            failures.append(
                Failure(
                    check,
                    T_("{question}: {problem}", question=label, problem=message),
                    table=answer.question.name if check is Check.STATISTICS else None,
                    keys=where,
                )
            )

        missing_columns = [name for name in (*keys, *columns) if name not in answer.header]
        if missing_columns:
            raise UsageError(
                T_(
                    "{file} lacks the column(s) {columns} of its kind of answer",
                    file=result.file,
                    columns=", ".join(missing_columns),
                )
            )
        seen: set[tuple[str, ...]] = set()
        for line in answer.lines:
            key = tuple(line[name] for name in keys)
            where = dict(zip(keys, key, strict=True))
            if key in seen:
                fail(T_("the line appears twice"), where)
                continue
            seen.add(key)
            row = expected.get(key)
            if row is None:
                fail(T_("in the file, but the log implies no such line"), where)
                continue
            differ = [
                T_(
                    "{field} in the file {found}, recomputed {recomputed}",
                    field=name,
                    found=repr(line[name]),
                    recomputed=repr(render(row)),
                )
                for name, render in columns.items()
                if not same(name, line[name], render(row))
            ]
            if differ:
                fail(Joined(differ, "; "), where)
        for key in expected:
            if key not in seen:
                fail(T_("missing: the log implies this line"), dict(zip(keys, key, strict=True)))
        if len(failures) > MAX_FAILURES_PER_ANSWER:
            more = len(failures) - MAX_FAILURES_PER_ANSWER
            failures = failures[:MAX_FAILURES_PER_ANSWER]
            fail(T_("... and {more} more differences in this file", more=more), None)
        result.rows = len(answer.lines)
        result.failures += failures


def _status_rule(row: GridLine) -> str:
    """Why the log implies the row's status, in the hub's rule's words."""
    deadline = format_timestamp(row.deadline)
    if row.first_received_at is not None:
        first = format_timestamp(row.first_received_at)
        return f"first received {first}, deadline {deadline}: on time when received at or before the deadline"
    if not row.expected:
        return "nothing received, and not expected: before its logged reporting_from, or no key of it valid that month"
    return f"nothing received although expected; deadline {deadline}: not_due until it passes, missing after"


def _countries(answer: AnswerFile) -> frozenset[str] | None:
    if answer.question.scope_code is not None:
        return frozenset({answer.question.scope_code})
    return None if answer.countries is None else frozenset(answer.countries)
