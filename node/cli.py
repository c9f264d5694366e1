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
import os
import re
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from fractions import Fraction
from importlib.metadata import version as distribution_version
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from node import adoption, cli_witness, i18n, round_store, round_views, rounds, views
from node.budget import BudgetConfig, amount_text, check_caps
from node.cli_keys import rekey, repin
from node.client import HubClient, make_http_client, normalise_hub_url
from node.errors import (
    AlreadyInitialised,
    HubUnreachable,
    KeyFileError,
    NodeError,
    NoSuchRelease,
    NotApproved,
    PeriodNotOver,
    SubmissionRejected,
    protocol_diagnostics,
)
from node.home import HomeLayout, NodeConfig, NodeHome, PinnedHub, builtin_by_hash, read_config, render_config
from node.i18n import N_, Text
from node.i18n import gettext as _
from node.keystore import create_signing_key, ensure_private_dir, load_signing_key, sealing_key, write_private_file
from node.ledger import UNSENT, Ledger, StoredRelease
from node.noise import calibrate
from node.outbox import DeliveryReport, Outbox, RetryPolicy, deliver
from node.regional import regional_accuracy, release_scales
from node.release import DEFAULT_TOP, check_tables, noisy_payload, preview
from node.repin import follow_hub_keys
from node.settings import NodeSettings, load_settings
from node.store import open_database
from node.watch import load_policy
from protocol.errors import ProtocolError
from protocol.messages import PROTOCOL_VERSION, SubmissionPayload, format_timestamp
from protocol.period import PERIOD_PATTERN, Period
from protocol.taxonomy import Taxonomy, builtin_taxonomies, builtin_taxonomy, latest_taxonomy

if TYPE_CHECKING:
    from node.aggregate import TrueTables

__all__ = ["HTTPClientFactory", "app", "main"]

HTTPClientFactory = Callable[[NodeSettings], httpx.Client]
_PERIOD = re.compile(PERIOD_PATTERN)
_log = logging.getLogger("node")

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
class _State:
    """What ``main`` hands every command: injected dependencies and the root options."""

    http_client_factory: HTTPClientFactory = make_http_client
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    sleep: Callable[[float], None] = time.sleep
    home: Path | None = None
    verbosity: int = 0
    handlers: list[tuple[logging.Logger, logging.Handler]] = field(default_factory=list)

    def settings(self) -> NodeSettings:
        return load_settings(home=self.home)

    def open_home(self) -> NodeHome:
        return NodeHome.open(self.settings().home)

    @contextmanager
    def hub(self, url: str) -> Iterator[HubClient]:
        with self.http_client_factory(self.settings()) as http:
            yield HubClient(http, url)


def _state(ctx: typer.Context) -> _State:
    state = ctx.find_root().obj
    if not isinstance(state, _State):  # pragma: no cover - main always passes one
        raise RuntimeError("tipshare-node commands run through node.cli.main")
    return state


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


def _next_month(period: str) -> datetime:
    return Period.parse(period).end


LangOption = Annotated[
    str | None,
    typer.Option(
        "--lang",
        help="Language of the messages for people: en, uk, ro or ru (default: LANGUAGE, LC_ALL, LC_MESSAGES, LANG). "
        "--json output is never translated.",
        show_default=False,
    ),
]


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
    i18n.use(i18n.language_from(lang, os.environ))
    state.home = home
    state.verbosity = verbose
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    for name in ("node", "httpx") if verbose >= 2 else ("node",):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(level)
        state.handlers.append((logger, handler))


