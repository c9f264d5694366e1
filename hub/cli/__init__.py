# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub``: the central service: verified ingest, transparency log, regional statistics.

The operator's life with the hub::

    tipshare-hub init --origin hub.example.org/tipshare        # once: keys, database, identity
    tipshare-hub serve --host 127.0.0.1 --port 8750 --workers 4  # behind a TLS proxy
    tipshare-hub hotline add --line "la-strada-md ed25519:..." --name "La Strada Moldova" --country MD
    tipshare-hub token create --role coordinator --label "IOM Chisinau" --countries MD,UA
    tipshare-hub taxonomy list                                  # what the hub accepts; which one new nodes follow
    tipshare-hub log verify

Every command takes ``--data-dir`` and ``--database-url`` (default: ``TIPSHARE_HUB_DATA_DIR``,
``TIPSHARE_HUB_DATABASE_URL``; see :mod:`hub.settings`). Results go to stdout (``--json`` for scripts), logs and
warnings to stderr. Errors an operator can act on (:class:`~hub.errors.HubError`,
:class:`~protocol.errors.ProtocolError`) print their diagnostics and exit 1; ``-vv`` shows the traceback instead.
Anything else is a bug and crashes.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from importlib.metadata import version as distribution_version
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from alembic.util import CommandError
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from hub import cli_policy
from hub import cli_views as views
from hub.cli_access import access_log_app
from hub.cli_groups import group_app, round_app
from hub.cli_keys import keys_app
from hub.cli_logcheck import check_log
from hub.cli_submissions import parse_moment, submission_app
from hub.cli_text import printable
from hub.cli_witness import witness_app
from hub.context import META_LOG_ORIGIN, HubContext, utc_now
from hub.db import make_engine, make_sessionmaker, read_session, sqlite_file, storage_fault, write_session
from hub.errors import (
    BadRequest,
    Conflict,
    DatabaseUnavailable,
    HubError,
    LogIntegrityError,
    NotFound,
    NotInitialised,
)
from hub.keys import ENVELOPE_KEY_FILE, LOG_KEY_FILE
from hub.migrate import current_revision, downgrade, head_revision, upgrade
from hub.models import ApiToken, HubMeta, LogLeaf
from hub.schemas import HotlineCreate, KeyRevoke, KeyRotate
from hub.services.log import TransparencyLog
from hub.services.policies import PolicyTerms
from hub.services.rebuild import check_rollups, expected_rollups, replace_rollups
from hub.services.registry import Registry
from hub.services.taxonomies import TaxonomyRegistry
from hub.services.tokens import TokenService
from hub.services.withdrawals import Withdrawals
from hub.services.witnessing import cosigned_note
from hub.settings import Settings
from hub.setup import initialise_hub
from protocol.errors import ProtocolError
from protocol.hosts import is_this_machine
from protocol.messages import PROTOCOL_VERSION, b64encode, format_timestamp

__all__ = ["AlreadyInitialised", "InvalidSettings", "SchemaOutOfDate", "app", "main"]

_log = logging.getLogger("hub")
_Model = TypeVar("_Model", bound=BaseModel)


class AlreadyInitialised(Conflict):
    """``init`` found keys or an identity already there: it never replaces them."""

    code = "already_initialised"
    title = "Hub already initialised"


class SchemaOutOfDate(HubError):
    """The database schema is not the revision this build expects."""

    code = "schema_out_of_date"
    title = "Database schema out of date"


class InvalidSettings(HubError):
    """A ``TIPSHARE_HUB_*`` variable or option has a value the hub cannot use."""

    code = "invalid_settings"
    title = "Invalid settings"


app = typer.Typer(
    name="tipshare-hub",
    help="tipshare hub: the central service: verified ingest, transparency log, regional statistics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database schema (Alembic migrations).", no_args_is_help=True)
