# SPDX-License-Identifier: Apache-2.0
"""``tipshare-audit``: the offline verifier: checks signatures, the log and published statistics.

::

    export TIPSHARE_AUDIT_TOKEN=...                       # an auditor token from the hub operator
    tipshare-audit verify --hub https://hub.example.org --state ./audit-state \\
        --log-key 'hub.example.org/log+1a2b3c4d+AUx...'    # first run: pin the key you got out of band
    tipshare-audit verify --hub https://hub.example.org --state ./audit-state     # later: only what is new
    tipshare-audit verify --hub https://hub.example.org --state ./audit-state --recheck   # every entry again
    tipshare-audit verify --hub https://hub.example.org --state ./audit-state --report audits/2026-11.json
    tipshare-audit check tipshare-stats-persons_corridor-total-2026-01..2026-06-region-cp1234.csv \\
        --hub https://hub.example.org --state ./audit-state       # a downloaded answer, recomputed from the log
    tipshare-audit receipt 2026-10-r1.json --hub-key 'hub.example.org/log+1a2b3c4d+AUx...'

Exit status: **0** everything verified; **1** verification failed (the report names each failure; also a receipt
that does not verify); **2** the auditor could not verify: wrong arguments, an unusable state DIR, an unreachable
hub, a refused token or an answer outside the protocol. Results go to stdout (``--json`` for machines),
warnings and errors to stderr. ``-vv`` shows the traceback of an error instead of its diagnostics.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from appkit.commands import CommandState, LangOption, add_version_command, run, state_of
from auditor import i18n, views
from auditor.answer_files import read_answer_file
from auditor.check_file import FileCheck
from auditor.cli_access import access_log_cli
from auditor.cli_witness import witness_app_cli
from auditor.client import AuditClient, ClientSettings, HTTPClientFactory, make_http_client
from auditor.errors import AuditError, UsageError, protocol_diagnostics
from auditor.i18n import T_
from auditor.receipts import check_receipt, check_receipts
from auditor.report_files import write_report
from auditor.state import StateStore
from auditor.verify import Verification
from protocol.errors import ProtocolError
from protocol.messages import PROTOCOL_VERSION

__all__ = ["app", "main"]

app = typer.Typer(
    name="tipshare-audit",
    help="tipshare auditor: the offline verifier: checks signatures, the log and published statistics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(witness_app_cli, name="witness")
app.add_typer(access_log_cli, name="access-log")


@dataclass
class _State(CommandState):
    """What ``main`` hands every command: injected dependencies and the root options."""

    http_client_factory: HTTPClientFactory = make_http_client


def _state(ctx: typer.Context) -> _State:
    return state_of(ctx, _State)


JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON document instead of the verdict and tables.")]
HubOption = Annotated[
    str, typer.Option("--hub", envvar="TIPSHARE_AUDIT_HUB", help="The hub's URL.", show_default=False)
]
TokenOption = Annotated[
    str,
    typer.Option(
        "--token",
        envvar="TIPSHARE_AUDIT_TOKEN",
        help="An auditor token (prefer the environment variable: a command line is visible to other users).",
        show_default=False,
    ),
]


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More detail on stderr: -v requests, -vv tracebacks.")
    ] = 0,
    lang: LangOption = None,
) -> None:
    """tipshare auditor: verify a hub's transparency log, its submissions and its statistics, and receipts."""
    state = _state(ctx)
    state.start(i18n.CATALOGUE, lang=lang, verbose=verbose)
    if verbose:
        state.log_to_stderr(["httpx"], logging.INFO)