@app.command()
def version() -> None:
    """Print the tipshare version and the protocol version this build speaks."""
    typer.echo(f"tipshare {distribution_version('tipshare')} ({PROTOCOL_VERSION})")


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
    settings = state.settings()
    layout = HomeLayout(settings.home)
    url = normalise_hub_url(hub)
    if layout.config.exists():
        config = read_config(layout.config)
        if config.hotline_id != hotline_id or config.hub.url != url:
            raise AlreadyInitialised(
                Text(
                    N_("%(home)s is already set up for hotline %(hotline)s at %(hub)s"),
                    home=str(layout.root),
                    hotline=config.hotline_id,
                    hub=config.hub.url,
                )
            )
        _show_identity(config, layout, as_json=as_json, existing=True)
        return
    with state.hub(url) as client:
        identity = client.identity()
        taxonomy = client.taxonomy(identity.taxonomy_id, expected_hash=identity.taxonomy_hash)
    ensure_private_dir(layout.root)
    # A key left by an init that stopped half-way is reused, never replaced.
    key = load_signing_key(layout.key) if layout.key.exists() else create_signing_key(layout.key)
    if builtin_by_hash(taxonomy.content_hash) is None:
        write_private_file(layout.taxonomy, taxonomy.canonical_bytes())
    now = format_timestamp(state.clock())
    config = NodeConfig(
        hotline_id=hotline_id,
        public_key=key.verify_key.to_text(),
        key_id=key.verify_key.key_id,
        created_at=now,
        hub=PinnedHub(url=url, identity=identity, pinned_at=now),
        budget=BudgetConfig.default(mechanism.value, taxonomy=taxonomy),
    )
    open_database(layout.database, create=True).close()
    try:
        write_private_file(layout.config, render_config(config).encode("utf-8"), overwrite=False)
    except FileExistsError:
        raise AlreadyInitialised(
            Text(N_("%(home)s was set up by another process at the same time"), home=str(layout.root))
        ) from None
    _show_identity(config, layout, as_json=as_json, existing=False)


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


@dataclass(frozen=True)
class _Export:
    """The export files and the officer's statements about them, as ``prepare`` and ``correct`` take them."""

    cases: Path
    contacts: Path | None
    mapping: Path | None
    allow_unknown: bool
    allow_empty: bool
    rows_are_persons: bool
    allow_other_months: bool
    encoding: str | None


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


def _read_tables(home: NodeHome, export: _Export, period: str) -> TrueTables:
    """Read and check the export (every check of :mod:`node.inputs`), then show the local summary on stderr."""
    import node.aggregate  # the input half: imported only when an export is read (and replaceable in tests)

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

        _log.info("reading %s%s for %s", export.cases, f" and {export.contacts}" if export.contacts else "", period)
        tables = node.aggregate.prepare_tables(
            cases=export.cases,
            contacts=export.contacts,
            mapping=export.mapping,
            period=period,
            taxonomy=home.taxonomy,
            allow_unknown=export.allow_unknown,
            allow_empty=export.allow_empty,
            rows_are_persons=export.rows_are_persons,
            allow_other_months=export.allow_other_months,
            encoding=export.encoding,
            progress=advance,
        )
    if tables.summary is not None:
        views.show_summary(err, tables.summary)  # true counts: on the terminal only, never stored or sent
    return tables


def _make_release(
    state: _State,
    home: NodeHome,
    ledger: Ledger,
    tables: TrueTables,
    *,
    key_id: str,
    correction: bool,
) -> tuple[StoredRelease, bool]:
    """Calibrate, draw once and store (through the ledger, which checks the caps first)."""
    counts, period = dict(tables.counts), tables.period
    names = check_tables(home.taxonomy, counts)
    plan = calibrate(home.taxonomy, names, home.config.budget)
    _log.info(
        "noise for %s: %s",
        period,
        ", ".join(
            f"{t.table} {plan.mechanism} scale {t.scale_text} ({plan.measure} {t.noise().spent})" for t in plan.tables
        ),
    )
    now = state.clock()

    def build(revision: int) -> SubmissionPayload:
        return noisy_payload(
            counts=counts,
            plan=plan,
            taxonomy=home.taxonomy,
            hotline_id=home.config.hotline_id,
            key_id=key_id,
            period=period,
            revision=revision,
            now=now,
            unit=tables.unit,
        )

    try:
        release, created = ledger.record(
            period=period, budget=home.config.budget, spend=plan.spent, build=build, correction=correction, now=now
        )
    finally:
        counts.clear()  # the true counts are not needed any more
    _log.info("stored %s revision %d (%s)", release.period, release.revision, release.payload_hash)
    return release, created


