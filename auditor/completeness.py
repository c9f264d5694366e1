# SPDX-License-Identifier: Apache-2.0
"""Reporting completeness re-derived from the log alone: what ``check FILE`` compares a completeness file with.

A completeness file (``GET /v1/completeness?format=csv``, first column ``hotline_id``; the SDMX-CSV message
``GET /v1/exports/completeness.sdmx.csv``, dataflow :data:`COMPLETENESS_DATAFLOW`; the JSON answer of
``GET /v1/completeness``) has one line per hotline in scope and month of ``period_from..period_to``; the JSON answer
also a summary per month (:func:`summaries`: expected, reported, on time, late, missing, not due, corrected and both
rates). :func:`grid` derives the same lines from the verified log at the
checkpoint the file names, with the hub's published rules:

* **hotlines**: every hotline a ``key_enrolled`` entry enrolled, in scope, with its key windows (``[valid_from,
  end)``, ``end`` the earlier of rotation and revocation) and the ``reporting_from`` its latest logged
  ``hotline_policy`` declares;
* **received**: per (hotline, month), the accepted submissions no ``submission_withdrawn`` entry in the tree took
  out (a withdrawn release counts as never received): the first and latest ``received_at``, the highest revision
  and how many; ``corrected`` when that revision is above 1;
* **expected**: every month from ``reporting_from`` on when declared, else a month one of its keys was valid in;
  or a month it reported anyway;
* **deadline**: the month's end plus ``deadline_days`` days; for a hotline that enrolled (its first key) after that
  deadline (without ``reporting_from``: after the month ended), its enrolment plus ``deadline_days`` (a backfill);
* **status**: ``on_time`` / ``late`` by the first receive time against the deadline; with nothing received,
  ``not_enrolled`` when not expected, else ``not_due`` until the deadline passes and ``missing`` after.

Two facts are not in the log. ``deadline_days`` is a hub setting no signed or published source names: it is read
from the file's own ``deadline`` column (the smallest whole number of days between a month's end and its deadline;
a backfill deadline is always later), reported with the result, and every deadline of the file must then follow
from it. And the file does not say *when* it was made, which decides ``not_due`` against ``missing``: it was made
after the last entry of its checkpoint was logged and before this check, so a deadline before the former must read
``missing``, one after the latter ``not_due``, and one in between may read either. A JSON answer states both: its
``deadline_days`` is used as stated, and its ``generated_at`` (which must lie between those two times) makes every
status exact, so its summaries can be recomputed too.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from auditor.entries import AcceptedSubmission
from auditor.errors import UsageError
from auditor.i18n import N_, T_
from auditor.keys import HotlineWindows
from protocol.csv_cells import unescape_cell
from protocol.errors import ProtocolError
from protocol.messages import b64decode, format_timestamp, parse_timestamp
from protocol.period import month_number, month_start, month_text

__all__ = [
    "COMPLETENESS_DATAFLOW",
    "STATUSES",
    "CompletenessFile",
    "GridLine",
    "Render",
    "csv_columns",
    "grid",
    "is_completeness_answer",
    "is_completeness_file",
    "read_completeness_answer",
    "read_completeness_file",
    "sdmx_columns",
    "summaries",
]

#: The SDMX dataflow of the hub's completeness messages.
COMPLETENESS_DATAFLOW: Final = "TIPSHARE:REPORTING_COMPLETENESS(1.0.0)"
STATUSES: Final = ("on_time", "late", "not_due", "missing", "not_enrolled")
#: What a hub writes for a missing value in SDMX-CSV.
_NA: Final = "#N/A"


@dataclass(frozen=True, slots=True)
class GridLine:
    """One hotline and month as the log implies it. ``statuses`` is one status, or both ``not_due`` and
    ``missing`` when the deadline passed between the checkpoint's last entry and this check."""

    hotline_id: str
    hotline_name: str
    country: str
    period: str
    statuses: tuple[str, ...]
    expected: bool
    deadline: datetime
    first_received_at: datetime | None
    latest_received_at: datetime | None
    latest_revision: int | None
    revisions: int
    corrected: bool