hotline_app = typer.Typer(
    help="Enroll hotlines, rotate and revoke their keys (each change is logged).", no_args_is_help=True
)
token_app = typer.Typer(help="Bearer tokens for coordinators, auditors and admins.", no_args_is_help=True)
log_app = typer.Typer(help="The transparency log: latest checkpoint, self-check.", no_args_is_help=True)
taxonomy_app = typer.Typer(
    help="The taxonomies the hub accepts, and the current one (which new nodes follow).", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(hotline_app, name="hotline")
app.add_typer(token_app, name="token")
app.add_typer(log_app, name="log")
app.add_typer(taxonomy_app, name="taxonomy")
rollups_app = typer.Typer(
    help="The statistics tables, maintained at ingest: check or rebuild them from the log.", no_args_is_help=True
)
app.add_typer(rollups_app, name="rollups")
app.add_typer(submission_app, name="submission")
app.add_typer(witness_app, name="witness")
app.add_typer(access_log_app, name="access-log")
app.add_typer(keys_app, name="keys")
app.add_typer(group_app, name="group")
app.add_typer(round_app, name="round")


@dataclass
class _State:
    """What ``main`` hands every command: the clock and the root options."""

    clock: Callable[[], datetime] = utc_now
    verbosity: int = 0
    #: Loggers ``-v`` configured, with the handler added and the level to restore when the command ends.
    handlers: list[tuple[logging.Logger, logging.Handler, int]] = field(default_factory=list)


def _state(ctx: typer.Context) -> _State:
    state = ctx.find_root().obj
    if not isinstance(state, _State):  # pragma: no cover - main always passes one
        raise RuntimeError("tipshare-hub commands run through hub.cli.main")
    return state


class RoleChoice(StrEnum):
    coordinator = "coordinator"
    auditor = "auditor"
    admin = "admin"
    metrics = "metrics"


DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="The hub's data directory: keys/ and the SQLite file (default: TIPSHARE_HUB_DATA_DIR or the per-user "
        "data directory).",
        file_okay=False,
        show_default=False,
    ),
]
DatabaseURLOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL, e.g. postgresql+psycopg://hub@db/tipshare (default: TIPSHARE_HUB_DATABASE_URL or "
        "hub.sqlite in the data directory).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON document instead of text and tables.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (for scripts).")]
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


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose", "-v", count=True, help="More on stderr: -v hub and migration logs, -vv SQL and tracebacks."
        ),
    ] = 0,
) -> None:
    """tipshare hub: set up, run and operate the central service."""
    state = _state(ctx)
    state.verbosity = verbose
    if verbose == 0:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    for name in ("hub", "alembic", "sqlalchemy.engine") if verbose >= 2 else ("hub", "alembic"):
        logger = logging.getLogger(name)
        state.handlers.append((logger, handler, logger.level))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO if verbose == 1 or name == "sqlalchemy.engine" else logging.DEBUG)


@app.command()
def version() -> None:
    """Print the tipshare version and the protocol version this build speaks."""
    typer.echo(f"tipshare {distribution_version('tipshare')} ({PROTOCOL_VERSION})")


# ---------------------------------------------------------------------------- settings, database, hub


def _settings(data_dir: Path | None, database_url: str | None, **more: object) -> Settings:
    """Settings from the environment, with the options the operator typed on top."""
    given: dict[str, Any] = {"data_dir": data_dir, "database_url": database_url, **more}
    try:
        return Settings(**{name: value for name, value in given.items() if value is not None})
    except ValidationError as e:
        wrong = "; ".join(
            f"TIPSHARE_HUB_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in e.errors()
        )
        raise InvalidSettings(f"the hub settings cannot be used ({wrong})") from e


def _url(settings: Settings) -> URL:
    try:
        return make_url(settings.resolved_database_url)
    except ArgumentError as e:
        raise InvalidSettings(f"the database URL is not a URL SQLAlchemy understands: {e}") from e


def _shown_url(settings: Settings) -> str:
    return _url(settings).render_as_string(hide_password=True)


def _sqlite_file(settings: Settings) -> Path | None:
    """The file of a SQLite database URL (``None`` for other backends and in-memory databases)."""
    return sqlite_file(_url(settings))