def _show_release(
    home: NodeHome, ledger: Ledger, release: StoredRelease, *, new: bool, top: int, as_json: bool
) -> None:
    payload = release.payload()
    taxonomy = home.taxonomy_of(payload.taxonomy.id, payload.taxonomy.hash)  # an earlier release may follow another
    previews = preview(payload, taxonomy, top=top)
    regional = regional_accuracy(taxonomy, release_scales(payload.privacy))
    standing = ledger.standing(home.config.budget, release.period)
    if as_json:
        views.emit_json(views.preview_document(release, previews, regional, standing, new=new))
    else:
        views.show_preview(views.console(), release, previews, regional, standing, new=new)


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
    if _next_month(period) > state.clock():
        raise PeriodNotOver(Text(N_("%(period)s is not over yet"), period=period))
    export = _Export(
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
        ledger = Ledger(db)
        existing = ledger.latest(period)
        if existing is None:
            check_caps(ledger.standing(home.config.budget, period), home.config.budget.release)
            key_id = home.signing_key().verify_key.key_id  # a key problem shows before a long read
            tables = _read_tables(home, export, period)
            existing, new = _make_release(state, home, ledger, tables, key_id=key_id, correction=False)
            # In a secure group: the round's vectors too (true counts plus a noise share); the release is the fallback.
            round_store.prepare_round(
                home, db, tables.counts, period=period, release_spend=existing.spent, now=state.clock()
            )
        else:
            new = False
        _show_release(home, ledger, existing, new=new, top=top, as_json=as_json)


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
    budget = home.config.budget
    export = _Export(
        cases, contacts, mapping, allow_unknown, allow_empty, rows_are_persons, allow_other_months, encoding
    )
    with _database(home) as db:
        ledger = Ledger(db)
        latest = ledger.latest(period)
        if latest is None:
            raise NoSuchRelease(
                Text(N_("%(period)s has no release to correct"), period=period),
                hint=Text(N_("Use `tipshare-node prepare` for it.")),
            )
        s = views.symbol(budget.measure)
        err = Console(stderr=True, highlight=False)
        standing = ledger.standing(budget, period)
        if latest.status in UNSENT:
            err.print(
                _(
                    "%(period)s revision %(revision)s was never sent (%(status)s): the correction replaces it as "
                    "revision %(revision)s, with fresh noise, and spends nothing more: the %(symbol)s = %(spent)s it "
                    "spent is given back. The new release waits for your approval."
                )
                % {
                    "period": period,
                    "revision": latest.revision,
                    "status": latest.status,
                    "symbol": s,
                    "spent": amount_text(Fraction(latest.spent)),
                },
                soft_wrap=True,
            )
            question = _("Replace it with the corrected data?")
        else:
            check_caps(standing, budget.release)
            err.print(
                _(
                    "A correction of %(period)s is released as revision %(revision)s, with fresh noise, and spends "
                    "%(symbol)s = %(release)s MORE of the privacy budget. After it, %(period)s will have spent "
                    "%(period_spent)s of %(period_cap)s and %(year)s %(year_spent)s of %(year_cap)s. Every revision "
                    "sent stays at the hub; this cannot be undone."
                )
                % {
                    "period": period,
                    "revision": latest.revision + 1,
                    "symbol": s,
                    "release": amount_text(budget.release),
                    "period_spent": amount_text(standing.period_spent + budget.release),
                    "period_cap": amount_text(budget.period_cap),
                    "year": standing.year,
                    "year_spent": amount_text(standing.year_spent + budget.release),
                    "year_cap": amount_text(budget.year_cap),
                },
                soft_wrap=True,
            )
            question = _("Spend the budget and prepare the correction?")
        if not yes and not typer.confirm(question, default=False, err=True):
            err.print(_("Nothing was spent."))
            raise typer.Exit(1)
        key_id = home.signing_key().verify_key.key_id
        tables = _read_tables(home, export, period)
        release, new = _make_release(state, home, ledger, tables, key_id=key_id, correction=True)
        _show_release(home, ledger, release, new=new, top=top, as_json=as_json)


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
) -> DeliveryReport:
    settings = state.settings()
    policy = RetryPolicy(
        attempts_per_run=settings.retry_attempts,
        base_delay=settings.retry_base_delay,
        max_delay=settings.retry_max_delay,
        max_wait=settings.retry_max_wait,
    )
    with state.hub(home.config.hub.url) as client:
        home = follow_handover(state, home, client)
        report = deliver(
            outbox,
            client,
            log_key=home.config.hub.identity.log_verifier,
            policy=policy,
            clock=state.clock,
            sleep=state.sleep,
        )
        # Asked only after delivery, and only when the hub answered: a notice never delays or costs a release.
        notice = None if report.pending else _taxonomy_notice(home, client)
    for outcome in report.outcomes:
        if outcome.result in ("delivered", "already_delivered"):
            receipt = outbox.receipt(outcome.period, outcome.revision)
            if receipt is not None:
                home.save_receipt(outcome.period, outcome.revision, receipt.canonical_bytes())
    if as_json:
        views.emit_json({**views.outcomes_document(report), **(extra or {})})
    else:
        views.show_outcomes(views.console(), report)
    if notice:
        Console(stderr=True, highlight=False).print(notice, soft_wrap=True)
    if report.failed:
        first = report.failed[0]
        raise SubmissionRejected(
            Text(
                N_("the hub refused %(count)s release(s); the first, %(period)s revision %(revision)s: %(detail)s"),
                count=len(report.failed),
                period=first.period,
                revision=first.revision,
                detail=first.detail,
            ),
            status=0,
            hint=first.hint,
        )
    if report.pending:
        raise HubUnreachable(
            Text(
                N_("%(count)s release(s) could not be delivered yet: %(detail)s"),
                count=len(report.pending),
                detail=report.pending[0].detail,
            )
        )
    return report


