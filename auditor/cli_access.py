# SPDX-License-Identifier: Apache-2.0
"""``tipshare-audit access-log verify``: check a hub's access log chain and its signed checkpoints.

::

    tipshare-audit access-log verify --hub https://hub.example.org --token "$TOKEN" --state ~/audit/hub
    tipshare-audit access-log verify --hub https://hub.example.org --token "$TOKEN" \\
        --log-key 'hub.example.org/tipshare+1a2b3c4d+AUx...'

Exits 0 when every record and checkpoint verifies, 1 when a record was edited, deleted or reordered (each named by
its sequence number) or a checkpoint does not verify, 2 when the hub could not be asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditor import views
from auditor.access_log import AccessLogReport, chain_message, verify_access_log
from auditor.client import AuditClient, ClientSettings
from auditor.errors import UsageError
from auditor.i18n import N_, T_, translated
from auditor.i18n import gettext as _
from auditor.state import StateStore
from protocol.access_chain import access_log_verifier
from protocol.note import NoteVerifier

__all__ = ["access_log_cli"]

access_log_cli = typer.Typer(
    help="Verify the hub's access log: every record in its hash chain, and its signed checkpoints.",
    no_args_is_help=True,
)


@access_log_cli.command("verify")
def verify(
    ctx: typer.Context,
    hub: Annotated[str, typer.Option("--hub", envvar="TIPSHARE_AUDIT_HUB", help="The hub's URL.", show_default=False)],
    token: Annotated[
        str,
        typer.Option(
            "--token",
            envvar="TIPSHARE_AUDIT_TOKEN",
            help="An auditor token (prefer the environment variable: a command line is visible to other users).",
            show_default=False,
        ),
    ],
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state",
            envvar="TIPSHARE_AUDIT_STATE",
            help="The state DIR of `tipshare-audit verify` for this hub: its pinned log key (and earlier ones) "
            "verify the checkpoints, and the newest verified checkpoint is remembered there for the next run.",
            file_okay=False,
        ),
    ] = None,
    log_key: Annotated[
        list[str] | None,
        typer.Option("--log-key", help="The hub's log key (vkey), obtained out of band; repeat for earlier keys."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON document.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1.0, help="Seconds to wait for each answer.")] = 60.0,
    page_size: Annotated[int, typer.Option("--page-size", min=1, max=1000, help="Records per request.")] = 1000,
) -> None:
    """Fetch the whole access log and its checkpoints, recompute the chain, and report every record edited,
    deleted or reordered, and every checkpoint that does not verify with the hub's log key."""
    from auditor.cli import _state

    state = _state(ctx)
    verifiers = _verifiers(log_key or [], state_dir)
    settings = ClientSettings(hub_url=hub, timeout=timeout)
    with state.http_client_factory(settings) as http:
        report = verify_access_log(
            AuditClient(http, hub, token=token), verifiers, page_size=page_size, state_dir=state_dir
        )
    if as_json:
        views.emit_json(report.document())
    else:
        _show(report)
    if not report.ok:
        raise typer.Exit(1)


def _verifiers(vkeys: list[str], state_dir: Path | None) -> list[NoteVerifier]:
    keys = list(vkeys)
    if state_dir is not None:
        with StateStore.open(state_dir) as store:
            pinned = store.pinned()
            if pinned is not None:
                keys.append(pinned.vkey)
            keys.extend(str(old["vkey"]) for old in store.key_history())
    if not keys:
        raise UsageError(
            T_("no log key to verify the access log's checkpoints with"),
            hint=N_(
                "Give --log-key with the hub's vkey (obtained out of band), or --state with the state DIR of "
                "`tipshare-audit verify`, which pins it."
            ),
        )
    return [access_log_verifier(NoteVerifier.from_vkey(vkey)) for vkey in dict.fromkeys(keys)]


def _show(report: AccessLogReport) -> None:
    verdict = _("VERIFIED") if report.ok else _("FAILED")
    typer.echo(
        _(
            "access log {verdict}: {records} records, {checkpoints} signed checkpoints; the newest covers {signed} "
            "records ({unsigned} after it are not signed yet)"
        ).format(
            verdict=verdict,
            records=report.records,
            checkpoints=report.checkpoints,
            signed=report.signed,
            unsigned=report.unsigned,
        )
    )
    for finding in report.findings:
        # The kind is a machine id (as in --json); the sentence is said in the chosen language.
        text = translated(chain_message(finding.message))
        typer.echo("  " + _("record {seq}: {kind}: {message}").format(seq=finding.seq, kind=finding.kind, message=text))
