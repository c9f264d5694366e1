# SPDX-License-Identifier: Apache-2.0
"""What ``tipshare-audit`` prints: a verdict and a summary for people (rich), JSON documents for machines."""

from __future__ import annotations

import re
from typing import Any, Final

from rich.console import Console
from rich.markup import escape

from appkit.output import console, emit_json
from auditor.check_file import FileCheckResult
from auditor.i18n import N_, ngettext, translated
from auditor.i18n import gettext as _
from auditor.receipts import ReceiptCheck
from auditor.report import VerifyReport
from protocol.crypto import fingerprint
from protocol.errors import ProtocolError
from protocol.messages import (
    HubKeyHandoverEntry,
    LogEntry,
    SecaggFailedEntry,
    SecaggMemberEntry,
    SecaggStepEntry,
    SubmissionEntry,
    SubmissionPayload,
    SubmissionWithdrawnEntry,
    b64decode,
    b64encode,
)

__all__ = [
    "console",
    "emit_json",
    "receipt_document",
    "show_file_check",
    "show_first_use",
    "show_notices",
    "show_receipt",
    "show_verify",
]


#: Control characters (C0, DEL, C1): text from the hub never reaches the terminal with them (no escape sequences).
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _safe(text: str) -> str:
    """Text that may come from the hub, made safe to print: no control characters, no rich markup."""
    return escape(_CONTROL.sub(" ", text))


#: Verdict words a report prints (translated where printed): of a log, a file, a receipt.
VERDICTS: Final = (N_("VERIFIED"), N_("FAILED"), N_("VALID"), N_("ERROR"))


def show_first_use(report: VerifyReport) -> None:
    """The trust-on-first-use warning (stderr): the fingerprint must be checked out of band."""
    err = console(stderr=True)
    pinned = _safe(_("Pinned the hub's log key on first use"))
    err.print(f"[bold yellow]{pinned}[/]:", soft_wrap=True)
    err.print(f"  {_safe(report.log_vkey)}", soft_wrap=True)
    err.print("  " + _("fingerprint %(fingerprint)s") % {"fingerprint": report.fingerprint}, soft_wrap=True)
    err.print(
        _safe(
            _(
                "Check this fingerprint with the hub operator over another channel (phone, signed letter) before "
                "relying on this result. Later runs with this state DIR refuse any other key. To pin a key obtained "
                "out of band instead, start a new state DIR with --log-key."
            )
        ),
        soft_wrap=True,
    )


def show_notices(report: VerifyReport) -> None:
    """What the auditor should know about the run that is not a failure (stderr)."""
    err = console(stderr=True)
    for notice in report.notices:
        err.print(f"[bold yellow]{_safe(_('Note'))}[/]: {_safe(translated(notice))}", soft_wrap=True)


def show_verify(report: VerifyReport) -> None:
    out = console()
    where = _safe(report.origin or report.hub_url)
    at = (
        ", " + _("checkpoint %(size)s") % {"size": report.checkpoint_size} if report.checkpoint_size is not None else ""
    )
    if report.ok:
        out.print(f"[bold green]{_safe(_('VERIFIED'))}[/]  {where}{at}", soft_wrap=True)
    else:
        problems = _problems(len(report.failures))
        out.print(f"[bold red]{_safe(_('FAILED'))}[/]  {problems}: {where}{at}", soft_wrap=True)
        for failure in report.failures:
            place = f"{failure.where()}: " if failure.where() else ""
            out.print(
                f"  [red]✗[/] [bold]{failure.check}[/]  {_safe(place + translated(failure.message))}", soft_wrap=True
            )
    _rows(out, _summary(report))


def show_file_check(result: FileCheckResult) -> None:
    """The verdict of ``check FILE``, every failure, and what was compared."""
    out = console()
    what = f"{_safe(result.file)} ({result.kind} {result.format})"
    if not result.failures:
        out.print(f"[bold green]{_safe(_('VERIFIED'))}[/]  {what}", soft_wrap=True)
    else:
        problems = _problems(len(result.failures))
        out.print(f"[bold red]{_safe(_('FAILED'))}[/]  {problems}: {what}", soft_wrap=True)
        for failure in result.failures:
            place = f"{failure.where()}: " if failure.where() else ""
            out.print(
                f"  [red]✗[/] [bold]{failure.check}[/]  {_safe(place + translated(failure.message))}", soft_wrap=True
            )
    lines = [(N_("question"), result.question)]
    if result.checkpoint_size is not None and result.checkpoint_root is not None:
        lines.append(
            (
                N_("checkpoint"),
                _("size %(size)s, root %(root)s")
                % {"size": result.checkpoint_size, "root": b64encode(result.checkpoint_root)},
            )
        )
    lines.append((N_("compared"), _("%(rows)s lines or rows, recomputed from the signed log") % {"rows": result.rows}))
    if result.deadline_days is not None and not result.deadline_days_stated:
        lines.append(
            (
                N_("deadline"),
                _(
                    "%(days)s days after a month ends, read from the file's deadline column (the hub signs no "
                    "deadline): every deadline and status of the file was checked against it"
                )
                % {"days": result.deadline_days},
            )
        )
    if result.scope_from_lines:
        lines.append(
            (
                N_("scope"),
                _(
                    "taken from the file's lines (an SDMX-CSV message does not name its scope): a country left out "
                    "entirely is not caught; check the CSV of /v1/completeness to be sure"
                ),
            )
        )
    _rows(out, lines)