@contextmanager
def _database(settings: Settings, *, must_exist: bool, probe: bool = True) -> Iterator[Engine]:
    """An engine for the hub's database, with unusable databases reported as :class:`DatabaseUnavailable`.

    With ``must_exist``, a SQLite file that is not there is refused rather than created empty (a mistyped
    ``--data-dir`` should not leave a stray database behind). With ``probe``, the database is reached before
    anything else happens, so an unreachable server is reported as such and not as a hub that is missing. A full
    disk or a read-only database, whenever the command meets it, is reported as a
    :class:`~hub.errors.StorageFault` that says where and what to check.
    """
    shown = _shown_url(settings)
    sqlite_file = _sqlite_file(settings)
    if must_exist and sqlite_file is not None and not sqlite_file.exists():
        raise NotInitialised(
            f"there is no hub database at {sqlite_file}: `tipshare-hub init --origin <name>` creates a hub, or "
            "point --data-dir (TIPSHARE_HUB_DATA_DIR) or --database-url at an existing one"
        )
    try:
        engine = make_engine(settings.resolved_database_url)
    except ArgumentError as e:
        raise InvalidSettings(f"the database URL {shown} cannot be used: {e}") from e
    try:
        if probe:
            with engine.connect():
                pass
        yield engine
    except DBAPIError as e:
        if (fault := storage_fault(e, engine.url)) is not None:
            raise fault from e
        if not isinstance(e, OperationalError):
            raise
        raise DatabaseUnavailable(f"the database at {shown} cannot be used: {e.orig}") from e
    finally:
        engine.dispose()


@contextmanager
def _hub(state: _State, data_dir: Path | None, database_url: str | None) -> Iterator[HubContext]:
    """The initialised hub the options (or the environment) point at."""
    settings = _settings(data_dir, database_url)
    with _database(settings, must_exist=True) as engine:
        yield HubContext.open(settings, clock=state.clock, engine=engine)


def _validated(model: type[_Model], help_by_field: dict[str, str], **values: object) -> _Model:
    """``model(**values)``, with validation errors turned into one clear :class:`BadRequest`."""
    try:
        return model(**values)
    except ValidationError as e:
        problems = dict.fromkeys(
            help_by_field.get(str(error["loc"][0]), f"{error['loc'][0]}: {error['msg']}") for error in e.errors()
        )
        raise BadRequest("; ".join(problems)) from e


# ---------------------------------------------------------------------------- init, identity, serve


