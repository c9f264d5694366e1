# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub hotline``: enroll hotlines, rotate and revoke their keys (each change is logged), and their
policies (:mod:`hub.cli.policy`)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

import typer

from hub.cli import policy, views
from hub.cli.common import DatabaseURLOption, DataDirOption, JsonOption, emit, hub_session, validated
from hub.cli.submissions import parse_moment
from hub.schemas import HotlineCreate, KeyRevoke, KeyRotate
from hub.services.policies import PolicyTerms
from hub.services.registry import Registry
from hub.services.withdrawals import Withdrawals
from protocol.messages import format_timestamp

__all__ = ["hotline_app"]

hotline_app = typer.Typer(
    help="Enroll hotlines, rotate and revoke their keys (each change is logged).", no_args_is_help=True
)

HotlineIdOption = Annotated[
    str | None, typer.Option("--id", help="The hotline's id, e.g. la-strada-md.", show_default=False)
]
KeyOption = Annotated[
    str | None,
    typer.Option("--key", help="The hotline's public key, ed25519:<base64>, as `tipshare-node init` printed it."),
]
LineOption = Annotated[
    str | None,
    typer.Option("--line", help='The whole line `tipshare-node init` printed: "<hotline id> ed25519:<base64>".'),
]
SealingKeyOption = Annotated[
    str | None,
    typer.Option(
        "--sealing-key", help="Its share-sealing key for secure rounds, x25519:<base64> (logged with the key)."
    ),
]


_HOTLINE_HELP = {
    "id": "--id: a hotline id is 3 to 64 lowercase letters, digits and hyphens, starting and ending with a letter "
    "or digit (for example la-strada-md)",
    "display_name": "--name: a hotline name is 1 to 200 characters",
    "country": "--country: a country is an ISO 3166-1 alpha-2 code such as MD or UA",
    "public_key": "--key: not a hotline public key; it looks like ed25519:<base64>, as printed by `tipshare-node init`",
    "reason": "--reason: a revocation needs a reason auditors can read, at most 500 characters",
}


def _id_and_key(hotline_id: str | None, key: str | None, line: str | None) -> tuple[str, str]:
    if line is not None:
        if hotline_id is not None or key is not None:
            raise typer.BadParameter("give either --line or --id with --key, not both", param_hint="--line")
        parts = line.split()
        if len(parts) != 2:
            raise typer.BadParameter(
                "an enrollment line is '<hotline id> ed25519:<base64>', as `tipshare-node init` prints it",
                param_hint="--line",
            )
        return parts[0], parts[1]
    if hotline_id is None or key is None:
        raise typer.BadParameter(
            "give the hotline's --id and --key, or the whole --line that `tipshare-node init` printed",
            param_hint="--id/--key/--line",
        )
    return hotline_id, key.strip()


@hotline_app.command("add")
def hotline_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="The hotline's name, as auditors will read it.")],
    country: Annotated[str, typer.Option("--country", help="ISO 3166-1 alpha-2 country code, e.g. MD.")],
    hotline_id: HotlineIdOption = None,
    key: KeyOption = None,
    line: LineOption = None,
    cap: policy.CapOption = None,
    max_monthly_volume: policy.VolumeOption = None,
    first_period: policy.FirstPeriodOption = None,
    reporting_from: policy.ReportingFromOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
    sealing_key: SealingKeyOption = None,
) -> None:
    """Enroll a hotline and its first key (logged as a key_enrolled entry), then its policy (hotline_policy), which
    declares the first month it is expected to report (--reporting-from)."""
    the_id, the_key = _id_and_key(hotline_id, key, line)
    body = validated(
        HotlineCreate,
        _HOTLINE_HELP,
        id=the_id,
        display_name=name.strip(),
        country=country.upper(),
        public_key=the_key,
        sealing_key=sealing_key,
    )
    with hub_session(ctx, data_dir, database_url, write=True) as (context, session):
        event = Registry.open(context, session).enroll(
            hotline_id=body.id,
            display_name=body.display_name,
            country=body.country,
            public_key=body.public_key,
            now=context.clock(),
            policy=policy.policy_terms(cap, max_monthly_volume, first_period, reporting_from=reporting_from)
            or PolicyTerms(),
            deadline_days=context.settings.deadline_days,
            sealing_key=body.sealing_key,
        )
    document = views.key_event_document("enrolled", event, public_key=body.public_key, previous_key_id=None)
    emit(document, as_json, partial(views.show_key_event, display_name=body.display_name, country=body.country))


