# SPDX-License-Identifier: Apache-2.0
"""A downloaded answer file, read but not trusted: what it answers, at which checkpoint, and its rows.

Six kinds of file are read (``tipshare-audit check FILE``), told apart by their content, not their name:

=================  ===========================================  ==============================================
format             from                                         question and checkpoint
=================  ===========================================  ==============================================
stats JSON         ``GET /v1/stats/{table}``                    fields ``table``, ``group_by``, ``filters``, …
estimates JSON     ``GET /v1/estimates/{unit}``                 ``question`` and ``checkpoint``
stats CSV          ``GET /v1/stats/{table}?format=csv``         columns ``question``, ``checkpoint_size``,
estimates CSV      ``GET /v1/estimates/{unit}?format=csv``      ``checkpoint_root`` (and ``scope``)
SDMX-CSV           ``GET /v1/exports/{stats,estimates}/….csv``  columns ``QUESTION``, ``CHECKPOINT_SIZE``,
                                                                ``CHECKPOINT_ROOT`` (and ``REF_AREA``)
=================  ===========================================  ==============================================

Completeness answers (``GET /v1/completeness`` as JSON, fields ``deadline_days``, ``rows`` and ``periods``; its CSV,
first column ``hotline_id``; the SDMX-CSV message of dataflow ``TIPSHARE:REPORTING_COMPLETENESS``) are read by
:mod:`auditor.completeness`.

The ``question`` columns (:mod:`protocol.questions`) were added to the CSV files for this: a CSV file downloaded
from an older hub has none and cannot be recomputed (:class:`~auditor.errors.UsageError`; check its JSON answer
instead). A region answer to a country-limited token covers only the token's countries: the CSV ``scope`` reads
``region (MD, UA)``, SDMX-CSV's ``REF_AREA`` ``MD+UA``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from auditor.completeness import (
    CompletenessFile,
    is_completeness_answer,
    is_completeness_file,
    read_completeness_answer,
    read_completeness_file,
)
from auditor.errors import UsageError
from auditor.i18n import N_, T_
from protocol.csv_cells import unescape_cell
from protocol.errors import ProtocolError
from protocol.messages import b64decode
from protocol.questions import Question, parse_question_text

__all__ = ["AnswerFile", "FileFormat", "read_answer_file"]

FileFormat = Literal["json", "csv", "sdmx-csv"]

_OLD_HUB: Final = N_(
    "Download it again from a hub of this version (its CSV files name their question), or check the JSON answer."
)


@dataclass(frozen=True, slots=True)
class AnswerFile:
    """One answer file: ``kind`` (``stats`` or ``estimates``), its format, the question it answers, the countries a
    country-limited token's region covers (``None``: no limit), the checkpoint it names, and its content: the
    parsed JSON document, or the CSV lines as ``column -> text``."""

    kind: Literal["stats", "estimates"]
    format: FileFormat
    question: Question
    countries: tuple[str, ...] | None
    checkpoint_size: int
    checkpoint_root: bytes
    checkpoint_note: str | None
    document: Any = None
    header: tuple[str, ...] = ()
    lines: tuple[Mapping[str, str], ...] = field(default=(), hash=False)


def read_answer_file(data: bytes, *, name: str) -> AnswerFile | CompletenessFile:
    """Read an answer file (``name`` for messages); :class:`UsageError` if it is none of the six kinds, nor a
    completeness file (:mod:`auditor.completeness`)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(T_("{name} is not UTF-8 text: not an answer of the hub", name=name)) from None
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except ValueError as e:
            raise UsageError(T_("{name} is not valid JSON: {error}", name=name, error=e)) from None
        return _json_file(document, name)
    head = list(csv.reader(io.StringIO(text)))[:2]
    if head and is_completeness_file(head[0], head[1] if len(head) > 1 else []):
        return read_completeness_file(text, name=name)
    return _csv_file(text, name)