@dataclass(frozen=True, slots=True)
class CompletenessFile:
    """A completeness file, read but not trusted: its question (months and scope), checkpoint and lines.

    ``scope_level``/``scope_code`` and ``countries`` as the CSV's ``scope`` names them (``region (MD, UA)``: a
    country-limited token's region). An SDMX-CSV message names no scope: ``scope_named`` is then false and the scope
    is taken from its lines (the countries of ``REF_AREA``; one hotline, a hotline scope)."""

    format: Literal["csv", "sdmx-csv", "json"]
    period_from: str
    period_to: str
    scope_level: str
    scope_code: str | None
    countries: tuple[str, ...] | None
    scope_named: bool
    checkpoint_size: int
    checkpoint_root: bytes
    header: tuple[str, ...] = ()
    lines: tuple[Mapping[str, str], ...] = field(default=(), hash=False)
    #: A JSON answer: its signed checkpoint note, the ``generated_at``, ``deadline_days`` it states, and the
    #: per-month summaries (as text, like CSV cells).
    checkpoint_note: str | None = None
    generated_at: datetime | None = None
    stated_deadline_days: int | None = None
    periods: tuple[Mapping[str, str], ...] = field(default=(), hash=False)

    @property
    def keys(self) -> tuple[str, str]:
        """The columns that key a line: hotline and month."""
        return ("HOTLINE", "TIME_PERIOD") if self.format == "sdmx-csv" else ("hotline_id", "period")

    @property
    def question(self) -> str:
        """The file's question in words: ``completeness 2026-09..2026-10, region``."""
        scope = "region" if self.scope_code is None else f"{self.scope_level}:{self.scope_code}"
        if self.countries and self.scope_code is None:
            scope += f" ({', '.join(self.countries)})"
        return f"completeness {self.period_from}..{self.period_to}, {scope}"

    def deadline_days(self) -> int | None:
        """The hub's ``deadline_days``: as a JSON answer states it, else as the file's deadlines imply it (``None``:
        no line has a usable deadline)."""
        if self.stated_deadline_days is not None:
            return self.stated_deadline_days
        column, period = ("DEADLINE", "TIME_PERIOD") if self.format == "sdmx-csv" else ("deadline", "period")
        found: list[int] = []
        for line in self.lines:
            try:
                deadline = parse_timestamp(line[column])
                end = _month_end(line[period])
            except (ProtocolError, ValueError, KeyError):
                continue
            gap = deadline - end
            if gap >= timedelta(0) and gap % timedelta(days=1) == timedelta(0):
                found.append(gap.days)
        if not found:
            return None
        # the value most lines imply (one edited deadline does not move it); a tie goes to the smallest
        counts = Counter(found)
        return min(counts, key=lambda days: (-counts[days], days))


def is_completeness_file(header: Sequence[str], first_line: Sequence[str]) -> bool:
    """Whether a CSV file's header (and first line) are the hub's completeness grid."""
    if header and header[0] == "hotline_id":
        return True
    return (
        len(header) > 1
        and header[0] == "STRUCTURE"
        and header[1] == "STRUCTURE_ID"
        and len(first_line) > 1
        and first_line[1] == COMPLETENESS_DATAFLOW
    )


