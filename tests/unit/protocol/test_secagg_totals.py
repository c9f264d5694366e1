# SPDX-License-Identifier: Apache-2.0
"""The round's table totals against the survivors' one-cell totals (:mod:`protocol.secagg.totals`): honest rounds
are not flagged (the noise drawn by the node's own sampler), an inflated vector is, a round whose survivors did not
declare noise and totals is not checkable, and the masked vector's bytes without the new fields are unchanged."""

from __future__ import annotations

import doctest
import hashlib
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import protocol.secagg.totals as totals_module
from node.noise import NoisePlan, TableCalibration, add_noise
from protocol.canonical import canonical_bytes
from protocol.crypto import AgreementKey
from protocol.errors import SecureAggregationError
from protocol.messages import b64encode
from protocol.secagg import coordinator
from protocol.secagg.encoding import DEFAULT_OFFSET, pack
from protocol.secagg.layout import RoundLayout, taxonomy_ref
from protocol.secagg.member import make_masked_submission
from protocol.secagg.messages import MaskedSubmission, ShareNoise, TableTotal, digest
from protocol.secagg.totals import (
    FALSE_ALARM,
    TotalsCheck,
    check_round_totals,
    check_totals,
    difference_noise,
    tolerance,
)
from protocol.taxonomy import builtin_taxonomy
from tests.unit.protocol.secagg_round import GROUP, PERIOD, ROUND, Round, drbg, member_ids, share_step, unmask_step

V2 = builtin_taxonomy(2)


def _draws(scale: float, n: int) -> list[int]:
    """``n`` independent discrete Gaussians of σ ``scale``, from the node's own (OpenDP's exact) sampler."""
    plan = NoisePlan("discrete_gaussian", (TableCalibration("t", scale, 1, 1, Decimal(1)),))
    return list(add_noise(plan, {"t": [0] * n})["t"])


def _honest_rounds(
    counts: dict[str, list[int]], shares: dict[str, float], totals: dict[str, float], draws: int
) -> list[tuple[list[int], dict[str, tuple[int, str]]]]:
    """``draws`` honest rounds of one table: the round's cells and each survivor's (total, σ), every survivor's
    share and total drawn fresh."""
    cells = len(next(iter(counts.values())))
    share_noise = {m: _draws(shares[m], cells * draws) for m in counts}
    total_noise = {m: _draws(totals[m], draws) for m in counts}
    rounds = []
    for d in range(draws):
        summed = [0] * cells
        declared = {}
        for m, true in counts.items():
            own = share_noise[m][d * cells : (d + 1) * cells]
            summed = [s + c + z for s, c, z in zip(summed, true, own, strict=True)]
            declared[m] = (sum(true) + total_noise[m][d], repr(totals[m]))
        rounds.append((summed, declared))
    return rounds


def _check(
    summed: list[int], declared: dict[str, tuple[int, str]], shares: dict[str, float], **kwargs: float
) -> TotalsCheck:
    return check_totals(
        {"t": summed},
        {m: {"t": repr(shares[m])} for m in declared},
        {m: {"t": total} for m, total in declared.items()},
        **kwargs,
    )


def test_module_examples() -> None:
    assert doctest.testmod(totals_module, raise_on_error=True).attempted > 0


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    survivors=st.integers(min_value=1, max_value=12),
    cells=st.integers(min_value=1, max_value=60),
)
def test_honest_rounds_are_never_flagged(data: st.DataObject, survivors: int, cells: int) -> None:
    """60 examples of 8 rounds, each a table checked at 10⁻⁶: a spurious failure has a chance below 5·10⁻⁴."""
    members = member_ids(survivors)
    scale = st.floats(min_value=0.5, max_value=8.0)
    shares = {m: data.draw(scale, label=f"share σ of {m}") for m in members}
    totals = {m: data.draw(st.floats(min_value=5.0, max_value=200.0), label=f"total σ of {m}") for m in members}
    counts = {m: data.draw(st.lists(st.integers(0, 40), min_size=cells, max_size=cells)) for m in members}
    for summed, declared in _honest_rounds(counts, shares, totals, draws=8):
        check = _check(summed, declared, shares)
        assert check.checkable
        assert check.findings == (), check


