# SPDX-License-Identifier: Apache-2.0
"""A member's steps on their own: random rounds sum exactly, messages round-trip, and each refusal fires."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.crypto import SHARE_NONCE_SIZE, AgreementKey, seal_share
from protocol.errors import SecureAggregationError, UnmaskRefused
from protocol.messages import b64encode
from protocol.secagg.member import decide_unmask, make_masked_submission, make_share_submission, reveal_shares
from protocol.secagg.messages import (
    CommittedSet,
    MaskedSubmission,
    RoundResult,
    RoundRoster,
    SealedShare,
    ShareSubmission,
    Survivors,
    UnmaskReveal,
)
from protocol.secagg.transcript import check_transcript
from protocol.shamir import SHARE_SIZE
from tests.unit.protocol.secagg_round import (
    Round,
    drbg,
    issue_round,
    make_roster,
    masked_step,
    member_values,
    share_step,
    unmask_step,
)


@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_any_round_with_at_least_t_survivors_sums_exactly(data: st.DataObject) -> None:
    n = data.draw(st.integers(3, 7), label="members")
    t = data.draw(st.integers(n // 2 + 1, n), label="threshold")
    ids = [f"hotline-{i:02d}" for i in range(n)]
    no_share = data.draw(st.sets(st.sampled_from(ids), max_size=n - t), label="drop before sharing")
    left = [m for m in ids if m not in no_share]
    no_mask = data.draw(st.sets(st.sampled_from(left), max_size=len(left) - t), label="drop before masking")
    alive = [m for m in left if m not in no_mask]
    # at least t survivors must reveal for the sum to be rebuilt
    no_reveal = data.draw(st.sets(st.sampled_from(alive), max_size=len(alive) - t), label="drop before unmasking")
    roster, sealing = make_roster(n, threshold=t, length=3, label=f"roster-{n}-{t}")
    rnd = Round(roster=roster, sealing=sealing)
    share_step(rnd, skip=no_share)
    masked_step(rnd, skip=no_mask)
    unmask_step(rnd, skip=no_reveal)
    assert rnd.result is not None
    expected = [0, 0, 0]
    for m in alive:
        counts, noise = member_values(m, 3)
        expected = [e + c + z for e, c, z in zip(expected, counts, noise, strict=True)]
    assert list(rnd.result.sum) == expected
    assert check_transcript(rnd.transcript()) == ()


def test_every_message_round_trips_through_its_canonical_bytes() -> None:
    rnd = issue_round(length=3)
    t = rnd.transcript()
    messages = [t.roster, t.share_submissions[0], t.committed, t.masked[0], t.survivors, t.reveals[0], t.result]
    expected = [RoundRoster, ShareSubmission, CommittedSet, MaskedSubmission, Survivors, UnmaskReveal, RoundResult]
    assert [type(m) for m in messages] == expected
    for message in messages:
        assert type(message).from_canonical(message.canonical_bytes()) == message


def test_share_submission_has_one_sealed_share_per_other_member() -> None:
    roster, sealing = make_roster(5, threshold=3, length=2)
    submission, secrets = make_share_submission(
        roster=roster, member="hotline-01", sealing_key=sealing["hotline-01"], randomness=drbg("x")
    )
    assert [s.recipient for s in submission.shares] == ["hotline-00", "hotline-02", "hotline-03", "hotline-04"]
    assert submission.agreement_key == secrets.agreement_key.public_key.to_text()
    assert secrets.own_self_mask_share.x == 2


def test_share_step_refusals() -> None:
    roster, sealing = make_roster(5, threshold=3, length=2)
    with pytest.raises(SecureAggregationError, match="not in the roster"):
        make_share_submission(
            roster=roster, member="hotline-99", sealing_key=sealing["hotline-00"], randomness=drbg("y")
        )
    with pytest.raises(SecureAggregationError, match="another sealing key"):
        make_share_submission(
            roster=roster, member="hotline-00", sealing_key=AgreementKey.generate(), randomness=drbg("y")
        )


def _shared_round() -> Round:
    roster, sealing = make_roster(5, threshold=3, length=2)
    rnd = Round(roster=roster, sealing=sealing)
    share_step(rnd, skip=("hotline-04",))
    return rnd


def test_masked_step_refusals() -> None:
    rnd = _shared_round()
    assert rnd.committed is not None
    common = {"roster": rnd.roster, "committed": rnd.committed, "submissions": rnd.submissions}
    with pytest.raises(SecureAggregationError, match="not in the committed set"):
        make_masked_submission([0, 0], member="hotline-04", secrets=rnd.secrets["hotline-00"], **common)
    with pytest.raises(SecureAggregationError, match="has 2 cells, got 3"):
        make_masked_submission([0, 0, 0], member="hotline-00", secrets=rnd.secrets["hotline-00"], **common)
    with pytest.raises(SecureAggregationError, match="not those of the share submission"):
        make_masked_submission([0, 0], member="hotline-00", secrets=rnd.secrets["hotline-01"], **common)
    missing = {k: v for k, v in rnd.submissions.items() if k != "hotline-02"}
    with pytest.raises(SecureAggregationError, match="share submission is not in the log"):
        make_masked_submission(
            [0, 0],
            roster=rnd.roster,
            committed=rnd.committed,
            submissions=missing,
            member="hotline-00",
            secrets=rnd.secrets["hotline-00"],
        )
    swapped = dict(rnd.submissions) | {"hotline-02": rnd.submissions["hotline-03"]}
    with pytest.raises(SecureAggregationError, match="belongs to another member or round"):
        make_masked_submission(
            [0, 0],
            roster=rnd.roster,
            committed=rnd.committed,
            submissions=swapped,
            member="hotline-00",
            secrets=rnd.secrets["hotline-00"],
        )
    shuffled = rnd.committed.model_copy(update={"members": tuple(reversed(rnd.committed.members))})
    with pytest.raises(SecureAggregationError, match="not in roster order"):
        make_masked_submission(
            [0, 0],
            roster=rnd.roster,
            committed=shuffled,
            submissions=rnd.submissions,
            member="hotline-00",
            secrets=rnd.secrets["hotline-00"],
        )
    other_roster = rnd.committed.model_copy(update={"roster": "sha256:" + "2" * 64})
    with pytest.raises(SecureAggregationError, match="another roster"):
        make_masked_submission(
            [0, 0],
            roster=rnd.roster,
            committed=other_roster,
            submissions=rnd.submissions,
            member="hotline-00",
            secrets=rnd.secrets["hotline-00"],
        )


def test_unmask_refuses_a_survivor_set_with_a_stranger() -> None:
    rnd = _shared_round()
    masked_step(rnd)
    assert rnd.committed is not None
    assert rnd.survivors is not None
    stranger = rnd.survivors.members[0].model_copy(update={"member": "hotline-77"})
    survivors = rnd.survivors.model_copy(update={"members": (*rnd.survivors.members, stranger)})
    with pytest.raises(UnmaskRefused) as caught:
        decide_unmask(
            roster=rnd.roster,
            committed=rnd.committed,
            survivors=survivors,
            member="hotline-00",
            own=rnd.masked["hotline-00"],
        )
    assert caught.value.rule == "not-committed"
    doubled = rnd.survivors.model_copy(update={"members": (*rnd.survivors.members, rnd.survivors.members[0])})
    with pytest.raises(UnmaskRefused) as caught:
        decide_unmask(
            roster=rnd.roster,
            committed=rnd.committed,
            survivors=doubled,
            member="hotline-00",
            own=rnd.masked["hotline-00"],
        )
    assert caught.value.rule == "not-in-roster"


@pytest.mark.parametrize(
    "members", [("hotline-00", "hotline-01", "hotline-99"), ("hotline-00", "hotline-00", "hotline-01")]
)
def test_masking_refuses_a_committed_set_with_a_stranger_or_a_member_twice(members: tuple[str, ...]) -> None:
    rnd = _shared_round()
    assert rnd.committed is not None
    committed = rnd.committed.model_copy(update={"members": members})
    with pytest.raises(SecureAggregationError, match="names a member twice or one outside the roster"):
        make_masked_submission(
            [0, 0],
            roster=rnd.roster,
            committed=committed,
            submissions=rnd.submissions,
            member="hotline-00",
            secrets=rnd.secrets["hotline-00"],
        )


def _sealed_to(rnd: Round, owner: str, recipient: str, plaintext: bytes) -> str:
    return b64encode(
        seal_share(
            plaintext,
            sender_key=rnd.sealing[owner],
            recipient_key=rnd.sealing[recipient].public_key,
            group=rnd.roster.group,
            period=rnd.roster.period,
            round_number=rnd.roster.round,
            sender=owner,
            recipient=recipient,
            nonce=bytes(SHARE_NONCE_SIZE),
        )
    )


def _garbage(rnd: Round, shares: tuple[SealedShare, ...]) -> tuple[SealedShare, ...]:
    return tuple(
        s.model_copy(update={"sealed": b64encode(bytes(100))}) if s.recipient == "hotline-00" else s for s in shares
    )


def _absent(rnd: Round, shares: tuple[SealedShare, ...]) -> tuple[SealedShare, ...]:
    return tuple(s for s in shares if s.recipient != "hotline-00")


def _twice(rnd: Round, shares: tuple[SealedShare, ...]) -> tuple[SealedShare, ...]:
    return (*shares, next(s for s in shares if s.recipient == "hotline-00"))


def _half_a_pair(rnd: Round, shares: tuple[SealedShare, ...]) -> tuple[SealedShare, ...]:
    """Sealed correctly by its sender, but one share where the pair of two belongs."""
    sealed = _sealed_to(rnd, "hotline-01", "hotline-00", bytes(SHARE_SIZE))
    return tuple(s.model_copy(update={"sealed": sealed}) if s.recipient == "hotline-00" else s for s in shares)


@pytest.mark.parametrize("tamper", [_garbage, _absent, _twice, _half_a_pair])
def test_a_share_that_does_not_open_is_left_out_of_the_reveal(
    tamper: Callable[[Round, tuple[SealedShare, ...]], tuple[SealedShare, ...]],
) -> None:
    rnd = _shared_round()
    masked_step(rnd)
    assert rnd.committed is not None
    assert rnd.survivors is not None
    member, owner = "hotline-00", "hotline-01"
    decision = decide_unmask(
        roster=rnd.roster, committed=rnd.committed, survivors=rnd.survivors, member=member, own=rnd.masked[member]
    )

    def revealed(submissions: dict[str, ShareSubmission]) -> set[str]:
        reveal = reveal_shares(
            decision,
            roster=rnd.roster,
            survivors=rnd.survivors,  # type: ignore[arg-type]
            submissions=submissions,
            member=member,
            sealing_key=rnd.sealing[member],
            secrets=rnd.secrets[member],
        )
        return {share.owner for share in reveal.shares}

    honest = revealed(rnd.submissions)
    assert honest == set(rnd.committed.members)
    broken = rnd.submissions[owner].model_copy(update={"shares": tamper(rnd, rnd.submissions[owner].shares)})
    assert revealed(rnd.submissions | {owner: broken}) == honest - {owner}
