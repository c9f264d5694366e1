# SPDX-License-Identifier: Apache-2.0
"""A round's sum as the survivors' release (:mod:`protocol.secagg.release`): split by table, with each survivor's
declared noise share; a round one survivor declared no noise for answers nothing."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from protocol.errors import SecureAggregationError
from protocol.secagg.layout import taxonomy_ref
from protocol.secagg.messages import MaskedSubmission, RoundRoster
from protocol.secagg.release import NoNoiseDeclared, pooled_terms, round_release, rounded_cell
from protocol.taxonomy import builtin_taxonomy
from tests.unit.protocol.secagg_round import (
    Round,
    make_roster,
    masked_step,
    member_ids,
    member_values,
    share_step,
    unmask_step,
)

TAXONOMY = builtin_taxonomy(2)
TABLES = ("persons_total", "cases_opened")


def _round(noise: dict[str, dict[str, str]] | None, *, scaling: int = 1) -> Round:
    roster, sealing = make_roster(
        6, threshold=4, length=1 + 42, taxonomy=taxonomy_ref(TAXONOMY), tables=TABLES, label="release", scaling=scaling
    )
    rnd = Round(roster=roster, sealing=sealing)
    share_step(rnd)
    masked_step(rnd, skip=("hotline-05",), declared=noise)
    unmask_step(rnd)
    return rnd


def _declared() -> dict[str, dict[str, str]]:
    return {m: {"persons_total": "2.5", "cases_opened": "1.5" if m < "hotline-03" else "1.75"} for m in member_ids(6)}


def test_the_sum_splits_into_the_roster_s_tables_with_every_survivor_s_noise() -> None:
    rnd = _round(_declared())
    assert rnd.survivors is not None
    assert rnd.result is not None
    release = round_release(
        roster=rnd.roster, survivors=rnd.survivors, masked=rnd.masked, result=rnd.result, taxonomy=TAXONOMY
    )
    assert release.tables == TABLES
    assert release.cells["persons_total"] == (rnd.result.sum[0],)
    assert release.cells["cases_opened"] == tuple(rnd.result.sum[1:])
    assert release.survivors == rnd.survivors.member_ids
    assert "hotline-05" not in release.noise
    assert release.terms("persons_total") == (("discrete_gaussian", "2.5", 5),)
    assert release.terms("cases_opened") == (("discrete_gaussian", "1.5", 3), ("discrete_gaussian", "1.75", 2))
    assert release.country(dict.fromkeys(release.survivors, "MD")) == "MD"
    assert release.country({**dict.fromkeys(release.survivors, "MD"), "hotline-00": "UA"}) is None
    assert release.country({}) is None


def test_a_survivor_without_a_noise_declaration_makes_the_round_answer_nothing() -> None:
    rnd = _round(None)
    assert rnd.survivors is not None
    assert rnd.result is not None
    with pytest.raises(NoNoiseDeclared, match="declared no noise"):
        round_release(
            roster=rnd.roster, survivors=rnd.survivors, masked=rnd.masked, result=rnd.result, taxonomy=TAXONOMY
        )


def test_a_masked_vector_other_than_the_logged_one_is_refused() -> None:
    rnd = _round(_declared())
    assert rnd.survivors is not None
    assert rnd.result is not None
    first = rnd.survivors.member_ids[0]
    swapped = rnd.masked[first].model_copy(update={"noise": rnd.masked[first].noise[:1]})  # type: ignore[index]
    with pytest.raises(SecureAggregationError, match="not the one logged"):
        round_release(
            roster=rnd.roster,
            survivors=rnd.survivors,
            masked={**rnd.masked, first: swapped},
            result=rnd.result,
            taxonomy=TAXONOMY,
        )


def test_a_masked_vector_without_noise_keeps_the_bytes_it_had_before_the_field() -> None:
    rnd = _round(None)
    message = next(iter(rnd.masked.values()))
    assert b'"noise"' not in message.canonical_bytes()
    assert MaskedSubmission.from_canonical(message.canonical_bytes()) == message
    declared = _round(_declared()).masked[message.member]
    assert b'"noise":[{"scale":"2.5","table":"persons_total"}' in declared.canonical_bytes()
    assert MaskedSubmission.from_canonical(declared.canonical_bytes()) == declared


def test_noise_must_name_every_roster_table_once() -> None:
    with pytest.raises(SecureAggregationError, match="every table of the roster"):
        _round({m: {"persons_total": "2.5"} for m in member_ids(6)})


def test_pooled_terms_count_members_by_scale() -> None:
    assert pooled_terms({"a": {"t": "1"}, "b": {"u": "1"}}, "t") == (("discrete_gaussian", "1", 1),)
    assert pooled_terms({}, "t") == ()


def test_a_result_of_another_survivor_set_is_refused() -> None:
    rnd = _round(_declared())
    assert rnd.survivors is not None
    assert rnd.result is not None
    other = rnd.result.model_copy(update={"survivors": "sha256:" + "3" * 64})
    with pytest.raises(SecureAggregationError, match="the result names another survivor set than the one given"):
        round_release(roster=rnd.roster, survivors=rnd.survivors, masked=rnd.masked, result=other, taxonomy=TAXONOMY)


def test_noise_declared_for_other_tables_than_the_rosters_is_refused() -> None:
    """The caller passes a roster that is not the round's: the survivors' noise names the round's tables."""
    rnd = _round(_declared())
    assert rnd.survivors is not None
    assert rnd.result is not None
    other, _ = make_roster(
        6, threshold=4, length=1, taxonomy=taxonomy_ref(TAXONOMY), tables=("persons_total",), label="release"
    )
    with pytest.raises(
        SecureAggregationError,
        match=r"survivor hotline-00 declared noise for \['cases_opened', 'persons_total'\], not the roster's tables",
    ):
        round_release(roster=other, survivors=rnd.survivors, masked=rnd.masked, result=rnd.result, taxonomy=TAXONOMY)