def test_the_tolerance_holds_the_stated_rate_and_no_more() -> None:
    """At a loose rate the honest flags can be counted: about the rate (the model of D's noise is the right one:
    leaving out the totals' noise or a survivor's shares would flag far more), never much above it."""
    counts = {m: [3] * 30 for m in member_ids(6)}
    shares = dict(zip(counts, (1.2, 1.2, 2.5, 3.0, 0.8, 1.9), strict=True))
    totals = dict(zip(counts, (30.0, 45.5, 30.0, 60.0, 22.0, 38.0), strict=True))
    rounds = _honest_rounds(counts, shares, totals, draws=2000)
    flagged = sum(1 for summed, declared in rounds if _check(summed, declared, shares, false_alarm=0.05).findings)
    assert 0.02 * 2000 <= flagged <= 0.08 * 2000  # expected about 100 (the lattice keeps it at or below 5 %)


def test_a_member_inflating_its_vector_by_a_few_tolerances_is_flagged() -> None:
    counts = {m: [2] * 14 for m in member_ids(8)}
    shares = dict.fromkeys(counts, 2.75)
    totals = dict.fromkeys(counts, 77.2)
    noise = difference_noise([repr(s) for s in shares.values()], [repr(t) for t in totals.values()], 14)
    allowed = tolerance(noise)
    assert allowed == tolerance(noise, FALSE_ALARM) > 0
    for summed, declared in _honest_rounds(counts, shares, totals, draws=20):
        inflated = [summed[0] + 3 * allowed, *summed[1:]]  # hotline-00 adds 3 tolerances to one cell
        spread = [c + (allowed if i % 2 else 0) for i, c in enumerate(summed)]  # or 7 tolerances over 7 cells
        deflated = [summed[0] - 3 * allowed, *summed[1:]]
        for cells in (inflated, spread, deflated):
            [finding] = _check(cells, declared, shares).findings
            assert finding.table == "t"
            assert abs(finding.difference) > finding.tolerance == allowed
        moved = [summed[0] + 5 * allowed, summed[1] - 5 * allowed, *summed[2:]]  # what the check cannot see
        assert _check(moved, declared, shares).findings == ()


def test_missing_noise_or_totals_make_the_round_not_checkable() -> None:
    noise = {"a": {"t": "2.0"}, "b": {"t": "2.0"}}
    check = check_totals({"t": [1, 2]}, noise, {"a": {"t": (3, "30.0")}})
    assert not check.checkable
    assert check.tables == ()
    assert check.findings == ()
    assert check.not_checkable is not None
    assert "b" in check.not_checkable
    other = check_totals({"t": [1, 2]}, noise, {"a": {"t": (3, "30.0")}, "b": {"u": (0, "30.0")}})
    assert other.not_checkable is not None
    assert "not the round's tables" in other.not_checkable


# ------------------------------------------------------------------------------------------- from the messages

TABLES = ("persons_total", "persons_exploitation_group")


def _round(*, declare: dict[str, tuple[bool, bool]] | None = None, inflate: int = 0, scaling: int = 1) -> Round:
    """A round of 5 over two v2 tables (1 + 5 cells); each member declares noise and totals (unless ``declare``
    says otherwise); ``hotline-01`` adds ``inflate`` to its first cell beyond what its total says."""
    layout = RoundLayout(V2, TABLES)
    rng = drbg("totals")
    sealing = {m: AgreementKey(rng(32)) for m in member_ids(5)}
    roster = coordinator.make_roster(
        group=GROUP,
        period=PERIOD,
        round_number=ROUND,
        threshold=3,
        taxonomy=taxonomy_ref(V2),
        tables=TABLES,
        vector_length=layout.length,
        offset=DEFAULT_OFFSET,
        members=[(m, sealing[m].public_key.to_text()) for m in member_ids(5)],
        scaling=scaling,
    )
    rnd = Round(roster=roster, sealing=sealing)
    fine = str(2.5 * scaling)  # a scaled round's shares are on the γ-times finer lattice
    share_step(rnd)
    assert rnd.committed is not None
    for m in rnd.committed.members:
        true = {"persons_total": [12], "persons_exploitation_group": [4, 3, 2, 2, 1]}
        cells = {
            t: [scaling * c + z for c, z in zip(v, _draws(float(fine), len(v)), strict=True)] for t, v in true.items()
        }
        if m == "hotline-01":
            cells["persons_total"][0] += scaling * inflate
        with_noise, with_totals = (declare or {}).get(m, (True, True))
        rnd.masked[m] = make_masked_submission(
            layout.vector(cells),
            roster=roster,
            committed=rnd.committed,
            submissions=rnd.submissions,
            member=m,
            secrets=rnd.secrets[m],
            noise=dict.fromkeys(TABLES, fine) if with_noise else None,
            totals={t: (sum(v) + _draws(60.0, 1)[0], "60.0") for t, v in true.items()} if with_totals else None,
        )
    rnd.survivors = coordinator.make_survivors(rnd.committed, rnd.masked)
    unmask_step(rnd)
    return rnd


