# SPDX-License-Identifier: Apache-2.0
"""What ``tipshare-node`` prints: rich tables for people, plain JSON documents for scripts (``--json``).

Each view has a ``*_document`` function (a JSON-ready dict) and a ``show_*`` function that renders the same
information with rich. Only noisy values, public noise parameters and budget figures are ever shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from appkit.output import console, emit_json
from node.adoption import TaxonomyCheck
from node.budget import Standing, amount_text
from node.home import NodeConfig, NodeHome
from node.i18n import N_
from node.i18n import gettext as _
from node.ledger import DiscardRecord, StoredRelease
from node.noise import NoisePlan
from node.outbox import DeliveryReport, OutboxItem
from node.regional import RegionalAccuracy
from node.release import TablePreview
from node.workflow.totals import YearBudget
from protocol.accuracy import noise_variance, single_cell_halfwidth

if TYPE_CHECKING:
    from node.aggregate import TrueTables
    from node.inputs.summary import InputSummary

__all__ = [
    "approval_document",
    "budget_document",
    "check_document",
    "console",
    "discard_document",
    "emit_json",
    "outcomes_document",
    "preview_document",
    "show_approval",
    "show_budget",
    "show_check",
    "show_discard",
    "show_outcomes",
    "show_preview",
    "show_status",
    "show_summary",
    "show_taxonomy",
    "status_document",
    "symbol",
    "taxonomy_document",
]


def symbol(measure: str) -> str:
    return "ρ" if measure == "rho" else "ε"


def _amount(value: Fraction) -> str:
    """A budget figure for people: exact when short, else 6 significant digits (JSON output stays exact)."""
    text = amount_text(value)
    return text if len(text) <= 10 else f"{float(value):.6g}"


def _short(text: str) -> str:
    return _amount(Fraction(text))


def _standing_document(standing: Standing) -> dict[str, Any]:
    return {
        "measure": standing.measure,
        "period": standing.period,
        "period_spent": amount_text(standing.period_spent),
        "period_cap": amount_text(standing.period_cap),
        "period_left": amount_text(standing.period_left),
        "year": standing.year,
        "year_spent": amount_text(standing.year_spent),
        "year_cap": amount_text(standing.year_cap),
        "year_left": amount_text(standing.year_left),
    }


def _standing_line(standing: Standing) -> str:
    s = symbol(standing.measure)
    return _(
        "Budget: %(period)s has spent %(symbol)s = %(spent)s of its cap %(cap)s; %(year)s has spent %(year_spent)s "
        "of %(year_cap)s (%(left)s left)."
    ) % {
        "period": standing.period,
        "symbol": s,
        "spent": _amount(standing.period_spent),
        "cap": _amount(standing.period_cap),
        "year": standing.year,
        "year_spent": _amount(standing.year_spent),
        "year_cap": _amount(standing.year_cap),
        "left": _amount(standing.year_left),
    }


# ---------------------------------------------------------------------------- prepare / correct


def _regional_document(regional: Sequence[RegionalAccuracy]) -> list[dict[str, Any]]:
    return [
        {
            "question": r.question,
            "description": r.wording,
            "unit": r.unit,
            "dimensions": list(r.dimensions),
            "months": 1,
            "carried_by": list(r.carried_by),
            "expected_ci95_halfwidth": [{"hotlines": n, "halfwidth": round(h, 2)} for n, h in r.halfwidths],
        }
        for r in regional
    ]


def _regional_line(r: RegionalAccuracy) -> str:
    parts = [
        _("±%(halfwidth)s with %(count)s hotlines") % {"halfwidth": f"{h:.0f}", "count": n} for n, h in r.halfwidths
    ]
    return f"  {r.wording}: " + _("about %(intervals)s") % {"intervals": ", ".join(parts)}


def preview_document(
    release: StoredRelease,
    previews: Sequence[TablePreview],
    regional: Sequence[RegionalAccuracy],
    standing: Standing,
    *,
    new: bool,
) -> dict[str, Any]:
    return {
        "period": release.period,
        "revision": release.revision,
        "new": new,
        "status": release.status,
        "created_at": release.created_at,
        "mechanism": release.mechanism,
        "measure": release.measure,
        "spent": str(release.spent),
        "unit": release.payload().privacy.unit,
        "payload_hash": release.payload_hash,
        "tables": [
            {
                "table": p.table,
                "cells": p.cells,
                "scale": p.scale,
                "std": round(p.std, 4),
                "ci95_halfwidth": p.halfwidth,
                "spent": p.spent,
                "top": [{"codes": list(c.codes), "value": c.value, "ci95": [c.low, c.high]} for c in p.top],
            }
            for p in previews
        ],
        "regional": _regional_document(regional),
        "budget": _standing_document(standing),
    }


def show_preview(
    out: Console,
    release: StoredRelease,
    previews: Sequence[TablePreview],
    regional: Sequence[RegionalAccuracy],
    standing: Standing,
    *,
    new: bool,
) -> None:
    s = symbol(release.measure)
    if new:
        out.print(
            _(
                "Prepared %(period)s revision %(revision)s: noise drawn once and stored; this release spent "
                "%(symbol)s = %(spent)s."
            )
            % {"period": release.period, "revision": release.revision, "symbol": s, "spent": _short(str(release.spent))}
        )
    else:
        out.print(
            _(
                "%(period)s revision %(revision)s was prepared on %(created)s and is shown unchanged (status: "
                "%(status)s). Its noise is never drawn again; to release corrected data, use `tipshare-node correct`."
            )
            % {
                "period": release.period,
                "revision": release.revision,
                "created": release.created_at,
                "status": release.status,
            }
        )
    out.print(_("The largest noisy cells of each table, with 95% intervals (noise can lift an empty cell, too):"))
    for p in previews:
        out.print(
            "\n"
            + _("%(table)s: %(cells)s cells, noise σ = %(std)s, ±%(halfwidth)s at 95%%, %(symbol)s = %(spent)s")
            % {
                "table": p.table,
                "cells": f"{p.cells:,}",
                "std": f"{p.std:.2f}",
                "halfwidth": p.halfwidth,
                "symbol": s,
                "spent": _short(p.spent),
            },
            soft_wrap=True,
        )
        table = Table()
        table.add_column(_("cell"))
        table.add_column(_("noisy count"), justify="right")
        table.add_column(_("95% interval"), justify="right")
        for cell in p.top:
            table.add_row(" × ".join(cell.codes), str(cell.value), f"{cell.low} … {cell.high}")
        out.print(table)
    _show_accuracy(out, release, previews, regional)
    out.print(_standing_line(standing))
    unit = release.payload().privacy.unit
    if unit != "person-month":
        out.print(
            _(
                "Unit of privacy: %(unit)s. The noise protects each record of your export in the month, not each "
                "person (the summary above says why); the hub shows this release as such."
            )
            % {"unit": unit},
            soft_wrap=True,
        )
    month = release.period
    if release.status == "prepared":
        out.print(
            _(
                "Nothing has been sent; the release waits for your approval. If this looks right, run "
                "`tipshare-node approve --period %(month)s` (then `tipshare-node submit`, or let the monthly timer "
                "send it). If it is wrong, `tipshare-node discard --period %(month)s` deletes it and gives its "
                "budget back."
            )
            % {"month": month},
            soft_wrap=True,
        )
    elif release.status == "approved":
        out.print(
            _(
                "Approved: `tipshare-node submit` (or the monthly timer) sends it. Until then "
                "`tipshare-node discard --period %(month)s` can still delete it."
            )
            % {"month": month},
            soft_wrap=True,
        )


def _show_accuracy(
    out: Console, release: StoredRelease, previews: Sequence[TablePreview], regional: Sequence[RegionalAccuracy]
) -> None:
    out.print(
        "\n"
        + _("Accuracy of this release (%(taxonomy)s): the noise in every cell of each table.")
        % {"taxonomy": release.payload().taxonomy.id}
    )
    table = Table()
    for position, column in enumerate((_("table"), _("cells"), _("noise σ"), _("±95% (one cell)"))):
        table.add_column(column, justify="left" if position == 0 else "right")
    for p in previews:
        table.add_row(p.table, f"{p.cells:,}", f"{p.std:.2f}", f"±{p.halfwidth}")
    out.print(table)
    if not regional:
        return
    out.print(
        _(
            "One hotline's month is mostly noise, on purpose: it protects each person in it. The numbers are read at "
            "the hub, which adds up every hotline and combines every table that answers a question. If other "
            "hotlines release like this one (same taxonomy, same budget), the hub's 95% interval for"
        )
    )
    for r in regional:
        out.print(_regional_line(r), soft_wrap=True)


# ---------------------------------------------------------------------------- the local summary, --check


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def show_summary(out: Console, summary: InputSummary) -> None:
    """The local summary of an export (true counts): printed on the officer's terminal, never stored or sent."""
    from node.inputs.checks import UNKNOWN_SHARE_LIMIT
    from node.inputs.errors import shown_value

    # markup=False throughout: column names and values come from files, and "[...]" must print as it is.

    out.print(
        _("Summary of the export for %(period)s (for you only: never stored, never sent):")
        % {"period": summary.period},
        soft_wrap=True,
        markup=False,
    )
    for f in summary.files:
        read = (
            _("%(rows)s rows read; %(records)s persons, %(in_period)s of them in %(period)s (%(rows_in_period)s rows).")
            if f.kind == "cases"
            else _(
                "%(rows)s rows read; %(records)s contacts, %(in_period)s of them in %(period)s "
                "(%(rows_in_period)s rows)."
            )
        )
        numbers = {
            "rows": f"{f.rows:,}",
            "records": f"{f.records:,}",
            "in_period": f"{f.in_period:,}",
            "period": summary.period,
            "rows_in_period": f"{f.rows_in_period:,}",
        }
        out.print(f"  {f.name} ({f.format}, {f.encoding}): " + read % numbers, soft_wrap=True)
        if f.other_months:
            listed = ", ".join(f"{month} {n:,}" for month, n in f.other_months[:6])
            more = ", ..." if len(f.other_months) > 6 else ""
            out.print("    " + _("other months: %(months)s") % {"months": listed + more}, soft_wrap=True, markup=False)
        for why, n in f.skipped:
            out.print(
                "    " + _("not counted: %(n)s %(why)s") % {"n": f"{n:,}", "why": why}, soft_wrap=True, markup=False
            )
    if summary.shares:
        out.print("  " + _("Unknown per dimension (share of the month's records):"), soft_wrap=True, markup=False)
        for share in summary.shares:
            refused = share.present and not share.multi_valued and share.unrecorded_share > UNKNOWN_SHARE_LIMIT
            mark = " " + _("(over four in five not recorded: needs --allow-unknown)") if refused else ""
            where = (
                ""
                if share.present
                else " " + _("(no column: %(fields)s not in the export)") % {"fields": ", ".join(share.fields)}
            )
            unrecorded = _percent(share.unrecorded, share.total)
            shares = _("%(unknown)s unknown, %(unrecorded)s not recorded") % {
                "unknown": _percent(share.unknown, share.total),
                "unrecorded": unrecorded,
            }
            out.print(
                f"    {share.dimension} ({share.unit}s): {shares}{where}{mark}",
                soft_wrap=True,
                markup=False,
            )
    mapping = summary.mapping
    if mapping is not None:
        out.print(
            "  "
            + _("Mapping %(source)s: columns used: %(used)s; not in the export: %(unused)s.")
            % {
                "source": mapping.source,
                "used": ", ".join(mapping.columns_used) or _("none"),
                "unused": ", ".join(mapping.columns_unused) or _("none"),
            },
            soft_wrap=True,
        )
        for name, used in mapping.values_used.items():
            unused = mapping.values_unused.get(name, ())
            line = f"    [values.{name}]: " + _("%(found)s of %(all)s values found in the export") % {
                "found": len(used),
                "all": len(used) + len(unused),
            }
            if unused:
                never = ", ".join(repr(shown_value(v)) for v in unused[:10]) + (", ..." if len(unused) > 10 else "")
                line += "; " + _("never found: %(values)s") % {"values": never}
            out.print(line, soft_wrap=True, markup=False)
    if summary.unit_reasons:
        out.print(
            "  " + _("Unit of privacy: %(unit)s, not person-month:") % {"unit": summary.unit},
            soft_wrap=True,
            markup=False,
        )
        for reason in summary.unit_reasons:
            out.print(f"    {reason.file}: {reason.text}.", soft_wrap=True, markup=False)
    else:
        out.print("  " + _("Unit of privacy: %(unit)s.") % {"unit": summary.unit}, markup=False)


