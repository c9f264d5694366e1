# SPDX-License-Identifier: Apache-2.0
"""The checks the hub makes on a member's message of a secure round before it logs it, each naming its rule.

The signature and the key were checked before (:meth:`hub.services.secure_rounds.SecureRounds.accept`); these
are the round's own rules, read from :mod:`protocol.secagg`: a message is of this round and names the digest of
the step before; a share submission seals one pair of shares to every other member; a masked vector comes from a
committed member and has the roster's length, and what it declares (noise shares, one-cell totals) names the
roster's tables in order; a reveal comes from a survivor and reveals, for each committed member, the half the
logged survivor set allows (self-mask seed of a survivor, agreement secret of a drop-out), never both.

========================  ==================================================================================
rule                      refused because
========================  ==================================================================================
``not-in-roster``         the sender is not a member of the roster
``chain-broken``          the message names another roster, committed set or survivor set than the logged one
``malformed``             a key, commitment, sealed share or revealed share of the wrong form or size
``shares-incomplete``     a share submission does not seal shares to exactly every other member, once each
``not-committed``         a masked vector from a member outside the committed set
``vector-length``         a masked vector of another length than the roster's
``noise-declaration``     a masked vector's declared noise does not name the roster's tables once each, in order
``totals-declaration``    a masked vector's one-cell totals do not name the roster's tables once each, in order
``released-locally``      a masked vector from a member whose local release of the period the hub already holds
                          (checked by :class:`~hub.services.secure_rounds.SecureRounds`, which reads the database)
``reveal-from-non-survivor``  a reveal from a member outside the survivor set
``wrong-share-kind``      a share of a survivor's agreement secret or of a drop-out's self-mask seed, or of a
                          member that never committed
``both-secrets-revealed`` two shares of one member in one reveal
========================  ==================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.errors import RoundRefused
from protocol.crypto import SHARE_NONCE_SIZE, AgreementPublicKey
from protocol.errors import MalformedMessage
from protocol.messages import b64decode
from protocol.secagg.messages import (
    CommittedSet,
    MaskedSubmission,
    RoundRoster,
    ShareSubmission,
    Survivors,
    UnmaskReveal,
    digest,
)
from protocol.secagg.signed import MemberMessage
from protocol.shamir import SHARE_SIZE

__all__ = ["LoggedRound", "check_member_message"]

#: nonce, two 33-byte shares, the AEAD tag.
_SEALED_SIZE = SHARE_NONCE_SIZE + 2 * SHARE_SIZE + 16


@dataclass(frozen=True, slots=True)
class LoggedRound:
    """What the log holds of a round so far (members' messages by member)."""

    roster: RoundRoster
    committed: CommittedSet | None = None
    survivors: Survivors | None = None
    submissions: dict[str, ShareSubmission] = field(default_factory=dict)
    masked: dict[str, MaskedSubmission] = field(default_factory=dict)
    reveals: dict[str, UnmaskReveal] = field(default_factory=dict)


def _bytes(text: str, size: int, what: str, *, rule: str = "malformed") -> None:
    try:
        raw = b64decode(text, what=what)
    except MalformedMessage as e:
        raise RoundRefused(str(e), rule="malformed") from e
    if len(raw) != size:
        raise RoundRefused(f"{what} is {len(raw)} bytes, not {size}", rule=rule)


def check_member_message(message: MemberMessage, logged: LoggedRound) -> None:
    """Refuse (:class:`~hub.errors.RoundRefused` naming the rule) a message the round's rules do not allow."""
    roster = logged.roster
    if message.member not in roster.member_ids:
        raise RoundRefused(f"{message.member} is not in the roster of this round", rule="not-in-roster")
    if isinstance(message, ShareSubmission):
        _check_shares(message, roster)
    elif isinstance(message, MaskedSubmission):
        _check_masked(message, logged)
    else:
        _check_reveal(message, logged)


def _check_shares(message: ShareSubmission, roster: RoundRoster) -> None:
    if message.roster != digest(roster):
        raise RoundRefused("the share submission names another roster than the one logged", rule="chain-broken")
    try:
        AgreementPublicKey.from_text(message.agreement_key)
    except MalformedMessage as e:
        raise RoundRefused(f"the round agreement key: {e}", rule="malformed") from e
    _bytes(message.self_mask_commitment, 32, "the self-mask commitment")
    recipients = [s.recipient for s in message.shares]
    others = [m for m in roster.member_ids if m != message.member]
    if sorted(recipients) != sorted(others):
        raise RoundRefused(
            "a share submission seals one pair of shares to every other member of the roster, once each",
            rule="shares-incomplete",
        )
    for sealed in message.shares:
        _bytes(sealed.sealed, _SEALED_SIZE, f"the shares sealed to {sealed.recipient}")


def _check_masked(message: MaskedSubmission, logged: LoggedRound) -> None:
    committed = logged.committed
    if committed is None or message.committed != digest(committed):
        raise RoundRefused("the masked vector names another committed set than the one logged", rule="chain-broken")
    if message.member not in committed.members:
        raise RoundRefused(
            f"{message.member} is not in the committed set: it sends a local release instead", rule="not-committed"
        )
    cells = logged.roster.vector_length
    _bytes(message.masked, 8 * cells, f"the masked vector (of {cells} cells)", rule="vector-length")
    if message.noise is not None and [n.table for n in message.noise] != list(logged.roster.tables):
        raise RoundRefused(
            "the noise declared with a masked vector names each of the roster's tables once, in the roster's order "
            f"({', '.join(logged.roster.tables)})",
            rule="noise-declaration",
        )
    if message.totals is not None and [t.table for t in message.totals] != list(logged.roster.tables):
        raise RoundRefused(
            "the one-cell totals released with a masked vector name each of the roster's tables once, in the "
            f"roster's order ({', '.join(logged.roster.tables)})",
            rule="totals-declaration",
        )


def _check_reveal(message: UnmaskReveal, logged: LoggedRound) -> None:
    committed, survivors = logged.committed, logged.survivors
    if committed is None or survivors is None or message.survivors != digest(survivors):
        raise RoundRefused("the reveal names another survivor set than the one logged", rule="chain-broken")
    alive = survivors.member_ids
    if message.member not in alive:
        raise RoundRefused(f"{message.member} is not a survivor: it reveals nothing", rule="reveal-from-non-survivor")
    owners: set[str] = set()
    for share in message.shares:
        if share.owner in owners:
            raise RoundRefused(
                f"the reveal holds two shares of {share.owner}; a member's two secrets are never both revealed",
                rule="both-secrets-revealed",
            )
        owners.add(share.owner)
        right = "self_mask" if share.owner in alive else "agreement" if share.owner in committed.members else None
        if share.kind != right:
            raise RoundRefused(
                f"a {share.kind} share of {share.owner} is not what the logged survivor set allows",
                rule="wrong-share-kind",
            )
        _bytes(share.share, SHARE_SIZE, f"the share of {share.owner}")
