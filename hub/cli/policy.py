# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub hotline policy`` and ``hotline backfill``, and the policy options of ``hotline add``.

A hotline's policy (logged) caps the privacy spend of its releases per period and per year, states the most
persons it could see in a month (which bounds its cells) and the first period it reports::

    tipshare-hub hotline add --line "la-strada-md ed25519:..." --name "La Strada Moldova" --country MD \\
        --cap rho:0.2:1.5 --max-monthly-volume 400 --first-period 2026-01
    tipshare-hub hotline policy la-strada-md                         # show the policy that applies
    tipshare-hub hotline policy la-strada-md --max-monthly-volume 900 --reason "new regional office"
    tipshare-hub hotline backfill la-strada-md --from 2024-01 --to 2025-12 --reason "archive digitised"

Commands are registered on the ``hotline`` group by :func:`register` (called once from :mod:`hub.cli.hotlines`, after
``hotline add``).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError

from hub.cli import views
from hub.cli.common import DatabaseURLOption, DataDirOption, JsonOption, open_hub, state_of
from hub.db import write_session
from hub.errors import BadRequest
from hub.schemas import PolicyTermsBody
from hub.services.log import TransparencyLog
from hub.services.policies import PolicyEvent, PolicyService, PolicyTerms, PolicyView
from protocol.messages import format_timestamp

__all__ = ["CapOption", "FirstPeriodOption", "ReportingFromOption", "VolumeOption", "policy_terms", "register"]

CapOption = Annotated[
    list[str] | None,
    typer.Option(
        "--cap",
        help="A budget cap MEASURE:PERIOD:YEAR, e.g. rho:0.2:1.5 (zCDP, discrete Gaussian) or epsilon:2:15 (pure DP, "
        "discrete Laplace); repeat for both. Given, it replaces every cap: a measure not named is refused. "
        "Default: the node's defaults, rho:0.2:1.5 and epsilon:2:15.",
        show_default=False,
    ),
]
VolumeOption = Annotated[
    int | None,
    typer.Option(
        "--max-monthly-volume",
        help="The most persons the hotline could see in a month (bounds its cells; default 10000).",
        show_default=False,
    ),
]
FirstPeriodOption = Annotated[
    str | None,
    typer.Option(
        "--first-period",
        help="The first month the hotline reports, YYYY-MM (default: 24 months before the month it was enrolled "
        "in); earlier months need `hotline backfill`.",
        show_default=False,
    ),
]

ReportingFromOption = Annotated[
    str | None,
    typer.Option(
        "--reporting-from",
        help="The first month the hotline is expected to report, YYYY-MM: from it on, a month with nothing "
        "received is a gap in completeness (default at enrolment: the month before, if enrolled by its deadline, "
        "else the month of enrolment).",
        show_default=False,
    ),
]


# The command group's own options (their help is shorter than hub.cli.common's).


def policy_terms(
    caps: list[str] | None,
    volume: int | None,
    first_period: str | None,
    reason: str | None = None,
    reporting_from: str | None = None,
) -> PolicyTerms | None:
    """The terms the options ask for, checked as the admin API checks them (``None`` when none is given)."""
    if not caps and volume is None and first_period is None and reporting_from is None:
        return None
    parsed: list[dict[str, str]] | None = None
    if caps:
        parsed = []
        for text in caps:
            parts = text.strip().split(":")
            if len(parts) != 3:
                raise BadRequest(f"--cap {text!r}: write MEASURE:PERIOD:YEAR, e.g. rho:0.2:1.5")
            parsed.append({"measure": parts[0], "period": parts[1], "year": parts[2]})
    try:
        body = PolicyTermsBody.model_validate(
            {
                key: value
                for key, value in {
                    "caps": parsed,
                    "max_monthly_volume": volume,
                    "first_period": first_period,
                    "reason": reason.strip() if reason else None,
                    "reporting_from": reporting_from,
                }.items()
                if value is not None
            }
        )
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in e.errors(include_url=False))
        raise BadRequest(f"the policy options are not valid: {problems}") from None
    return PolicyTerms(
        caps={cap.measure: (cap.period, cap.year) for cap in body.caps} if body.caps else None,
        max_monthly_volume=body.max_monthly_volume,
        first_period=body.first_period,
        reason=body.reason,
        reporting_from=body.reporting_from,
    )


