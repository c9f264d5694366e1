# SPDX-License-Identifier: Apache-2.0
"""Rotating the hub's own keys in place: a logged handover, signed by the previous and the new log key.

:func:`rotate_hub_keys` (``tipshare-hub keys rotate --log --envelope``), in this order, so that a crash leaves a
hub that opens as before or as after:

1. new keys are written as ``keys/<name>.next`` (:func:`hub.keys.stage_key`);
2. in one writer transaction, the :class:`~protocol.messages.HubKeyHandoverEntry` (signed by both log keys,
   :func:`protocol.handover.sign_handover`) is appended; its checkpoint is signed by both log keys (the bridge
   followers cross), and ``hub_meta`` records the current keys, the retired envelope keys with the end of their
   grace period, and the log index of every handover;
3. the key files are swapped (:func:`hub.keys.promote_staged`); an interrupted swap is finished by
   :func:`hub.keys.load_keys` on the next start.

Every hub process must then be restarted: one still holding the previous log key refuses to append
(:class:`~hub.services.log.TransparencyLog` checks the signer against ``hub_meta``), so it cannot sign a
checkpoint followers would reject.

Followers fetch the proofs of every handover (:func:`handover_proofs`, ``GET /v1/hub/handovers``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from sqlalchemy.orm import Session

from hub.db import write_session
from hub.errors import BadRequest
from hub.keys import ENVELOPE_KEY_FILE, LOG_KEY_FILE, promote_staged, stage_key
from hub.models import HubMeta, LogLeaf
from hub.services.log import TransparencyLog
from protocol.crypto import EncryptionKey, SigningKey
from protocol.handover import HandoverProof, sign_handover
from protocol.messages import HubKeyHandoverEntry, b64encode, format_timestamp, parse_timestamp
from protocol.note import NoteSigner

if TYPE_CHECKING:
    from hub.context import HubContext

__all__ = [
    "META_ENCRYPTION_KEY",
    "META_HANDOVERS",
    "META_LOG_VKEY",
    "META_RETIRED_ENVELOPES",
    "Rotation",
    "handover_indices",
    "handover_proofs",
    "retired_envelope_windows",
    "rotate_hub_keys",
]

#: ``hub_meta`` rows written by a handover (absent on a hub that never rotated).
META_LOG_VKEY: Final = "log_vkey"
META_ENCRYPTION_KEY: Final = "encryption_key"
#: JSON ``[[x25519 key text, until timestamp], ...]``: retired envelope keys and the end of their grace.
META_RETIRED_ENVELOPES: Final = "retired_envelope_keys"
#: JSON ``[leaf index, ...]``: where the handovers sit in the log.
META_HANDOVERS: Final = "key_handovers"


@dataclass(frozen=True, slots=True)
class Rotation:
    """A committed handover: its entry and where it sits."""

    entry: HubKeyHandoverEntry
    log_index: int
    tree_size: int


def _meta(session: Session, key: str) -> str | None:
    row = session.get(HubMeta, key)
    return None if row is None else row.value


def _set_meta(session: Session, key: str, value: str) -> None:
    row = session.get(HubMeta, key)
    if row is None:
        session.add(HubMeta(key=key, value=value))
    else:
        row.value = value


def handover_indices(session: Session) -> list[int]:
    return [int(i) for i in json.loads(_meta(session, META_HANDOVERS) or "[]")]


def retired_envelope_windows(meta: dict[str, str]) -> dict[str, datetime]:
    """``{x25519 key text: end of its grace period}`` from the ``hub_meta`` rows."""
    pairs = json.loads(meta.get(META_RETIRED_ENVELOPES, "[]"))
    return {str(text): parse_timestamp(str(until)) for text, until in pairs}


def rotate_hub_keys(context: HubContext, *, log: bool, envelope: bool, grace: timedelta) -> Rotation:
    """Hand the hub's log key and/or envelope key over to new ones (see the module)."""
    if not (log or envelope):
        raise BadRequest("say which key to rotate: --log, --envelope, or both")
    keys_dir, now = context.settings.keys_dir, context.clock()
    old_signer = context.log_signer
    new_signer, new_envelope = old_signer, context.keys.envelope
    if log:
        seed = SigningKey.generate().seed()
        stage_key(keys_dir, LOG_KEY_FILE, seed)
        new_signer = NoteSigner(context.origin, SigningKey(seed))
    if envelope:
        new_envelope = EncryptionKey.generate()
        stage_key(keys_dir, ENVELOPE_KEY_FILE, new_envelope.secret())
    old_box = context.keys.envelope.public_key
    with write_session(context.sessions) as session:
        log_of_session = TransparencyLog(session, signer=old_signer)
        now = log_of_session.entry_time(now)  # never before the entry logged last
        entry = sign_handover(
            old=old_signer,
            new=new_signer,
            previous_encryption_key=old_box,
            encryption_key=new_envelope.public_key,
            effective_at=format_timestamp(now),
            previous_encryption_key_until=format_timestamp(now + grace if envelope else now),
        )
        cosigners = (new_signer,) if log else ()
        appended = log_of_session.append(entry.canonical_bytes(), kind=entry.kind, now=now, cosigners=cosigners)
        _set_meta(session, META_LOG_VKEY, new_signer.verifier.vkey)
        _set_meta(session, META_ENCRYPTION_KEY, new_envelope.public_key.to_text())
        if envelope:
            retired = json.loads(_meta(session, META_RETIRED_ENVELOPES) or "[]")
            retired.append([old_box.to_text(), entry.previous_encryption_key_until])
            _set_meta(session, META_RETIRED_ENVELOPES, json.dumps(retired))
        _set_meta(session, META_HANDOVERS, json.dumps([*handover_indices(session), appended.index]))
    label = now.strftime("%Y%m%dT%H%M%SZ")
    if log:
        promote_staged(keys_dir, LOG_KEY_FILE, label=label)
    if envelope:
        promote_staged(keys_dir, ENVELOPE_KEY_FILE, label=label)
    return Rotation(entry=entry, log_index=appended.index, tree_size=appended.index + 1)


def handover_proofs(session: Session, log: TransparencyLog) -> list[HandoverProof]:
    """Every handover with its bridging checkpoint and inclusion proof, in log order."""
    proofs = []
    for index in handover_indices(session):
        leaf = session.get(LogLeaf, index)
        if leaf is None:  # pragma: no cover - the index was written in the same transaction as the leaf
            continue
        checkpoint = log.checkpoint_at(index + 1)
        proofs.append(
            HandoverProof(
                leaf_index=index,
                leaf=b64encode(leaf.data),
                inclusion_proof=tuple(b64encode(node) for node in log.inclusion_proof(index, index + 1)),
                checkpoint=checkpoint.note,
            )
        )
    return proofs