def check_document(tables: TrueTables, cases: Path, contacts: Path | None) -> dict[str, Any]:
    """What ``prepare --check --json`` prints: the verdict, without a single count (those stay on the terminal)."""
    return {
        "period": tables.period,
        "check": "passed",
        "cases": str(cases),
        "contacts": str(contacts) if contacts is not None else None,
        "tables": sorted(tables.counts),
        "unit": tables.unit,
        "release": None,
    }


def show_check(out: Console, tables: TrueTables, cases: Path, contacts: Path | None) -> None:
    files = (
        _("%(cases)s and %(contacts)s") % {"cases": cases.name, "contacts": contacts.name}
        if contacts is not None
        else cases.name
    )
    out.print(
        _(
            "Check passed: %(files)s can be released for %(period)s (%(tables)s tables, unit of privacy %(unit)s). "
            "Nothing was drawn, spent or stored. To prepare the release, run the same command without --check."
        )
        % {"files": files, "period": tables.period, "tables": len(tables.counts), "unit": tables.unit},
        soft_wrap=True,
    )


# ---------------------------------------------------------------------------- approve / discard


def approval_document(release: StoredRelease, *, changed: bool) -> dict[str, Any]:
    return {
        "period": release.period,
        "revision": release.revision,
        "status": release.status,
        "approved_now": changed,
        "spent": str(release.spent),
        "measure": release.measure,
        "payload_hash": release.payload_hash,
    }


