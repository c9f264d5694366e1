# SPDX-License-Identifier: Apache-2.0
"""A member's three steps in a round: share its secrets, send its masked vector, reveal what the rules allow.

Every function is pure: randomness comes in as a callable, the member's keys as arguments, and the logged
messages it reads (roster, committed set, others' share submissions, survivor set) as values. Between steps the
member keeps :class:`RoundSecrets` (the node stores them and erases them once the round is over).

The unmasking rule, the one that keeps a member's vector secret from a hub that lies (docs, "Unmasking"): for
each other committed member the survivor reveals *either* the share of its self-mask seed (it survived) *or* the
share of its round agreement secret (it dropped), decided only by the one survivor set the hub logged. It reveals
nothing at all (:class:`~protocol.errors.UnmaskRefused`) when that set leaves out its own vector or holds another
one under its name, has fewer than t members, or names anyone outside the committed set or the roster.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from protocol.crypto import SHARE_NONCE_SIZE, AgreementKey, AgreementPublicKey, open_share, seal_share
from protocol.errors import DecryptionFailed, SecureAggregationError, UnmaskRefused
from protocol.messages import b64decode, b64encode
from protocol.secagg.encoding import add_mod, encode, pack, sub_mod
from protocol.secagg.masks import pair_sign, pairwise_mask, self_mask, self_mask_commitment
from protocol.secagg.messages import (
    CommittedSet,
    MaskedSubmission,
    RevealedShare,
    RoundRoster,
    SealedShare,
    ShareNoise,
    ShareSubmission,
    Survivors,
    TableTotal,
    UnmaskReveal,
    digest,
)
from protocol.shamir import SHARE_SIZE, Share, split_secret

ShareKind = Literal["self_mask", "agreement"]

__all__ = [
    "RoundSecrets",
    "UnmaskDecision",
    "check_committed",
    "decide_unmask",
    "make_masked_submission",
    "make_share_submission",
    "reveal_shares",
]


@dataclass(frozen=True, slots=True)
class RoundSecrets:
    """What a member keeps from its share step to its last step. Secret: never logged, never sent."""

    agreement_key: AgreementKey
    self_mask_seed: bytes
    #: The member's own shares (x = its roster index) of its two secrets.
    own_self_mask_share: Share
    own_agreement_share: Share


@dataclass(frozen=True, slots=True)
class UnmaskDecision:
    """Whose self-mask seed shares and whose agreement secret shares a survivor reveals (disjoint)."""

    self_mask_of: tuple[str, ...]
    agreement_of: tuple[str, ...]


def _sealing_key(roster: RoundRoster, member: str) -> AgreementPublicKey:
    return AgreementPublicKey.from_text(roster.members[roster.index(member) - 1].sealing_key)


def make_share_submission(
    *, roster: RoundRoster, member: str, sealing_key: AgreementKey, randomness: Callable[[int], bytes]
) -> tuple[ShareSubmission, RoundSecrets]:
    """Step 1: a fresh round agreement key and self-mask seed, both Shamir-shared t-of-n over the roster, each
    other member's pair of shares sealed to its sealing key."""
    if member not in roster.member_ids:
        raise SecureAggregationError(f"{member} is not in the roster of round {roster.round}; it takes no part")
    if sealing_key.public_key != _sealing_key(roster, member):
        raise SecureAggregationError(
            f"the roster names another sealing key for {member} than the one this node holds; "
            "re-enrol the key before the next round"
        )
    agreement = AgreementKey(randomness(32))
    seed = randomness(32)
    xs = list(range(1, len(roster.members) + 1))
    self_shares = split_secret(seed, threshold=roster.threshold, xs=xs, randomness=randomness)
    agreement_shares = split_secret(agreement.secret(), threshold=roster.threshold, xs=xs, randomness=randomness)
    sealed = []
    for position, recipient in enumerate(roster.members):
        if recipient.id == member:
            continue
        plaintext = self_shares[position].y_bytes() + agreement_shares[position].y_bytes()
        ciphertext = seal_share(
            plaintext,
            sender_key=sealing_key,
            recipient_key=AgreementPublicKey.from_text(recipient.sealing_key),
            group=roster.group,
            period=roster.period,
            round_number=roster.round,
            sender=member,
            recipient=recipient.id,
            nonce=randomness(SHARE_NONCE_SIZE),
        )
        sealed.append(SealedShare(recipient=recipient.id, sealed=b64encode(ciphertext)))
    own = roster.index(member) - 1
    submission = ShareSubmission(
        type="secagg-shares",
        version="tipshare/1",
        group=roster.group,
        period=roster.period,
        round=roster.round,
        member=member,
        roster=digest(roster),
        agreement_key=agreement.public_key.to_text(),
        self_mask_commitment=b64encode(self_mask_commitment(seed, roster=roster, member=member)),
        shares=tuple(sealed),
    )
    secrets = RoundSecrets(
        agreement_key=agreement,
        self_mask_seed=seed,
        own_self_mask_share=self_shares[own],
        own_agreement_share=agreement_shares[own],
    )
    return submission, secrets


