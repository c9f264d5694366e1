# SPDX-License-Identifier: Apache-2.0
"""The auditor's check of a round: passes on the honest round, names each tampering."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from protocol.crypto import AgreementKey
from protocol.messages import b64decode, b64encode
from protocol.secagg.encoding import pack, unpack
from protocol.secagg.messages import RevealedShare, UnmaskReveal, digest
from protocol.secagg.transcript import RULES, RoundTranscript, check_transcript
from protocol.shamir import SHARE_SIZE
from tests.unit.protocol.secagg_round import Round, issue_round


@pytest.fixture(scope="module")
def honest() -> Round:
    return issue_round(length=5)


def _rules(t: RoundTranscript) -> set[str]:
    failures = check_transcript(t)
    assert all(f.rule in RULES for f in failures)
    return {f.rule for f in failures}


def test_the_honest_round_passes(honest: Round) -> None:
    assert check_transcript(honest.transcript()) == ()


def _changed_vector(t: RoundTranscript, delta: int = 1) -> RoundTranscript:
    first = t.masked[0]
    vector = unpack(b64decode(first.masked), length=t.roster.vector_length)
    vector[2] = (vector[2] + delta) % 2**64
    return dataclasses.replace(t, masked=(first.model_copy(update={"masked": b64encode(pack(vector))}), *t.masked[1:]))


def _garbage_vector(t: RoundTranscript) -> RoundTranscript:
    """A cell moved by 2^63: the sum lands where no honest members can put it, so the masks do not cancel."""
    return _changed_vector(t, 2**63)


def _changed_vector_and_survivor_hash(t: RoundTranscript) -> RoundTranscript:
    """A forger who also rewrites the survivor set's hash: the chain to the reveals and the result breaks."""
    changed = _changed_vector(t)
    entries = tuple(
        e.model_copy(update={"masked": digest(changed.masked[0])}) if e.member == changed.masked[0].member else e
        for e in t.survivors.members
    )
    return dataclasses.replace(changed, survivors=t.survivors.model_copy(update={"members": entries}))


def _altered_share(t: RoundTranscript) -> RoundTranscript:
    reveal = t.reveals[0]
    share = reveal.shares[0]
    y = (int.from_bytes(b64decode(share.share), "big") + 1).to_bytes(SHARE_SIZE, "big")
    altered = reveal.model_copy(
        update={"shares": (share.model_copy(update={"share": b64encode(y)}), *reveal.shares[1:])}
    )
    return dataclasses.replace(t, reveals=(altered, *t.reveals[1:]))


def _both_secrets(t: RoundTranscript) -> RoundTranscript:
    """A revealer also hands out the agreement share of a survivor (with its self-mask share, that exposes it)."""
    reveal = t.reveals[0]
    survivor = t.survivors.member_ids[1]
    own = next(s for s in reveal.shares if s.owner == survivor)
    extra = RevealedShare(owner=survivor, kind="agreement", share=own.share)
    return dataclasses.replace(
        t, reveals=(reveal.model_copy(update={"shares": (*reveal.shares, extra)}), *t.reveals[1:])
    )


def _inconsistent_survivors(t: RoundTranscript) -> RoundTranscript:
    """One member decided from another survivor set than the one logged."""
    reveal = t.reveals[-1]
    return dataclasses.replace(
        t, reveals=(*t.reveals[:-1], reveal.model_copy(update={"survivors": "sha256:" + "1" * 64}))
    )


def _changed_sum(t: RoundTranscript) -> RoundTranscript:
    total = list(t.result.sum)
    total[0] += 1
    return dataclasses.replace(t, result=t.result.model_copy(update={"sum": tuple(total)}))


def _below_threshold(t: RoundTranscript) -> RoundTranscript:
    return dataclasses.replace(t, roster=t.roster.model_copy(update={"threshold": 17}))


def _reveal_from_dropped(t: RoundTranscript) -> RoundTranscript:
    ghost = UnmaskReveal.model_validate(t.reveals[0].model_dump() | {"member": "hotline-03"})
    return dataclasses.replace(t, reveals=(*t.reveals, ghost))


def _missing_vector(t: RoundTranscript) -> RoundTranscript:
    return dataclasses.replace(t, masked=t.masked[1:])


def _other_round(t: RoundTranscript) -> RoundTranscript:
    return dataclasses.replace(t, result=t.result.model_copy(update={"round": 2}))


TAMPERINGS: dict[str, tuple[Callable[[RoundTranscript], RoundTranscript], set[str]]] = {
    "changed masked vector": (_changed_vector, {"masked-vector-mismatch", "sum-mismatch"}),
    "masked vector that breaks the sum": (_garbage_vector, {"masked-vector-mismatch", "reconstruction-failed"}),
    "changed vector and its hash": (
        _changed_vector_and_survivor_hash,
        {"chain-broken", "survivor-set-inconsistent", "sum-mismatch"},
    ),
    "altered revealed share": (_altered_share, {"reconstruction-failed"}),
    "both secrets revealed": (_both_secrets, {"both-secrets-revealed", "wrong-share-kind"}),
    "survivor set inconsistent between members": (_inconsistent_survivors, {"survivor-set-inconsistent"}),
    "published sum changed": (_changed_sum, {"sum-mismatch"}),
    "threshold above the survivors": (_below_threshold, {"below-threshold", "chain-broken"}),
    "reveal from a member that dropped": (_reveal_from_dropped, {"reveal-from-non-survivor"}),
    "a survivor's vector missing": (_missing_vector, {"masked-vector-mismatch", "reconstruction-failed"}),
    "a message of another round": (_other_round, {"round-mismatch"}),
}


