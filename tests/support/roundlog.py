# SPDX-License-Identifier: Apache-2.0
"""A secure round's log built in the test, as a dishonest hub could write it: the members are simulated with the
protocol's functions (their keys enrolled over the admin API, so the key events are the hub's own), and every step
and member entry is appended straight to the hub's log, after the test changed whichever it likes.

>>> built = build_round(hub, enroll_members(hub, 8), threshold=5)                       # doctest: +SKIP
>>> leaves = round_entries(hub, built)                                                  # doctest: +SKIP
>>> leaves[("result", None)] = forged                                                   # doctest: +SKIP
>>> append_round(hub, leaves)                                                           # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hub.db import write_session
from hub.services.log import TransparencyLog
from protocol.errors import UnmaskRefused
from protocol.messages import SecaggFailedEntry, SecaggMemberEntry, SecaggStepEntry, format_timestamp
from protocol.secagg import coordinator
from protocol.secagg.encoding import DEFAULT_OFFSET
from protocol.secagg.layout import RoundLayout, taxonomy_ref
from protocol.secagg.member import (
    RoundSecrets,
    UnmaskDecision,
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
from protocol.secagg.signed import MemberMessage, member_entry, sign_member_message, step_entry
from tests.support.hubs import HubUnderTest
from tests.support.round_members import GROUP, PERIOD, TABLES, Member, drbg, member_values

#: The σ each member declares for its noise share (its share is uniform on -60..60: σ 34.9) and for its one-cell
#: total (whose noise is uniform on -100..100: σ 58.0), so that an honest round's totals agree within tolerance.
SHARE_SCALE, TOTAL_SCALE = "35.0", "60.0"

#: ``(step, member)``: ``("roster", None)``, ``("masked", "hotline-02")``...
Label = tuple[str, str | None]
Leaf = SecaggStepEntry | SecaggMemberEntry | SecaggFailedEntry


@dataclass
class BuiltRound:
    """Every message of a round, as its members and coordinator made them."""

    members: Mapping[str, Member]
    roster: RoundRoster
    submissions: dict[str, ShareSubmission]
    committed: CommittedSet
    masked: dict[str, MaskedSubmission]
    survivors: Survivors
    reveals: dict[str, UnmaskReveal]
    result: RoundResult
    secrets: dict[str, RoundSecrets] = field(default_factory=dict)
    #: Members that refused to reveal anything (their own vector was left out of the survivor set).
    refused: dict[str, str] = field(default_factory=dict)


def build_round(
    hub: HubUnderTest,
    members: Mapping[str, Member],
    *,
    threshold: int,
    drop_shares: Sequence[str] = (),
    drop_masked: Sequence[str] = (),
    drop_unmask: Sequence[str] = (),
    claim_dropped: Sequence[str] = (),
    sealing: Mapping[str, str] | None = None,
    declare: bool = True,
    inflate: Mapping[str, int] | None = None,
) -> BuiltRound:
    """A round of ``members``: some drop out before each step; the hub leaves ``claim_dropped`` (whose masked
    vectors it holds) out of the survivor set; ``sealing`` lists other sealing keys in the roster (whose members
    then refuse to share). Each member declares its noise and its one-cell totals (``declare=False``: neither, as
    before the fields existed); a member of ``inflate`` adds that much to its first cell beyond what its total
    says."""
    layout = RoundLayout(hub.context.taxonomy, TABLES)
    roster = coordinator.make_roster(
        group=GROUP,
        period=PERIOD,
        round_number=0,
        threshold=threshold,
        taxonomy=taxonomy_ref(hub.context.taxonomy),
        tables=TABLES,
        vector_length=layout.length,
        offset=DEFAULT_OFFSET,
        members=[(m, (sealing or {}).get(m, members[m].sealing.public_key.to_text())) for m in members],
    )
    submissions, secrets = {}, {}
    for m in roster.member_ids:
        if m in drop_shares or m in (sealing or {}):  # a member listed with another sealing key refuses the round
            continue
        submissions[m], secrets[m] = make_share_submission(
            roster=roster, member=m, sealing_key=members[m].sealing, randomness=drbg(f"built/{m}")
        )
    committed = coordinator.make_committed_set(roster, submissions)
    masked = {}
    for m in committed.members:
        if m in drop_masked:
            continue
        counts, noise = member_values(m, layout.length)
        values = [c + z for c, z in zip(counts, noise, strict=True)]
        values[0] += (inflate or {}).get(m, 0)
        true = layout.split(counts)
        masked[m] = make_masked_submission(
            values,
            roster=roster,
            committed=committed,
            submissions=submissions,
            member=m,
            secrets=secrets[m],
            noise=dict.fromkeys(TABLES, SHARE_SCALE) if declare else None,
            totals={t: (sum(true[t]) + _total_noise(m, t), TOTAL_SCALE) for t in TABLES} if declare else None,
        )
    survivors = coordinator.make_survivors(committed, {m: v for m, v in masked.items() if m not in claim_dropped})
    reveals, refused = {}, {}
    for m in masked:
        if m in drop_unmask:
            continue
        try:
            decision = decide_unmask(roster=roster, committed=committed, survivors=survivors, member=m, own=masked[m])
        except UnmaskRefused as e:
            refused[m] = e.rule
            continue
        reveals[m] = reveal_for(m, decision, roster, survivors, submissions, members, secrets)
    result = coordinator.make_result(
        roster=roster,
        committed=committed,
        submissions=submissions,
        survivors=survivors,
        masked={m: masked[m] for m in survivors.member_ids},
        reveals=list(reveals.values()),
    )
    return BuiltRound(members, roster, submissions, committed, masked, survivors, reveals, result, secrets, refused)


def _total_noise(member: str, table: str) -> int:
    """The noise of a member's one-cell total, -100..100, fixed by its id and the table."""
    return int.from_bytes(hashlib.shake_256(f"total/{member}/{table}".encode()).digest(4)) % 201 - 100