def show_approval(out: Console, release: StoredRelease, *, changed: bool) -> None:
    message = (
        _(
            "Approved %(period)s revision %(revision)s (%(symbol)s = %(spent)s, %(hash)s). `tipshare-node submit` "
            "sends it (the monthly timer and the daily sync do too); until it is sent, `tipshare-node discard "
            "--period %(period)s` can still delete it."
        )
        if changed
        else _(
            "Already approved: %(period)s revision %(revision)s (%(symbol)s = %(spent)s, %(hash)s). `tipshare-node "
            "submit` sends it (the monthly timer and the daily sync do too); until it is sent, `tipshare-node "
            "discard --period %(period)s` can still delete it."
        )
    )
    values = {
        "period": release.period,
        "revision": release.revision,
        "symbol": symbol(release.measure),
        "spent": _short(str(release.spent)),
        "hash": release.payload_hash,
    }
    out.print(message % values, soft_wrap=True)


def discard_document(record: DiscardRecord, standing: Standing) -> dict[str, Any]:
    return {
        "period": record.period,
        "revision": record.revision,
        "discarded": True,
        "given_back": str(record.amount),
        "measure": record.measure,
        "payload_hash": record.payload_hash,
        "budget": _standing_document(standing),
    }


def show_discard(out: Console, record: DiscardRecord, standing: Standing) -> None:
    s = symbol(record.measure)
    out.print(
        _(
            "Discarded %(period)s revision %(revision)s (%(status)s, never sent); the %(symbol)s = %(amount)s it "
            "spent was given back. The ledger keeps a record of the discard."
        )
        % {
            "period": record.period,
            "revision": record.revision,
            "status": record.status,
            "symbol": s,
            "amount": _short(str(record.amount)),
        },
        soft_wrap=True,
    )
    out.print(_standing_line(standing))
    out.print(
        _("To release %(period)s, run `tipshare-node prepare --period %(period)s ...` with the right export.")
        % {"period": record.period},
        soft_wrap=True,
    )


