# SPDX-License-Identifier: Apache-2.0
"""Withdrawals: the hub operator's signed statement that an accepted submission no longer counts.

A ``submission_withdrawn`` log entry (:class:`~protocol.messages.SubmissionWithdrawnEntry`) names the submission
entry it takes out of the statistics and carries an Ed25519 signature by the hub's log key over::

    "tipshare/1 submission_withdrawn" || 0x00 || uint64_be(len(statement)) || statement

where ``statement`` is the canonical JSON of the entry without its ``signature`` (it includes ``log_key_id``, the
C2SP note key ID of the signing key, so a verifier holding several log keys knows which one to use). The
signature binds the operator to the withdrawal and its reason even outside the log; inside it, the checkpoint
commits to the entry as to any other.

>>> from protocol.crypto import SigningKey
>>> from protocol.note import NoteSigner
>>> log = NoteSigner("example.org/log", SigningKey(bytes(32)))
>>> entry = sign_withdrawal(
...     log, leaf_index=7, hotline_id="la-strada-ua", key_id="0" * 32, period="2026-10", revision=2,
...     payload_hash="sha256:" + "0" * 64, reason="sent with a stolen key", withdrawn_at="2026-11-21T12:00:00Z")
>>> entry.kind, entry.log_key_id
('submission_withdrawn', '4e933303')
>>> verify_withdrawal(entry, [log.verifier])
>>> verify_withdrawal(entry.model_copy(update={"reason": "another reason"}), [log.verifier])
Traceback (most recent call last):
...
protocol.errors.InvalidSignature: signature verification failed
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from protocol.crypto import domain_message
from protocol.errors import InvalidSignature
from protocol.messages import PROTOCOL_VERSION, SubmissionWithdrawnEntry, b64decode, b64encode
from protocol.note import NoteSigner, NoteVerifier

__all__ = ["WITHDRAWAL_CONTEXT", "sign_withdrawal", "verify_withdrawal"]

#: Signing context of a withdrawal statement (what the hub's operator vouches for).
WITHDRAWAL_CONTEXT: Final = f"{PROTOCOL_VERSION} submission_withdrawn"
_PLACEHOLDER: Final = b64encode(bytes(64))


def sign_withdrawal(
    signer: NoteSigner,
    *,
    leaf_index: int,
    hotline_id: str,
    key_id: str,
    period: str,
    revision: int,
    payload_hash: str,
    reason: str,
    withdrawn_at: str,
) -> SubmissionWithdrawnEntry:
    """The signed withdrawal entry of the submission logged at ``leaf_index`` (which the fields describe)."""
    unsigned = SubmissionWithdrawnEntry(
        type="log_entry",
        version=PROTOCOL_VERSION,
        kind="submission_withdrawn",
        leaf_index=leaf_index,
        hotline_id=hotline_id,
        key_id=key_id,
        period=period,
        revision=revision,
        payload_hash=payload_hash,
        reason=reason,
        withdrawn_at=withdrawn_at,
        log_key_id=signer.key_id.hex(),
        signature=_PLACEHOLDER,
    )
    signature = signer.sign(domain_message(WITHDRAWAL_CONTEXT, unsigned.statement_bytes()))
    return unsigned.model_copy(update={"signature": b64encode(signature)})


def verify_withdrawal(entry: SubmissionWithdrawnEntry, log_keys: Iterable[NoteVerifier]) -> None:
    """Check the entry's signature with the log key its ``log_key_id`` names among ``log_keys``.

    Raises :class:`~protocol.errors.InvalidSignature` if no such key is given or the signature does not verify.
    """
    for key in log_keys:
        if key.key_id.hex() == entry.log_key_id:
            key.verify(domain_message(WITHDRAWAL_CONTEXT, entry.statement_bytes()), b64decode(entry.signature))
            return
    raise InvalidSignature("signature verification failed")
