# SPDX-License-Identifier: Apache-2.0
"""The secure-round step of ``sync``: take the open step of each of the node's rounds (see :mod:`node.rounds`).

::

    with home.database() as db:
        reports = take_part(home, db, hub, now=clock())  # None: the node is in no secure group
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from node import round_store, rounds
from node.home import NodeHome
from node.rounds import RoundReport
from node.workflow.delivery import HubConnector

__all__ = ["take_part"]


def take_part(home: NodeHome, db: sqlite3.Connection, hub: HubConnector, *, now: datetime) -> list[RoundReport] | None:
    """Take the open step of every round of the node (an announced round, a mask, a share...); a report per round.

    ``None``, without contacting the hub, for a node in no secure group and with no round still going on.
    """
    if home.config.secure_group is None and not round_store.RoundStore(db).active():
        return None
    with hub(home.config.hub.url) as client:
        return rounds.take_part(home, db, client, now=now)
