# SPDX-License-Identifier: Apache-2.0
"""What ``tipshare-node status`` and ``budget`` show of the node's secure rounds: each month's round status and
both guarantees its release gives, read from the node's ``rounds`` table (:mod:`node.round_store`).

>>> from node.round_store import StoredRound
>>> stored = StoredRound(period="2026-10", group_id="region-east", taxonomy_hash="sha256:00", vectors={},
...     against_hub=Decimal("0.1"), against_all_others=Decimal("1.6"), members=20, threshold=16,
...     status="waiting", round_number=None, detail="the hub has not opened the round yet")
>>> rounds_document([stored])[0]["against_all_others"]
'1.6'
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from node.budget import decimal_text
from node.i18n import N_
from node.i18n import gettext as _
from node.round_store import StoredRound

__all__ = ["rounds_document", "show_rounds"]

#: A round's status at the node, as the officer reads it.
_STATUS: Final = {
    "waiting": N_("waiting for the hub"),
    "shares": N_("share submission sent"),
    "masked": N_("masked vector sent"),
    "revealed": N_("reveal sent"),
    "done": N_("in the round's sum"),
    "missed": N_("missed"),
    "refused": N_("refused"),
}


def rounds_document(rounds: Sequence[StoredRound]) -> list[dict[str, Any]]:
    """Each month's round for ``--json``: status, why, and ρ per person-month against the hub and against the hub
    colluding with all other members."""
    return [
        {
            "period": r.period,
            "group": r.group_id,
            "round": r.round_number,
            "status": r.status,
            "detail": r.detail,
            "members": r.members,
            "threshold": r.threshold,
            "against_hub": decimal_text(r.against_hub),
            "against_all_others": decimal_text(r.against_all_others),
        }
        for r in rounds
    ]


def show_rounds(out: Console, rounds: Sequence[dict[str, Any]]) -> None:
    """The rounds table of ``status`` and ``budget`` (nothing for a node that never took part in one)."""
    if not rounds:
        return
    table = Table(title=_("Secure rounds"), title_justify="left")
    for column in (_("period"), _("group"), _("threshold"), _("status"), _("ρ vs. hub"), _("ρ vs. hub + all others")):
        table.add_column(column)
    for r in rounds:
        status = _STATUS.get(r["status"])
        table.add_row(
            r["period"],
            r["group"],
            _("%(threshold)s of %(members)s") % {"threshold": r["threshold"], "members": r["members"]},
            _(status) if status is not None else r["status"],
            _figure(r["against_hub"]),
            _figure(r["against_all_others"]),
        )
    out.print(table)
    out.print(
        _(
            "ρ per person-month a month's release gives: against the hub, and against the hub colluding with all "
            "other members of the group. While a round runs, the month's local release is held; a missed or refused "
            "round sends it instead; a round's sum that holds the month means it is never sent."
        ),
        soft_wrap=True,
    )
    for r in rounds:
        if r["detail"] and r["status"] in ("missed", "refused"):
            out.print(
                "  " + _("%(period)s: %(detail)s") % {"period": r["period"], "detail": r["detail"]}, soft_wrap=True
            )


def _figure(text: str) -> str:
    """An amount for people: 6 significant digits (``--json`` keeps it exact)."""
    return f"{Decimal(text):.6g}"
