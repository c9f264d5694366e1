# SPDX-License-Identifier: Apache-2.0
"""A whole secure-aggregation round in memory, for the tests: the members' steps and an honest hub's."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from protocol.crypto import AgreementKey
from protocol.messages import TaxonomyRef
from protocol.secagg import coordinator
from protocol.secagg.encoding import DEFAULT_OFFSET
from protocol.secagg.member import (
    RoundSecrets,
    decide_unmask,
    make_masked_submission,
    make_share_submission,
    reveal_shares,
)
from protocol.secagg.messages import (
    CommittedSet,
    MaskedSubmission,
    RoundResult,
    RoundRoster,
    ShareSubmission,
    Survivors,
    UnmaskReveal,
)
from protocol.secagg.transcript import RoundTranscript

GROUP, PERIOD, ROUND = "region-eu-east", "2026-10", 1


def drbg(label: str) -> Callable[[int], bytes]:
    """Deterministic test randomness: SHAKE-256 of a label and a counter (never used outside tests)."""
    counter = 0

    def draw(n: int) -> bytes:
        nonlocal counter
        counter += 1
        return hashlib.shake_256(f"{label}/{counter}".encode()).digest(n)

    return draw


#: The taxonomy the test rosters name (the hub and the members check a roster's layout; the arithmetic does not).
TAXONOMY = TaxonomyRef(id="tipshare-taxonomy/2", hash="sha256:" + "0" * 64)


def member_ids(n: int) -> list[str]:
    return [f"hotline-{i:02d}" for i in range(n)]


def make_roster(
    n: int,
    *,
    threshold: int,
    length: int,
    offset: int = DEFAULT_OFFSET,
    label: str = "roster",
    taxonomy: TaxonomyRef = TAXONOMY,
    tables: tuple[str, ...] = ("persons_total",),
    scaling: int = 1,
) -> tuple[RoundRoster, dict[str, AgreementKey]]:
    """A roster of ``n`` members; the arithmetic tests use vectors of any length (``taxonomy`` and ``tables`` are
    only checked against ``length`` by tests that read the sum as tables)."""
    ids = member_ids(n)
    rng = drbg(label)
    sealing = {m: AgreementKey(rng(32)) for m in ids}
    roster = coordinator.make_roster(
        group=GROUP,
        period=PERIOD,
        round_number=ROUND,
        threshold=threshold,
        taxonomy=taxonomy,
        tables=tables,
        vector_length=length,
        offset=offset,
        members=[(m, sealing[m].public_key.to_text()) for m in ids],
        scaling=scaling,
    )
    return roster, sealing


def member_values(member: str, length: int) -> tuple[list[int], list[int]]:
    """A member's true counts (0..40) and its noise share (-60..60), fixed by its id."""
    raw = hashlib.shake_256(member.encode()).digest(2 * length)
    counts = [b % 41 for b in raw[:length]]
    noise = [b % 121 - 60 for b in raw[length:]]
    return counts, noise


@dataclass
class Round:
    roster: RoundRoster
    sealing: dict[str, AgreementKey]
    values: dict[str, list[int]] = field(default_factory=dict)
    submissions: dict[str, ShareSubmission] = field(default_factory=dict)
    secrets: dict[str, RoundSecrets] = field(default_factory=dict)
    committed: CommittedSet | None = None
    masked: dict[str, MaskedSubmission] = field(default_factory=dict)
    survivors: Survivors | None = None
    reveals: list[UnmaskReveal] = field(default_factory=list)
    result: RoundResult | None = None

    def transcript(self) -> RoundTranscript:
        assert self.committed is not None
        assert self.survivors is not None
        assert self.result is not None
        return RoundTranscript(
            roster=self.roster,
            share_submissions=tuple(self.submissions.values()),
            committed=self.committed,
            masked=tuple(self.masked.values()),
            survivors=self.survivors,
            reveals=tuple(self.reveals),
            result=self.result,
        )


def share_step(rnd: Round, skip: Iterable[str] = ()) -> None:
    for m in rnd.roster.member_ids:
        if m in skip:
            continue
        rnd.submissions[m], rnd.secrets[m] = make_share_submission(
            roster=rnd.roster, member=m, sealing_key=rnd.sealing[m], randomness=drbg(f"member/{m}")
        )
    rnd.committed = coordinator.make_committed_set(rnd.roster, rnd.submissions)


def masked_step(rnd: Round, skip: Iterable[str] = (), declared: Mapping[str, Mapping[str, str]] | None = None) -> None:
    """Each committed member but ``skip`` masks its values (its counts times the roster's scaling factor, plus its
    noise), declaring ``declared[member]`` (table -> σ) if given."""
    assert rnd.committed is not None
    for m in rnd.committed.members:
        if m in skip:
            continue
        counts, noise = member_values(m, rnd.roster.vector_length)
        rnd.values[m] = [rnd.roster.factor * c + z for c, z in zip(counts, noise, strict=True)]
        rnd.masked[m] = make_masked_submission(
            rnd.values[m],
            roster=rnd.roster,
            committed=rnd.committed,
            submissions=rnd.submissions,
            member=m,
            secrets=rnd.secrets[m],
            noise=None if declared is None else declared[m],
        )
    rnd.survivors = survivors_of(rnd, rnd.masked)


def survivors_of(rnd: Round, masked: dict[str, MaskedSubmission]) -> Survivors:
    assert rnd.committed is not None
    return coordinator.make_survivors(rnd.committed, masked)


def reveal_of(rnd: Round, m: str) -> UnmaskReveal:
    assert rnd.committed is not None
    assert rnd.survivors is not None
    decision = decide_unmask(
        roster=rnd.roster, committed=rnd.committed, survivors=rnd.survivors, member=m, own=rnd.masked[m]
    )
    return reveal_shares(
        decision,
        roster=rnd.roster,
        survivors=rnd.survivors,
        submissions=rnd.submissions,
        member=m,
        sealing_key=rnd.sealing[m],
        secrets=rnd.secrets[m],
    )


def unmask_step(rnd: Round, skip: Iterable[str] = ()) -> None:
    assert rnd.survivors is not None
    rnd.reveals = [reveal_of(rnd, m) for m in rnd.survivors.member_ids if m not in skip]
    assert rnd.committed is not None
    rnd.result = coordinator.make_result(
        roster=rnd.roster,
        committed=rnd.committed,
        submissions=rnd.submissions,
        survivors=rnd.survivors,
        masked=rnd.masked,
        reveals=rnd.reveals,
    )


#: The issue's round: 20 members; 2 drop before sharing and 2 after sharing but before masking (4 before the
#: masked step), 1 after masking but before unmasking.
DROP_BEFORE_SHARES = ("hotline-03", "hotline-17")
DROP_BEFORE_MASKED = ("hotline-08", "hotline-11")
DROP_BEFORE_UNMASK = ("hotline-05",)


def issue_round(*, length: int = 6, threshold: int = 14) -> Round:
    roster, sealing = make_roster(20, threshold=threshold, length=length)
    rnd = Round(roster=roster, sealing=sealing)
    share_step(rnd, skip=DROP_BEFORE_SHARES)
    masked_step(rnd, skip=DROP_BEFORE_MASKED)
    unmask_step(rnd, skip=DROP_BEFORE_UNMASK)
    return rnd