def test_a_scaled_round_publishes_the_true_sum_plus_its_rounded_noise_with_one_term_per_cell() -> None:
    rnd = _round(_declared(), scaling=15)
    assert rnd.survivors is not None
    assert rnd.result is not None
    release = round_release(
        roster=rnd.roster, survivors=rnd.survivors, masked=rnd.masked, result=rnd.result, taxonomy=TAXONOMY
    )
    assert release.scaling == 15
    ids = rnd.survivors.member_ids
    truth = [sum(col) for col in zip(*(member_values(m, 43)[0] for m in ids), strict=True)]
    shares = [sum(col) for col in zip(*(member_values(m, 43)[1] for m in ids), strict=True)]
    published = release.cells["persons_total"] + release.cells["cases_opened"]
    assert list(published) == [t + rounded_cell(z, 15) for t, z in zip(truth, shares, strict=True)]
    # One term for the round's cell, naming every survivor's fine share; carried by the first survivor alone.
    assert release.terms("persons_total") == (("rounded_gaussian_sum", "15:2.5x5", 1),)
    assert release.terms("cases_opened") == (("rounded_gaussian_sum", "15:1.5x3,1.75x2", 1),)
    parts = release.member_terms("cases_opened")
    assert list(parts) == list(ids)
    assert parts[ids[0]] == ("rounded_gaussian_sum", "15:1.5x3,1.75x2")
    assert all(parts[m] is None for m in ids[1:])
    plain = _round(_declared())
    assert plain.survivors is not None
    assert plain.result is not None
    unscaled = round_release(
        roster=plain.roster, survivors=plain.survivors, masked=plain.masked, result=plain.result, taxonomy=TAXONOMY
    )
    assert unscaled.member_terms("persons_total") == dict.fromkeys(ids, ("discrete_gaussian", "2.5"))


@given(st.integers(-(10**9), 10**9), st.sampled_from([3, 5, 15, 255]))
def test_a_scaled_cell_is_the_nearest_whole_number_and_shifts_with_the_count(total: int, scaling: int) -> None:
    cell = rounded_cell(total, scaling)
    assert abs(Fraction(total, scaling) - cell) < Fraction(1, 2)  # the nearest; never a tie, γ being odd
    assert rounded_cell(total + 7 * scaling, scaling) == cell + 7  # a count's γ moves the cell by exactly one
    assert rounded_cell(-total, scaling) == -cell  # symmetric


def test_a_roster_names_its_scaling_factor_only_when_it_scales() -> None:
    plain, _ = make_roster(4, threshold=3, length=1)
    assert plain.scaling is None
    assert plain.factor == 1
    assert b'"scaling"' not in plain.canonical_bytes()  # the bytes of every roster logged before the field
    scaled, _ = make_roster(4, threshold=3, length=1, scaling=15)
    assert (scaled.scaling, scaled.factor) == (15, 15)
    assert b'"scaling":15' in scaled.canonical_bytes()
    assert RoundRoster.from_canonical(scaled.canonical_bytes()) == scaled
    for bad in (1, 2, 14, 257):
        with pytest.raises(ValidationError):
            scaled.model_validate({**scaled.model_dump(), "scaling": bad})