def read_completeness_file(text: str, *, name: str) -> CompletenessFile:
    """Read a completeness CSV or SDMX-CSV file (``name`` for messages); :class:`UsageError` if it is not one."""
    rows = [[unescape_cell(cell) for cell in row] for row in csv.reader(io.StringIO(text)) if row]
    if not rows:
        raise UsageError(T_("{name} is empty: not an answer of the hub", name=name))
    header = tuple(rows[0])
    if len(set(header)) != len(header):
        raise UsageError(T_("{name} repeats a column name: not an answer of the hub", name=name))
    lines: list[Mapping[str, str]] = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise UsageError(
                T_(
                    "{name} line {number} has {count} cells, its header {header_cells}",
                    name=name,
                    number=number,
                    count=len(row),
                    header_cells=len(header),
                )
            )
        lines.append(dict(zip(header, row, strict=True)))
    sdmx = header[0] == "STRUCTURE"
    needed = (
        ("HOTLINE", "TIME_PERIOD", "REF_AREA", "PERIOD_FROM", "PERIOD_TO", "CHECKPOINT_SIZE", "CHECKPOINT_ROOT")
        if sdmx
        else ("hotline_id", "period", "period_from", "period_to", "scope", "checkpoint_size", "checkpoint_root")
    )
    lacking = [column for column in needed if column not in header]
    if lacking:
        raise UsageError(
            T_("{name} is a completeness file without the column(s) {columns}", name=name, columns=", ".join(lacking)),
            hint=N_(
                "Download it again from a hub of this version: its completeness files name their months and scope."
            ),
        )
    if not lines:
        raise UsageError(T_("{name} has no lines: there is nothing to check in it", name=name))
    size_column, root_column = needed[-2], needed[-1]
    from_column, to_column = ("PERIOD_FROM", "PERIOD_TO") if sdmx else ("period_from", "period_to")
    said = {(line[from_column], line[to_column], line[size_column], line[root_column]) for line in lines}
    scopes = {line["scope"] for line in lines} if not sdmx else set()
    if len(said) != 1 or len(scopes) > 1:
        raise UsageError(
            T_("{name} mixes answers: its lines name several period ranges, scopes or checkpoints", name=name)
        )
    ((period_from, period_to, size, root),) = said
    try:
        _month_end(period_from), _month_end(period_to)
        checkpoint_size = int(size)
        checkpoint_root = b64decode(root, what="checkpoint root hash")
    except (ProtocolError, ValueError) as e:
        raise UsageError(T_("{name}: {error}", name=name, error=e)) from None
    if sdmx:
        hotlines = sorted({line["HOTLINE"] for line in lines})
        areas = tuple(sorted({line["REF_AREA"] for line in lines}))
        level, code = ("hotline", hotlines[0]) if len(hotlines) == 1 else ("region", None)
        return CompletenessFile(
            format="sdmx-csv",
            period_from=period_from,
            period_to=period_to,
            scope_level=level,
            scope_code=code,
            countries=areas if code is None else None,
            scope_named=False,
            checkpoint_size=checkpoint_size,
            checkpoint_root=checkpoint_root,
            header=header,
            lines=tuple(lines),
        )
    level, code, countries = _scope(scopes.pop(), name)
    return CompletenessFile(
        format="csv",
        period_from=period_from,
        period_to=period_to,
        scope_level=level,
        scope_code=code,
        countries=countries,
        scope_named=True,
        checkpoint_size=checkpoint_size,
        checkpoint_root=checkpoint_root,
        header=header,
        lines=tuple(lines),
    )


def is_completeness_answer(document: Mapping[str, object]) -> bool:
    """Whether a JSON document is a ``GET /v1/completeness`` answer."""
    return "deadline_days" in document and "rows" in document and "periods" in document


def read_completeness_answer(document: Mapping[str, Any], *, name: str) -> CompletenessFile:
    """Read a ``GET /v1/completeness`` JSON answer: its rows and summaries as the CSV writes the same values."""
    try:
        scope, checkpoint = document["scope"], document["checkpoint"]
        countries = scope.get("countries")
        lines = tuple(
            {
                "hotline_id": str(row["hotline_id"]),
                "period": str(row["period"]),
                "hotline_name": _cell(str(row["hotline_name"])),
                "country": str(row["country"]),
                "status": str(row["status"]),
                **{k: _json_cell(row[k]) for k in ("expected", "corrected", "revisions", "latest_revision")},
                **{k: _json_time(row[k]) for k in ("first_received_at", "latest_received_at", "deadline")},
            }
            for row in document["rows"]
        )
        periods = tuple(
            {"period": str(p["period"])}
            | {k: _json_time(p[k]) if k == "deadline" else _json_cell(p[k]) for k in _SUMMARY if k != "period"}
            for p in document["periods"]
        )
        said = CompletenessFile(
            format="json",
            period_from=str(document["period_from"]),
            period_to=str(document["period_to"]),
            scope_level=str(scope["level"]),
            scope_code=None if scope["code"] is None else str(scope["code"]),
            countries=None if countries is None else tuple(str(c) for c in countries),
            scope_named=True,
            checkpoint_size=int(checkpoint["size"]),
            checkpoint_root=b64decode(str(checkpoint["root_hash"]), what="checkpoint root hash"),
            header=_JSON_COLUMNS,
            lines=lines,
            checkpoint_note=checkpoint.get("note"),
            generated_at=_instant(str(document["generated_at"])),
            stated_deadline_days=int(document["deadline_days"]),
            periods=periods,
        )
        _month_end(said.period_from), _month_end(said.period_to)
    except (KeyError, TypeError, ValueError, AttributeError, ProtocolError) as e:
        raise UsageError(
            T_(
                "{name} is not a complete completeness answer of the hub: {kind} {error}",
                name=name,
                kind=type(e).__name__,
                error=e,
            )
        ) from None
    return said


