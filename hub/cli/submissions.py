# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub submission ...``: the operator's commands about stored submissions.

::

    tipshare-hub submission withdraw 42 --reason "sent with the stolen laptop's key (ticket 311)"

A withdrawal is a log entry signed with the hub's log key; the submission stays in the log and counts for nothing
from then on, and the hotline's previous revision of that month, if any, counts again
(:mod:`hub.services.withdrawals`). To withdraw everything a stolen key signed, revoke it instead:
``tipshare-hub hotline revoke-key --key-id ... --reason ... --compromised-since 2026-11-20T08:00:00Z``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from hub.cli import views
from hub.cli.common import hub_session
from hub.errors import BadRequest
from hub.services.withdrawals import Withdrawals, Withdrawn
from protocol.messages import format_timestamp

__all__ = ["parse_moment", "submission_app", "withdrawn_document"]

submission_app = typer.Typer(
    help="Stored submissions: withdraw one from the statistics (logged).", no_args_is_help=True
)

_DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="The hub's data directory (default: TIPSHARE_HUB_DATA_DIR).", file_okay=False),
]
_DatabaseURL = Annotated[
    str | None, typer.Option("--database-url", help="SQLAlchemy URL (default: TIPSHARE_HUB_DATABASE_URL).")
]
_Json = Annotated[bool, typer.Option("--json", help="Print a JSON document instead of text.")]


def parse_moment(text: str, *, option: str) -> datetime:
    """A time an operator types: ``2026-11-20T08:00:00Z`` (any RFC 3339 offset) or a date, read as 00:00 UTC."""
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(
            f"{option}: {text!r} is not a time such as 2026-11-20T08:00:00Z or a date such as 2026-11-20"
        ) from None
    if moment.tzinfo is None:
        raise BadRequest(f"{option}: {text!r} has no time zone; add Z for UTC (2026-11-20T08:00:00Z) or an offset")
    return moment.astimezone(UTC)


def withdrawn_document(done: Withdrawn, submission_id: int) -> dict[str, Any]:
    return {
        "submission_id": submission_id,
        "hotline_id": done.hotline_id,
        "period": done.period,
        "revision": done.revision,
        "reason": done.reason,
        "withdrawn_at": format_timestamp(done.withdrawn_at),
        "log_index": done.appended.index,
        "tree_size": done.appended.checkpoint.size,
        "current_revision": done.current_revision,
    }


@submission_app.command("withdraw")
def submission_withdraw(
    ctx: typer.Context,
    submission_id: Annotated[int, typer.Argument(metavar="ID", help="The submission's id (its receipt names it).")],
    reason: Annotated[str, typer.Option("--reason", help="Why, in words auditors will read in the log.")],
    data_dir: _DataDir = None,
    database_url: _DatabaseURL = None,
    as_json: _Json = False,
) -> None:
    """Withdraw a submission: it stays in the log but counts for nothing (logged as submission_withdrawn, signed
    with the hub's log key); the hotline's previous revision of that month counts again."""
    if not 1 <= submission_id <= 2**31 - 1:
        raise BadRequest(f"ID: {submission_id} is not a submission id")
    with hub_session(ctx, data_dir, database_url, write=True) as (context, session):
        done = Withdrawals(context, session).withdraw(submission_id, reason=reason, now=context.clock())
    document = withdrawn_document(done, submission_id)
    if as_json:
        views.emit_json(document)
        return
    out = views.console()
    out.print(
        f"Withdrew submission {submission_id} ({done.hotline_id} {done.period} revision {done.revision}): logged as "
        f"entry {document['log_index']}; the log now holds {document['tree_size']} entries.",
        soft_wrap=True,
    )
    counts = f"revision {done.current_revision}" if done.current_revision is not None else "no release"
    out.print(f"  {done.hotline_id} {done.period} now counts {counts} in the statistics.", soft_wrap=True)
