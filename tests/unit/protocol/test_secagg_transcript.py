# SPDX-License-Identifier: Apache-2.0
"""The auditor's check of a round: passes on the honest round, names each tampering."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

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
