# SPDX-License-Identifier: Apache-2.0
"""``verify --report PATH``: the run's report as files, to keep or hand on: JSON, and a Markdown summary beside it.

``PATH`` gets the JSON document of ``--json`` (:meth:`~auditor.report.VerifyReport.document`) with the time of
the run added (``generated_at``); ``PATH`` with the suffix ``.md`` (``report.json`` → ``report.md``; a path
without ``.json`` gets ``.md`` appended) gets a readable summary: the verdict, what was verified (log key,
checkpoint, entries, hotlines, submissions, statistics, estimates) and a table of every failure. Text that came
from the hub is escaped, so the summary renders as plain text whatever the hub put in a name.

Languages: the JSON file is never translated (its keys and values are for scripts, as ``--json``). The Markdown
summary is written in the language of the run (``--lang``), its sentences and each failure's place and reason
translated, while what tools may match stays English: the verdict word (``VERIFIED``/``FAILED``), the check codes
(``key``, ``statistics``, ...) and the failures table's header row (``| check | where | what |``).

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
from auditor.i18n import N_, T_, translated
from auditor.i18n import gettext as _
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
        texts = [(failure.where(), translated(failure.message)) for failure in report.failures]
        summary.write_text(report_markdown(document, texts=texts), encoding="utf-8")
    except OSError as e:
        raise UsageError(
            T_("cannot write the report to {path}: {strerror}", path=path, strerror=e.strerror or e)
        ) from e
    return path, summary


def report_markdown(document: dict[str, Any], *, texts: list[tuple[str, str]] | None = None) -> str:
    """The Markdown summary of a report document (as :func:`write_report` writes it), in the language spoken
    now; ``texts`` are each failure's place and reason as said in that language (else the document's English)."""
    verdict = document["verdict"]
    log, checkpoint = document["log"], document["checkpoint"]
    entries, submissions = document["entries"], document["submissions"]
    line = "- **{name}**: {value}"
    lines = [
        f"# tipshare audit: {verdict}",
        "",
        line.format(name=_("Hub"), value=_text(document["hub"])),
        line.format(name=_("Run at"), value=_text(document.get("generated_at") or _("unknown"))),
        line.format(
            name=_("Log"),
            value=_("{origin}, key fingerprint `{fingerprint}` (pinned {how})").format(
                origin=_text(log["origin"]),
                fingerprint=_code(log["fingerprint"]),
                how=_text(_(_PINNED.get(log["pinned"] or "", log["pinned"] or ""))),
            ),
        ),
        line.format(
            name=_("Checkpoint"),
            value=_("none verified")
            if checkpoint is None
            else _("size {size}, root `{root}`").format(size=checkpoint["size"], root=_code(checkpoint["root_hash"])),
        ),
        line.format(
            name=_("Entries"),
            value=_("{total} ({new} new this run)").format(total=entries["total"], new=entries["new"]),
        ),
        line.format(
            name=_("Hotlines"),
            value=_("{hotlines} in {countries} countries ({codes})").format(
                hotlines=len(document["hotlines"]),
                countries=len(document["countries"]),
                codes=_text(", ".join(document["countries"])) or _("none"),
            ),
        ),
        line.format(
            name=_("Submissions"),
            value=_("{total} logged, {valid} valid, {current} current").format(
                total=submissions["total"], valid=submissions["valid"], current=submissions["current"]
            ),
        ),
        line.format(name=_("Statistics"), value=_summary(document["statistics"])),
        line.format(name=_("Estimates"), value=_summary(document["estimates"])),
        "",
    ]
    failures = document["failures"]
    if failures:
        said = (
            texts
            if texts is not None and len(texts) == len(failures)
            else [(_where(f), f["message"]) for f in failures]
        )
        lines += [
            _("## Failures ({count})").format(count=len(failures)),
            "",
            "| check | where | what |",
            "|---|---|---|",
        ]
        lines += [
            f"| {_text(f['check'])} | {_text(where)} | {_text(what)} |"
            for f, (where, what) in zip(failures, said, strict=True)
        ]
    else:
        lines.append(_("Every check passed: the log, every submission and every published number verified."))
    notices = document.get("notices") or []
    if notices:
        lines += ["", _("## Notes"), "", *(f"- {_text(translated(notice))}" for notice in notices)]
    return "\n".join(lines) + "\n"


_PINNED: Final = {"": N_("not yet"), "explicit": N_("explicit"), "first-use": N_("first-use")}


def _summary(part: dict[str, Any]) -> str:
    if part.get("skipped"):
        return _("not compared: {why}").format(why=_text(translated(part["skipped"])))
    done = _("{answers} answers, {rows} rows recomputed and compared exactly").format(
        answers=part["answers"], rows=part["rows"]
    )
    scopes = ", ".join(translated(scope) for scope in part.get("scopes") or ())
    return done + (_(" (scopes {scopes})").format(scopes=_text(scopes)) if scopes else "")


def _where(failure: dict[str, Any]) -> str:
    parts = []
    if failure.get("index") is not None:
        parts.append(_("entry {index}").format(index=failure["index"]))
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
