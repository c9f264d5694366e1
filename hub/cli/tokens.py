# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub token``: bearer tokens for coordinators, auditors and admins."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated

import typer

from hub.cli import views
from hub.cli.common import DatabaseURLOption, DataDirOption, JsonOption, emit, hub_session
from hub.cli.text import printable
from hub.services.tokens import TokenService

__all__ = ["RoleChoice", "token_app"]

token_app = typer.Typer(help="Bearer tokens for coordinators, auditors and admins.", no_args_is_help=True)


class RoleChoice(StrEnum):
    coordinator = "coordinator"
    auditor = "auditor"
    admin = "admin"
    metrics = "metrics"


def _countries(text: str | None, role: RoleChoice) -> frozenset[str] | None:
    if text is None:
        return None
    if role is not RoleChoice.coordinator:
        raise typer.BadParameter("only coordinator tokens are scoped to countries", param_hint="--countries")
    codes = frozenset(code.strip().upper() for code in text.split(",") if code.strip())
    if not codes:
        raise typer.BadParameter(
            "give ISO 3166-1 alpha-2 codes separated by commas, e.g. UA,MD", param_hint="--countries"
        )
    return codes


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    role: Annotated[RoleChoice, typer.Option("--role", help="What the token may do.", show_default=False)],
    label: Annotated[str, typer.Option("--label", help="Who holds it, e.g. 'IOM Chisinau, A. Popescu'.")],
    expires_in_days: Annotated[
        int | None, typer.Option("--expires-in-days", min=1, max=3650, help="Expire after this many days.")
    ] = None,
    countries: Annotated[
        str | None, typer.Option("--countries", help="Coordinator tokens only: the countries it may see, e.g. UA,MD.")
    ] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a bearer token. It is printed once and cannot be shown again."""
    scope = _countries(countries, role)
    with hub_session(ctx, data_dir, database_url, write=True) as (context, session):
        now = context.clock()
        created = TokenService(session).create(
            role=role.value,
            label=label,
            now=now,
            expires_in=timedelta(days=expires_in_days) if expires_in_days else None,
            countries=scope,
        )
        document = {**views.token_document(created.record, now), "token": created.token}
    if as_json:
        views.emit_json(document)
        views.error_console().print("The token is shown only this once and cannot be shown again.")
    else:
        views.show_token_created(views.console(), views.error_console(), document)


@token_app.command("list")
def token_list(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """List issued tokens (never the tokens themselves: the hub does not have them)."""
    with hub_session(ctx, data_dir, database_url) as (context, session):
        now = context.clock()
        document = [views.token_document(record, now) for record in TokenService(session).list()]
    emit(document, as_json, views.show_tokens)


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's id (see `tipshare-hub token list`).")],
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a token now; requests with it are refused from then on."""
    with hub_session(ctx, data_dir, database_url, write=True) as (context, session):
        now = context.clock()
        tokens = TokenService(session)
        already = tokens.is_revoked(token_id)
        record = tokens.revoke(token_id, now=now)
        document = views.token_document(record, now)
    if as_json:
        views.emit_json(document)
    elif already:
        typer.echo(
            f"Token {record.id} ({record.role}, {record.label}) was already revoked at {document['revoked_at']}."
        )
    else:
        typer.echo(f"Token {record.id} ({record.role}, {printable(record.label)}) revoked.")
