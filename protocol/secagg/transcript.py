# SPDX-License-Identifier: Apache-2.0
"""The auditor's check of a whole round: every rule of the protocol, re-added from the log.

:func:`check_transcript` returns every failure it finds, each named by its rule, and an empty tuple for a round
that is sound: one chain of digests from the roster to the result, survivor and committed sets within the
roster and at or above the threshold, the survivors' vectors exactly those the survivor set names, shares
revealed only by survivors, only of the right kind, and **never both secrets of one member**, and finally the
sum rebuilt from the log (:func:`~protocol.secagg.reconstruction.reconstruct_sum`: masks cancel, seeds match
their commitments, agreement secrets their keys) equal to the one the hub published.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from protocol.errors import ProtocolError, ReconstructionFailed
from protocol.secagg.messages import (
    CommittedSet,
    MaskedSubmission,
    RoundResult,
    RoundRoster,
    ShareSubmission,
    Survivors,
    UnmaskReveal,
    digest,
)
from protocol.secagg.reconstruction import reconstruct_sum

__all__ = ["RULES", "RoundTranscript", "TranscriptFailure", "check_transcript"]

#: Every rule :func:`check_transcript` can name, in the order it checks them.
RULES = (
    "round-mismatch",
    "chain-broken",
    "not-subset",
    "below-threshold",
    "masked-vector-mismatch",
    "survivor-set-inconsistent",
    "reveal-from-non-survivor",
    "wrong-share-kind",
    "both-secrets-revealed",
    "reconstruction-failed",
    "sum-mismatch",
)


@dataclass(frozen=True, slots=True)
class TranscriptFailure:
    """One broken rule, with what broke it."""

    rule: str
    detail: str


@dataclass(frozen=True, slots=True)
class RoundTranscript:
    """Every logged message of one round."""

    roster: RoundRoster
    share_submissions: tuple[ShareSubmission, ...]
    committed: CommittedSet
    masked: tuple[MaskedSubmission, ...]
    survivors: Survivors
    reveals: tuple[UnmaskReveal, ...]
    result: RoundResult


def check_transcript(t: RoundTranscript) -> tuple[TranscriptFailure, ...]:
    """Every rule the round breaks (empty: the published sum is the log's sum, and nobody's vector was exposed)."""
    failures: list[TranscriptFailure] = []

    def fail(rule: str, detail: str) -> None:
        failures.append(TranscriptFailure(rule=rule, detail=detail))

    roster = t.roster
    ref = (roster.group, roster.period, roster.round)
    others = (*t.share_submissions, t.committed, *t.masked, t.survivors, *t.reveals, t.result)
    for message in others:
        if (message.group, message.period, message.round) != ref:
            fail("round-mismatch", f"a {message.type} message belongs to another group, period or round")

    roster_digest, committed_digest, survivors_digest = digest(roster), digest(t.committed), digest(t.survivors)
    if t.committed.roster != roster_digest or any(s.roster != roster_digest for s in t.share_submissions):
        fail("chain-broken", "a share submission or the committed set names another roster")
    if t.survivors.committed != committed_digest or any(m.committed != committed_digest for m in t.masked):
        fail("chain-broken", "a masked vector or the survivor set names another committed set")
    if t.result.survivors != survivors_digest:
        fail("chain-broken", "the result names another survivor set")

    submissions = {s.member: s for s in t.share_submissions}
    committed, alive = t.committed.members, t.survivors.member_ids
    if any(m not in roster.member_ids for m in committed) or any(m not in submissions for m in committed):
        fail("not-subset", "the committed set names a member outside the roster or without a share submission")
    if any(m not in committed for m in alive) or len(set(alive)) != len(alive):
        fail("not-subset", "the survivor set names a member twice or one outside the committed set")
    if len(committed) < roster.threshold or len(alive) < roster.threshold:
        fail("below-threshold", f"fewer than the threshold {roster.threshold} members committed or survived")

    masked = {m.member: m for m in t.masked}
    for entry in t.survivors.members:
        held = masked.get(entry.member)
        if held is None or digest(held) != entry.masked:
            fail(
                "masked-vector-mismatch", f"the vector logged for {entry.member} is not the one the survivor set names"
            )
    for member in masked:
        if member not in alive:
            fail("masked-vector-mismatch", f"a masked vector of {member} is logged, but it is not a survivor")

    kinds: dict[str, set[str]] = defaultdict(set)
    for reveal in t.reveals:
        if reveal.survivors != survivors_digest:
            fail("survivor-set-inconsistent", f"{reveal.member} decided from another survivor set than the logged one")
        if reveal.member not in alive:
            fail("reveal-from-non-survivor", f"{reveal.member} revealed shares but is not a survivor")
        for share in reveal.shares:
            kinds[share.owner].add(share.kind)
            right = "self_mask" if share.owner in alive else "agreement" if share.owner in committed else None
            if share.kind != right:
                fail("wrong-share-kind", f"{reveal.member} revealed a {share.kind} share of {share.owner}")
    for owner, revealed in sorted(kinds.items()):
        if len(revealed) > 1:
            fail("both-secrets-revealed", f"both the self-mask seed and the agreement secret of {owner} were revealed")

    try:
        rebuilt = reconstruct_sum(
            roster=roster,
            committed=t.committed,
            submissions=submissions,
            survivors=t.survivors,
            masked=masked,
            reveals=t.reveals,
        )
    except ReconstructionFailed as e:
        fail("reconstruction-failed", f"{e.rule}: {e}")
    except (ProtocolError, KeyError) as e:
        fail("reconstruction-failed", f"the log does not hold what the sum needs: {e}")
    else:
        if list(t.result.sum) != rebuilt:
            differing = sum(1 for a, b in zip(rebuilt, t.result.sum, strict=False) if a != b)
            fail(
                "sum-mismatch",
                f"the published sum differs from the log's in {differing} cells"
                + ("" if len(rebuilt) == len(t.result.sum) else " and in length"),
            )
    return tuple(failures)
