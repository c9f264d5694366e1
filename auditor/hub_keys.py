# SPDX-License-Identifier: Apache-2.0
"""The hub's own keys: following a logged handover from the pinned log key, and checking every handover entry.

* :func:`follow_hub_keys`: the hub presents a log key other than the pinned one. The auditor re-pins only if the
  hub's handover proofs (``GET /v1/hub/handovers``) lead there from the pinned key, each step signed by the key
  trusted before it (:func:`protocol.handover.follow_handovers`). A handover forged without the pinned key is
  refused, and the run fails its identity check.
* :class:`HubKeyChain`: every ``hub_key_handover`` entry of the log, in order, must hand over from the key the
  previous one handed over to, with both signatures valid.
"""

from __future__ import annotations

from auditor.client import AuditClient
from auditor.findings import Check, Failure
from auditor.i18n import T_
from protocol.crypto import fingerprint
from protocol.errors import ProtocolError
from protocol.handover import FollowedKeys, follow_handovers, verify_handover
from protocol.messages import HubKeyHandoverEntry
from protocol.note import NoteVerifier

__all__ = ["HubKeyChain", "describe_followed", "follow_hub_keys"]


def follow_hub_keys(client: AuditClient, pinned: NoteVerifier) -> FollowedKeys:
    """Walk the hub's handover proofs from ``pinned``; raises :class:`~protocol.errors.ProtocolError` (a
    :class:`~protocol.handover.HandoverRefused` naming the rule) if a step does not verify."""
    return follow_handovers(pinned, client.handovers())


def describe_followed(pinned: NoteVerifier, followed: FollowedKeys) -> str:
    indices = ", ".join(str(index) for index, _ in followed.applied)
    return T_(
        "followed the hub's key handover (log entry {entries}): log key {old} -> {new}, signed by the key pinned "
        "before; the state DIR now pins {vkey}",
        entries=indices,
        old=fingerprint(bytes(pinned.key)),
        new=fingerprint(bytes(followed.log_key.key)),
        vkey=followed.log_key.vkey,
    )


class HubKeyChain:
    """The handovers seen so far in the log; each must continue the one before."""

    def __init__(self) -> None:
        self.current: NoteVerifier | None = None
        self.handovers = 0

    def apply(self, index: int, entry: HubKeyHandoverEntry) -> list[Failure]:
        self.handovers += 1
        try:
            trusted = self.current or NoteVerifier.from_vkey(entry.previous_log_vkey)
            self.current = verify_handover(entry, trusted=trusted)
        except ProtocolError as e:
            return [Failure(Check.KEY_HISTORY, T_("hub key handover: {error}", error=str(e)), index=index)]
        return []
