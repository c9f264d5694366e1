# SPDX-License-Identifier: Apache-2.0
"""Setting a node up (``tipshare-node init``): its signing key, the hub's keys and taxonomy pinned, its ledger.

::

    setup = set_up_node(HomeLayout(settings.home), hotline_id="la-strada-md", hub_url="https://hub.example.org",
                        mechanism="discrete_gaussian", hub=connect, now=clock())
    print(setup.config.hotline_id, setup.config.public_key)  # the line the hub operator enrolls

Running it again for the same hotline and hub changes nothing (``existing``); a home set up for another hotline or
hub is refused (:class:`~node.errors.AlreadyInitialised`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from node.budget import BudgetConfig, Mechanism
from node.client import normalise_hub_url
from node.errors import AlreadyInitialised
from node.home import HomeLayout, NodeConfig, PinnedHub, builtin_by_hash, read_config, render_config
from node.i18n import N_, Text
from node.keystore import create_signing_key, ensure_private_dir, load_signing_key, write_private_file
from node.store import open_database
from node.workflow.delivery import HubConnector
from protocol.messages import format_timestamp

__all__ = ["NodeSetup", "set_up_node"]


@dataclass(frozen=True, slots=True)
class NodeSetup:
    """The node's configuration after ``init``, and whether it was there already (nothing was changed)."""

    config: NodeConfig
    existing: bool


def set_up_node(
    layout: HomeLayout, *, hotline_id: str, hub_url: str, mechanism: Mechanism, hub: HubConnector, now: datetime
) -> NodeSetup:
    """Set up the node home at ``layout``: create the signing key (or reuse one an interrupted run left), pin the
    hub's identity and taxonomy as first seen, and create the ledger database."""
    url = normalise_hub_url(hub_url)
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
        return NodeSetup(config, existing=True)
    with hub(url) as client:
        identity = client.identity()
        taxonomy = client.taxonomy(identity.taxonomy_id, expected_hash=identity.taxonomy_hash)
    ensure_private_dir(layout.root)
    # A key left by an init that stopped half-way is reused, never replaced.
    key = load_signing_key(layout.key) if layout.key.exists() else create_signing_key(layout.key)
    if builtin_by_hash(taxonomy.content_hash) is None:
        write_private_file(layout.taxonomy, taxonomy.canonical_bytes())
    stamp = format_timestamp(now)
    config = NodeConfig(
        hotline_id=hotline_id,
        public_key=key.verify_key.to_text(),
        key_id=key.verify_key.key_id,
        created_at=stamp,
        hub=PinnedHub(url=url, identity=identity, pinned_at=stamp),
        budget=BudgetConfig.default(mechanism, taxonomy=taxonomy),
    )
    open_database(layout.database, create=True).close()
    try:
        write_private_file(layout.config, render_config(config).encode("utf-8"), overwrite=False)
    except FileExistsError:
        raise AlreadyInitialised(
            Text(N_("%(home)s was set up by another process at the same time"), home=str(layout.root))
        ) from None
    return NodeSetup(config, existing=False)
