# SPDX-License-Identifier: Apache-2.0
"""Whole rounds in memory: the issue's 20 members with dropouts, a hostile hub, too few survivors."""

from __future__ import annotations

import time

import pytest

from protocol.crypto import AgreementKey, AgreementPublicKey, open_share
from protocol.errors import DecryptionFailed, SecureAggregationError, UnmaskRefused
from protocol.messages import b64decode
from protocol.secagg.encoding import add_mod, sub_mod, unpack
from protocol.secagg.masks import pair_sign, pairwise_mask
from protocol.secagg.member import check_committed, decide_unmask
from protocol.secagg.reconstruction import collect_shares
from protocol.secagg.transcript import check_transcript
from protocol.shamir import recover_secret
from tests.unit.protocol.secagg_round import (
    DROP_BEFORE_MASKED,
    DROP_BEFORE_SHARES,
    DROP_BEFORE_UNMASK,
    GROUP,
    PERIOD,
    ROUND,
    Round,
    issue_round,
    make_roster,
    masked_step,
    member_values,
    reveal_of,
    share_step,
    survivors_of,
    unmask_step,
)


def _expected_sum(rnd: Round) -> list[int]:
    assert rnd.survivors is not None
    total = [0] * rnd.roster.vector_length
    for m in rnd.survivors.member_ids:
        counts, noise = member_values(m, rnd.roster.vector_length)
        total = [t + c + z for t, c, z in zip(total, counts, noise, strict=True)]
    return total


def test_issue_round_sum_is_true_sum_plus_noise_exactly() -> None:
    rnd = issue_round()
    assert rnd.committed is not None
    assert rnd.survivors is not None
    assert rnd.result is not None
    assert len(rnd.committed.members) == 18
    assert len(rnd.survivors.members) == 16  # 4 dropped before the masked step
    assert len(rnd.reveals) == 15  # and 1 before unmasking: its vector still counts
    assert DROP_BEFORE_UNMASK[0] in rnd.survivors.member_ids
    assert list(rnd.result.sum) == _expected_sum(rnd)
    assert check_transcript(rnd.transcript()) == ()


def test_members_dropped_after_sharing_have_only_their_agreement_secret_revealed() -> None:
    rnd = issue_round()
    revealed = {(s.owner, s.kind) for r in rnd.reveals for s in r.shares}
    for m in DROP_BEFORE_MASKED:
        assert (m, "agreement") in revealed
        assert (m, "self_mask") not in revealed
    for m in DROP_BEFORE_SHARES:
        assert not any(owner == m for owner, _ in revealed)
    assert rnd.survivors is not None
    for m in rnd.survivors.member_ids:
        assert (m, "self_mask") in revealed
        assert (m, "agreement") not in revealed


def test_masked_vectors_look_nothing_like_the_values() -> None:
    rnd = issue_round()
    for m, sub in rnd.masked.items():
        vector = unpack(b64decode(sub.masked), length=rnd.roster.vector_length)
        encoded = [v + rnd.roster.offset for v in rnd.values[m]]
        assert vector != encoded
        # a masked cell sits anywhere in Z/2^64; honest encodings are below 2^41
        assert max(vector) > 2**48


def test_realistic_length_round_is_fast_and_exact() -> None:
    started = time.perf_counter()
    rnd = issue_round(length=10_000)
    elapsed = time.perf_counter() - started
    assert rnd.result is not None
    assert list(rnd.result.sum) == _expected_sum(rnd)
    assert elapsed < 30, f"a 10,000-cell round of 20 members took {elapsed:.1f} s"


def test_fewer_than_t_committed_members_refuse_to_mask() -> None:
    roster, sealing = make_roster(6, threshold=5, length=3)
    rnd = Round(roster=roster, sealing=sealing)
    share_step(rnd, skip=("hotline-00", "hotline-01"))
    assert rnd.committed is not None
    with pytest.raises(SecureAggregationError, match="fewer than the threshold 5"):
        check_committed(rnd.committed, roster=roster)
    with pytest.raises(SecureAggregationError, match="nothing is published"):
        masked_step(rnd)


def test_fewer_than_t_survivors_every_member_refuses_to_unmask() -> None:
    roster, sealing = make_roster(6, threshold=5, length=3)
    rnd = Round(roster=roster, sealing=sealing)
    share_step(rnd)
    masked_step(rnd, skip=("hotline-02", "hotline-04"))
    assert rnd.survivors is not None
    for m in rnd.survivors.member_ids:
        with pytest.raises(UnmaskRefused, match="fewer than the threshold") as caught:
            reveal_of(rnd, m)
        assert caught.value.rule == "below-threshold"


# ------------------------------------------------------------------ the hostile hub