def reveal_for(
    member: str,
    decision: UnmaskDecision,
    roster: RoundRoster,
    survivors: Survivors,
    submissions: Mapping[str, ShareSubmission],
    members: Mapping[str, Member],
    secrets: Mapping[str, RoundSecrets],
) -> UnmaskReveal:
    return reveal_shares(
        decision,
        roster=roster,
        survivors=survivors,
        submissions=submissions,
        member=member,
        sealing_key=members[member].sealing,
        secrets=secrets[member],
    )


def signed_entry(hub: HubUnderTest, message: MemberMessage, member: Member) -> SecaggMemberEntry:
    """The log entry of ``message`` signed by ``member``'s key, received now."""
    signed = sign_member_message(message, key=member.key)
    return member_entry(signed, message, received_at=format_timestamp(hub.clock()))


def round_entries(hub: HubUnderTest, built: BuiltRound, *, masked: bool = True) -> dict[Label, Leaf]:
    """The round's log entries in log order (``masked=False``: the masked vectors of members the hub claims
    dropped are not logged)."""
    now = format_timestamp(hub.clock())
    leaves: dict[Label, Leaf] = {("roster", None): step_entry(built.roster, effective_at=now)}
    for m, submission in built.submissions.items():
        leaves[("shares", m)] = signed_entry(hub, submission, built.members[m])
    leaves[("committed", None)] = step_entry(built.committed, effective_at=now)
    for m, vector in built.masked.items():
        if masked or m in built.survivors.member_ids:
            leaves[("masked", m)] = signed_entry(hub, vector, built.members[m])
    leaves[("survivors", None)] = step_entry(built.survivors, effective_at=now)
    for m, reveal in built.reveals.items():
        leaves[("reveal", m)] = signed_entry(hub, reveal, built.members[m])
    leaves[("result", None)] = step_entry(built.result, effective_at=now)
    return leaves


def append_round(hub: HubUnderTest, leaves: Mapping[Label, Leaf]) -> dict[Label, int]:
    """Append the entries to the hub's log, bypassing every check; their indices."""
    indices = {}
    with write_session(hub.context.sessions) as session:
        log = TransparencyLog(session, signer=hub.context.log_signer)
        for label, entry in leaves.items():
            indices[label] = log.append(entry.canonical_bytes(), kind=entry.kind, now=hub.clock()).index
    return indices