# ---------------------------------------------------------------------------- submit / sync


def outcomes_document(report: DeliveryReport) -> dict[str, Any]:
    return {
        "outcomes": [
            {
                "period": o.period,
                "revision": o.revision,
                "result": o.result,
                "detail": o.detail,
                "leaf_index": o.leaf_index,
                "tree_size": o.tree_size,
                "next_attempt_at": o.next_attempt_at,
            }
            for o in report.outcomes
        ]
    }


_RESULT_TEXT = {
    "delivered": N_("delivered"),
    "already_delivered": N_("delivered (the hub already had it)"),
    "pending": N_("still queued"),
    "failed": N_("refused by the hub"),
}


def show_outcomes(out: Console, report: DeliveryReport) -> None:
    if not report.outcomes:
        out.print(_("Nothing to send: the outbox is empty."))
        return
    for o in report.outcomes:
        line = _("%(period)s revision %(revision)s: %(result)s") % {
            "period": o.period,
            "revision": o.revision,
            "result": _(_RESULT_TEXT[o.result]),
        }
        if o.leaf_index is not None:
            line += _("; receipt verified: log entry %(leaf)s of %(size)s") % {
                "leaf": o.leaf_index,
                "size": o.tree_size,
            }
        if o.result in ("pending", "failed") and o.detail:
            line += f" ({o.detail})"
        if o.next_attempt_at:
            line += _("; next attempt from %(when)s") % {"when": o.next_attempt_at}
        out.print(line, soft_wrap=True)