def _check_round(rnd: Round) -> TotalsCheck:
    assert rnd.survivors is not None
    assert rnd.result is not None
    return check_round_totals(
        roster=rnd.roster, survivors=rnd.survivors, masked=rnd.masked, result=rnd.result, taxonomy=V2
    )


def test_a_round_from_its_messages_is_checked_table_by_table() -> None:
    honest = _check_round(_round())
    assert [c.table for c in honest.tables] == list(TABLES)
    assert honest.findings == ()
    tolerance_total = honest.tables[0].tolerance  # √5 · √(2.5² + 60²) · 4.9 ≈ 660
    assert 600 < tolerance_total < 700
    [finding] = _check_round(_round(inflate=3 * int(tolerance_total))).findings
    assert finding.table == "persons_total"


def test_a_scaled_round_is_checked_on_its_sum_divided_by_the_factor() -> None:
    honest = _check_round(_round(scaling=15))
    assert honest.findings == ()
    # The shares of σ 37.5 on the fine lattice are σ 2.5 on the counts: the tolerance is the unscaled round's.
    tolerance_total = honest.tables[0].tolerance
    assert 600 < tolerance_total < 700
    assert tolerance_total.denominator in (1, 3, 5, 15)  # D lies on the lattice of 1/15
    text = honest.tables[0].tolerance_text  # as the auditor words a finding: whole, or to two decimals
    assert text == (str(int(tolerance_total)) if tolerance_total.denominator == 1 else f"{float(tolerance_total):.2f}")
    [finding] = _check_round(_round(inflate=3 * int(tolerance_total), scaling=15)).findings
    assert finding.table == "persons_total"
    assert abs(finding.difference) > 2 * int(tolerance_total)
    assert finding.difference_text.lstrip("-").replace(".", "").isdigit()


def test_a_round_whose_survivor_declared_no_totals_or_no_noise_is_not_checkable() -> None:
    for declared, absent in (((True, False), "totals"), ((False, True), "noise"), ((False, False), "noise and totals")):
        check = _check_round(_round(declare={"hotline-03": declared}))
        assert check.not_checkable == f"survivor hotline-03 declared no {absent} with its masked vector"


def test_the_messages_must_belong_together() -> None:
    rnd = _round()
    assert rnd.survivors is not None
    assert rnd.result is not None
    other = dict(rnd.masked)
    other["hotline-02"] = other["hotline-02"].model_copy(update={"totals": other["hotline-04"].totals})
    with pytest.raises(SecureAggregationError, match="hotline-02 is not the one logged"):
        check_round_totals(roster=rnd.roster, survivors=rnd.survivors, masked=other, result=rnd.result, taxonomy=V2)


# ------------------------------------------------------------------------------------------- the message

