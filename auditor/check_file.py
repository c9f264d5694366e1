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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditor.answer_files import AnswerFile
from auditor.compare import MAX_FAILURES_PER_ANSWER, compare_answer
from auditor.compare_estimates import compare_estimates
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
from protocol.messages import b64encode
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
        }


class FileCheck:
    """Checks one answer file against the log a :class:`Verification` verifies (in the state DIR ``store``)."""

    def __init__(self, *, verification: Verification, store: StateStore) -> None:
        self._verification = verification
        self._store = store

    def run(self, answer: AnswerFile, *, name: str) -> FileCheckResult:
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
            raise UsageError(f"{name} is about one hotline; tipshare-audit recomputes region and country answers only")
        verification = self._verification
        monitor = verification.prepare()
        if monitor is not None:
            size = self._size(monitor, answer, result)
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

    def _size(self, monitor: LogMonitor, answer: AnswerFile, result: FileCheckResult) -> int | None:
        """The tree size to recompute at, once the file's checkpoint is the log's; else ``None`` (failed)."""

        def fail(message: str) -> None:
            result.failures.append(Failure(Check.FILE, message))

        if monitor.broken:
            return None
        size, root = answer.checkpoint_size, answer.checkpoint_root
        if answer.checkpoint_note is not None or size == 0:
            ref = PublishedCheckpoint(size=size, root_hash=root, note=answer.checkpoint_note)
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

    # ------------------------------------------------------------------ statistics

    def _stats(self, answer: AnswerFile, size: int, result: FileCheckResult) -> None:
        question = answer.question
        identity = self._verification.identity
        assert identity is not None  # prepare() read it
        taxonomy = self._verification.taxonomy(identity.taxonomy_id, identity.taxonomy_hash)
        if question.name not in taxonomy.tables:
            raise UsageError(f"the hub's taxonomy {taxonomy.id} has no table {question.name!r}")
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
                raise UsageError(f"{result.file} is not a complete estimates answer: {e}") from None
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
            raise UsageError(f"{result.file} lacks the column(s) {', '.join(missing_columns)} of its kind of answer")
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


def _countries(answer: AnswerFile) -> frozenset[str] | None:
    if answer.question.scope_code is not None:
        return frozenset({answer.question.scope_code})
    return None if answer.countries is None else frozenset(answer.countries)