# ---------------------------------------------------------------------------- status


def status_document(
    config: NodeConfig,
    home: str,
    releases: Sequence[StoredRelease],
    items: Sequence[OutboxItem],
    receipts: Sequence[tuple[str, int, int, int, str]],
    years: Sequence[YearBudget],
    discards: Sequence[DiscardRecord] = (),
) -> dict[str, Any]:
    by_release = {(p, r): (i, s) for p, r, i, s, _ in receipts}
    return {
        "home": home,
        "hotline_id": config.hotline_id,
        "key_id": config.key_id,
        "hub": {
            "url": config.hub.url,
            "log_origin": config.hub.identity.log_origin,
            "log_key_fingerprint": config.hub.log_key_fingerprint,
            "encryption_key_fingerprint": config.hub.encryption_key_fingerprint,
            "taxonomy": config.hub.identity.taxonomy_id,
        },
        "releases": [
            {
                "period": r.period,
                "revision": r.revision,
                "status": r.status,
                "spent": str(r.spent),
                "measure": r.measure,
                "created_at": r.created_at,
                "receipt": (
                    {
                        "leaf_index": by_release[(r.period, r.revision)][0],
                        "tree_size": by_release[(r.period, r.revision)][1],
                    }
                    if (r.period, r.revision) in by_release
                    else None
                ),
            }
            for r in releases
        ],
        "outbox": [
            {
                "period": i.period,
                "revision": i.revision,
                "status": i.status,
                "attempts": i.attempts,
                "next_attempt_at": i.next_attempt_at,
                "last_error": i.last_error,
            }
            for i in items
            if i.status != "delivered"
        ],
        "discards": [
            {
                "period": d.period,
                "revision": d.revision,
                "status": d.status,
                "given_back": str(d.amount),
                "measure": d.measure,
                "created_at": d.created_at,
                "discarded_at": d.discarded_at,
                "reason": d.reason,
            }
            for d in discards
        ],
        "budget": {
            "measure": config.budget.measure,
            "years": [
                {
                    "year": y.year,
                    "spent": amount_text(y.spent),
                    "cap": amount_text(y.cap),
                    "left": amount_text(max(Fraction(0), y.cap - y.spent)),
                }
                for y in years
            ],
        },
    }