@app.command()
def verify(
    ctx: typer.Context,
    hub: HubOption,
    token: TokenOption,
    state_dir: Annotated[
        Path,
        typer.Option(
            "--state",
            envvar="TIPSHARE_AUDIT_STATE",
            help="Directory where the auditor keeps the pinned key, every checkpoint and entry seen (one per hub).",
            file_okay=False,
            show_default=False,
        ),
    ],
    log_key: Annotated[
        str | None,
        typer.Option(
            "--log-key",
            help="The hub's log key (vkey), obtained out of band: pinned on the first run, checked on later ones.",
        ),
    ] = None,
    as_json: JsonOption = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1.0, help="Seconds to wait for each answer.")] = 60.0,
    page_size: Annotated[
        int, typer.Option("--page-size", min=1, max=1000, help="Log entries asked for per request.")
    ] = 100,
    countries: Annotated[
        bool,
        typer.Option(
            "--countries/--region-only",
            help="Also compare every table's monthly totals, and every estimates question, per country.",
        ),
    ] = True,
    recheck: Annotated[
        bool,
        typer.Option(
            "--recheck",
            help="Check every entry again instead of resuming from the entry checks earlier runs saved in the state "
            "DIR (the log itself is always checked in full).",
        ),
    ] = False,
    witness: Annotated[
        list[str] | None,
        typer.Option(
            "--witness",
            help="A witness's cosignature key (vkey); repeat for several. Remembered in the state DIR: later runs "
            "refuse a checkpoint without enough of their cosignatures.",
        ),
    ] = None,
    witness_quorum: Annotated[
        int | None,
        typer.Option("--witness-quorum", min=0, help="How many of the --witness keys must cosign (default: all)."),
    ] = None,
    report_path: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Also write the report to this file (JSON) and a readable summary beside it (the same name, .md).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Verify a hub: its log, every submission in it, and the statistics and estimates it publishes.

    The signed checkpoint (with the pinned log key), consistency with every checkpoint seen before, all new log
    entries and the Merkle root rebuilt from all of them, the key history, every submission's key and signature,
    and every published statistic and least-squares estimate recomputed exactly from the signed payloads. Entries
    checked by earlier runs are not checked again: their conclusions are kept in the state DIR.
    """
    state = _state(ctx)
    settings = ClientSettings(hub_url=hub, timeout=timeout)
    now = state.clock()
    with state.http_client_factory(settings) as http, StateStore.open(state_dir) as store:
        client = AuditClient(http, hub, token=token)
        report = Verification(
            client=client,
            store=store,
            now=now,
            log_key=log_key,
            page_size=page_size,
            country_scopes=countries,
            recheck=recheck,
            witnesses=witness or (),
            witness_quorum=witness_quorum,
        ).run()
    if report.pinned_now and report.pinned_how == "first-use":
        views.show_first_use(report)
    views.show_notices(report)
    if report_path is not None:
        written = write_report(report_path, report, now=now)
        views.console(stderr=True).print(
            i18n.gettext("Report written to {json} and {summary}").format(json=written[0], summary=written[1]),
            soft_wrap=True,
        )
    if as_json:
        views.emit_json(report.document())
    else:
        views.show_verify(report)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def check(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help="A downloaded answer: JSON or CSV of /v1/stats, /v1/estimates or /v1/completeness, or an SDMX-CSV "
            "export.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ],
    hub: HubOption,
    token: TokenOption,
    state_dir: Annotated[
        Path,
        typer.Option(
            "--state",
            envvar="TIPSHARE_AUDIT_STATE",
            help="The state DIR of this hub (as for verify): the log is verified and brought up to date first.",
            file_okay=False,
            show_default=False,
        ),
    ],
    log_key: Annotated[
        str | None,
        typer.Option("--log-key", help="The hub's log key (vkey), obtained out of band, as for verify."),
    ] = None,
    as_json: JsonOption = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1.0, help="Seconds to wait for each answer.")] = 60.0,
) -> None:
    """Check a downloaded answer file: recompute it from the signed log at the checkpoint it names.

    The log is verified first, as verify does (and the state DIR updated); then the file's checkpoint must be the
    log's, and every line or row of the file must equal the answer recomputed from the signed submissions.
    """
    state = _state(ctx)
    answer = read_answer_file(_read(file), name=file.name)
    settings = ClientSettings(hub_url=hub, timeout=timeout)
    with state.http_client_factory(settings) as http, StateStore.open(state_dir) as store:
        client = AuditClient(http, hub, token=token)
        verification = Verification(client=client, store=store, now=state.clock(), log_key=log_key)
        result = FileCheck(verification=verification, store=store).run(answer, name=file.name)
    if verification.report.pinned_now and verification.report.pinned_how == "first-use":
        views.show_first_use(verification.report)
    if as_json:
        views.emit_json(result.document())
    else:
        views.show_file_check(result)
    if result.failures:
        raise typer.Exit(1)


@app.command()
def receipt(
    file: Annotated[
        Path,
        typer.Argument(help="The receipt a node stored (JSON).", exists=True, dir_okay=False, show_default=False),
    ],
    hub_key: Annotated[
        str, typer.Option("--hub-key", help="The hub's log key (vkey) to verify against.", show_default=False)
    ],
    payload: Annotated[
        Path | None,
        typer.Option(
            "--payload",
            help="The payload bytes the hotline signed: the entry must hold exactly these.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state",
            help="Also check the receipt against the log verified in this state DIR.",
            exists=True,
            file_okay=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Verify a node's stored receipt offline, with the hub's log key alone.

    The log key's signature on its checkpoint, and the inclusion proof of its entry in that checkpoint's tree.
    """
    receipt_bytes = _read(file)
    payload_bytes = _read(payload) if payload is not None else None
    if state_dir is not None:
        with StateStore.open(state_dir) as store:
            checked = check_receipt(receipt_bytes, hub_key=hub_key, payload=payload_bytes, store=store)
    else:
        checked = check_receipt(receipt_bytes, hub_key=hub_key, payload=payload_bytes)
    if as_json:
        views.emit_json(views.receipt_document(checked))
    else:
        views.show_receipt(checked)


