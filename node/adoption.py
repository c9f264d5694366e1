# SPDX-License-Identifier: Apache-2.0
"""Following the hub's taxonomy: what the node pinned, what the hub publishes now, and adopting the new one.

A node releases the taxonomy it pinned at ``init`` until its officer decides otherwise. When the hub starts to
publish a newer one (taxonomy v2, whose tables answer the coordinators' questions far more accurately), the hub
keeps accepting the old one, so nothing breaks; ``submit`` and ``sync`` print a one-line notice
(:func:`hub_notice`), and ``tipshare-node taxonomy`` shows the difference (:func:`check_hub_taxonomy`,
:func:`compare_accuracy`). ``tipshare-node taxonomy --update`` (:func:`adopt`) then:

1. fetches the hub's current taxonomy and checks it against the hash the hub names (as ``init`` does), after
   checking that the hub still presents the log and encryption keys pinned at ``init`` (a taxonomy update never
   re-pins keys);
2. refuses (:class:`~node.errors.TaxonomyUpdateBlocked`) while a release prepared under another taxonomy is
   prepared, approved or queued but not delivered: deliver it first (the hub accepts it as it is), or discard it
   if it was never sent;
3. pins the new taxonomy and gives the budget the taxonomy's recorded weights (:func:`node.budget.default_weights`),
   keeping the mechanism, the release amount and the caps (:meth:`node.home.NodeHome.adopt_taxonomy`).

Releases already made keep the taxonomy they were made under (it is written in each payload; ``prepare`` shows an
earlier one with its own taxonomy, :meth:`node.home.NodeHome.taxonomy_of`); the ledger's spends count against the
same caps whatever the taxonomy. A release the hub refused (``failed``) does not block the update: ``submit``
retries it exactly as it was made, and the hub accepts it under its own taxonomy. A correction made after the update
follows the new taxonomy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from node.budget import BudgetConfig, default_weights
from node.client import HubClient, HubIdentity
from node.errors import HubResponseInvalid, NodeError, TaxonomyUpdateBlocked
from node.home import NodeHome, PinnedHub
from node.i18n import N_, Text
from node.ledger import Ledger, StoredRelease
from node.noise import calibrate
from node.regional import RegionalAccuracy, regional_accuracy
from protocol.taxonomy import Taxonomy

__all__ = [
    "TaxonomyCheck",
    "adopt",
    "adopted_budget",
    "check_hub_taxonomy",
    "compare_accuracy",
    "hub_notice",
    "unsent_releases",
]

_log = logging.getLogger(__name__)
#: Release statuses that mean "prepared here, not yet at the hub, and will be sent as it is".
_UNSENT = ("prepared", "approved", "queued")


@dataclass(frozen=True, slots=True)
class TaxonomyCheck:
    """The taxonomy the node follows and the one the hub publishes as current (fetched only when they differ)."""

    pinned: Taxonomy
    hub_url: str
    hub_taxonomy_id: str
    hub_taxonomy_hash: str
    #: The hub's current taxonomy, fetched and hash-checked; ``None`` when it is the pinned one.
    hub_taxonomy: Taxonomy | None

    @property
    def up_to_date(self) -> bool:
        return self.hub_taxonomy_hash == self.pinned.content_hash


def check_hub_taxonomy(home: NodeHome, client: HubClient) -> TaxonomyCheck:
    """Ask the hub which taxonomy it publishes as current; fetch it (hash-checked) if it is not the pinned one."""
    identity = client.identity()
    _check_same_keys(home.config.hub, identity)
    pinned = home.taxonomy
    fetched = None
    if identity.taxonomy_hash != pinned.content_hash:
        fetched = client.taxonomy(identity.taxonomy_id, expected_hash=identity.taxonomy_hash)
    return TaxonomyCheck(pinned, client.hub_url, identity.taxonomy_id, identity.taxonomy_hash, fetched)


def unsent_releases(ledger: Ledger, taxonomy_hash: str) -> list[StoredRelease]:
    """Releases prepared under another taxonomy than ``taxonomy_hash`` that are prepared or queued, not delivered."""
    unsent = [release for status in _UNSENT for release in ledger.releases(status=status)]
    return sorted(
        (r for r in unsent if r.payload().taxonomy.hash != taxonomy_hash), key=lambda r: (r.period, r.revision)
    )


def adopted_budget(budget: BudgetConfig, taxonomy: Taxonomy) -> BudgetConfig:
    """``budget`` with the weights a node following ``taxonomy`` starts with; mechanism, release and caps kept."""
    return budget.with_weights(default_weights(budget.mechanism, taxonomy))


def adopt(home: NodeHome, ledger: Ledger, check: TaxonomyCheck) -> NodeHome:
    """Follow the hub's current taxonomy (see the module docstring); returns the home as it is afterwards."""
    taxonomy = check.hub_taxonomy
    if check.up_to_date or taxonomy is None:
        return home
    blocking = unsent_releases(ledger, taxonomy.content_hash)
    if blocking:
        listed = ", ".join(f"{r.period} revision {r.revision} ({r.status})" for r in blocking)
        first = blocking[0]
        command = {
            "prepared": f"`tipshare-node approve --period {first.period}` and `tipshare-node submit` (or discard it: "
            f"`tipshare-node discard --period {first.period}`)",
            "approved": "`tipshare-node submit`",
        }.get(first.status, "`tipshare-node sync`")
        raise TaxonomyUpdateBlocked(
            Text(
                N_(
                    "%(count)s release(s) prepared under taxonomy %(id)s are not delivered yet: %(listed)s; the node "
                    "keeps following %(id)s until they are"
                ),
                count=len(blocking),
                id=check.pinned.id,
                listed=listed,
            ),
            hint=Text(
                N_(
                    "Deliver them first with %(command)s, then run `tipshare-node taxonomy --update` again. The hub "
                    "still accepts releases of %(id)s, so nothing is lost."
                ),
                command=command,
                id=check.pinned.id,
            ),
        )
    _log.info("adopting taxonomy %s (%s)", taxonomy.id, taxonomy.content_hash)
    return home.adopt_taxonomy(taxonomy, budget=adopted_budget(home.config.budget, taxonomy))