def show_status(out: Console, document: dict[str, Any]) -> None:
    hub = document["hub"]
    out.print(
        _("Hotline %(hotline)s (key id %(key)s), node home %(home)s")
        % {"hotline": document["hotline_id"], "key": document["key_id"], "home": document["home"]}
    )
    out.print(
        _("Hub %(url)s: log %(log)s, log key %(log_key)s, encryption key %(encryption_key)s, taxonomy %(taxonomy)s")
        % {
            "url": hub["url"],
            "log": hub["log_origin"],
            "log_key": hub["log_key_fingerprint"],
            "encryption_key": hub["encryption_key_fingerprint"],
            "taxonomy": hub["taxonomy"],
        },
        soft_wrap=True,
    )
    releases = Table(title=_("Releases"), title_justify="left", min_width=60)
    for column in (_("period"), _("revision"), _("status"), _("spent"), _("prepared"), _("receipt")):
        releases.add_column(column)
    for r in document["releases"]:
        receipt = r["receipt"]
        releases.add_row(
            r["period"],
            str(r["revision"]),
            _("prepared (waits for approval)") if r["status"] == "prepared" else _(r["status"]),
            f"{symbol(r['measure'])} = {_short(r['spent'])}",
            r["created_at"],
            _("log entry %(index)s of %(size)s") % {"index": receipt["leaf_index"], "size": receipt["tree_size"]}
            if receipt
            else "",
        )
    if document["releases"]:
        out.print(releases)
    else:
        out.print(_("No releases yet: run `tipshare-node prepare --period YYYY-MM <case export>`."))
    waiting = document["outbox"]
    if waiting:
        outbox = Table(title=_("Outbox (not yet delivered)"), title_justify="left")
        for column in (_("period"), _("revision"), _("status"), _("attempts"), _("next attempt")):
            outbox.add_column(column)
        for i in waiting:
            outbox.add_row(i["period"], str(i["revision"]), _(i["status"]), str(i["attempts"]), i["next_attempt_at"])
        out.print(outbox)
        for i in waiting:
            if i["last_error"]:
                out.print(
                    "  "
                    + _("%(period)s revision %(revision)s, last error: %(error)s")
                    % {"period": i["period"], "revision": i["revision"], "error": i["last_error"]},
                    soft_wrap=True,
                )
    else:
        out.print(_("Outbox: empty."))
    for d in document.get("discards", []):
        message = (
            _(
                "%(period)s revision %(revision)s (%(status)s, prepared %(created)s) was discarded on %(when)s "
                "before it was sent; %(symbol)s = %(given_back)s given back."
            )
            if d["reason"] == "discard"
            else _(
                "%(period)s revision %(revision)s (%(status)s, prepared %(created)s) was replaced by a correction on "
                "%(when)s before it was sent; %(symbol)s = %(given_back)s given back."
            )
        )
        out.print(
            message
            % {
                "period": d["period"],
                "revision": d["revision"],
                "status": _(d["status"]),
                "created": d["created_at"],
                "when": d["discarded_at"],
                "symbol": symbol(d["measure"]),
                "given_back": _short(d["given_back"]),
            },
            soft_wrap=True,
        )
    s = symbol(document["budget"]["measure"])
    for y in document["budget"]["years"]:
        out.print(
            _("Budget %(year)s: %(symbol)s = %(spent)s spent of %(cap)s (%(left)s left).")
            % {
                "year": y["year"],
                "symbol": s,
                "spent": _short(y["spent"]),
                "cap": _short(y["cap"]),
                "left": _short(y["left"]),
            }
        )


#: Release and outbox statuses as the status view shows them (translated where shown).
STATUSES = (
    N_("prepared"),
    N_("approved"),
    N_("queued"),
    N_("delivered"),
    N_("failed"),
    N_("superseded"),
    N_("sending"),
)


# ---------------------------------------------------------------------------- taxonomy


def _taxonomy_ref(taxonomy: Any) -> dict[str, Any]:
    return {
        "id": taxonomy.id,
        "hash": taxonomy.content_hash,
        "version": taxonomy.version,
        "tables": list(taxonomy.tables),
    }


