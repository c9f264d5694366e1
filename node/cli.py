# SPDX-License-Identifier: Apache-2.0
"""``tipshare-node``: the hotline side: turns a case export into a signed, noised monthly release.

A month, as the data officer types it::

    tipshare-node init --hotline-id la-strada-md --hub https://hub.example.org     # once
    tipshare-node prepare --check --period 2025-03 cases.csv --contacts calls.csv  # read and check; nothing spent
    tipshare-node prepare --period 2025-03 cases.csv --contacts calls.csv          # noise once; preview (pending)
    tipshare-node approve --period 2025-03                                         # it may be sent
    tipshare-node submit                                                           # sign, seal, send, receipt
    tipshare-node status

``tipshare-node discard --period 2025-03`` deletes a release that was never sent and gives its budget back.

and, when the hub publishes a new taxonomy (``submit`` says so), ``tipshare-node taxonomy`` to see what changes and
``tipshare-node taxonomy --update`` to follow it.

Results go to stdout (``--json`` for scripts), logs and errors to stderr. Errors a person can act on
(:class:`~node.errors.NodeError`, :class:`~protocol.errors.ProtocolError`) print their diagnostics and exit 1;
``-vv`` shows the traceback instead. Anything else is a bug and crashes.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from appkit.commands import CommandState, LangOption, add_version_command, run, state_of
from node import adoption, cli_witness, i18n, round_store, round_views, views, workflow
from node.budget import amount_text
from node.cli_keys import rekey, repin
from node.client import HubClient, make_http_client
from node.errors import NodeError, NoSuchRelease, protocol_diagnostics
from node.home import HomeLayout, NodeConfig, NodeHome
from node.i18n import N_, Text
from node.i18n import gettext as _
from node.keystore import load_signing_key, sealing_key
from node.ledger import UNSENT, Ledger
from node.noise import calibrate
from node.outbox import Outbox
from node.release import DEFAULT_TOP
from node.repin import Repinned
from node.settings import NodeSettings, load_settings
from protocol.errors import ProtocolError
from protocol.messages import PROTOCOL_VERSION
from protocol.period import PERIOD_PATTERN
from protocol.taxonomy import Taxonomy, builtin_taxonomies, builtin_taxonomy, latest_taxonomy

if TYPE_CHECKING:
    from node.aggregate import TrueTables

__all__ = ["HTTPClientFactory", "app", "main"]

HTTPClientFactory = Callable[[NodeSettings], httpx.Client]
_PERIOD = re.compile(PERIOD_PATTERN)

app = typer.Typer(
    name="tipshare-node",
    help="tipshare node: the hotline side: turns a case export into a signed, noised monthly release.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("repin")(repin)
app.command("rekey")(rekey)


@dataclass
class _State(CommandState):
    """What ``main`` hands every command: injected dependencies and the root options."""

    http_client_factory: HTTPClientFactory = make_http_client
    sleep: Callable[[float], None] = time.sleep
    home: Path | None = None

    def settings(self) -> NodeSettings:
        return load_settings(home=self.home)

    def open_home(self) -> NodeHome:
        return NodeHome.open(self.settings().home)

    @contextmanager
    def hub(self, url: str) -> Iterator[HubClient]:
        with self.http_client_factory(self.settings()) as http:
            yield HubClient(http, url)


def _state(ctx: typer.Context) -> _State:
    return state_of(ctx, _State)


class MechanismChoice(StrEnum):
    discrete_gaussian = "discrete_gaussian"
    discrete_laplace = "discrete_laplace"


JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON document instead of tables.")]
PeriodOption = Annotated[str, typer.Option("--period", help="The month, YYYY-MM.", show_default=False)]
CasesArgument = Annotated[
    Path, typer.Argument(help="The case export (HTCDS CSV or JSON).", exists=True, dir_okay=False, show_default=False)
]
ContactsOption = Annotated[
    Path | None,
    typer.Option(
        "--contacts",
        help="The contacts export; without it the contacts table is not released.",
        exists=True,
        dir_okay=False,
    ),
]
MappingOption = Annotated[
    Path | None,
    typer.Option(
        "--mapping", help="A column mapping file (TOML) for exports without HTCDS names.", exists=True, dir_okay=False
    ),
]
AllowUnknownOption = Annotated[
    bool,
    typer.Option(
        "--allow-unknown",
        help="Count values the taxonomy does not list as unknown, and accept a dimension more than half unknown.",
    ),
]
AllowEmptyOption = Annotated[
    bool,
    typer.Option("--allow-empty", help="Accept an export without a single row (a month with nothing to count)."),
]
EncodingOption = Annotated[
    str | None, typer.Option("--encoding", help="Text encoding of the export (default: detect).")
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (for scripts).")]
TopOption = Annotated[int, typer.Option("--top", min=0, max=100, help="Cells shown per table in the preview.")]


def _check_period(period: str) -> str:
    if not _PERIOD.fullmatch(period):
        raise typer.BadParameter(
            _("%(period)s is not a month in the form YYYY-MM") % {"period": repr(period)}, param_hint="--period"
        )
    return period


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More detail on stderr: -v progress, -vv debugging.")
    ] = 0,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home", help="The node home (default: TIPSHARE_NODE_HOME or the per-user app directory).", file_okay=False
        ),
    ] = None,
    lang: LangOption = None,
) -> None:
    """tipshare node: prepare, preview and submit a hotline's monthly noisy release."""
    state = _state(ctx)
    state.start(i18n.CATALOGUE, lang=lang, verbose=verbose)
    state.home = home
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    state.log_to_stderr(("node", "httpx") if verbose >= 2 else ("node",), level)