@app.command()
def init(
    ctx: typer.Context,
    origin: Annotated[
        str,
        typer.Option(
            "--origin",
            help="The log's name, stable for the hub's lifetime, e.g. hub.example.org/tipshare. Hotlines and "
            "auditors pin it.",
            show_default=False,
        ),
    ],
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create the hub: its keys (X25519 envelopes, Ed25519 log), its database, and its identity."""
    state = _state(ctx)
    settings = _settings(data_dir, database_url)
    _refuse_if_initialised(settings)
    with _database(settings, must_exist=False, probe=False) as engine:  # the data directory may not exist yet
        context = initialise_hub(settings, origin=origin, clock=state.clock, engine=engine)
        document = views.identity_document(context)
    _log.info("hub %s initialised in %s", origin, settings.data_dir)
    if as_json:
        views.emit_json(document)
    else:
        views.show_identity(views.console(), document, created=True)


def _refuse_if_initialised(settings: Settings) -> None:
    """Refuse before anything is written if keys or an identity are already there."""
    existing = [settings.keys_dir / name for name in (ENVELOPE_KEY_FILE, LOG_KEY_FILE)]
    if any(path.exists() for path in existing):
        raise AlreadyInitialised(
            f"{settings.data_dir} already holds a hub's keys ({settings.keys_dir}); nothing was changed. "
            "`tipshare-hub init` never replaces keys: a new log key would orphan every receipt the hub has issued. "
            "`tipshare-hub identity` shows this hub's identity."
        )
    sqlite_file = _sqlite_file(settings)
    if sqlite_file is not None and not sqlite_file.exists():
        return
    with _database(settings, must_exist=False) as engine:
        if current_revision(engine) is None:
            return
        with read_session(make_sessionmaker(engine)) as session:
            origin = session.scalar(select(HubMeta.value).where(HubMeta.key == META_LOG_ORIGIN))
    if origin is not None:
        raise AlreadyInitialised(
            f"the database at {_shown_url(settings)} already belongs to hub {origin}, but its keys are not in "
            f"{settings.keys_dir}: restore them from your backup (or point --data-dir at them); nothing was changed"
        )


@app.command()
def identity(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the hub's identity and key fingerprints (to read to a hotline over the phone)."""
    with _hub(_state(ctx), data_dir, database_url) as context:
        document = views.identity_document(context)
    if as_json:
        views.emit_json(document)
    else:
        views.show_identity(views.console(), document, created=False)


class LogFormatChoice(StrEnum):
    auto = "auto"
    json = "json"
    text = "text"


LogFormatOption = Annotated[
    LogFormatChoice | None,
    typer.Option(
        "--log-format",
        help="json: one JSON object a line (time, level, logger, message, request_id); text; auto (default: "
        "TIPSHARE_HUB_LOG_FORMAT or auto, text on a terminal and JSON otherwise).",
        show_default=False,
    ),
]


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (default: TIPSHARE_HUB_HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, help="Port to listen on (default: TIPSHARE_HUB_PORT or 8750)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, max=64, help="Worker processes (default: TIPSHARE_HUB_WORKERS or 1)."),
    ] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    log_format: LogFormatOption = None,
) -> None:
    """Run the hub's HTTP API with uvicorn until interrupted. Put a TLS proxy in front of it."""
    from hub.cli_serve import check_address, run  # uvicorn is loaded by this command only

    state = _state(ctx)
    settings = _settings(
        data_dir, database_url, host=host, port=port, workers=workers, log_format=log_format and log_format.value
    )
    with _hub(state, settings.data_dir, settings.database_url) as context:  # refuse before uvicorn starts
        origin = context.origin
        current, head = current_revision(context.engine), head_revision(context.engine)
        context.check_writable()  # a hub that cannot store a submission must not look healthy
    if current != head:
        raise SchemaOutOfDate(
            f"the database is at schema revision {current}, this build needs {head}: back the database up, then "
            "run `tipshare-hub db upgrade`"
        )
    check_address(settings)  # a port in use is one sentence, not uvicorn's [Errno 98]
    shown_host = f"[{settings.host}]" if ":" in settings.host else settings.host
    url = f"http://{shown_host}:{settings.port}"
    plural = "s" if settings.workers != 1 else ""
    typer.echo(f"Serving hub {origin} on {url} ({settings.workers} worker{plural}); Ctrl+C stops it.")
    if not is_this_machine(settings.host):
        views.error_console().print(
            f"Warning: {url} is plain HTTP on a network interface. Hotlines and coordinators must reach the hub "
            "through a TLS proxy; listen on 127.0.0.1 behind the proxy unless the proxy runs elsewhere.",
            soft_wrap=True,
        )
    run(settings, log_level="debug" if state.verbosity >= 2 else "info")


# ---------------------------------------------------------------------------- db


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDirOption = None, database_url: DatabaseURLOption = None) -> None:
    """Migrate the database schema to the newest revision this build ships (head)."""
    settings = _settings(data_dir, database_url)
    with _database(settings, must_exist=True) as engine:
        before, head = current_revision(engine), head_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    shown = _shown_url(settings)
    if before == after:
        typer.echo(f"{shown} is already at the head revision {head}; nothing to do.")
    else:
        typer.echo(f"{shown} upgraded from {before or 'an empty schema'} to {after} (head).")