def follow_handover(state: _State, home: NodeHome, client: HubClient) -> NodeHome:
    """Re-pin the hub's keys if a verified handover leads to the keys it presents (see :mod:`node.repin`); the
    home as it is afterwards. An unreachable hub changes nothing (delivery will wait too)."""
    try:
        repinned = follow_hub_keys(home, client, now=format_timestamp(state.clock()))
    except HubUnreachable:
        return home
    if repinned is None:
        return home
    Console(stderr=True, highlight=False).print(repinned.describe(), soft_wrap=True)
    return repinned.home


def _taxonomy_notice(home: NodeHome, client: HubClient) -> str | None:
    """The one-line notice when the hub's current taxonomy is not the pinned one; never an error."""
    try:
        return adoption.hub_notice(home.taxonomy, client.identity())
    except NodeError as e:
        _log.info("could not ask the hub for its current taxonomy: %s", e)
        return None


def _queue(state: _State, home: NodeHome, ledger: Ledger, outbox: Outbox, releases: list[StoredRelease]) -> None:
    """Sign, seal and queue ``releases`` (approved, or failed before and queued again)."""
    held = round_store.RoundStore(ledger.connection).held_periods()  # a month in a secure round goes in its sum
    releases = [r for r in releases if r.period not in held]
    if not releases:
        return
    key = home.signing_key()
    hub_key = home.config.hub.identity.sealing_key
    for release in sorted(releases, key=lambda r: (r.period, r.revision)):
        payload = release.payload()
        if payload.hotline_id != home.config.hotline_id or payload.key_id != key.verify_key.key_id:
            raise KeyFileError(
                Text(
                    N_(
                        "%(period)s revision %(revision)s was prepared for hotline %(hotline)s with key %(key_id)s; "
                        "this node is %(node)s with key %(node_key)s"
                    ),
                    period=release.period,
                    revision=release.revision,
                    hotline=payload.hotline_id,
                    key_id=payload.key_id,
                    node=home.config.hotline_id,
                    node_key=key.verify_key.key_id,
                )
            )
        outbox.enqueue(release, signing_key=key, hub_key=hub_key, now=state.clock())
        _log.info("queued %s revision %d", release.period, release.revision)


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
        if period is not None:
            latest = ledger.latest(_check_period(period))
            if latest is None:
                raise NoSuchRelease(Text(N_("nothing was prepared for %(period)s"), period=period))
            if latest.status == "delivered":
                _nothing_to_submit(
                    "already-delivered",
                    _("%(period)s revision %(revision)s was already delivered.")
                    % {"period": period, "revision": latest.revision},
                    as_json=as_json,
                )
                return
            if latest.status == "prepared":
                raise NotApproved(
                    Text(
                        N_("%(period)s revision %(revision)s was prepared but not approved; nothing was sent"),
                        period=period,
                        revision=latest.revision,
                    ),
                    hint=Text(
                        N_(
                            "If it is right: `tipshare-node approve --period %(period)s`, then submit again. If it "
                            "is wrong: `tipshare-node discard --period %(period)s`."
                        ),
                        period=period,
                    ),
                )
            to_queue = [latest] if latest.status in ("approved", "failed") else []
        else:
            to_queue = ledger.releases(status="approved") + ledger.releases(status="failed")
        if not to_queue and not outbox.items(status="queued"):
            if ledger.releases(status="prepared"):
                _nothing_to_submit("none-approved", _("Nothing to submit: no release is approved."), as_json=as_json)
                _waiting_notice(ledger)
            else:
                _nothing_to_submit(
                    "none-prepared",
                    _("Nothing to submit: prepare a month first (`tipshare-node prepare`)."),
                    as_json=as_json,
                )
            return
        _queue(state, home, ledger, outbox, to_queue)
        try:
            _deliver(state, home, outbox, as_json=as_json)
        finally:
            if period is None:
                _waiting_notice(ledger)