def check_committed(committed: CommittedSet, *, roster: RoundRoster) -> None:
    """Refuse a committed set that is not of this roster, not in roster order, or below the threshold."""
    if committed.roster != digest(roster):
        raise SecureAggregationError("the committed set names another roster than this round's")
    ids = roster.member_ids
    if any(m not in ids for m in committed.members) or len(set(committed.members)) != len(committed.members):
        raise SecureAggregationError("the committed set names a member twice or one outside the roster")
    if list(committed.members) != sorted(committed.members, key=roster.index):
        raise SecureAggregationError("the committed set is not in roster order")
    if len(committed.members) < roster.threshold:
        raise SecureAggregationError(
            f"only {len(committed.members)} members shared their secrets, fewer than the threshold "
            f"{roster.threshold}: nothing is published for this round; send a local release instead"
        )


def make_masked_submission(
    values: Sequence[int],
    *,
    roster: RoundRoster,
    committed: CommittedSet,
    submissions: Mapping[str, ShareSubmission],
    member: str,
    secrets: RoundSecrets,
    noise: Mapping[str, str] | None = None,
    totals: Mapping[str, tuple[int, str]] | None = None,
) -> MaskedSubmission:
    """Step 2: ``encode(values) + self-mask + Σ ± pairwise masks`` (mod 2^64) over the committed members.

    ``values`` are the member's cells (true counts plus its noise share); ``submissions`` the logged share
    submissions of the committed members, whose round agreement keys make the pairwise masks; ``noise`` the σ of
    the share added to each of the roster's tables (every one of them), declared in the message; ``totals`` each
    of the roster's tables' one-cell local total ``(value, σ)``: the sum of the member's true cells of the table
    plus one discrete Gaussian of σ, released in the message.
    """
    for what, declared in (("noise", noise), ("totals", totals)):
        if declared is not None and set(declared) != set(roster.tables):
            raise SecureAggregationError(
                f"the {what} declared must name every table of the roster and no other: missing "
                f"{sorted(set(roster.tables) - set(declared))}, extra {sorted(set(declared) - set(roster.tables))}"
            )
    check_committed(committed, roster=roster)
    if member not in committed.members:
        raise SecureAggregationError(f"{member} is not in the committed set: it sends a local release instead")
    if len(values) != roster.vector_length:
        raise SecureAggregationError(f"the round's vector has {roster.vector_length} cells, got {len(values)}")
    for other in committed.members:
        _check_submission(submissions.get(other), roster=roster, member=other)
    if submissions[member].agreement_key != secrets.agreement_key.public_key.to_text():
        raise SecureAggregationError(
            f"the round secrets this node kept are not those of the share submission logged for {member}; "
            "it cannot take part in this round and sends a local release instead"
        )
    vector = add_mod(
        encode(values, offset=roster.offset), self_mask(secrets.self_mask_seed, roster=roster, member=member)
    )
    for other in committed.members:
        if other == member:
            continue
        peer = AgreementPublicKey.from_text(submissions[other].agreement_key)
        mask = pairwise_mask(secrets.agreement_key.agree(peer), roster=roster, a=member, b=other)
        vector = add_mod(vector, mask) if pair_sign(roster, member, other) > 0 else sub_mod(vector, mask)
    return MaskedSubmission(
        type="secagg-masked",
        version="tipshare/1",
        group=roster.group,
        period=roster.period,
        round=roster.round,
        member=member,
        committed=digest(committed),
        masked=b64encode(pack(vector)),
        noise=None if noise is None else tuple(ShareNoise(table=t, scale=noise[t]) for t in roster.tables),
        totals=None
        if totals is None
        else tuple(TableTotal(table=t, value=totals[t][0], scale=totals[t][1]) for t in roster.tables),
    )