def taxonomy_document(
    home: NodeHome,
    check: TaxonomyCheck,
    accuracy: dict[str, tuple[RegionalAccuracy, ...]],
    *,
    updated: NodeHome | None,
) -> dict[str, Any]:
    hub = check.hub_taxonomy
    following = updated or home
    return {
        "pinned": _taxonomy_ref(check.pinned),
        "hub": {
            "url": check.hub_url,
            "current": {"id": check.hub_taxonomy_id, "hash": check.hub_taxonomy_hash},
            "current_tables": list((hub or check.pinned).tables),
        },
        "up_to_date": check.up_to_date,
        "changes": {
            "added": [t for t in hub.tables if t not in check.pinned.tables] if hub else [],
            "removed": [t for t in check.pinned.tables if t not in hub.tables] if hub else [],
        },
        "accuracy": {which: _regional_document(regional) for which, regional in accuracy.items()},
        "updated": updated is not None,
        "following": {"id": following.taxonomy.id, "hash": following.taxonomy.content_hash},
        "budget": {
            "mechanism": following.config.budget.mechanism,
            "measure": following.config.budget.measure,
            "release": amount_text(following.config.budget.release),
            "weights": dict(following.config.budget.weights),
        },
    }


def _accuracy_table(columns: dict[str, list[dict[str, Any]]]) -> Table:
    """Regional answers (rows) × numbers of hotlines, one column of half-widths per taxonomy."""
    table = Table()
    table.add_column("regional answer")
    table.add_column("hotlines", justify="right")
    for name in columns:
        table.add_column(name, justify="right")
    first = next(iter(columns.values()))
    for row, question in enumerate(first):
        for position, figure in enumerate(question["expected_ci95_halfwidth"]):
            table.add_row(
                question["description"] if position == 0 else "",
                str(figure["hotlines"]),
                *(
                    f"±{column[row]['expected_ci95_halfwidth'][position]['halfwidth']:.0f}"
                    for column in columns.values()
                ),
            )
    return table


def show_taxonomy(out: Console, document: dict[str, Any], *, asked_to_update: bool) -> None:
    pinned, hub, budget = document["pinned"], document["hub"], document["budget"]
    current = hub["current"]
    s = symbol(budget["measure"])
    if document["updated"]:
        out.print(
            _(
                "This node now follows taxonomy %(id)s (%(hash)s), the hub's current one, from its next release on "
                "(%(tables)s tables). Releases already made keep %(pinned)s."
            )
            % {
                "id": current["id"],
                "hash": current["hash"],
                "tables": len(hub["current_tables"]),
                "pinned": pinned["id"],
            },
            soft_wrap=True,
        )
        out.print(
            _(
                "Budget: mechanism, release (%(symbol)s = %(release)s) and caps unchanged; the split across the "
                "tables is now the weights recorded in %(id)s (`tipshare-node budget` shows each table's share and "
                "noise)."
            )
            % {"symbol": s, "release": budget["release"], "id": current["id"]}
        )
        return
    out.print(
        _("This node follows taxonomy %(id)s (%(hash)s), %(tables)s tables.")
        % {"id": pinned["id"], "hash": pinned["hash"], "tables": len(pinned["tables"])},
        soft_wrap=True,
    )
    accuracy = document["accuracy"]
    columns = {pinned["id"]: accuracy.get("pinned", [])}
    if document["up_to_date"]:
        out.print(_("It is the current taxonomy of the hub at %(url)s: nothing to update.") % {"url": hub["url"]})
    else:
        out.print(
            _("The hub at %(url)s publishes taxonomy %(id)s (%(hash)s) as current, %(tables)s tables.")
            % {"url": hub["url"], "id": current["id"], "hash": current["hash"], "tables": len(hub["current_tables"])},
            soft_wrap=True,
        )
        changes = document["changes"]
        if changes["added"]:
            out.print(_("  Tables it adds: %(tables)s") % {"tables": ", ".join(changes["added"])}, soft_wrap=True)
        if changes["removed"]:
            out.print(
                _("  Tables it no longer releases: %(tables)s") % {"tables": ", ".join(changes["removed"])},
                soft_wrap=True,
            )
        columns[current["id"]] = accuracy.get("hub", [])
    if all(columns.values()) and len({tuple(r["question"] for r in c) for c in columns.values()}) == 1:
        out.print(
            _(
                "With your budget (%(symbol)s = %(release)s a release) and every hotline releasing alike, the hub's "
                "expected 95%% interval:"
            )
            % {"symbol": s, "release": budget["release"]}
        )
        out.print(_accuracy_table(columns))
    if document["up_to_date"] or asked_to_update:
        return
    out.print(
        _("The hub still accepts releases of %(pinned)s. To follow %(id)s from your next release on, run:")
        % {"pinned": pinned["id"], "id": current["id"]}
    )
    out.print("  tipshare-node taxonomy --update")