def _problems(n: int) -> str:
    return ngettext("%(n)s problem", "%(n)s problems", n) % {"n": n}


def _rows(out: Console, lines: list[tuple[str, str]]) -> None:
    """Name-value lines, the names (translated here) dimmed and aligned (no table: long values wrap as the terminal
    likes)."""
    named = [(_(name), value) for name, value in lines]
    width = max((len(name) for name, _value in named), default=0)
    for name, value in named:
        out.print(f"  [dim]{_safe(name.ljust(width))}[/]  {_safe(value)}", soft_wrap=True)


def _summary(report: VerifyReport) -> list[tuple[str, str]]:
    how = {"explicit": N_("pinned with --log-key"), "first-use": N_("pinned on first use")}.get(report.pinned_how)
    pinned = _(how) if how else ""
    lines = []
    if report.log_vkey:
        lines.append(
            (
                N_("log key"),
                _("%(key)s (%(pinned)s; fingerprint %(fingerprint)s)")
                % {"key": report.log_vkey, "pinned": pinned, "fingerprint": report.fingerprint},
            )
        )
    if report.checkpoint_root is not None:
        lines.append((N_("root"), b64encode(report.checkpoint_root)))
    if report.checkpoint_size is not None:
        earlier = ", ".join(str(size) for size in report.consistent_with)
        proofs = (
            _("consistent with %(n)s earlier checkpoint(s) (%(sizes)s)")
            % {"n": len(report.consistent_with), "sizes": earlier}
            if earlier
            else ""
        )
        rebuilt = _("root rebuilt from all %(n)s entries") % {"n": report.checkpoint_size}
        lines.append((N_("log"), "; ".join(part for part in (proofs, rebuilt) if part)))
    entries = _("%(total)s checked (%(new)s new, %(kept)s from the state DIR)") % {
        "total": report.entries_total,
        "new": report.entries_new,
        "kept": report.entries_total - report.entries_new,
    }
    if report.entries_resumed:
        entries += "; " + _("%(n)s of them by earlier runs, whose conclusions the state DIR keeps") % {
            "n": report.entries_resumed
        }
    lines.append((N_("entries"), entries))
    lines.append(
        (
            N_("key events"),
            _("%(n)s: %(enrolments)s enrolment(s), %(rotations)s rotation(s), %(revocations)s revocation(s)")
            % {
                "n": report.key_events,
                "enrolments": report.enrolments,
                "rotations": report.rotations,
                "revocations": report.revocations,
            },
        )
    )
    lines.append(
        (
            N_("hotlines"),
            _("%(n)s in %(countries)s countries (%(codes)s)")
            % {"n": len(report.hotlines), "countries": len(report.countries), "codes": ", ".join(report.countries)},
        )
    )
    periods = f"{report.periods[0]}..{report.periods[-1]} ({len(report.periods)})" if report.periods else _("none")
    submissions = _("%(accepted)s of %(submissions)s valid") % {
        "accepted": report.accepted,
        "submissions": report.submissions,
    }
    if report.withdrawn:
        submissions += ", " + _("%(n)s withdrawn") % {"n": report.withdrawn}
    submissions += ", " + _("%(n)s current; periods %(periods)s") % {"n": report.current, "periods": periods}
    lines.append((N_("submissions"), submissions))
    stats = report.stats
    if stats.skipped:
        lines.append((N_("statistics"), _("not compared: %(why)s") % {"why": translated(stats.skipped)}))
    else:
        lines.append(
            (
                N_("statistics"),
                _(
                    "%(answers)s answers, %(rows)s rows compared exactly: %(tables)s tables, %(groupings)s groupings "
                    "(period, and period × each dimension), scopes %(scopes)s"
                )
                % {
                    "answers": stats.answers,
                    "rows": stats.rows,
                    "tables": len(stats.tables),
                    "groupings": len(stats.groupings),
                    "scopes": ", ".join(translated(s) for s in sorted(stats.scopes, key=lambda s: (s != "region", s))),
                },
            )
        )
    estimates = report.estimates
    if estimates.skipped and not estimates.answers:
        lines.append((N_("estimates"), _("not compared: %(why)s") % {"why": translated(estimates.skipped)}))
    else:
        text = _(
            "%(answers)s answers, %(rows)s rows compared exactly: %(questions)s questions (units %(units)s: totals, "
            "each dimension, the corridor), scopes %(scopes)s"
        ) % {
            "answers": estimates.answers,
            "rows": estimates.rows,
            "questions": len(estimates.questions),
            "units": ", ".join(estimates.units) or _("none"),
            "scopes": ", ".join(translated(s) for s in sorted(estimates.scopes, key=lambda s: (s != "region", s))),
        }
        if estimates.refused:
            text += "; " + _("%(n)s refused as not answerable, as the log implies") % {"n": estimates.refused}
        if estimates.skipped:
            text += "; " + _("stopped: %(why)s") % {"why": translated(estimates.skipped)}
        lines.append((N_("estimates"), text))
    rounds = report.rounds
    lines.append(
        (
            N_("rounds"),
            _(
                "%(checked)s checked, %(re_added)s results re-added exactly, %(failed)s failed, %(running)s running; "
                "%(findings)s findings"
            )
            % rounds.document()
            + "; "
            + _(
                "table totals: %(totals_checked)s rounds checked against their members' totals, %(totals_flagged)s "
                "flagged, %(totals_unchecked)s not checkable (a member declared none)"
            )
            % rounds.document(),
        )
    )
    lines.append((N_("requests"), _("%(n)s to the hub") % {"n": sum(report.requests.values())}))
    lines.append((N_("state DIR"), _("updated") if report.state_saved else _("unchanged (the log did not verify)")))
    return lines