def _check_submission(submission: ShareSubmission | None, *, roster: RoundRoster, member: str) -> None:
    """Refuse to mask against a share submission that is missing or belongs to another member or round."""
    if submission is None:
        raise SecureAggregationError(f"the committed set names {member}, but its share submission is not in the log")
    if (
        submission.member != member
        or submission.roster != digest(roster)
        or (submission.group, submission.period, submission.round) != (roster.group, roster.period, roster.round)
    ):
        raise SecureAggregationError(f"the share submission logged for {member} belongs to another member or round")


def decide_unmask(
    *, roster: RoundRoster, committed: CommittedSet, survivors: Survivors, member: str, own: MaskedSubmission
) -> UnmaskDecision:
    """Step 3's rule: what to reveal for whom, or :class:`UnmaskRefused` naming the rule the survivor set breaks.

    ``own`` is the masked submission this member sent.
    """
    ids = survivors.member_ids
    if survivors.committed != digest(committed) or any(m not in committed.members for m in ids):
        raise UnmaskRefused(
            "not-committed", "the survivor set names a member, or a committed set, other than the one logged"
        )
    if any(m not in roster.member_ids for m in ids) or len(set(ids)) != len(ids):
        raise UnmaskRefused("not-in-roster", "the survivor set names a member twice or one outside the roster")
    if len(ids) < roster.threshold:
        raise UnmaskRefused(
            "below-threshold",
            f"the survivor set has {len(ids)} members, fewer than the threshold {roster.threshold}: "
            "nothing is revealed and nothing is published for this round",
        )
    held = {e.member: e.masked for e in survivors.members}
    if held.get(member) != digest(own):
        raise UnmaskRefused(
            "own-vector-missing",
            f"the survivor set does not hold the masked vector {member} sent; revealing anything now could "
            "expose it, so this member reveals nothing",
        )
    dropped = tuple(m for m in committed.members if m not in held)
    return UnmaskDecision(self_mask_of=tuple(m for m in committed.members if m in held), agreement_of=dropped)


def reveal_shares(
    decision: UnmaskDecision,
    *,
    roster: RoundRoster,
    survivors: Survivors,
    submissions: Mapping[str, ShareSubmission],
    member: str,
    sealing_key: AgreementKey,
    secrets: RoundSecrets,
) -> UnmaskReveal:
    """Step 3: open the shares others sealed to this member and reveal the half the decision names.

    A share that does not open (its sender sealed garbage) is left out: the others' shares still reach t.
    """
    revealed = []
    wanted: list[tuple[str, ShareKind]] = [(o, "self_mask") for o in decision.self_mask_of]
    wanted += [(o, "agreement") for o in decision.agreement_of]
    for owner, kind in wanted:
        if owner == member:
            own = secrets.own_self_mask_share if kind == "self_mask" else secrets.own_agreement_share
            y = own.y_bytes()
        else:
            try:
                y = _open_pair(roster, submissions[owner], member, sealing_key, self_half=kind == "self_mask")
            except DecryptionFailed:
                continue
        revealed.append(RevealedShare(owner=owner, kind=kind, share=b64encode(y)))
    return UnmaskReveal(
        type="secagg-reveal",
        version="tipshare/1",
        group=roster.group,
        period=roster.period,
        round=roster.round,
        member=member,
        survivors=digest(survivors),
        shares=tuple(revealed),
    )


def _open_pair(
    roster: RoundRoster, submission: ShareSubmission, member: str, sealing_key: AgreementKey, *, self_half: bool
) -> bytes:
    sealed = [s for s in submission.shares if s.recipient == member]
    if len(sealed) != 1:
        raise DecryptionFailed
    plaintext = open_share(
        b64decode(sealed[0].sealed),
        recipient_key=sealing_key,
        sender_key=_sealing_key(roster, submission.member),
        group=roster.group,
        period=roster.period,
        round_number=roster.round,
        sender=submission.member,
        recipient=member,
    )
    if len(plaintext) != 2 * SHARE_SIZE:
        raise DecryptionFailed
    return plaintext[:SHARE_SIZE] if self_half else plaintext[SHARE_SIZE:]