# ---------------------------------------------------------------------------- budget


def budget_document(config: NodeConfig, years: Sequence[YearBudget], plan: NoisePlan) -> dict[str, Any]:
    budget = config.budget
    return {
        "mechanism": budget.mechanism,
        "measure": budget.measure,
        "release": amount_text(budget.release),
        "period_cap": amount_text(budget.period_cap),
        "year_cap": amount_text(budget.year_cap),
        "tables": [
            {
                "table": t.table,
                "weight": budget.weights[t.table],
                "spent": str(t.noise().spent),
                "scale": t.scale_text,
                "std": round(noise_variance(plan.mechanism, t.scale_text) ** 0.5, 4),
                "ci95_halfwidth": single_cell_halfwidth(plan.mechanism, t.scale_text),
            }
            for t in plan.tables
        ],
        "years": [
            {
                "year": y.year,
                "spent": amount_text(y.spent),
                "cap": amount_text(y.cap),
                "left": amount_text(max(Fraction(0), y.cap - y.spent)),
                "periods": [
                    {
                        "period": p,
                        "revisions": n,
                        "spent": amount_text(spent),
                        "cap": amount_text(budget.period_cap),
                        "left": amount_text(max(Fraction(0), budget.period_cap - spent)),
                    }
                    for p, n, spent in y.periods
                ],
            }
            for y in years
        ],
    }


def show_budget(out: Console, document: dict[str, Any]) -> None:
    s = symbol(document["measure"])
    out.print(
        _(
            "Mechanism %(mechanism)s: each release spends %(symbol)s = %(release)s; caps: %(period_cap)s per month "
            "(all revisions), %(year_cap)s per calendar year."
        )
        % {
            "mechanism": document["mechanism"],
            "symbol": s,
            "release": document["release"],
            "period_cap": document["period_cap"],
            "year_cap": document["year_cap"],
        },
        soft_wrap=True,
    )
    out.print(_("What one release spends per table, and the noise each cell gets:"))
    tables = Table()
    for column in (_("table"), _("weight"), s, _("noise scale"), "σ", "±95%"):
        tables.add_column(column, justify="right")
    tables.columns[0].justify = "left"
    for t in document["tables"]:
        tables.add_row(
            t["table"], str(t["weight"]), _short(t["spent"]), t["scale"], f"{t['std']:.2f}", str(t["ci95_halfwidth"])
        )
    out.print(tables)
    for year in document["years"]:
        out.print(
            "\n"
            + _("%(year)s: %(symbol)s = %(spent)s spent of %(cap)s (%(left)s left)")
            % {
                "year": year["year"],
                "symbol": s,
                "spent": _short(year["spent"]),
                "cap": _short(year["cap"]),
                "left": _short(year["left"]),
            }
        )
        ledger = Table()
        for column in (_("period"), _("revisions"), _("spent"), _("cap"), _("left")):
            ledger.add_column(column, justify="right")
        ledger.columns[0].justify = "left"
        for p in year["periods"]:
            ledger.add_row(p["period"], str(p["revisions"]), _short(p["spent"]), _short(p["cap"]), _short(p["left"]))
        out.print(ledger)