@db_app.command("current")
def db_current(
    data_dir: DataDirOption = None, database_url: DatabaseURLOption = None, as_json: JsonOption = False
) -> None:
    """Show the database's schema revision and the head revision of this build."""
    settings = _settings(data_dir, database_url)
    with _database(settings, must_exist=True) as engine:
        current, head = current_revision(engine), head_revision(engine)
    shown = _shown_url(settings)
    if as_json:
        views.emit_json({"database_url": shown, "current": current, "head": head, "up_to_date": current == head})
        return
    if current == head:
        state = "up to date"
    elif current is None:
        state = "empty: `tipshare-hub init` (new hub) or `tipshare-hub db upgrade` creates the schema"
    else:
        state = "not the head revision: back it up, then run `tipshare-hub db upgrade`"
    typer.echo(f"database:  {shown}\ncurrent:   {current or '(none)'}\nhead:      {head}\n{state}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="The revision to go back to (`base` removes every table).")],
    yes: YesOption = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
) -> None:
    """Migrate the schema back to an older revision. Drops tables and their data: back up first."""
    settings = _settings(data_dir, database_url)
    shown = _shown_url(settings)
    with _database(settings, must_exist=True) as engine:
        current = current_revision(engine)
        views.error_console().print(
            f"Downgrading {shown} from {current or '(none)'} to {revision} runs the migrations' downgrade steps, "
            "which drop tables and the data in them (down to `base`: the log, the submissions, the key registry "
            "and the tokens). This cannot be undone; back up the database first.",
            soft_wrap=True,
        )
        if not yes and not typer.confirm("Downgrade the database?", default=False, err=True):
            views.error_console().print("Nothing was changed.")
            raise typer.Exit(1)
        try:
            downgrade(engine, revision)
        except CommandError as e:
            raise BadRequest(f"cannot downgrade to {revision!r}: {e}") from e
        after = current_revision(engine)
    typer.echo(f"{shown} downgraded from {current or '(none)'} to {after or 'base (no schema)'}.")


# ---------------------------------------------------------------------------- hotlines and keys

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
    cap: cli_policy.CapOption = None,
    max_monthly_volume: cli_policy.VolumeOption = None,
    first_period: cli_policy.FirstPeriodOption = None,
    reporting_from: cli_policy.ReportingFromOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
    sealing_key: SealingKeyOption = None,
) -> None:
    """Enroll a hotline and its first key (logged as a key_enrolled entry), then its policy (hotline_policy), which
    declares the first month it is expected to report (--reporting-from)."""
    the_id, the_key = _id_and_key(hotline_id, key, line)
    body = _validated(
        HotlineCreate,
        _HOTLINE_HELP,
        id=the_id,
        display_name=name.strip(),
        country=country.upper(),
        public_key=the_key,
        sealing_key=sealing_key,
    )
    with _hub(_state(ctx), data_dir, database_url) as context, write_session(context.sessions) as session:
        event = Registry.open(context, session).enroll(
            hotline_id=body.id,
            display_name=body.display_name,
            country=body.country,
            public_key=body.public_key,
            now=context.clock(),
            policy=cli_policy.policy_terms(cap, max_monthly_volume, first_period, reporting_from=reporting_from)
            or PolicyTerms(),
            deadline_days=context.settings.deadline_days,
            sealing_key=body.sealing_key,
        )
    document = views.key_event_document("enrolled", event, public_key=body.public_key, previous_key_id=None)
    if as_json:
        views.emit_json(document)
    else:
        views.show_key_event(views.console(), document, display_name=body.display_name, country=body.country)