_FIELDS = {
    "type": "secagg-masked",
    "version": "tipshare/1",
    "group": GROUP,
    "period": PERIOD,
    "round": ROUND,
    "member": "hotline-00",
    "committed": "sha256:" + "ab" * 32,
    "masked": b64encode(pack([1, 2, 3])),
}
#: The bytes of a masked vector as the code before ``noise`` and ``totals`` made them, and their digest: committed
#: here so that neither can drift.
_OLD_BYTES = (
    b'{"committed":"sha256:abababababababababababababababababababababababababababababababab","group":"region-eu-east",'
    b'"masked":"AQAAAAAAAAACAAAAAAAAAAMAAAAAAAAA","member":"hotline-00","period":"2026-10","round":1,'
    b'"type":"secagg-masked","version":"tipshare/1"}'
)
_OLD_DIGEST = "sha256:71a868acc4ae27e10bfe29e1121797ceade3cddc1184a61b20dbdc601a8cf043"


def test_a_masked_vector_without_noise_and_totals_keeps_its_bytes() -> None:
    old = MaskedSubmission(**_FIELDS)
    assert old.canonical_bytes() == canonical_bytes(_FIELDS) == _OLD_BYTES
    assert b"noise" not in old.canonical_bytes()
    assert b"totals" not in old.canonical_bytes()
    assert digest(old) == "sha256:" + hashlib.sha256(_OLD_BYTES).hexdigest() == _OLD_DIGEST


def test_each_optional_field_is_left_out_only_when_absent() -> None:
    noise = (ShareNoise(table="persons_total", scale="2.5"),)
    totals = (TableTotal(table="persons_total", value=-3, scale="60.0"),)
    only_noise = MaskedSubmission(**_FIELDS, noise=noise)
    only_totals = MaskedSubmission(**_FIELDS, totals=totals)
    both = MaskedSubmission(**_FIELDS, noise=noise, totals=totals)
    assert b'"noise"' in only_noise.canonical_bytes()
    assert b'"totals"' not in only_noise.canonical_bytes()
    assert b'"totals":[{"scale":"60.0","table":"persons_total","value":-3}]' in only_totals.canonical_bytes()
    assert b'"noise"' not in only_totals.canonical_bytes()
    assert MaskedSubmission.model_validate_json(both.canonical_bytes()) == both
    assert len({digest(m) for m in (only_noise, only_totals, both)}) == 3


def test_a_table_total_appears_once() -> None:
    total = TableTotal(table="persons_total", value=5, scale="60.0")
    with pytest.raises(ValueError, match="a table's total appears twice"):
        MaskedSubmission(**_FIELDS, totals=(total, total))


def test_a_member_declares_totals_for_every_table_of_the_roster() -> None:
    rnd = _round()
    assert rnd.committed is not None
    with pytest.raises(SecureAggregationError, match="totals declared must name every table"):
        make_masked_submission(
            [0] * rnd.roster.vector_length,
            roster=rnd.roster,
            committed=rnd.committed,
            submissions=rnd.submissions,
            member="hotline-00",
            secrets=rnd.secrets["hotline-00"],
            totals={"persons_total": (1, "60.0")},
        )


def test_the_noise_of_d_is_every_share_over_every_cell_and_every_total() -> None:
    noise = difference_noise(["2.0", "3.0"], ["30.0", "40.0"], 10)
    assert noise.lattice
    assert noise.terms == 22
    assert noise.variance == pytest.approx(10 * (4 + 9) + 900 + 1600, rel=1e-6)
    assert noise.groups[0][0] == Fraction(1)
    with pytest.raises(SecureAggregationError):
        difference_noise(["2.0"], ["30.0"], 0)


def test_a_result_of_another_survivor_set_cannot_be_checked() -> None:
    rnd = _round()
    assert rnd.survivors is not None
    assert rnd.result is not None
    other = rnd.result.model_copy(update={"survivors": "sha256:" + "3" * 64})
    with pytest.raises(SecureAggregationError, match="the result names another survivor set than the one given"):
        check_round_totals(roster=rnd.roster, survivors=rnd.survivors, masked=rnd.masked, result=other, taxonomy=V2)


def test_a_table_noise_share_appears_once() -> None:
    share = ShareNoise(table="persons_total", scale="2.5")
    assert MaskedSubmission(**_FIELDS, noise=(share,)).noise == (share,)
    with pytest.raises(ValueError, match="a table's noise share appears twice"):
        MaskedSubmission(**_FIELDS, noise=(share, share))
