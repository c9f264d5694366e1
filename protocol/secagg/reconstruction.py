# SPDX-License-Identifier: Apache-2.0
"""Rebuild a round's sum from what the log holds: what the hub does to publish, and what any auditor redoes.

From the survivors' masked vectors and the revealed shares:

1. add the survivors' masked vectors (mod 2^64);
2. for each survivor, rebuild its self-mask seed from t shares (checked against its published commitment) and
   subtract its self-mask;
3. for each committed member that dropped, rebuild its round agreement secret (checked against its published
   agreement key) and remove its pairwise mask with every survivor (each survivor added or subtracted it by
   roster order);
4. the pairwise masks among survivors cancel; decode the total (:func:`~protocol.secagg.encoding.decode_sum`).

Every failure is a :class:`~protocol.errors.ReconstructionFailed` naming its rule.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from protocol.crypto import AgreementKey, AgreementPublicKey
from protocol.errors import ReconstructionFailed, SecretSharingError, SecureAggregationError
from protocol.messages import b64decode
from protocol.secagg.encoding import add_mod, decode_sum, sub_mod, unpack
from protocol.secagg.masks import pair_sign, pairwise_mask, self_mask, self_mask_commitment
from protocol.secagg.messages import (
    CommittedSet,
    MaskedSubmission,
    RoundRoster,
    ShareSubmission,
    Survivors,
    UnmaskReveal,
)
from protocol.shamir import Share, recover_secret

__all__ = ["collect_shares", "reconstruct_sum"]


def collect_shares(roster: RoundRoster, reveals: Sequence[UnmaskReveal]) -> dict[tuple[str, str], list[Share]]:
    """The revealed shares by (owner, kind); a share's x is its revealer's roster index."""
    shares: dict[tuple[str, str], list[Share]] = defaultdict(list)
    for reveal in reveals:
        if reveal.member not in roster.member_ids:
            raise ReconstructionFailed(
                "share-inconsistent", f"{reveal.member} revealed shares but is not in the roster"
            )
        x = roster.index(reveal.member)
        for revealed in reveal.shares:
            try:
                share = Share.from_y_bytes(x, b64decode(revealed.share))
            except SecretSharingError as e:
                raise ReconstructionFailed(
                    "share-inconsistent", f"{reveal.member} revealed a malformed share: {e}"
                ) from e
            shares[(revealed.owner, revealed.kind)].append(share)
    return shares


def _recover(shares: list[Share], *, threshold: int, owner: str, what: str) -> bytes:
    try:
        return recover_secret(shares, threshold=threshold)
    except SecretSharingError as e:
        raise ReconstructionFailed("share-inconsistent", f"the shares of {owner}'s {what} do not agree: {e}") from e


def reconstruct_sum(
    *,
    roster: RoundRoster,
    committed: CommittedSet,
    submissions: Mapping[str, ShareSubmission],
    survivors: Survivors,
    masked: Mapping[str, MaskedSubmission],
    reveals: Sequence[UnmaskReveal],
) -> list[int]:
    """The round's sum of the survivors' values (true counts plus noise shares), exactly."""
    shares = collect_shares(roster, reveals)
    alive = survivors.member_ids
    for member in committed.members:
        if member not in submissions:
            raise ReconstructionFailed(
                "missing-vector", f"the committed set names {member}, whose share submission is missing"
            )
    total = [0] * roster.vector_length
    for member in alive:
        if member not in masked:
            raise ReconstructionFailed("missing-vector", f"the survivor set names {member}, whose vector is missing")
        try:
            vector = unpack(b64decode(masked[member].masked), length=roster.vector_length)
        except SecureAggregationError as e:
            raise ReconstructionFailed("missing-vector", f"{member}'s masked vector: {e}") from e
        total = add_mod(total, vector)
    for member in alive:
        seed = _recover(shares[(member, "self_mask")], threshold=roster.threshold, owner=member, what="self-mask seed")
        commitment = b64decode(submissions[member].self_mask_commitment)
        if self_mask_commitment(seed, roster=roster, member=member) != commitment:
            raise ReconstructionFailed(
                "commitment-mismatch", f"{member}'s rebuilt self-mask seed does not match its commitment"
            )
        total = sub_mod(total, self_mask(seed, roster=roster, member=member))
    for dropped in (m for m in committed.members if m not in alive):
        secret = _recover(
            shares[(dropped, "agreement")], threshold=roster.threshold, owner=dropped, what="agreement secret"
        )
        key = AgreementKey(secret)
        if key.public_key != AgreementPublicKey.from_text(submissions[dropped].agreement_key):
            raise ReconstructionFailed(
                "agreement-key-mismatch", f"{dropped}'s rebuilt agreement secret does not match its published key"
            )
        for member in alive:
            peer = AgreementPublicKey.from_text(submissions[member].agreement_key)
            mask = pairwise_mask(key.agree(peer), roster=roster, a=member, b=dropped)
            # the survivor added the mask if it comes first in the roster, else subtracted it: undo that
            total = sub_mod(total, mask) if pair_sign(roster, member, dropped) > 0 else add_mod(total, mask)
    try:
        return decode_sum(total, count=len(alive), offset=roster.offset)
    except SecureAggregationError as e:
        raise ReconstructionFailed("masks-do-not-cancel", str(e)) from e