def compare_accuracy(home: NodeHome, check: TaxonomyCheck) -> dict[str, tuple[RegionalAccuracy, ...]]:
    """The regional accuracy of a full release (every table) with the node's budget: ``pinned`` under the pinned
    taxonomy and its configured weights, ``hub`` under the hub's current taxonomy and the weights adopting it
    would give. A taxonomy whose release cannot be calibrated with this budget is left out."""
    budgets = {"pinned": (check.pinned, home.config.budget)}
    if check.hub_taxonomy is not None:
        budgets["hub"] = (check.hub_taxonomy, adopted_budget(home.config.budget, check.hub_taxonomy))
    result: dict[str, tuple[RegionalAccuracy, ...]] = {}
    for which, (taxonomy, budget) in budgets.items():
        try:
            plan = calibrate(taxonomy, list(taxonomy.tables), budget)
        except NodeError as e:
            _log.info("no accuracy comparison for %s: %s", taxonomy.id, e)
            continue
        scales = {t.table: (plan.mechanism, t.scale_text) for t in plan.tables}
        result[which] = regional_accuracy(taxonomy, scales)
    return result


def hub_notice(pinned: Taxonomy, identity: HubIdentity) -> str | None:
    """One line suggesting the update when the hub's current taxonomy is not the pinned one, else ``None``."""
    if identity.taxonomy_hash == pinned.content_hash:
        return None
    return (
        f"Notice: the hub now publishes taxonomy {identity.taxonomy_id} as current; this node releases "
        f"{pinned.id}, which the hub still accepts. `tipshare-node taxonomy` shows what would change, "
        "`tipshare-node taxonomy --update` adopts it."
    )


def _check_same_keys(pinned: PinnedHub, seen: HubIdentity) -> None:
    mine = pinned.identity
    changed = [
        name
        for name, before, now in (
            ("log key", (mine.log_origin, mine.log_vkey), (seen.log_origin, seen.log_vkey)),
            ("encryption key", mine.encryption_key, seen.encryption_key),
        )
        if before != now
    ]
    if changed:
        raise HubResponseInvalid(
            Text(
                N_(
                    "the hub at %(url)s now presents a different %(changed)s than the one this node pinned at init "
                    "(%(pinned_at)s); the node changes nothing"
                ),
                url=pinned.url,
                changed=" and ".join(changed),
                pinned_at=pinned.pinned_at,
            ),
            hint=Text(
                N_(
                    "Do not re-initialise the node. Call your hub operator and compare the fingerprints that "
                    "`tipshare-node status` shows with theirs."
                )
            ),
        )