def receipt_document(check: ReceiptCheck) -> dict[str, Any]:
    verified = check.verified
    return {
        "verdict": "VALID",
        "log": check.log_key.name,
        "submission_id": check.submission_id,
        "leaf_index": verified.leaf_index,
        "leaf_hash": b64encode(verified.leaf_hash),
        "checkpoint": {"size": verified.checkpoint.size, "root_hash": b64encode(verified.checkpoint.root_hash)},
        "entry": _entry_document(verified.entry),
        "payload_checked": check.payload_checked,
        "state": check.state_note,
    }


def show_receipt(check: ReceiptCheck) -> None:
    out = console()
    verified = check.verified
    receipt = _("receipt of %(log)s") % {"log": check.log_key.name}
    out.print(f"[bold green]{_safe(_('VALID'))}[/]  {_safe(receipt)}", soft_wrap=True)
    entry = _entry_document(verified.entry)
    lines = [
        (
            N_("log key"),
            _("%(key)s (fingerprint %(fingerprint)s)")
            % {"key": check.log_key.vkey, "fingerprint": fingerprint(bytes(check.log_key.key))},
        ),
        (
            N_("leaf index"),
            _("%(index)s (submission %(submission)s)")
            % {"index": verified.leaf_index, "submission": check.submission_id},
        ),
        (
            N_("checkpoint"),
            _("size %(size)s, root %(root)s")
            % {"size": verified.checkpoint.size, "root": b64encode(verified.checkpoint.root_hash)},
        ),
        (N_("entry"), " ".join(f"{k}={v}" for k, v in entry.items() if v is not None)),
        (N_("payload"), _("matches the file given") if check.payload_checked else _("not checked (no --payload)")),
    ]
    if check.state_note is not None:
        lines.append((N_("state DIR"), translated(check.state_note)))
    _rows(out, lines)


def _privacy_unit(entry: SubmissionEntry) -> str | None:
    """The unit of privacy the logged payload declares (person-month, or the weaker record-month)."""
    try:
        return SubmissionPayload.from_canonical(b64decode(entry.payload)).privacy.unit
    except ProtocolError:
        return None  # a payload that is not a valid submission: the receipt still binds its bytes


def _entry_document(entry: LogEntry) -> dict[str, Any]:
    if isinstance(entry, SubmissionWithdrawnEntry):
        return {
            "kind": entry.kind,
            "hotline_id": entry.hotline_id,
            "period": entry.period,
            "revision": entry.revision,
            "withdraws": entry.leaf_index,
            "withdrawn_at": entry.withdrawn_at,
            "reason": entry.reason,
        }
    if isinstance(entry, HubKeyHandoverEntry):
        return {"kind": entry.kind, "log_vkey": entry.log_vkey, "effective_at": entry.effective_at}
    if isinstance(entry, SubmissionEntry):
        return {
            "kind": entry.kind,
            "hotline_id": entry.hotline_id,
            "period": entry.period,
            "revision": entry.revision,
            "key_id": entry.key_id,
            "received_at": entry.received_at,
            "payload_hash": entry.payload_hash,
            "privacy_unit": _privacy_unit(entry),
        }
    if isinstance(entry, SecaggStepEntry | SecaggMemberEntry | SecaggFailedEntry):
        return {
            "kind": entry.kind,
            "group": entry.group,
            "period": entry.period,
            "round": entry.round,
            "hotline_id": getattr(entry, "hotline_id", None),
        }
    return {
        "kind": entry.kind,
        "hotline_id": entry.hotline_id,
        "key_id": getattr(entry, "key_id", None),
        "effective_at": entry.effective_at,
    }
