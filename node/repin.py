# SPDX-License-Identifier: Apache-2.0
"""Following the hub's key handovers: the node re-pins a new log or envelope key only on the pinned key's word.

The node pinned the hub's log key and envelope key at ``init``. When ``GET /v1/hub`` presents others, the node
asks for the handover proofs (``GET /v1/hub/handovers``) and walks them from its pinned log key
(:func:`protocol.handover.follow_handovers`): each handover must be signed by the key trusted before it and by the
new one, and sit in the log under a checkpoint both signed. Only if the walk ends at the keys the hub presents
does the node write them to ``config.toml`` (atomically; the taxonomy and the rest stay as they were). Otherwise
it raises :class:`~node.errors.HubKeysNotHandedOver` and changes nothing: a hub that lost its key, or an
impersonator, is a person's call, never the node's.

``sync`` and ``submit`` follow a handover before delivering (so receipts signed by the new key verify), and
``tipshare-node repin`` does it on demand and shows the fingerprints before and after.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from node.client import HubClient
from node.errors import HubKeysNotHandedOver
from node.home import NodeHome, render_config
from node.i18n import N_, Text
from node.i18n import gettext as _
from node.keystore import write_private_file
from protocol.errors import ProtocolError
from protocol.handover import follow_handovers

__all__ = ["Repinned", "follow_hub_keys"]


@dataclass(frozen=True, slots=True)
class Repinned:
    """Keys before and after, as fingerprints, and the log entries of the handovers followed."""

    log_key: tuple[str, str]
    encryption_key: tuple[str, str]
    handovers: tuple[int, ...]
    home: NodeHome

    def describe(self) -> str:
        """What changed, for the person at the keyboard (stderr on ``sync``, stdout on ``repin``)."""
        entries = ", ".join(str(index) for index in self.handovers)
        lines = [
            _("The hub handed its keys over (log entry %(entries)s), signed by the key pinned before; re-pinned:")
            % {"entries": entries}
        ]
        for what, (old, new) in ((_("log key"), self.log_key), (_("envelope key"), self.encryption_key)):
            lines.append(
                f"  {what}: {old} -> {new}"
                if old != new
                else "  " + _("%(what)s: %(old)s (unchanged)") % {"what": what, "old": old}
            )
        lines.append(_("Compare the new fingerprints with your hub operator by phone when you can."))
        return "\n".join(lines)


def follow_hub_keys(home: NodeHome, client: HubClient, *, now: str) -> Repinned | None:
    """Re-pin the hub's keys if the hub presents others and a verified handover leads to them; ``None`` if the
    pinned keys are the hub's. ``now`` (a timestamp) is recorded as the new ``pinned_at``."""
    pinned = home.config.hub
    seen = client.identity()
    if (seen.log_vkey, seen.encryption_key) == (pinned.identity.log_vkey, pinned.identity.encryption_key):
        return None
    trusted = pinned.identity.log_verifier
    try:
        followed = follow_handovers(trusted, client.handovers())
    except ProtocolError as e:
        raise HubKeysNotHandedOver(
            Text(N_("the hub presents new keys, but its handover is refused: %(error)s"), error=str(e))
        ) from e
    box = followed.encryption_key
    if followed.log_key.vkey != seen.log_vkey or box is None or box.to_text() != seen.encryption_key:
        raise HubKeysNotHandedOver(
            Text(
                N_(
                    "the hub presents the log key %(log)s and envelope key %(envelope)s, but no handover signed by "
                    "the pinned log key %(trusted)s leads to them"
                ),
                log=seen.log_vkey,
                envelope=seen.encryption_key,
                trusted=trusted.vkey,
            )
        )
    identity = pinned.identity.model_copy(update={"log_vkey": seen.log_vkey, "encryption_key": seen.encryption_key})
    previous = pinned.previous_log_vkeys
    if seen.log_vkey != pinned.identity.log_vkey:
        previous = (*previous, pinned.identity.log_vkey)  # receipts it signed must still verify
    hub = dataclasses.replace(pinned, identity=identity, pinned_at=now, previous_log_vkeys=previous)
    config = dataclasses.replace(home.config, hub=hub)
    write_private_file(home.layout.config, render_config(config).encode("utf-8"))
    return Repinned(
        log_key=(pinned.log_key_fingerprint, hub.log_key_fingerprint),
        encryption_key=(pinned.encryption_key_fingerprint, hub.encryption_key_fingerprint),
        handovers=tuple(index for index, _ in followed.applied),
        home=NodeHome(home.layout, config, home.taxonomy),
    )