#: The fields of a JSON answer's rows, under the names of the CSV's columns.
_JSON_COLUMNS: Final = (
    "hotline_id",
    "period",
    "hotline_name",
    "country",
    "status",
    "expected",
    "corrected",
    "revisions",
    "latest_revision",
    "first_received_at",
    "latest_received_at",
    "deadline",
)
#: The fields of a month's summary in a JSON answer, compared as text.
_SUMMARY: Final = (
    "period",
    "deadline",
    "expected",
    "reported",
    "on_time",
    "late",
    "missing",
    "not_due",
    "corrected",
    "reporting_rate",
    "on_time_rate",
)


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} names no time zone")
    return moment.astimezone(UTC)


def _json_time(value: object) -> str:
    return "" if value is None else format_timestamp(_instant(str(value)))


def _json_cell(value: object) -> str:
    if value is None or isinstance(value, bool | int):
        return _cell(value)
    if isinstance(value, float):
        return repr(value)
    raise ValueError(f"{value!r} is not a number or flag")


def summaries(lines: Sequence[GridLine], *, deadline_days: int) -> dict[str, dict[str, str]]:
    """Per month, the summary the hub answers in JSON (DHIS2's reporting metrics), as text; needs exact statuses."""
    by_month: dict[str, list[GridLine]] = {}
    for line in lines:
        by_month.setdefault(line.period, []).append(line)
    out: dict[str, dict[str, str]] = {}
    for period, rows in by_month.items():
        counts = Counter(row.statuses[0] for row in rows)
        expected = sum(row.expected for row in rows)
        reported = counts["on_time"] + counts["late"]
        out[period] = {
            "period": period,
            "deadline": format_timestamp(_month_end(period) + timedelta(days=deadline_days)),
            "expected": str(expected),
            "reported": str(reported),
            "on_time": str(counts["on_time"]),
            "late": str(counts["late"]),
            "missing": str(counts["missing"]),
            "not_due": str(counts["not_due"]),
            "corrected": str(sum(row.corrected for row in rows)),
            "reporting_rate": _json_cell(reported / expected if expected else None),
            "on_time_rate": _json_cell(counts["on_time"] / expected if expected else None),
        }
    return out


def _scope(text: str, name: str) -> tuple[str, str | None, tuple[str, ...] | None]:
    """``region``, ``region (MD, UA)``, ``country:UA`` or ``hotline:ua-a``."""
    if text == "region":
        return "region", None, None
    if text.startswith("region (") and text.endswith(")"):
        return "region", None, tuple(code.strip() for code in text[len("region (") : -1].split(","))
    level, _, code = text.partition(":")
    if level in ("country", "hotline") and code:
        return level, code, None
    raise UsageError(T_("{name} names the scope {text}, which is none the hub writes", name=name, text=repr(text[:60])))


def _month_end(period: str) -> datetime:
    """The first instant after the month ``period``."""
    return month_start(month_number(period) + 1)


@dataclass(frozen=True, slots=True)
class _Received:
    first: datetime
    latest: datetime
    latest_revision: int
    revisions: int