add_version_command(app, PROTOCOL_VERSION)


# ---------------------------------------------------------------------------- init


@app.command()
def init(
    ctx: typer.Context,
    hotline_id: Annotated[str, typer.Option("--hotline-id", help="Your hotline's id, as your hub operator gave it.")],
    hub: Annotated[str, typer.Option("--hub", help="The hub's URL, e.g. https://hub.example.org")],
    mechanism: Annotated[
        MechanismChoice, typer.Option("--mechanism", help="Noise: discrete Gaussian (ρ, default) or Laplace (ε).")
    ] = MechanismChoice.discrete_gaussian,
    as_json: JsonOption = False,
) -> None:
    """Set up this node: create its key, pin the hub's keys, and print the line to enroll."""
    state = _state(ctx)
    layout = HomeLayout(state.settings().home)
    setup = workflow.set_up_node(
        layout, hotline_id=hotline_id, hub_url=hub, mechanism=mechanism.value, hub=state.hub, now=state.clock()
    )
    _show_identity(setup.config, layout, as_json=as_json, existing=setup.existing)


def _show_identity(config: NodeConfig, layout: HomeLayout, *, as_json: bool, existing: bool) -> None:
    hub = config.hub
    if as_json:
        views.emit_json(
            {
                "home": str(layout.root),
                "hotline_id": config.hotline_id,
                "public_key": config.public_key,
                "key_id": config.key_id,
                "enrollment_line": f"{config.hotline_id} {config.public_key}",
                "sealing_key": sealing_key(load_signing_key(layout.key)).public_key.to_text(),
                "hub": {
                    "url": hub.url,
                    "log_origin": hub.identity.log_origin,
                    "log_vkey": hub.identity.log_vkey,
                    "log_key_fingerprint": hub.log_key_fingerprint,
                    "encryption_key": hub.identity.encryption_key,
                    "encryption_key_fingerprint": hub.encryption_key_fingerprint,
                    "taxonomy_id": hub.identity.taxonomy_id,
                    "taxonomy_hash": hub.identity.taxonomy_hash,
                },
                "already_initialised": existing,
            }
        )
        return
    out = views.console()
    if existing:
        out.print(
            _("%(home)s is already set up for hotline %(hotline)s; nothing was changed.")
            % {"home": layout.root, "hotline": config.hotline_id}
        )
    else:
        out.print(
            _("Node set up for hotline %(hotline)s in %(home)s") % {"home": layout.root, "hotline": config.hotline_id},
            soft_wrap=True,
        )
    out.print(
        "\n"
        + _("Hub %(url)s pinned on first contact. Before you submit anything, read these fingerprints to your")
        % {"url": hub.url}
    )
    out.print(_("hub operator by phone or in person and check they match theirs:"))
    out.print(
        _("  log key (%(origin)s):  %(fingerprint)s")
        % {"origin": hub.identity.log_origin, "fingerprint": hub.log_key_fingerprint},
        soft_wrap=True,
    )
    out.print(_("  encryption key:  %(fingerprint)s") % {"fingerprint": hub.encryption_key_fingerprint}, soft_wrap=True)
    out.print(
        _("Taxonomy: %(id)s (%(hash)s)") % {"id": hub.identity.taxonomy_id, "hash": hub.identity.taxonomy_hash},
        soft_wrap=True,
    )
    out.print(
        "\n" + _("Send this line to your hub operator to enroll this node's key (it is public; the secret key stays")
    )
    out.print(_("in %(key)s, readable only by you):") % {"key": layout.key}, soft_wrap=True)
    out.print(f"  {config.hotline_id} {config.public_key}", soft_wrap=True)
    out.print(_("  (key id %(key_id)s)") % {"key_id": config.key_id})