cli_policy.register(hotline_app)


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
    body = _validated(KeyRotate, _HOTLINE_HELP, public_key=the_key, sealing_key=sealing_key)
    with _hub(_state(ctx), data_dir, database_url) as context, write_session(context.sessions) as session:
        registry = Registry.open(context, session)
        hotline = registry.hotline(the_id)
        name, country = hotline.display_name, hotline.country
        summary = next(s for s in registry.hotlines() if s.id == the_id)
        previous = summary.current_key.key_id if summary.current_key else None
        event = registry.rotate(
            hotline_id=the_id, public_key=body.public_key, now=context.clock(), sealing_key=body.sealing_key
        )
    document = views.key_event_document("rotated", event, public_key=body.public_key, previous_key_id=previous)
    if as_json:
        views.emit_json(document)
    else:
        views.show_key_event(views.console(), document, display_name=name, country=country)


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
    body = _validated(KeyRevoke, _HOTLINE_HELP, reason=reason.strip())
    since = parse_moment(compromised_since, option="--compromised-since") if compromised_since else None
    withdrawn: list[int] = []
    with _hub(_state(ctx), data_dir, database_url) as context, write_session(context.sessions) as session:
        registry = Registry.open(context, session)
        if since is None:
            event = registry.revoke(key_id=key_id.strip(), reason=body.reason, now=context.clock())
        else:
            revoked = Withdrawals(context, session).revoke_compromised(
                key_id=key_id.strip(), reason=body.reason, since=since, now=context.clock()
            )
            event, withdrawn = revoked.event, [w.submission_id for w in revoked.withdrawn]
        summary = next(s for s in registry.hotlines() if s.id == event.hotline_id)
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
    with _hub(_state(ctx), data_dir, database_url) as context, read_session(context.sessions) as session:
        document = views.hotlines_document(Registry.open(context, session).hotlines())
    if as_json:
        views.emit_json(document)
    else:
        views.show_hotlines(views.console(), document)


# ---------------------------------------------------------------------------- tokens


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
    with _hub(_state(ctx), data_dir, database_url) as context, write_session(context.sessions) as session:
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
    with _hub(_state(ctx), data_dir, database_url) as context, read_session(context.sessions) as session:
        now = context.clock()
        document = [views.token_document(record, now) for record in TokenService(session).list()]
    if as_json:
        views.emit_json(document)
    else:
        views.show_tokens(views.console(), document)


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's id (see `tipshare-hub token list`).")],
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a token now; requests with it are refused from then on."""
    with _hub(_state(ctx), data_dir, database_url) as context, write_session(context.sessions) as session:
        now = context.clock()
        existing = session.get(ApiToken, token_id)
        already = existing is not None and existing.revoked_at is not None
        record = TokenService(session).revoke(token_id, now=now)
        document = views.token_document(record, now)
    if as_json:
        views.emit_json(document)
    elif already:
        typer.echo(
            f"Token {record.id} ({record.role}, {record.label}) was already revoked at {document['revoked_at']}."
        )
    else:
        typer.echo(f"Token {record.id} ({record.role}, {printable(record.label)}) revoked.")


# ---------------------------------------------------------------------------- taxonomies


@taxonomy_app.command("list")
def taxonomy_list(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the taxonomies the hub accepts, which one is current, and how many current submissions follow each."""
    with _hub(_state(ctx), data_dir, database_url) as context, read_session(context.sessions) as session:
        registry = TaxonomyRegistry(session)
        document = views.taxonomies_document(registry.registered(), registry.current_id(), registry.usage())
    if as_json:
        views.emit_json(document)
    else:
        views.show_taxonomies(views.console(), document)