def grid(
    hotlines: Iterable[HotlineWindows],
    submissions: Iterable[AcceptedSubmission],
    *,
    period_from: str,
    period_to: str,
    deadline_days: int,
    made_after: datetime | None,
    made_before: datetime,
    rounds: Iterable[tuple[str, str, datetime]] = (),
) -> list[GridLine]:
    """The grid of ``hotlines`` (those in scope, every one the log enrolled) × months ``period_from..period_to``,
    from ``submissions`` (accepted and not withdrawn in the tree), ordered by country, hotline and month as the hub
    orders it. The file was made after ``made_after`` (the checkpoint's last logged time) and before
    ``made_before`` (now). ``rounds``: ``(hotline, period, received_at)`` of each survivor of a round whose sum
    counts (:meth:`auditor.verify.Verification.round_reports_at`)."""
    months = range(month_number(period_from), month_number(period_to) + 1)
    grace = timedelta(days=deadline_days)
    in_scope = sorted(hotlines, key=lambda h: (h.country, h.id))
    ids = {h.id for h in in_scope}
    received: dict[tuple[str, int], _Received] = {}
    for submission in submissions:
        if submission.hotline_id not in ids:
            continue
        try:
            month = month_number(submission.period)
        except ValueError:
            continue
        if month not in months:
            continue
        at = submission.received_at.astimezone(UTC).replace(microsecond=0)
        slot = (submission.hotline_id, month)
        got = received.get(slot)
        received[slot] = (
            _Received(at, at, submission.revision, 1)
            if got is None
            else _Received(
                min(got.first, at),
                max(got.latest, at),
                max(got.latest_revision, submission.revision),
                got.revisions + 1,
            )
        )
    # A survivor of a round whose sum counts reported the month with its masked vector, once.
    for hotline_id, period, when in rounds:
        if hotline_id in ids and month_number(period) in months:
            at = when.astimezone(UTC).replace(microsecond=0)
            received[(hotline_id, month_number(period))] = _Received(at, at, 1, 1)
    lines = []
    for hotline in in_scope:
        enrolled = min((start for start, _ in hotline.windows), default=None)
        declared_from = None if hotline.reporting_from is None else month_number(hotline.reporting_from)
        for month in months:
            text = month_text(month)
            end = month_start(month + 1)
            deadline = end + grace
            declared = declared_from is not None and month >= declared_from
            if enrolled is not None and enrolled > (deadline if declared else end):
                deadline = enrolled + grace
            got = received.get((hotline.id, month))
            expected = got is not None or hotline.expected_in(text)
            statuses: tuple[str, ...]
            if got is not None:
                statuses = ("on_time",) if got.first <= deadline else ("late",)
            elif not expected:
                statuses = ("not_enrolled",)
            elif made_after is not None and made_after > deadline:
                statuses = ("missing",)
            elif made_before <= deadline:
                statuses = ("not_due",)
            else:
                statuses = ("not_due", "missing")
            lines.append(
                GridLine(
                    hotline_id=hotline.id,
                    hotline_name=hotline.display_name,
                    country=hotline.country,
                    period=text,
                    statuses=statuses,
                    expected=expected,
                    deadline=deadline,
                    first_received_at=None if got is None else got.first,
                    latest_received_at=None if got is None else got.latest,
                    latest_revision=None if got is None else got.latest_revision,
                    revisions=0 if got is None else got.revisions,
                    corrected=got is not None and got.latest_revision > 1,
                )
            )
    return lines


def _cell(value: str | int | bool | None) -> str:
    """A value as the text of the hub's CSV cell means it (read back with
    :func:`~protocol.csv_cells.unescape_cell`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return value


def _time(moment: datetime | None, missing: str = "") -> str:
    return missing if moment is None else format_timestamp(moment)


#: How a column of a recomputed line is written: every text the file may hold (several only for a status).
Render = Callable[[GridLine], tuple[str, ...]]


def _one(write: Callable[[GridLine], str]) -> Render:
    return lambda line: (write(line),)


def csv_columns() -> dict[str, Render]:
    """The compared columns of ``GET /v1/completeness?format=csv`` (the keys and checkpoint aside)."""
    return {
        "hotline_name": _one(lambda r: _cell(r.hotline_name)),
        "country": _one(lambda r: _cell(r.country)),
        "status": lambda r: r.statuses,
        "expected": _one(lambda r: _cell(r.expected)),
        "corrected": _one(lambda r: _cell(r.corrected)),
        "revisions": _one(lambda r: _cell(r.revisions)),
        "latest_revision": _one(lambda r: _cell(r.latest_revision)),
        "first_received_at": _one(lambda r: _time(r.first_received_at)),
        "latest_received_at": _one(lambda r: _time(r.latest_received_at)),
        "deadline": _one(lambda r: _time(r.deadline)),
    }


def sdmx_columns() -> dict[str, Render]:
    """The compared columns of ``GET /v1/exports/completeness.sdmx.csv`` (the keys and checkpoint aside)."""
    return {
        "REF_AREA": _one(lambda r: r.country),
        "OBS_VALUE": lambda r: tuple("1" if s in ("on_time", "late") else "0" for s in r.statuses),
        "REPORTING_STATUS": lambda r: r.statuses,
        "EXPECTED_REPORTS": _one(lambda r: "1" if r.expected else "0"),
        "CORRECTED": _one(lambda r: _cell(r.corrected)),
        "REVISIONS": _one(lambda r: _cell(r.revisions)),
        "FIRST_RECEIVED": _one(lambda r: _time(r.first_received_at, _NA)),
        "DEADLINE": _one(lambda r: _time(r.deadline)),
    }
