# SPDX-License-Identifier: Apache-2.0
"""The node's monthly workflow, as a service the command line (:mod:`node.cli`) calls.

A month, in code (the CLI does the same, and prints)::

    from node import workflow

    export = workflow.Export(cases=Path("cases.csv"), contacts=Path("calls.csv"))
    workflow.check_period_over("2025-03", now=clock())
    with home.database() as db:
        ledger, outbox = Ledger(db), Outbox(db)
        prepared = workflow.prepare_release(home, db, export, period="2025-03", clock=clock)  # noise drawn once
        ledger.approve("2025-03")
        choice = workflow.choose_releases(ledger, outbox, period=None)
        workflow.queue_releases(home, ledger, outbox, choice.releases, clock=clock)  # signed, sealed
        delivery = workflow.deliver_outbox(home, outbox, hub, policy=policy, clock=clock, sleep=sleep)
        delivery.raise_for_undelivered()  # receipts verified and kept

Modules: :mod:`~node.workflow.release` (read the export, make, correct and preview a release),
:mod:`~node.workflow.delivery` (choose, queue, deliver, keep receipts, follow a handover of the hub's keys),
:mod:`~node.workflow.rounds` (the secure-round step of ``sync``), :mod:`~node.workflow.totals` (budget per year),
:mod:`~node.workflow.setup` (``init``).
Every function takes its inputs explicitly (the node home, a database connection, a hub connector, a clock),
returns a result object, and raises :class:`~node.errors.NodeError` subclasses; none prints.
"""

from __future__ import annotations

from node.workflow.delivery import (
    Delivery,
    HubConnector,
    NothingToSubmit,
    SubmitChoice,
    choose_releases,
    deliver_outbox,
    follow_handover,
    follow_handover_for_receipts,
    queue_releases,
    retry_policy,
)
from node.workflow.release import (
    CorrectionQuote,
    Export,
    PreparedRelease,
    ReleasePreview,
    TableReader,
    check_period_over,
    correct_release,
    make_release,
    prepare_release,
    preview_release,
    quote_correction,
    read_tables,
)
from node.workflow.rounds import take_part
from node.workflow.setup import NodeSetup, set_up_node
from node.workflow.totals import YearBudget, year_budgets

__all__ = [
    "CorrectionQuote",
    "Delivery",
    "Export",
    "HubConnector",
    "NodeSetup",
    "NothingToSubmit",
    "PreparedRelease",
    "ReleasePreview",
    "SubmitChoice",
    "TableReader",
    "YearBudget",
    "check_period_over",
    "choose_releases",
    "correct_release",
    "deliver_outbox",
    "follow_handover",
    "follow_handover_for_receipts",
    "make_release",
    "prepare_release",
    "preview_release",
    "queue_releases",
    "quote_correction",
    "read_tables",
    "retry_policy",
    "set_up_node",
    "take_part",
    "year_budgets",
]