@taxonomy_app.command("current")
def taxonomy_current(
    ctx: typer.Context,
    taxonomy_id: Annotated[
        str, typer.Argument(metavar="ID", help="A registered taxonomy's id (see `tipshare-hub taxonomy list`).")
    ],
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make a registered taxonomy the current one: the one GET /v1/hub names and newly set-up nodes follow."""
    with _hub(_state(ctx), data_dir, database_url) as context, write_session(context.sessions) as session:
        switch = TaxonomyRegistry(session).make_current(taxonomy_id.strip())
    document = {"previous": switch.previous, "current": switch.current, "changed": switch.previous != switch.current}
    if as_json:
        views.emit_json(document)
    else:
        views.show_taxonomy_switch(views.console(), document)


# ---------------------------------------------------------------------------- log


@log_app.command("checkpoint")
def log_checkpoint(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the latest signed checkpoint (a C2SP signed note), exactly as the hub hands it out."""
    with _hub(_state(ctx), data_dir, database_url) as context, read_session(context.sessions) as session:
        latest = TransparencyLog(session, signer=context.log_signer).latest_checkpoint()
        if latest is None:
            raise NotFound("the log is empty: the hub signs its first checkpoint when it logs its first entry")
        document = views.checkpoint_document(context.origin, latest) | {"note": cosigned_note(session, latest)}
    if as_json:
        views.emit_json(document)
    else:
        typer.echo(document["note"], nl=False)


@log_app.command("verify")
def log_verify(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rebuild the log's Merkle tree from every entry and check it against every checkpoint the hub signed."""
    with _hub(_state(ctx), data_dir, database_url) as context, read_session(context.sessions) as session:
        result = check_log(session, signer=context.log_signer)
    if as_json:
        views.emit_json(
            {
                "origin": result.origin,
                "size": result.size,
                "root_hash": b64encode(result.root_hash),
                "checkpoints_checked": result.checkpoints,
                "ok": result.ok,
                "problems": list(result.problems),
            }
        )
    if not result.ok:
        listed = "\n".join(f"  - {problem}" for problem in result.problems)
        raise LogIntegrityError(
            f"the transparency log of {result.origin} FAILED its self-check. Stop the hub, keep a copy of the "
            f"database as it is, and investigate:\n{listed}"
        )
    if not as_json:
        typer.echo(
            f"Log {result.origin} is consistent: {result.size} entries rebuild the root {b64encode(result.root_hash)}, "
            f"and all {result.checkpoints} signed checkpoints verify with this hub's log key and match the entries."
        )


@rollups_app.command("check")
def rollups_check(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Recompute every statistic from the log's signed payloads and compare with the stored rollups."""
    with _hub(_state(ctx), data_dir, database_url) as context, read_session(context.sessions) as session:
        problems = check_rollups(session, context.taxonomies)
    if as_json:
        views.emit_json({"ok": not problems, "problems": problems})
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems[:50])
        raise LogIntegrityError(
            f"the rollups differ from a rebuild from the log ({len(problems)} differences). The log is the truth: "
            f"after investigating, `tipshare-hub rollups rebuild --yes` rewrites them from it.\n{listed}"
        )
    if not as_json:
        typer.echo("Rollups match a rebuild from the log: every published statistic is the sum of signed payloads.")


@rollups_app.command("rebuild")
def rollups_rebuild(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Rewrite the rollup tables from the log (the log itself is never changed)."""
    if not yes:
        typer.confirm("Rewrite every rollup row from the transparency log?", abort=True)
    with _hub(_state(ctx), data_dir, database_url) as context, write_session(context.sessions) as session:
        leaves = session.scalars(select(LogLeaf.data).order_by(LogLeaf.index)).all()
        snapshot = expected_rollups(leaves, context.taxonomies)
        replace_rollups(session, snapshot)
        cells = sum(len(rows) for rows in snapshot.cells.values())
    typer.echo(f"Rollups rebuilt from {len(leaves)} log entries: {cells} cells.")


# ---------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None, *, clock: Callable[[], datetime] | None = None) -> int:
    """Entry point of ``tipshare-hub``; returns the process exit status.

    Errors an operator can act on (HubError, ProtocolError, and file-system errors such as a read-only or full data
    directory) are printed as one clear paragraph on stderr with exit
    status 1 (with ``-vv`` they are raised, with their traceback); anything else is a bug and is allowed to crash.
    Tests pass ``clock`` to control the time the hub records.
    """
    state = _State()
    if clock is not None:
        state.clock = clock
    try:
        app(args=argv, prog_name="tipshare-hub", standalone_mode=True, obj=state)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except (HubError, ProtocolError) as e:
        if state.verbosity >= 2:
            raise
        typer.echo(e.diagnostics(), err=True)
        return 1
    except OSError as e:  # a data directory that is read-only, full or not a directory: the operator's to fix
        if state.verbosity >= 2:
            raise
        where = f" {e.filename}" if e.filename else ""
        typer.echo(
            f"Cannot write or read{where}: {e.strerror or e}. Check that the hub's user may write its data "
            "directory and that the file system is writable and has free space.",
            err=True,
        )
        return 1
    finally:
        for logger, handler, level in state.handlers:
            logger.removeHandler(handler)
            logger.setLevel(level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
