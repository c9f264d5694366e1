# SPDX-License-Identifier: Apache-2.0
"""Sending approved releases: choose, sign and seal into the outbox, deliver, keep the receipts.

::

    with home.database() as db:
        ledger, outbox = Ledger(db), Outbox(db)
        choice = choose_releases(ledger, outbox, period=None)
        if choice.nothing is None:
            queue_releases(home, ledger, outbox, choice.releases, clock=clock)
            delivery = deliver_outbox(home, outbox, hub, policy=retry_policy(settings), clock=clock, sleep=sleep)
            delivery.raise_for_undelivered()

A release is sent only once approved; a month held for a secure round goes in the round's sum instead. A
delivery counts only with a receipt that verifies against the pinned log key (see :mod:`node.outbox`); the hub's
keys are re-pinned first if a verified handover leads to the ones it presents (:mod:`node.repin`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from node import adoption, round_store
from node.client import HubClient
from node.errors import HubUnreachable, KeyFileError, NodeError, NoSuchRelease, NotApproved, SubmissionRejected
from node.home import NodeHome
from node.i18n import N_, Text
from node.ledger import Ledger, StoredRelease
from node.outbox import DeliveryReport, Outbox, RetryPolicy, deliver
from node.repin import Repinned, follow_hub_keys
from node.settings import NodeSettings
from node.watch import load_policy
from protocol.messages import format_timestamp

__all__ = [
    "Delivery",
    "HubConnector",
    "NothingToSubmit",
    "SubmitChoice",
    "choose_releases",
    "deliver_outbox",
    "follow_handover",
    "follow_handover_for_receipts",
    "queue_releases",
    "retry_policy",
]

_log = logging.getLogger("node")

#: Opens a client for the hub at a URL (the CLI's, or a test's with a fake hub).
HubConnector = Callable[[str], AbstractContextManager[HubClient]]
#: Why ``submit`` sends nothing: the month's latest release was delivered, none is approved, none is prepared.
NothingToSubmit = Literal["already-delivered", "none-approved", "none-prepared"]


@dataclass(frozen=True, slots=True)
class SubmitChoice:
    """The releases ``submit`` queues, or why there is nothing to send (``nothing``; ``latest`` is the month's
    release when one was asked for)."""

    releases: tuple[StoredRelease, ...]
    nothing: NothingToSubmit | None = None
    latest: StoredRelease | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery run: what happened to each item, the hub's taxonomy notice (if any), and the node home as it
    is afterwards (re-pinned if the hub handed its keys over)."""

    report: DeliveryReport
    notice: str | None
    home: NodeHome

    def raise_for_undelivered(self) -> None:
        """Raise :class:`~node.errors.SubmissionRejected` if the hub refused a release, else
        :class:`~node.errors.HubUnreachable` if one could not be delivered yet."""
        report = self.report
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


def retry_policy(settings: NodeSettings) -> RetryPolicy:
    """How patiently a run retries, from the node's settings (``TIPSHARE_NODE_RETRY_*``)."""
    return RetryPolicy(
        attempts_per_run=settings.retry_attempts,
        base_delay=settings.retry_base_delay,
        max_delay=settings.retry_max_delay,
        max_wait=settings.retry_max_wait,
    )


def choose_releases(ledger: Ledger, outbox: Outbox, *, period: str | None) -> SubmitChoice:
    """What ``submit`` sends: ``period``'s latest release if approved (or failed before), else every approved or
    failed release. Raises :class:`~node.errors.NoSuchRelease` and :class:`~node.errors.NotApproved` for a
    ``period`` with nothing to send; an empty choice names its reason unless the outbox still holds items."""
    if period is not None:
        latest = ledger.latest(period)
        if latest is None:
            raise NoSuchRelease(Text(N_("nothing was prepared for %(period)s"), period=period))
        if latest.status == "delivered":
            return SubmitChoice((), "already-delivered", latest)
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
        releases: tuple[StoredRelease, ...] = (latest,) if latest.status in ("approved", "failed") else ()
    else:
        releases = (*ledger.releases(status="approved"), *ledger.releases(status="failed"))
    if not releases and not outbox.items(status="queued"):
        return SubmitChoice((), "none-approved" if ledger.releases(status="prepared") else "none-prepared")
    return SubmitChoice(releases)


def queue_releases(
    home: NodeHome,
    ledger: Ledger,
    outbox: Outbox,
    releases: Sequence[StoredRelease],
    *,
    clock: Callable[[], datetime],
) -> None:
    """Sign, seal and queue ``releases`` (approved, or failed before and queued again), oldest first; a month held
    for a secure round is left out (it goes in the round's sum). Raises :class:`~node.errors.KeyFileError` for a
    release prepared for another hotline or key."""
    held = round_store.RoundStore(ledger.connection).held_periods()
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
        outbox.enqueue(release, signing_key=key, hub_key=hub_key, now=clock())
        _log.info("queued %s revision %d", release.period, release.revision)


def follow_handover(
    home: NodeHome, client: HubClient, *, now: datetime, on_repin: Callable[[Repinned], None] | None = None
) -> NodeHome:
    """Re-pin the hub's keys if a verified handover leads to the keys it presents (see :mod:`node.repin`), calling
    ``on_repin`` with what changed; the home as it is afterwards. An unreachable hub changes nothing (delivery will
    wait too)."""
    try:
        repinned = follow_hub_keys(home, client, now=format_timestamp(now))
    except HubUnreachable:
        return home
    if repinned is None:
        return home
    if on_repin is not None:
        on_repin(repinned)
    return repinned.home


def deliver_outbox(
    home: NodeHome,
    outbox: Outbox,
    hub: HubConnector,
    *,
    policy: RetryPolicy,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    on_repin: Callable[[Repinned], None] | None = None,
) -> Delivery:
    """Deliver every queued item (after following a handover of the hub's keys) and keep each receipt in the node
    home. Failures are in the report: :meth:`Delivery.raise_for_undelivered` turns them into an error."""
    with hub(home.config.hub.url) as client:
        home = follow_handover(home, client, now=clock(), on_repin=on_repin)
        report = deliver(
            outbox, client, log_key=home.config.hub.identity.log_verifier, policy=policy, clock=clock, sleep=sleep
        )
        # Asked only after delivery, and only when the hub answered: a notice never delays or costs a release.
        notice = None if report.pending else _taxonomy_notice(home, client)
    for outcome in report.outcomes:
        if outcome.result in ("delivered", "already_delivered"):
            receipt = outbox.receipt(outcome.period, outcome.revision)
            if receipt is not None:
                home.save_receipt(outcome.period, outcome.revision, receipt.canonical_bytes())
    return Delivery(report=report, notice=notice, home=home)


def _taxonomy_notice(home: NodeHome, client: HubClient) -> str | None:
    """The one-line notice when the hub's current taxonomy is not the pinned one; never an error."""
    try:
        return adoption.hub_notice(home.taxonomy, client.identity())
    except NodeError as e:
        _log.info("could not ask the hub for its current taxonomy: %s", e)
        return None


def follow_handover_for_receipts(
    home: NodeHome,
    outbox: Outbox,
    hub: HubConnector,
    *,
    now: datetime,
    on_repin: Callable[[Repinned], None] | None = None,
) -> NodeHome:
    """Before receipts are checked at the hub (``status``): follow a handover of the hub's keys if there is
    something to check (a receipt, or a witness policy), so that they are checked with its current log key."""
    if not outbox.receipts() and load_policy(home.layout.root) is None:
        return home
    with hub(home.config.hub.url) as client:
        return follow_handover(home, client, now=now, on_repin=on_repin)