policy.register(hotline_app)


@hotline_app.command("rotate-key")
def hotline_rotate_key(
    ctx: typer.Context,
    hotline_id: HotlineIdOption = None,
    key: KeyOption = None,
    line: LineOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
    sealing_key: SealingKeyOption = None,
) -> None:
    """Give a hotline a new key; its current key stops being valid now (logged as key_rotated)."""
    the_id, the_key = _id_and_key(hotline_id, key, line)
    body = validated(KeyRotate, _HOTLINE_HELP, public_key=the_key, sealing_key=sealing_key)
    with hub_session(ctx, data_dir, database_url, write=True) as (context, session):
        registry = Registry.open(context, session)
        before = registry.summary(the_id)
        name, country = before.display_name, before.country
        previous = before.current_key.key_id if before.current_key else None
        event = registry.rotate(
            hotline_id=the_id, public_key=body.public_key, now=context.clock(), sealing_key=body.sealing_key
        )
    document = views.key_event_document("rotated", event, public_key=body.public_key, previous_key_id=previous)
    emit(document, as_json, partial(views.show_key_event, display_name=name, country=country))


@hotline_app.command("revoke-key")
def hotline_revoke_key(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Option("--key-id", help="The key's id (see `tipshare-hub hotline list`).")],
    reason: Annotated[str, typer.Option("--reason", help="Why, in words auditors will read in the log.")],
    compromised_since: Annotated[
        str | None,
        typer.Option(
            "--compromised-since",
            help="For a stolen key: since when it may have been in other hands (2026-11-20T08:00:00Z, or a date: "
            "00:00 UTC). Every submission signed with it and received since then is withdrawn in the same logged act.",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a key now, with a reason (logged as key_revoked). Submissions signed with it are refused."""
    body = validated(KeyRevoke, _HOTLINE_HELP, reason=reason.strip())
    since = parse_moment(compromised_since, option="--compromised-since") if compromised_since else None
    withdrawn: list[int] = []
    with hub_session(ctx, data_dir, database_url, write=True) as (context, session):
        registry = Registry.open(context, session)
        if since is None:
            event = registry.revoke(key_id=key_id.strip(), reason=body.reason, now=context.clock())
        else:
            revoked = Withdrawals(context, session).revoke_compromised(
                key_id=key_id.strip(), reason=body.reason, since=since, now=context.clock()
            )
            event, withdrawn = revoked.event, [w.submission_id for w in revoked.withdrawn]
        summary = registry.summary(event.hotline_id)
        public_key = next(k.public_key for k in summary.keys if k.key_id == event.key_id)
    document = views.key_event_document("revoked", event, public_key=public_key, previous_key_id=None)
    if since is not None:
        document |= {"compromised_since": format_timestamp(since), "withdrawn_submissions": withdrawn}
    if as_json:
        views.emit_json(document)
        return
    views.show_key_event(views.console(), document, display_name=summary.display_name, country=summary.country)
    if since is not None:
        listed = f": submission(s) {', '.join(map(str, withdrawn))}" if withdrawn else ""
        views.console().print(
            f"  Withdrew {len(withdrawn)} submission(s) signed with it since {format_timestamp(since)}{listed}.",
            soft_wrap=True,
        )
    if summary.current_key is None:
        views.error_console().print(
            f"Hotline {summary.id} has no valid key now and cannot submit until it gets a new one: "
            f"`tipshare-hub hotline rotate-key --id {summary.id} --key ed25519:...`.",
            soft_wrap=True,
        )


@hotline_app.command("list")
def hotline_list(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """List enrolled hotlines with their current key and key history."""
    with hub_session(ctx, data_dir, database_url) as (context, session):
        document = views.hotlines_document(Registry.open(context, session).hotlines())
    emit(document, as_json, views.show_hotlines)