def _hostile_round() -> tuple[Round, str]:
    """The hub holds every masked vector but logs a survivor set without the live member ``victim``."""
    roster, sealing = make_roster(8, threshold=5, length=12)
    rnd = Round(roster=roster, sealing=sealing)
    share_step(rnd)
    masked_step(rnd)
    victim = "hotline-02"
    rnd.survivors = survivors_of(rnd, {m: s for m, s in rnd.masked.items() if m != victim})
    return rnd, victim


def test_hostile_hub_the_victim_refuses_to_unmask() -> None:
    rnd, victim = _hostile_round()
    with pytest.raises(UnmaskRefused, match="does not hold the masked vector") as caught:
        reveal_of(rnd, victim)
    assert caught.value.rule == "own-vector-missing"


def test_hostile_hub_learns_the_agreement_secret_but_not_the_vector() -> None:
    rnd, victim = _hostile_round()
    assert rnd.survivors is not None
    reveals = [reveal_of(rnd, m) for m in rnd.survivors.member_ids]
    # honest members reveal only the victim's agreement secret, never its self-mask seed
    kinds = {s.kind for r in reveals for s in r.shares if s.owner == victim}
    assert kinds == {"agreement"}
    shares = collect_shares(rnd.roster, reveals)
    assert (victim, "self_mask") not in shares
    secret = AgreementKey(recover_secret(shares[(victim, "agreement")], threshold=rnd.roster.threshold))
    assert secret.public_key == AgreementPublicKey.from_text(rnd.submissions[victim].agreement_key)

    # the hub's best: the victim's masked vector without every pairwise mask
    length = rnd.roster.vector_length
    best = unpack(b64decode(rnd.masked[victim].masked), length=length)
    for other in rnd.roster.member_ids:
        if other == victim:
            continue
        peer = AgreementPublicKey.from_text(rnd.submissions[other].agreement_key)
        mask = pairwise_mask(secret.agree(peer), roster=rnd.roster, a=victim, b=other)
        best = sub_mod(best, mask) if pair_sign(rnd.roster, victim, other) > 0 else add_mod(best, mask)
    true_encoded = [v + rnd.roster.offset for v in rnd.values[victim]]
    assert best != true_encoded
    # what is left is the encoded vector plus the self-mask: still spread over the whole of Z/2^64
    assert all(abs(b - e) > 2**40 for b, e in zip(best, true_encoded, strict=True))

    # the shares of the victim's self-mask seed stay sealed: the hub's own X25519 key opens none of them
    hub = AgreementKey.generate()
    sealing_keys = {m.id: AgreementPublicKey.from_text(m.sealing_key) for m in rnd.roster.members}
    for submission in rnd.submissions.values():
        for sealed in submission.shares:
            if sealed.recipient == victim or submission.member == victim:
                with pytest.raises(DecryptionFailed):
                    open_share(
                        b64decode(sealed.sealed),
                        recipient_key=hub,
                        sender_key=sealing_keys[submission.member],
                        group=GROUP,
                        period=PERIOD,
                        round_number=ROUND,
                        sender=submission.member,
                        recipient=sealed.recipient,
                    )


def test_hostile_hub_second_survivor_set_is_flagged() -> None:
    """A hub that later logs another survivor set (with the victim) to collect its self-mask shares is caught."""
    rnd, _victim = _hostile_round()
    assert rnd.survivors is not None
    assert rnd.committed is not None
    first = [reveal_of(rnd, m) for m in rnd.survivors.member_ids]
    rnd.survivors = survivors_of(rnd, rnd.masked)
    second = [reveal_of(rnd, m) for m in rnd.survivors.member_ids]
    # the transcript holds reveals decided from two survivor sets, and both secrets of the victim
    rnd.reveals = second
    unmask_step(rnd)
    rnd.reveals = first + second
    rules = {f.rule for f in check_transcript(rnd.transcript())}
    assert {"survivor-set-inconsistent", "both-secrets-revealed", "wrong-share-kind"} <= rules


def test_survivor_set_naming_a_member_outside_the_committed_set_is_refused() -> None:
    rnd, _ = _hostile_round()
    assert rnd.committed is not None
    assert rnd.survivors is not None
    fake = rnd.survivors.model_copy(update={"committed": "sha256:" + "0" * 64})
    with pytest.raises(UnmaskRefused) as caught:
        decide_unmask(
            roster=rnd.roster,
            committed=rnd.committed,
            survivors=fake,
            member="hotline-00",
            own=rnd.masked["hotline-00"],
        )
    assert caught.value.rule == "not-committed"


def test_a_substituted_own_vector_is_refused() -> None:
    rnd, _ = _hostile_round()
    assert rnd.survivors is not None
    swapped = dict(rnd.masked)
    swapped["hotline-00"] = rnd.masked["hotline-01"].model_copy(update={"member": "hotline-00"})
    rnd.survivors = survivors_of(rnd, swapped)
    with pytest.raises(UnmaskRefused) as caught:
        reveal_of(rnd, "hotline-00")
    assert caught.value.rule == "own-vector-missing"