def view_document(view: PolicyView) -> dict[str, Any]:
    return {
        "hotline_id": view.hotline_id,
        "caps": [{"measure": m, "period": p, "year": y} for m, p, y in view.caps],
        "max_monthly_volume": view.max_monthly_volume,
        "first_period": view.first_period,
        "reason": view.reason,
        "effective_at": format_timestamp(view.effective_at) if view.effective_at else None,
        "log_index": view.log_index,
        "backfills": [
            {"first_period": b.first_period, "last_period": b.last_period, "reason": b.reason, "log_index": b.log_index}
            for b in view.backfills
        ],
        "reporting_from": view.reporting_from,
    }


def event_document(event: PolicyEvent) -> dict[str, Any]:
    return {
        "kind": event.entry.kind,
        "hotline_id": event.entry.hotline_id,
        "log_index": event.appended.index,
        "tree_size": event.appended.checkpoint.size,
    }


def _show_view(document: dict[str, Any]) -> None:
    out = views.console()
    if document["log_index"] is None:
        out.print(f"Hotline {document['hotline_id']} has no logged policy: the protocol's default policy applies.")
    else:
        out.print(f"Policy of hotline {document['hotline_id']}, logged as entry {document['log_index']}.")
    for cap in document["caps"]:
        out.print(f"  {cap['measure']} cap: {cap['period']} per month (all revisions), {cap['year']} per year")
    out.print(f"  maximum monthly volume: {document['max_monthly_volume']} persons")
    out.print(f"  first period: {document['first_period']}")
    if document["reporting_from"] is None:
        out.print("  expected to report: the months one of its keys is valid in (no reporting_from logged)")
    else:
        out.print(f"  expected to report from: {document['reporting_from']}")
    for backfill in document["backfills"]:
        out.print(
            f"  backfill approved: {backfill['first_period']} to {backfill['last_period']} ({backfill['reason']})",
            soft_wrap=True,
        )


def register(hotline_app: typer.Typer) -> None:
    """Add ``policy`` and ``backfill`` to the ``hotline`` command group."""

    @hotline_app.command("policy")
    def hotline_policy(
        ctx: typer.Context,
        hotline_id: Annotated[str, typer.Argument(help="The hotline's id.", show_default=False)],
        cap: CapOption = None,
        max_monthly_volume: VolumeOption = None,
        first_period: FirstPeriodOption = None,
        reporting_from: ReportingFromOption = None,
        reason: Annotated[str | None, typer.Option("--reason", help="Why, as auditors will read it.")] = None,
        data_dir: DataDirOption = None,
        database_url: DatabaseURLOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Show a hotline's policy, or log a new one (options left out keep their current value)."""
        terms = policy_terms(cap, max_monthly_volume, first_period, reason, reporting_from)
        with (
            open_hub(state_of(ctx), data_dir, database_url) as context,
            write_session(context.sessions) as session,
        ):
            service = PolicyService(session, TransparencyLog(session, signer=context.log_signer))
            event = None if terms is None else service.log_policy(hotline_id, terms, now=context.clock())
            document = view_document(service.view(hotline_id))
        if event is not None:
            document["logged"] = event_document(event)
        if as_json:
            views.emit_json(document)
            return
        if event is not None:
            views.console().print(
                f"Logged a new policy as entry {event.appended.index}; the log now holds "
                f"{event.appended.checkpoint.size} entries."
            )
        _show_view(document)

    @hotline_app.command("backfill")
    def hotline_backfill(
        ctx: typer.Context,
        hotline_id: Annotated[str, typer.Argument(help="The hotline's id.", show_default=False)],
        first: Annotated[str, typer.Option("--from", help="The first month approved, YYYY-MM.")],
        last: Annotated[str, typer.Option("--to", help="The last month approved, YYYY-MM.")],
        reason: Annotated[str, typer.Option("--reason", help="Why, as auditors will read it in the log.")],
        data_dir: DataDirOption = None,
        database_url: DatabaseURLOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Approve a hotline's release of months before its first period (logged as backfill_approved)."""
        with (
            open_hub(state_of(ctx), data_dir, database_url) as context,
            write_session(context.sessions) as session,
        ):
            service = PolicyService(session, TransparencyLog(session, signer=context.log_signer))
            event = service.approve_backfill(
                hotline_id, first_period=first, last_period=last, reason=reason, now=context.clock()
            )
        document = event_document(event)
        if as_json:
            views.emit_json(document)
            return
        views.console().print(
            f"Approved {hotline_id}'s release of {first} to {last}, logged as entry {document['log_index']}; "
            f"the log now holds {document['tree_size']} entries.",
            soft_wrap=True,
        )