@app.command()
def receipts(
    directory: Annotated[
        Path,
        typer.Argument(
            help="A directory of receipts (*.json) hotlines handed over.",
            exists=True,
            file_okay=False,
            show_default=False,
        ),
    ],
    hub_key: Annotated[
        str, typer.Option("--hub-key", help="The hub's log key (vkey) to verify against.", show_default=False)
    ],
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state",
            help="Also check every receipt against the log verified in this state DIR (rollbacks, split views).",
            exists=True,
            file_okay=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Verify every receipt in a directory, as `receipt` does each: a summary, then one verdict per receipt."""
    if state_dir is not None:
        with StateStore.open(state_dir) as store:
            checked = check_receipts(directory, hub_key=hub_key, store=store)
    else:
        checked = check_receipts(directory, hub_key=hub_key)
    document = checked.document()
    if as_json:
        views.emit_json(document)
    else:
        _ = i18n.gettext
        summary = _(
            "%(n)s receipts in %(directory)s: %(valid)s valid, %(failed)s failed, %(error)s could not be checked"
        )
        typer.echo(
            f"{_(document['verdict'])}  "
            + summary
            % {
                "n": document["receipts"],
                "directory": directory,
                "valid": document["valid"],
                "failed": document["failed"],
                "error": document["error"],
            }
        )
        for verdict in checked.verdicts:
            typer.echo(f"  {_(verdict.verdict.upper()):7} {verdict.file}: {i18n.translated(verdict.message)}")
    if not checked.ok:
        raise typer.Exit(1)


add_version_command(app, PROTOCOL_VERSION)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise UsageError(T_("cannot read {path}: {strerror}", path=path, strerror=e.strerror or e)) from e


def main(
    argv: list[str] | None = None,
    *,
    http_client_factory: HTTPClientFactory | None = None,
    clock: Callable[[], datetime] | None = None,
) -> int:
    """Entry point of ``tipshare-audit``; returns the process exit status (0 verified, 1 failed, 2 could not verify).

    Errors a person can act on (AuditError, ProtocolError) are printed as one clear paragraph on stderr (with
    ``-vv`` they are raised, with their traceback); anything else is a bug and is allowed to crash. Tests pass
    ``http_client_factory`` to talk to an in-process hub, and ``clock``.
    """
    state = _State()
    if http_client_factory is not None:
        state.http_client_factory = http_client_factory
    if clock is not None:
        state.clock = clock
    return run(
        app,
        argv,
        program="tipshare-audit",
        state=state,
        catalogue=i18n.CATALOGUE,
        reports=[
            (AuditError, lambda e: (e.diagnostics(), e.exit_code)),
            (ProtocolError, lambda e: (protocol_diagnostics(e), 1)),
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