@pytest.mark.parametrize("name", TAMPERINGS)
def test_each_tampering_is_named(honest: Round, name: str) -> None:
    tamper, expected = TAMPERINGS[name]
    rules = _rules(tamper(honest.transcript()))
    assert expected <= rules, f"{name}: found {sorted(rules)}"


def test_an_altered_share_is_named_by_its_reconstruction_rule(honest: Round) -> None:
    failures = check_transcript(_altered_share(honest.transcript()))
    details = [f.detail for f in failures if f.rule == "reconstruction-failed"]
    assert len(details) == 1
    assert details[0].startswith(("share-inconsistent", "commitment-mismatch", "agreement-key-mismatch"))


def test_a_vector_that_breaks_the_sum_is_named_masks_do_not_cancel(honest: Round) -> None:
    failures = check_transcript(_garbage_vector(honest.transcript()))
    assert [f.detail.split(":")[0] for f in failures if f.rule == "reconstruction-failed"] == ["masks-do-not-cancel"]


def _vector_of_another_committed_set(t: RoundTranscript) -> RoundTranscript:
    first = t.masked[0].model_copy(update={"committed": "sha256:" + "2" * 64})
    return dataclasses.replace(t, masked=(first, *t.masked[1:]))


def _committed_without_share_submission(t: RoundTranscript) -> RoundTranscript:
    dropped = t.committed.members[0]
    return dataclasses.replace(t, share_submissions=tuple(s for s in t.share_submissions if s.member != dropped))


def _survivor_twice(t: RoundTranscript) -> RoundTranscript:
    return dataclasses.replace(
        t, survivors=t.survivors.model_copy(update={"members": (*t.survivors.members, t.survivors.members[0])})
    )


def _vector_of_a_non_survivor(t: RoundTranscript) -> RoundTranscript:
    """A vector logged for a member that shared its secrets but sent no masked vector in time."""
    ghost = t.masked[0].model_copy(update={"member": "hotline-08"})
    return dataclasses.replace(t, masked=(*t.masked, ghost))


def _reveal_from_outside_the_roster(t: RoundTranscript) -> RoundTranscript:
    stranger = UnmaskReveal.model_validate(t.reveals[0].model_dump() | {"member": "hotline-99"})
    return dataclasses.replace(t, reveals=(*t.reveals, stranger))


def _malformed_revealed_share(t: RoundTranscript) -> RoundTranscript:
    reveal = t.reveals[0]
    short = reveal.shares[0].model_copy(update={"share": b64encode(bytes(SHARE_SIZE - 1))})
    return dataclasses.replace(
        t, reveals=(reveal.model_copy(update={"shares": (short, *reveal.shares[1:])}), *t.reveals[1:])
    )


def _short_masked_vector(t: RoundTranscript) -> RoundTranscript:
    first = t.masked[0].model_copy(update={"masked": b64encode(pack([1, 2]))})
    return dataclasses.replace(t, masked=(first, *t.masked[1:]))


def _changed_submission(t: RoundTranscript, member: str, **update: str) -> RoundTranscript:
    submissions = tuple(s.model_copy(update=update) if s.member == member else s for s in t.share_submissions)
    return dataclasses.replace(t, share_submissions=submissions)


def _other_self_mask_commitment(t: RoundTranscript) -> RoundTranscript:
    return _changed_submission(t, t.survivors.member_ids[0], self_mask_commitment=b64encode(bytes(32)))


def _other_agreement_key_of_a_dropped_member(t: RoundTranscript) -> RoundTranscript:
    other = AgreementKey(bytes([7]) * 32).public_key.to_text()
    return _changed_submission(t, "hotline-08", agreement_key=other)


def _small_order_agreement_key_of_a_dropped_member(t: RoundTranscript) -> RoundTranscript:
    return _changed_submission(t, "hotline-08", agreement_key="x25519:" + b64encode(bytes(32)))


@pytest.mark.parametrize(
    ("tamper", "rule", "detail"),
    [
        (
            _vector_of_another_committed_set,
            "chain-broken",
            "a masked vector or the survivor set names another committed",
        ),
        (_committed_without_share_submission, "not-subset", "the committed set names a member outside the roster"),
        (_committed_without_share_submission, "reconstruction-failed", "missing-vector: the committed set names"),
        (_survivor_twice, "not-subset", "the survivor set names a member twice"),
        (_vector_of_a_non_survivor, "masked-vector-mismatch", "a masked vector of hotline-08 is logged, but it is not"),
        (_reveal_from_outside_the_roster, "reveal-from-non-survivor", "hotline-99 revealed shares but is not a surv"),
        (_reveal_from_outside_the_roster, "reconstruction-failed", "share-inconsistent: hotline-99 revealed shares "),
        (_malformed_revealed_share, "reconstruction-failed", "share-inconsistent: hotline-00 revealed a malformed"),
        (_short_masked_vector, "reconstruction-failed", "missing-vector: hotline-00's masked vector: "),
        (_other_self_mask_commitment, "reconstruction-failed", "commitment-mismatch: hotline-00's rebuilt self-mask"),
        (_other_agreement_key_of_a_dropped_member, "reconstruction-failed", "agreement-key-mismatch: hotline-08's"),
        (
            _small_order_agreement_key_of_a_dropped_member,
            "reconstruction-failed",
            "the log does not hold what the sum needs: the X25519 public key",
        ),
    ],
)
def test_each_broken_link_is_named_with_its_detail(
    honest: Round, tamper: Callable[[RoundTranscript], RoundTranscript], rule: str, detail: str
) -> None:
    failures = check_transcript(tamper(honest.transcript()))
    assert any(f.rule == rule and f.detail.startswith(detail) for f in failures), failures