def _nothing_to_submit(reason: str, message: str, *, as_json: bool) -> None:
    """Say that ``submit`` sent nothing: the sentence, or with ``--json`` a document like a delivery's (no
    outcomes) naming the reason (``already-delivered``, ``none-approved``, ``none-prepared``)."""
    if as_json:
        views.emit_json({"outcomes": [], "nothing_to_submit": reason, "detail": message})
    else:
        views.console().print(message)


@app.command()
def sync(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Deliver what waits in the outbox and every approved release (for example after a submit while offline)."""
    state = _state(ctx)
    home = state.open_home()
    with _database(home) as db:
        ledger, outbox = Ledger(db), Outbox(db)
        taken = _take_part(state, home, db, as_json=as_json)
        _queue(state, home, ledger, outbox, ledger.releases(status="approved"))
        try:
            _deliver(state, home, outbox, as_json=as_json, extra=taken)
        finally:
            _waiting_notice(ledger)
        home = state.open_home()  # delivery may have followed a handover of the hub's keys
        cli_witness.watch(home, db, state.hub, sleep=state.sleep)


def _take_part(state: _State, home: NodeHome, db: sqlite3.Connection, *, as_json: bool) -> dict[str, object] | None:
    """The open step of the node's secure rounds (:mod:`node.rounds`); their reports for ``--json``."""
    if home.config.secure_group is None and not round_store.RoundStore(db).active():
        return None
    with state.hub(home.config.hub.url) as client:
        reports = rounds.take_part(home, db, client, now=state.clock())
    if not as_json:
        out = views.console()
        for report in reports:
            out.print(report.describe(), soft_wrap=True)
    return {"rounds": [r.document() for r in reports]}


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


def _year_budgets(home: NodeHome, ledger: Ledger, *, year: str | None, today: datetime) -> list[views.YearBudget]:
    """The ledger per year and period: ``year`` only, or every year with spends (this year if there are none)."""
    spends = ledger.spends(year=year)
    years: dict[str, dict[str, list[Fraction]]] = {}
    if year is not None:
        years[year] = {}
    elif not spends:
        years[f"{today.year:04d}"] = {}
    for spend in spends:
        years.setdefault(spend.period[:4], {}).setdefault(spend.period, []).append(Fraction(spend.amount))
    return [
        views.YearBudget(
            year=y,
            spent=sum((sum(v, Fraction(0)) for v in periods.values()), Fraction(0)),
            cap=home.config.budget.year_cap,
            periods=tuple((p, len(v), sum(v, Fraction(0))) for p, v in sorted(periods.items())),
        )
        for y, periods in sorted(years.items())
    ]


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
            _year_budgets(home, ledger, year=None, today=state.clock()),
            ledger.discards(),
        )
        document["rounds"] = round_views.rounds_document(round_store.RoundStore(db).all())
        if outbox.receipts() or load_policy(home.layout.root) is not None:  # something to check at the hub
            with state.hub(home.config.hub.url) as client:
                home = follow_handover(state, home, client)  # receipts are checked with the hub's current log key
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
        summaries = _year_budgets(home, Ledger(db), year=year, today=state.clock())
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
    args = sys.argv[1:] if argv is None else argv
    # --help is written before any command runs: choose the language from the raw arguments, and say the help of
    # every command and option in it (click builds the command tree from typer's app once, here).
    i18n.use(i18n.language_in(args, os.environ))
    command = typer.main.get_command(app)
    i18n.translate_help(command)
    try:
        command.main(args=args, prog_name="tipshare-node", standalone_mode=True, obj=state)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except NodeError as e:
        if state.verbosity >= 2:
            raise
        typer.echo(e.diagnostics(), err=True)
        return 1
    except ProtocolError as e:
        if state.verbosity >= 2:
            raise
        typer.echo(protocol_diagnostics(e), err=True)
        return 1
    finally:
        for logger, handler in state.handlers:
            logger.removeHandler(handler)
    return 0