# ---------------------------------------------------------------------------- prepare / correct


RowsArePersonsOption = Annotated[
    bool,
    typer.Option(
        "--rows-are-persons",
        help="The cases export has no ext_PersonID: count each row as a person. The release then declares the weaker "
        "unit of privacy record-month.",
    ),
]
AllowOtherMonthsOption = Annotated[
    bool,
    typer.Option(
        "--allow-other-months",
        help="Accept an export where few persons fall in --period and most in one other month.",
    ),
]


def _read_tables(home: NodeHome, export: workflow.Export, period: str) -> TrueTables:
    """Read and check the export (:func:`node.workflow.read_tables`) with a progress bar, then show the local
    summary on stderr."""
    err = Console(stderr=True, highlight=False)
    with Progress(
        TextColumn("Reading the export"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("read", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or None)

        tables = workflow.read_tables(home, export, period, progress=advance)
    if tables.summary is not None:
        views.show_summary(err, tables.summary)  # true counts: on the terminal only, never stored or sent
    return tables


def _show_release(shown: workflow.ReleasePreview, *, as_json: bool) -> None:
    if as_json:
        views.emit_json(
            views.preview_document(shown.release, shown.previews, shown.regional, shown.standing, new=shown.new)
        )
    else:
        views.show_preview(
            views.console(), shown.release, shown.previews, shown.regional, shown.standing, new=shown.new
        )


@app.command()
def prepare(
    ctx: typer.Context,
    cases: CasesArgument,
    period: PeriodOption,
    contacts: ContactsOption = None,
    mapping: MappingOption = None,
    allow_unknown: AllowUnknownOption = False,
    allow_empty: AllowEmptyOption = False,
    rows_are_persons: RowsArePersonsOption = False,
    allow_other_months: AllowOtherMonthsOption = False,
    encoding: EncodingOption = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Only read and check the export and show its summary: no noise, no budget spent."),
    ] = False,
    top: TopOption = DEFAULT_TOP,
    as_json: JsonOption = False,
) -> None:
    """Check the export, build the month's tables, add noise once, store the release (pending approval) and show
    a preview. Sends nothing."""
    state = _state(ctx)
    period = _check_period(period)
    home = state.open_home()
    workflow.check_period_over(period, now=state.clock())
    export = workflow.Export(
        cases, contacts, mapping, allow_unknown, allow_empty, rows_are_persons, allow_other_months, encoding
    )
    if check:
        tables = _read_tables(home, export, period)
        if as_json:
            views.emit_json(views.check_document(tables, export.cases, export.contacts))
        else:
            views.show_check(views.console(), tables, export.cases, export.contacts)
        return
    with _database(home) as db:
        prepared = workflow.prepare_release(home, db, export, period=period, clock=state.clock, read=_read_tables)
        _show_release(workflow.preview_release(home, Ledger(db), prepared, top=top), as_json=as_json)


@app.command()
def correct(
    ctx: typer.Context,
    cases: CasesArgument,
    period: PeriodOption,
    contacts: ContactsOption = None,
    mapping: MappingOption = None,
    allow_unknown: AllowUnknownOption = False,
    allow_empty: AllowEmptyOption = False,
    rows_are_persons: RowsArePersonsOption = False,
    allow_other_months: AllowOtherMonthsOption = False,
    encoding: EncodingOption = None,
    yes: YesOption = False,
    top: TopOption = DEFAULT_TOP,
    as_json: JsonOption = False,
) -> None:
    """Release corrected data for a month: a new revision (more budget), or, if the latest was never sent, its
    replacement (no more budget)."""
    state = _state(ctx)
    period = _check_period(period)
    home = state.open_home()
    export = workflow.Export(
        cases, contacts, mapping, allow_unknown, allow_empty, rows_are_persons, allow_other_months, encoding
    )
    with _database(home) as db:
        ledger = Ledger(db)
        question = _correction_question(workflow.quote_correction(home, ledger, period))
        if not yes and not typer.confirm(question, default=False, err=True):
            Console(stderr=True, highlight=False).print(_("Nothing was spent."))
            raise typer.Exit(1)
        prepared = workflow.correct_release(home, ledger, export, period=period, clock=state.clock, read=_read_tables)
        _show_release(workflow.preview_release(home, ledger, prepared, top=top), as_json=as_json)


def _correction_question(quote: workflow.CorrectionQuote) -> str:
    """Say on stderr what the correction will do and spend; the question to confirm it."""
    latest, standing, budget = quote.latest, quote.standing, quote.budget
    err = Console(stderr=True, highlight=False)
    if quote.replaces:
        err.print(
            _(
                "%(period)s revision %(revision)s was never sent (%(status)s): the correction replaces it as "
                "revision %(revision)s, with fresh noise, and spends nothing more: the %(symbol)s = %(spent)s it "
                "spent is given back. The new release waits for your approval."
            )
            % {
                "period": latest.period,
                "revision": latest.revision,
                "status": latest.status,
                "symbol": views.symbol(budget.measure),
                "spent": amount_text(Fraction(latest.spent)),
            },
            soft_wrap=True,
        )
        return _("Replace it with the corrected data?")
    err.print(
        _(
            "A correction of %(period)s is released as revision %(revision)s, with fresh noise, and spends "
            "%(symbol)s = %(release)s MORE of the privacy budget. After it, %(period)s will have spent "
            "%(period_spent)s of %(period_cap)s and %(year)s %(year_spent)s of %(year_cap)s. Every revision "
            "sent stays at the hub; this cannot be undone."
        )
        % {
            "period": latest.period,
            "revision": quote.revision,
            "symbol": views.symbol(budget.measure),
            "release": amount_text(budget.release),
            "period_spent": amount_text(standing.period_spent + budget.release),
            "period_cap": amount_text(budget.period_cap),
            "year": standing.year,
            "year_spent": amount_text(standing.year_spent + budget.release),
            "year_cap": amount_text(budget.year_cap),
        },
        soft_wrap=True,
    )
    return _("Spend the budget and prepare the correction?")


@contextmanager
def _database(home: NodeHome) -> Iterator[sqlite3.Connection]:
    db = home.database()
    try:
        yield db
    finally:
        db.close()


# ---------------------------------------------------------------------------- submit / sync


def _deliver(
    state: _State, home: NodeHome, outbox: Outbox, *, as_json: bool, extra: dict[str, object] | None = None
) -> None:
    """Deliver the outbox (:func:`node.workflow.deliver_outbox`), print what happened, and raise if a release was
    refused or could not be delivered yet."""
    delivery = workflow.deliver_outbox(
        home,
        outbox,
        state.hub,
        policy=workflow.retry_policy(state.settings()),
        clock=state.clock,
        sleep=state.sleep,
        on_repin=_say_repinned,
    )
    if as_json:
        views.emit_json({**views.outcomes_document(delivery.report), **(extra or {})})
    else:
        views.show_outcomes(views.console(), delivery.report)
    if delivery.notice:
        Console(stderr=True, highlight=False).print(delivery.notice, soft_wrap=True)
    delivery.raise_for_undelivered()


def _say_repinned(repinned: Repinned) -> None:
    Console(stderr=True, highlight=False).print(repinned.describe(), soft_wrap=True)


def _waiting_notice(ledger: Ledger) -> None:
    """Say on stderr which releases wait for approval (they are never sent before it)."""
    waiting = ledger.releases(status="prepared")
    if not waiting:
        return
    err = Console(stderr=True, highlight=False)
    for release in waiting:
        err.print(
            _(
                "%(period)s revision %(revision)s waits for approval and was not sent: if it is right, "
                "`tipshare-node approve --period %(period)s`; if it is wrong, `tipshare-node discard --period "
                "%(period)s`."
            )
            % {"period": release.period, "revision": release.revision},
            soft_wrap=True,
        )


@app.command()
def submit(
    ctx: typer.Context,
    period: Annotated[
        str | None, typer.Option("--period", help="Only this month (default: every approved release).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Sign, seal and queue approved releases, deliver the outbox, and verify and keep the receipts."""
    state = _state(ctx)
    home = state.open_home()
    with _database(home) as db:
        ledger, outbox = Ledger(db), Outbox(db)
        choice = workflow.choose_releases(ledger, outbox, period=None if period is None else _check_period(period))
        if choice.nothing is not None:
            _nothing_to_submit(choice, as_json=as_json)
            if choice.nothing == "none-approved":
                _waiting_notice(ledger)
            return
        workflow.queue_releases(home, ledger, outbox, choice.releases, clock=state.clock)
        try:
            _deliver(state, home, outbox, as_json=as_json)
        finally:
            if period is None:
                _waiting_notice(ledger)


def _nothing_to_submit(choice: workflow.SubmitChoice, *, as_json: bool) -> None:
    """Say that ``submit`` sent nothing: the sentence, or with ``--json`` a document like a delivery's (no
    outcomes) naming the reason (``already-delivered``, ``none-approved``, ``none-prepared``)."""
    if choice.nothing == "already-delivered" and choice.latest is not None:
        message = _("%(period)s revision %(revision)s was already delivered.") % {
            "period": choice.latest.period,
            "revision": choice.latest.revision,
        }
    elif choice.nothing == "none-approved":
        message = _("Nothing to submit: no release is approved.")
    else:
        message = _("Nothing to submit: prepare a month first (`tipshare-node prepare`).")
    if as_json:
        views.emit_json({"outcomes": [], "nothing_to_submit": choice.nothing, "detail": message})
    else:
        views.console().print(message)


@app.command()
def sync(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Deliver what waits in the outbox and every approved release (for example after a submit while offline)."""
    state = _state(ctx)
    home = state.open_home()
    with _database(home) as db:
        ledger, outbox = Ledger(db), Outbox(db)
        reports = workflow.take_part(home, db, state.hub, now=state.clock())
        if reports is not None and not as_json:
            out = views.console()
            for report in reports:
                out.print(report.describe(), soft_wrap=True)
        taken: dict[str, object] | None = None if reports is None else {"rounds": [r.document() for r in reports]}
        workflow.queue_releases(home, ledger, outbox, ledger.releases(status="approved"), clock=state.clock)
        try:
            _deliver(state, home, outbox, as_json=as_json, extra=taken)
        finally:
            _waiting_notice(ledger)
        home = state.open_home()  # delivery may have followed a handover of the hub's keys
        cli_witness.watch(home, db, state.hub, sleep=state.sleep)


# ---------------------------------------------------------------------------- approve / discard


@app.command()
def approve(ctx: typer.Context, period: PeriodOption, as_json: JsonOption = False) -> None:
    """Approve the month's prepared release for sending (`submit`, `sync` and the timer send only approved ones)."""
    state = _state(ctx)
    period = _check_period(period)
    home = state.open_home()
    with _database(home) as db:
        release, changed = Ledger(db).approve(period)
    if as_json:
        views.emit_json(views.approval_document(release, changed=changed))
    else:
        views.show_approval(views.console(), release, changed=changed)


@app.command()
def discard(ctx: typer.Context, period: PeriodOption, yes: YesOption = False, as_json: JsonOption = False) -> None:
    """Delete the month's release if it was never sent, and give its privacy budget back."""
    state = _state(ctx)
    period = _check_period(period)
    home = state.open_home()
    with _database(home) as db:
        ledger = Ledger(db)
        latest = ledger.latest(period)
        if latest is None:
            raise NoSuchRelease(
                Text(N_("nothing was prepared for %(period)s"), period=period),
                hint=Text(N_("`tipshare-node status` lists releases.")),
            )
        if not yes and latest.status in UNSENT:
            err = Console(stderr=True, highlight=False)
            err.print(
                _(
                    "%(period)s revision %(revision)s (%(status)s) will be deleted, and the %(symbol)s = %(spent)s "
                    "it spent given back: it never left this machine. Discard a release because it is wrong "
                    "(export, period, mapping), never to draw the noise again until the numbers look closer to what "
                    "you know: that would leak what the noise protects."
                )
                % {
                    "period": period,
                    "revision": latest.revision,
                    "status": latest.status,
                    "symbol": views.symbol(latest.measure),
                    "spent": latest.spent,
                },
                soft_wrap=True,
            )
            if not typer.confirm(_("Discard it?"), default=False, err=True):
                err.print(_("Nothing was discarded."))
                raise typer.Exit(1)
        record = ledger.discard(period, now=state.clock())
        standing = ledger.standing(home.config.budget, period)
    if as_json:
        views.emit_json(views.discard_document(record, standing))
    else:
        views.show_discard(views.console(), record, standing)


# ---------------------------------------------------------------------------- taxonomy


@app.command()
def taxonomy(
    ctx: typer.Context,
    update: Annotated[
        bool, typer.Option("--update", help="Follow the hub's current taxonomy from the next release on.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Show the taxonomy this node follows and the hub's current one; --update adopts the hub's."""
    state = _state(ctx)
    home = state.open_home()
    with state.hub(home.config.hub.url) as client:
        check = adoption.check_hub_taxonomy(home, client)
    accuracy = adoption.compare_accuracy(home, check)
    updated = None
    if update and not check.up_to_date:
        with _database(home) as db:
            updated = adoption.adopt(home, Ledger(db), check)
    document = views.taxonomy_document(home, check, accuracy, updated=updated)
    if as_json:
        views.emit_json(document)
    else:
        views.show_taxonomy(views.console(), document, asked_to_update=update)


# ---------------------------------------------------------------------------- status / budget


@app.command()
def status(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Show releases, the outbox, receipts, and the budget spent per year."""
    state = _state(ctx)
    home = state.open_home()
    with _database(home) as db:
        ledger, outbox = Ledger(db), Outbox(db)
        document = views.status_document(
            home.config,
            str(home.layout.root),
            ledger.releases(),
            outbox.items(),
            outbox.receipts(),
            workflow.year_budgets(ledger, home.config.budget, year=None, today=state.clock()),
            ledger.discards(),
        )
        document["rounds"] = round_views.rounds_document(round_store.RoundStore(db).all())
        # Receipts are checked with the hub's current log key.
        home = workflow.follow_handover_for_receipts(home, outbox, state.hub, now=state.clock(), on_repin=_say_repinned)
        document["receipt_watch"] = cli_witness.watch(home, db, state.hub).document()
    if as_json:
        views.emit_json(document)
    else:
        out = views.console()
        views.show_status(out, document)
        round_views.show_rounds(out, document["rounds"])


@app.command()
def budget(
    ctx: typer.Context,
    year: Annotated[str | None, typer.Option("--year", help="Only this calendar year, YYYY.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show the privacy budget: what a release spends per table, and the ledger per period and per year."""
    state = _state(ctx)
    home = state.open_home()
    if year is not None and not re.fullmatch(r"[0-9]{4}", year):
        raise typer.BadParameter(f"{year!r} is not a year", param_hint="--year")
    config = home.config
    with _database(home) as db:
        summaries = workflow.year_budgets(Ledger(db), config.budget, year=year, today=state.clock())
        stored_rounds = [r for r in round_store.RoundStore(db).all() if year is None or r.period.startswith(f"{year}-")]
    plan = calibrate(home.taxonomy, list(home.taxonomy.tables), config.budget)
    document = views.budget_document(config, summaries, plan)
    document["rounds"] = round_views.rounds_document(stored_rounds)
    if as_json:
        views.emit_json(document)
    else:
        out = views.console()
        views.show_budget(out, document)
        round_views.show_rounds(out, document["rounds"])


# ---------------------------------------------------------------------------- synth


@app.command()
def synth(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Directory to write the synthetic export to.", file_okay=False)],
    seed: Annotated[int, typer.Option("--seed", help="Seed: the same seed gives the same export.")],
    months: Annotated[int, typer.Option("--months", min=1, max=120, help="Number of months.")] = 12,
    profile: Annotated[str, typer.Option("--profile", help="Hotline profile (an unknown name lists them).")] = "md",
    start: Annotated[str, typer.Option("--start", help="First month, YYYY-MM.")] = "2025-01",
    hotline_id: Annotated[str | None, typer.Option("--hotline-id", help="Hotline id written in the export.")] = None,
    persons_per_month: Annotated[
        int | None, typer.Option("--persons-per-month", min=1, help="Override the profile's monthly volume.")
    ] = None,
    clean: Annotated[bool, typer.Option("--clean", help="Leave out the deliberately messy values.")] = False,
    taxonomy_version: Annotated[
        int | None,
        typer.Option(
            "--taxonomy",
            help="Write the truth for this built-in taxonomy version (default: the node's, or the newest).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write a synthetic case export (made-up people) to try the node without real data."""
    from node.synth import generate_export, profiles

    known = {p.name: p.description for p in profiles()}
    if profile not in known:
        listed = "; ".join(f"{name} ({text})" for name, text in known.items())
        raise typer.BadParameter(f"unknown profile {profile!r}. Profiles: {listed}", param_hint="--profile")
    _check_period(start)
    taxonomy = _synth_taxonomy(_state(ctx), taxonomy_version)
    export = generate_export(
        out_dir=out,
        profile=profile,
        months=months,
        seed=seed,
        start=start,
        hotline_id=hotline_id,
        persons_per_month=persons_per_month,
        dirty=not clean,
        taxonomy=taxonomy,
    )
    document = {
        "cases": str(export.cases),
        "contacts": str(export.contacts),
        "truth": str(export.truth_path),
        "taxonomy": taxonomy.id,
        "periods": list(export.periods),
        "profile": profile,
        "seed": seed,
    }
    if as_json:
        views.emit_json(document)
        return
    out_console = views.console()
    out_console.print(
        f"Synthetic export ({profile}, seed {seed}, {len(export.periods)} months) written:", soft_wrap=True
    )
    out_console.print(f"  cases:    {export.cases}", soft_wrap=True)
    out_console.print(f"  contacts: {export.contacts}", soft_wrap=True)
    out_console.print(f"  truth:    {export.truth_path} (true counts of every table of {taxonomy.id})", soft_wrap=True)
    out_console.print(
        f"Try: tipshare-node prepare --period {export.periods[0]} {export.cases} --contacts {export.contacts}",
        soft_wrap=True,
    )


def _synth_taxonomy(state: _State, version: int | None) -> Taxonomy:
    """The taxonomy synth writes the truth for: the version asked, else the node's, else the newest built in."""
    if version is not None:
        try:
            return builtin_taxonomy(version)
        except ProtocolError:
            known = ", ".join(str(t.version) for t in builtin_taxonomies())
            raise typer.BadParameter(
                f"no built-in taxonomy {version}; versions: {known}", param_hint="--taxonomy"
            ) from None
    if HomeLayout(state.settings().home).config.exists():
        return state.open_home().taxonomy
    return latest_taxonomy()


# ---------------------------------------------------------------------------- mapping

mapping_app = typer.Typer(help="Column mapping files: `mapping init EXPORT` drafts one.", no_args_is_help=True)
app.add_typer(mapping_app, name="mapping")


@mapping_app.command("init")
def mapping_init(
    ctx: typer.Context,
    export: CasesArgument,
    contacts: ContactsOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the draft to this file (never over an existing one); default: print it.",
            dir_okay=False,
        ),
    ] = None,
    encoding: EncodingOption = None,
    max_values: Annotated[
        int,
        typer.Option("--max-values", min=1, max=500, help="List a column's values only if it has at most this many."),
    ] = 30,
) -> None:
    """Draft a commented mapping file from an export: its columns and values, guesses where clear, "?" elsewhere."""
    from node.inputs.fields import FieldCatalog
    from node.inputs.readers import open_input
    from node.scaffold import draft_columns, render_mapping

    state = _state(ctx)
    taxonomy = state.open_home().taxonomy if HomeLayout(state.settings().home).config.exists() else latest_taxonomy()
    catalog = FieldCatalog.from_taxonomy(taxonomy)
    files = []
    for path, unit in ((export, "person"), (contacts, "contact")):
        if path is None:
            continue
        source = open_input(path, encoding=encoding, allow_empty=True)
        files.append((source, draft_columns(source, catalog, unit=unit, max_values=max_values)))
    first = files[0][0]
    text = render_mapping(
        files=files,
        encoding=first.encoding if first.encoding not in ("utf-8", "utf-8-sig") else None,
        delimiter=first.delimiter,
    )
    undecided = text.count('= "?"')
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        with out.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise typer.BadParameter(
            _("%(out)s exists; the draft never replaces a file") % {"out": out}, param_hint="--out"
        ) from None
    Console(stderr=True, highlight=False).print(
        _(
            'Wrote %(out)s: %(count)s decisions to make ("?"). Fill them in, then check the export with '
            "`tipshare-node prepare --check --period YYYY-MM %(export)s --mapping %(name)s`."
        )
        % {"out": out, "count": undecided, "export": export.name, "name": out.name},
        soft_wrap=True,
    )


cli_witness.register(app, lambda ctx: _state(ctx).open_home())


# ---------------------------------------------------------------------------- entry point


def main(
    argv: list[str] | None = None,
    *,
    http_client_factory: HTTPClientFactory | None = None,
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> int:
    """Entry point of ``tipshare-node``; returns the process exit status.

    Errors a person can act on (NodeError, ProtocolError) are printed as one clear paragraph on stderr with exit
    status 1 (with ``-vv`` they are raised, with their traceback); anything else is a bug and is allowed to crash.
    Tests (and the integration suite) pass ``http_client_factory`` to talk to a fake or in-process hub, and may
    pass ``clock`` and ``sleep``.
    """
    state = _State()
    if http_client_factory is not None:
        state.http_client_factory = http_client_factory
    if clock is not None:
        state.clock = clock
    if sleep is not None:
        state.sleep = sleep
    return run(
        app,
        argv,
        program="tipshare-node",
        state=state,
        catalogue=i18n.CATALOGUE,
        reports=[
            (NodeError, lambda e: (e.diagnostics(), 1)),
            (ProtocolError, lambda e: (protocol_diagnostics(e), 1)),
        ],
    )