def _json_file(document: Any, name: str) -> AnswerFile | CompletenessFile:
    if not isinstance(document, dict):
        raise UsageError(
            T_("{name} is a JSON {kind}, not an answer of the hub", name=name, kind=type(document).__name__)
        )
    if is_completeness_answer(document):
        return read_completeness_answer(document, name=name)
    try:
        if document.get("type") == "estimates":
            echo, checkpoint = document["question"], document["checkpoint"]
            scope = echo["scope"]
            question = Question(
                route="estimates",
                name=str(echo["unit"]),
                group_by=tuple(echo["group_by"]),
                filters={str(k): tuple(v) for k, v in echo["filters"].items()},
                period_from=str(echo["period_from"]),
                period_to=str(echo["period_to"]),
                scope_level=scope["level"],
                scope_code=scope["code"],
            )
            kind: Literal["stats", "estimates"] = "estimates"
        elif "table" in document and "rows" in document:
            checkpoint, scope = document["checkpoint"], document["scope"]
            question = Question(
                route="stats",
                name=str(document["table"]),
                group_by=tuple(document["group_by"]),
                filters={str(k): tuple(v) for k, v in document.get("filters", {}).items()},
                period_from=str(document["period_from"]),
                period_to=str(document["period_to"]),
                scope_level=scope["level"],
                scope_code=scope["code"],
            )
            kind = "stats"
        else:
            raise UsageError(
                T_("{name} is JSON, but neither a statistics nor an estimates answer of the hub", name=name)
            )
        countries = scope.get("countries")
        return AnswerFile(
            kind=kind,
            format="json",
            question=question,
            countries=None if countries is None else tuple(countries),
            checkpoint_size=int(checkpoint["size"]),
            checkpoint_root=b64decode(str(checkpoint["root_hash"]), what="checkpoint root hash"),
            checkpoint_note=checkpoint.get("note"),
            document=document,
        )
    except (KeyError, TypeError, ValueError, AttributeError, ProtocolError) as e:
        raise UsageError(
            T_("{name} is not a complete answer of the hub: {kind} {error}", name=name, kind=type(e).__name__, error=e)
        ) from None


def _csv_file(text: str, name: str) -> AnswerFile:
    rows = [[unescape_cell(cell) for cell in row] for row in csv.reader(io.StringIO(text))]
    if not rows or not rows[0]:
        raise UsageError(T_("{name} is empty: not an answer of the hub", name=name))
    header = tuple(rows[0])
    if len(set(header)) != len(header):
        raise UsageError(T_("{name} repeats a column name: not an answer of the hub", name=name))
    lines = []
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
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
    names = (
        ("QUESTION", "CHECKPOINT_SIZE", "CHECKPOINT_ROOT")
        if sdmx
        else ("question", "checkpoint_size", "checkpoint_root")
    )
    if header[0] not in ("STRUCTURE", "table", "unit"):
        raise UsageError(
            T_(
                "{name} is CSV, but not one the hub writes (its first column is {header})",
                name=name,
                header=repr(header[0][:40]),
            )
        )
    if names[0] not in header:
        raise UsageError(T_("{name} names no question (no {names} column)", name=name, names=names[0]), hint=_OLD_HUB)
    if not lines:
        raise UsageError(
            T_("{name} has no rows: there is nothing to check in it (the JSON answer names its question)", name=name)
        )
    question_texts = {line[names[0]] for line in lines}
    checkpoints = {(line[names[1]], line[names[2]]) for line in lines}
    if len(question_texts) != 1 or len(checkpoints) != 1:
        raise UsageError(T_("{name} mixes answers: its lines name several questions or checkpoints", name=name))
    ((size, root),) = checkpoints
    try:
        question = parse_question_text(question_texts.pop())
        checkpoint_size = int(size)
        checkpoint_root = b64decode(root, what="checkpoint root hash")
    except (ProtocolError, ValueError) as e:
        raise UsageError(T_("{name}: {error}", name=name, error=e)) from None
    kind: Literal["stats", "estimates"] = question.route
    return AnswerFile(
        kind=kind,
        format="sdmx-csv" if sdmx else "csv",
        question=question,
        countries=_countries(lines[0], sdmx=sdmx, level=question.scope_level),
        checkpoint_size=checkpoint_size,
        checkpoint_root=checkpoint_root,
        checkpoint_note=None,
        header=header,
        lines=tuple(lines),
    )


def _countries(line: Mapping[str, str], *, sdmx: bool, level: str) -> tuple[str, ...] | None:
    """The countries a country-limited token's region answer covers, from ``REF_AREA`` or ``scope``."""
    if level != "region":
        return None
    if sdmx:
        area = line.get("REF_AREA", "_T")
        return None if area == "_T" else tuple(area.split("+"))
    scope = line.get("scope", "region")
    if not scope.startswith("region (") or not scope.endswith(")"):
        return None
    return tuple(code.strip() for code in scope[len("region (") : -1].split(","))
