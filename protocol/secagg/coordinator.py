# SPDX-License-Identifier: Apache-2.0
"""The hub's side of a round, as pure functions: the messages it logs between the members' steps.

The hub decides nothing a member must trust: each message only records what the hub holds (share submissions,
masked vectors) in roster order, and the sum anyone can recompute (:func:`make_result`). Members check what it
logs (:func:`~protocol.secagg.member.check_committed`, :func:`~protocol.secagg.member.decide_unmask`); the
auditor checks all of it (:func:`~protocol.secagg.transcript.check_transcript`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from protocol.errors import SecureAggregationError
from protocol.messages import TaxonomyRef
from protocol.secagg.messages import (
    CommittedSet,
    MaskedSubmission,
    RosterMember,
    RoundResult,
    RoundRoster,
    ShareSubmission,
    SurvivorEntry,
    Survivors,
    UnmaskReveal,
    digest,
)
from protocol.secagg.reconstruction import reconstruct_sum

__all__ = ["make_committed_set", "make_result", "make_roster", "make_survivors"]


def make_roster(
    *,
    group: str,
    period: str,
    round_number: int,
    threshold: int,
    taxonomy: TaxonomyRef,
    tables: Sequence[str],
    vector_length: int,
    offset: int,
    members: Sequence[tuple[str, str]],
    scaling: int = 1,
) -> RoundRoster:
    """Step 0: the roster, members as ``(id, sealing key text)`` in the order that gives their Shamir x; the
    vector holds ``tables`` of ``taxonomy`` (``vector_length`` cells: :class:`protocol.secagg.layout.RoundLayout`),
    scaled by ``scaling`` (1: unscaled, and the roster names no factor)."""
    return RoundRoster(
        type="secagg-roster",
        version="tipshare/1",
        group=group,
        period=period,
        round=round_number,
        taxonomy=taxonomy,
        tables=tuple(tables),
        threshold=threshold,
        vector_length=vector_length,
        modulus_bits=64,
        offset=offset,
        members=tuple(RosterMember(id=m, sealing_key=key) for m, key in members),
        scaling=None if scaling == 1 else scaling,
    )


def make_committed_set(roster: RoundRoster, submissions: Mapping[str, ShareSubmission]) -> CommittedSet:
    """Step 2: the members whose share submissions the hub holds, in roster order."""
    for member, submission in submissions.items():
        if submission.member != member or submission.roster != digest(roster):
            raise SecureAggregationError(f"the share submission held for {member} is not {member}'s for this roster")
    return CommittedSet(
        type="secagg-committed",
        version="tipshare/1",
        group=roster.group,
        period=roster.period,
        round=roster.round,
        roster=digest(roster),
        members=tuple(m for m in roster.member_ids if m in submissions),
    )


def make_survivors(committed: CommittedSet, masked: Mapping[str, MaskedSubmission]) -> Survivors:
    """Step 4: the committed members whose masked vectors the hub holds, each with its vector's digest."""
    for member, submission in masked.items():
        if submission.member != member or member not in committed.members:
            raise SecureAggregationError(f"the masked vector held for {member} is not a committed member's own")
    return Survivors(
        type="secagg-survivors",
        version="tipshare/1",
        group=committed.group,
        period=committed.period,
        round=committed.round,
        committed=digest(committed),
        members=tuple(SurvivorEntry(member=m, masked=digest(masked[m])) for m in committed.members if m in masked),
    )


def make_result(
    *,
    roster: RoundRoster,
    committed: CommittedSet,
    submissions: Mapping[str, ShareSubmission],
    survivors: Survivors,
    masked: Mapping[str, MaskedSubmission],
    reveals: Sequence[UnmaskReveal],
) -> RoundResult:
    """Step 6: the sum rebuilt from the log (:func:`~protocol.secagg.reconstruction.reconstruct_sum`)."""
    total = reconstruct_sum(
        roster=roster,
        committed=committed,
        submissions=submissions,
        survivors=survivors,
        masked=masked,
        reveals=[r for r in reveals if r.survivors == digest(survivors)],
    )
    return RoundResult(
        type="secagg-result",
        version="tipshare/1",
        group=roster.group,
        period=roster.period,
        round=roster.round,
        survivors=digest(survivors),
        sum=tuple(total),
    )
