# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub group`` and ``tipshare-hub round``: aggregation groups and their secure rounds
(:mod:`hub.services.secure_rounds`).

::

    tipshare-hub group create region-eu-east --members md-hotline,ro-hotline,ua-hotline --threshold 2 \\
        --tables persons_total,persons_corridor_2way
    tipshare-hub group list
    tipshare-hub round open region-eu-east 2026-11     # logs the roster; a timer runs `round tick` instead
    tipshare-hub round tick                            # opens the rounds of the month just ended, advances the rest
    tipshare-hub round show region-eu-east 2026-11
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

from hub.cli.common import DatabaseURLOption, DataDirOption, JsonOption, emit, hub_session
from hub.models import SecaggGroup, SecaggRound
from hub.services.secure_rounds import SecureRounds

__all__ = ["group_app", "round_app"]

group_app = typer.Typer(
    help="Aggregation groups: hotlines whose monthly releases are summed in a secure round.", no_args_is_help=True
)
round_app = typer.Typer(
    help="Secure rounds: open a group's round for a month that ended, move rounds on at their deadlines.",
    no_args_is_help=True,
)

GroupArgument = Annotated[str, typer.Argument(help="The group's id, e.g. region-eu-east.", show_default=False)]
PeriodArgument = Annotated[str, typer.Argument(help="The month, YYYY-MM.", show_default=False)]


def _group_document(group: SecaggGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "members": list(group.member_ids),
        "threshold": group.threshold,
        "tables": list(group.table_names) if group.table_names is not None else "all",
        "scaling": group.scaling,
        "created_at": group.created_at.isoformat(),
    }


def _round_document(row: SecaggRound) -> dict[str, Any]:
    return {
        "group": row.group_id,
        "period": row.period,
        "round": row.round_number,
        "step": row.step,
        "shares_due": row.shares_due.isoformat(),
        "masked_due": row.masked_due.isoformat(),
        "reveal_due": row.reveal_due.isoformat(),
        "roster_index": row.roster_index,
        "result_index": row.result_index,
        "failed_index": row.failed_index,
    }


def _emit_round(document: dict[str, Any], as_json: bool) -> None:
    emit(document, as_json, lambda _console, d: typer.echo(_round_line(d)))


def _round_line(document: dict[str, Any]) -> str:
    return (
        f"{document['group']} {document['period']} round {document['round']}: {document['step']} "
        f"(shares by {document['shares_due']}, masked by {document['masked_due']}, "
        f"reveals by {document['reveal_due']})"
    )


def _show_ticked(_console: Console, document: dict[str, Any]) -> None:
    for row in document["opened"] + document["advanced"]:
        typer.echo(_round_line(row))


def _show_created(_console: Console, document: dict[str, Any]) -> None:
    """The group, and the ``[secure_group]`` section the operator gives each member hotline."""
    count, threshold, scaling = len(document["members"]), document["threshold"], document["scaling"]
    typer.echo(f"group {document['id']}: {count} members, threshold {threshold}, scaling {scaling}")
    typer.echo("Each member hotline sets in its config.toml (with a collusion_cap of its own choosing):")
    typer.echo(f'  [secure_group]\n  group_id = "{document["id"]}"\n  members = {count}\n  threshold = {threshold}')
    if scaling != 1:
        typer.echo(f"  scaling = {scaling}")


def _show_groups(_console: Console, documents: list[dict[str, Any]]) -> None:
    if not documents:
        typer.echo("No aggregation group (`tipshare-hub group create NAME --members ... --threshold T`).")
    for d in documents:
        scaled = f", scaling {d['scaling']}" if d["scaling"] != 1 else ""
        typer.echo(f"{d['id']}  t={d['threshold']} of {len(d['members'])}{scaled}: {', '.join(d['members'])}")


@group_app.command("create")
def create(
    ctx: typer.Context,
    group_id: GroupArgument,
    members: Annotated[str, typer.Option("--members", help="Member hotline ids, comma-separated, in roster order.")],
    threshold: Annotated[int, typer.Option("--threshold", help="t: more than half of the members.")],
    tables: Annotated[
        str | None,
        typer.Option(
            "--tables",
            help="Tables a round adds, comma-separated in vector order (default: every table of the hub's taxonomy).",
        ),
    ] = None,
    scaling: Annotated[
        int,
        typer.Option(
            "--scaling",
            help="The rounds' scaling factor γ, odd, 1 to 255 (1: unscaled). 15 keeps the regional noise near the "
            "central optimum at any group size; every member sets the same `scaling` in its [secure_group].",
        ),
    ] = 1,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a group of enrolled hotlines that have sealing keys; refuses t ≤ n/2."""
    with hub_session(ctx, data_dir, database_url, write=True) as (context, session):
        group = SecureRounds(context, session).create_group(
            group_id=group_id,
            members=members.split(","),
            threshold=threshold,
            tables=None if tables is None else [name.strip() for name in tables.split(",") if name.strip()],
            now=context.clock(),
            scaling=scaling,
        )
        document = _group_document(group)
    emit(document, as_json, _show_created)


@group_app.command("list")
def list_groups(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """The aggregation groups, their members and thresholds."""
    with hub_session(ctx, data_dir, database_url) as (context, session):
        documents = [_group_document(g) for g in SecureRounds(context, session).groups()]
    emit(documents, as_json, _show_groups)


@round_app.command("open")
def open_round(
    ctx: typer.Context,
    group_id: GroupArgument,
    period: PeriodArgument,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Open the group's next round for a month that has ended: log its roster and set its deadlines."""
    with hub_session(ctx, data_dir, database_url, write=True) as (context, session):
        document = _round_document(
            SecureRounds(context, session).open_round(group_id=group_id, period=period, now=context.clock())
        )
    _emit_round(document, as_json)


@round_app.command("tick")
def tick(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Open every group's round of the month just ended, and move on every round whose deadline passed (a timer
    runs it)."""
    with hub_session(ctx, data_dir, database_url, write=True) as (context, session):
        rounds = SecureRounds(context, session)
        now = context.clock()
        opened = [_round_document(r) for r in rounds.open_due(now=now)]
        advanced = [_round_document(r) for r in rounds.advance_all(now=now)]
    emit({"opened": opened, "advanced": advanced}, as_json, _show_ticked)


@round_app.command("show")
def show(
    ctx: typer.Context,
    group_id: GroupArgument,
    period: PeriodArgument,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """The latest round of the group for the month: its step and deadlines."""
    with hub_session(ctx, data_dir, database_url) as (context, session):
        document = _round_document(SecureRounds(context, session).find(group_id, period))
    _emit_round(document, as_json)
