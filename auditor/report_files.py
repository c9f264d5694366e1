# SPDX-License-Identifier: Apache-2.0
"""``verify --report PATH``: the run's report as files, to keep or hand on: JSON, and a Markdown summary beside it.

``PATH`` gets the JSON document of ``--json`` (:meth:`~auditor.report.VerifyReport.document`) with the time of
the run added (``generated_at``); ``PATH`` with the suffix ``.md`` (``report.json`` → ``report.md``; a path
without ``.json`` gets ``.md`` appended) gets a readable summary: the verdict, what was verified (log key,
checkpoint, entries, hotlines, submissions, statistics, estimates) and a table of every failure. Text that came
from the hub is escaped, so the summary renders as plain text whatever the hub put in a name.

>>> markdown_path(Path("audits/2026-11.json")).name, markdown_path(Path("audit")).name
('2026-11.md', 'audit.md')
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from auditor.errors import UsageError
from auditor.report import VerifyReport
from protocol.messages import format_timestamp

__all__ = ["markdown_path", "report_markdown", "write_report"]

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MARKUP: Final = re.compile(r"([\\`*_{}\[\]<>|#!~])")


def markdown_path(path: Path) -> Path:
    """Where the Markdown summary of a report written to ``path`` goes."""
    return path.with_suffix(".md") if path.suffix == ".json" else path.with_name(path.name + ".md")


def write_report(path: Path, report: VerifyReport, *, now: datetime) -> tuple[Path, Path]:
    """Write the JSON report to ``path`` and its Markdown summary beside it; both paths."""
    document = {"generated_at": format_timestamp(now), **report.document()}
    summary = markdown_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        summary.write_text(report_markdown(document), encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot write the report to {path}: {e.strerror or e}") from e
    return path, summary


def report_markdown(document: dict[str, Any]) -> str:
    """The Markdown summary of a report document (as :func:`write_report` writes it)."""
    verdict = document["verdict"]
    log, checkpoint = document["log"], document["checkpoint"]
    lines = [
        f"# tipshare audit: {verdict}",
        "",
        f"- **Hub**: {_text(document['hub'])}",
        f"- **Run at**: {_text(document.get('generated_at') or 'unknown')}",
        f"- **Log**: {_text(log['origin'])}, key fingerprint `{_code(log['fingerprint'])}` (pinned "
        f"{_text(log['pinned'] or 'not yet')})",
        "- **Checkpoint**: "
        + (
            "none verified"
            if checkpoint is None
            else f"size {checkpoint['size']}, root `{_code(checkpoint['root_hash'])}`"
        ),
        f"- **Entries**: {document['entries']['total']} ({document['entries']['new']} new this run)",
        f"- **Hotlines**: {len(document['hotlines'])} in {len(document['countries'])} countries "
        f"({_text(', '.join(document['countries'])) or 'none'})",
        f"- **Submissions**: {document['submissions']['total']} logged, {document['submissions']['valid']} valid, "
        f"{document['submissions']['current']} current",
        f"- **Statistics**: {_summary(document['statistics'], 'answers', 'rows')}",
        f"- **Estimates**: {_summary(document['estimates'], 'answers', 'rows')}",
        "",
    ]
    failures = document["failures"]
    if failures:
        lines += [f"## Failures ({len(failures)})", "", "| check | where | what |", "|---|---|---|"]
        lines += [f"| {_text(f['check'])} | {_text(_where(f))} | {_text(f['message'])} |" for f in failures]
    else:
        lines.append("Every check passed: the log, every submission and every published number verified.")
    notices = document.get("notices") or []
    if notices:
        lines += ["", "## Notes", "", *(f"- {_text(notice)}" for notice in notices)]
    return "\n".join(lines) + "\n"


def _summary(part: dict[str, Any], *counts: str) -> str:
    if part.get("skipped"):
        return f"not compared: {_text(part['skipped'])}"
    done = ", ".join(f"{part[name]} {name}" for name in counts)
    scopes = ", ".join(part.get("scopes") or ())
    return f"{done} recomputed and compared exactly" + (f" (scopes {_text(scopes)})" if scopes else "")


def _where(failure: dict[str, Any]) -> str:
    parts = []
    if failure.get("index") is not None:
        parts.append(f"entry {failure['index']}")
    for name in ("hotline_id", "table"):
        if failure.get(name):
            parts.append(str(failure[name]))
    if failure.get("keys"):
        parts.append(" ".join(f"{k}={v}" for k, v in failure["keys"].items()))
    return ", ".join(parts)


def _text(value: str) -> str:
    """Hub text as inert Markdown: one line, markup characters escaped."""
    return _MARKUP.sub(r"\\\1", _CONTROL.sub(" ", str(value)))


def _code(value: str) -> str:
    return _CONTROL.sub(" ", str(value)).replace("`", "'")
