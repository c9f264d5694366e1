# SPDX-License-Identifier: Apache-2.0
"""Each tampering with a round's log is caught and named by ``tipshare-audit verify`` (group, period, round, member
and rule): a bad signature, a roster sealing key no key event enrolled, a result other than the re-added sum, a
member with both secrets revealed, a reveal against a second survivor set, and a failure the log does not bear out;
and a member whose vector adds more than its one-cell total says, named by the table. The logs are built in the test
(:mod:`tests.support.roundlog`), as a dishonest hub (or member) could write them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from protocol.crypto import AgreementKey
from protocol.messages import SecaggFailedEntry, SecaggMemberEntry, format_timestamp
from protocol.secagg import coordinator
from protocol.secagg.member import UnmaskDecision, decide_unmask
from protocol.secagg.signed import step_entry
from protocol.secagg.totals import difference_noise, tolerance
from tests.support.auditkit import Run, audit
from tests.support.hubs import HubUnderTest, start_hub
from tests.support.round_members import GROUP, PERIOD, TABLES, drbg, enroll_members
from tests.support.roundlog import (
    SHARE_SCALE,
    TOTAL_SCALE,
    BuiltRound,
    append_round,
    build_round,
    reveal_for,
    round_entries,
    signed_entry,
)

WHERE = {"group": GROUP, "period": PERIOD, "round": "0"}
#: The cells of the one table the built rounds add (``cases_opened``).
CELLS = 42


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    yield from start_hub(tmp_path / "hub")


def _built(hub: HubUnderTest, **kwargs: Any) -> BuiltRound:
    members = enroll_members(hub, 8)
    hub.clock.advance(minutes=5)
    return build_round(hub, members, threshold=5, drop_shares=("hotline-07",), drop_unmask=("hotline-05",), **kwargs)


def _audit(hub: HubUnderTest, tmp_path: Path) -> Run:
    return audit(hub, tmp_path / "state", "--log-key", hub.log_key.vkey)


def _found(run: Run) -> dict[str, set[str | None]]:
    """Each rule found, with the members named."""
    assert run.code == 1, run.out + run.err
    found: dict[str, set[str | None]] = {}
    for failure in run.failures("rounds"):
        keys = dict(failure["keys"])
        assert {k: keys.pop(k) for k in WHERE} == WHERE
        found.setdefault(keys["rule"], set()).add(failure["hotline_id"])
    return found


def test_a_built_round_verifies(hub: HubUnderTest, tmp_path: Path) -> None:
    append_round(hub, round_entries(hub, _built(hub)))
    run = _audit(hub, tmp_path)
    # The round's checks all pass. (This log was written past the hub, whose statistics therefore omit the round's
    # sum: the auditor, which counts it as the hub should have, names that, and nothing else.)
    assert {f["check"] for f in run.document["failures"]} <= {"statistics", "estimates"}, run.out
    assert run.document["rounds"]["findings"] == 0
    assert run.document["rounds"]["re_added"] == 1
    assert run.document["rounds"]["published"] == 1  # asked for; this hub publishes no such round
    # Its survivors declared their noise and totals: the table totals agree within tolerance.
    assert (run.document["rounds"]["totals_checked"], run.document["rounds"]["totals_flagged"]) == (1, 0)


def test_a_member_inflating_its_vector_beyond_its_total_is_named_by_the_table(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    survivors = 7  # of 8: hotline-07 never shares
    allowed = int(tolerance(difference_noise([SHARE_SCALE] * survivors, [TOTAL_SCALE] * survivors, CELLS)))
    append_round(hub, round_entries(hub, _built(hub, inflate={"hotline-02": 3 * allowed})))

    run = _audit(hub, tmp_path)
    found = _found(run)

    assert found == {"totals-mismatch": {None}}  # the vectors are masked: no one can say whose cells are off
    [failure] = run.failures("rounds")
    assert failure["keys"]["table"] == TABLES[0]
    assert f"beyond ±{allowed}" in failure["message"]
    assert TABLES[0] in failure["message"]
    assert run.document["rounds"]["re_added"] == 1  # the sum re-adds exactly: it is what the members sent
    assert (run.document["rounds"]["totals_checked"], run.document["rounds"]["totals_flagged"]) == (1, 1)


def test_a_round_whose_members_declared_no_totals_is_not_checkable(hub: HubUnderTest, tmp_path: Path) -> None:
    append_round(hub, round_entries(hub, _built(hub, declare=False, inflate={"hotline-02": 10**6})))
    run = _audit(hub, tmp_path)
    assert run.code == 0, run.out + run.err  # nothing to hold the vectors to
    assert run.document["rounds"]["totals_unchecked"] == 1
    assert run.document["rounds"]["totals_checked"] == 0


def test_a_member_entry_with_a_bad_signature_is_named(hub: HubUnderTest, tmp_path: Path) -> None:
    built = _built(hub)
    leaves = round_entries(hub, built)
    genuine = leaves[("masked", "hotline-02")]
    other = leaves[("masked", "hotline-03")]
    assert isinstance(genuine, SecaggMemberEntry)
    assert isinstance(other, SecaggMemberEntry)
    leaves[("masked", "hotline-02")] = genuine.model_copy(update={"signature": other.signature})
    append_round(hub, leaves)

    found = _found(_audit(hub, tmp_path))

    assert found["bad-signature"] == {"hotline-02"}
    # left out of the round, the vector the survivor set names is missing
    assert found["masked-vector-mismatch"] == {"hotline-02"}


def test_a_roster_with_a_sealing_key_no_key_event_enrolled_is_named(hub: HubUnderTest, tmp_path: Path) -> None:
    hubs_own = AgreementKey(drbg("the hub's own sealing key")(32)).public_key.to_text()
    append_round(hub, round_entries(hub, _built(hub, sealing={"hotline-04": hubs_own})))

    found = _found(_audit(hub, tmp_path))

    assert found == {"sealing-key-mismatch": {"hotline-04"}}  # the round itself adds up: the roster is the lie


def test_a_result_other_than_the_re_added_sum_is_named(hub: HubUnderTest, tmp_path: Path) -> None:
    built = _built(hub)
    leaves = round_entries(hub, built)
    forged = built.result.model_copy(update={"sum": (built.result.sum[0] - 3, *built.result.sum[1:])})
    leaves[("result", None)] = step_entry(forged, effective_at=format_timestamp(hub.clock()))
    append_round(hub, leaves)

    run = _audit(hub, tmp_path)
    found = _found(run)

    assert found == {"sum-mismatch": {None}}
    assert "differs in 1 cells" in run.failures("rounds")[0]["message"].replace("from the log's ", "")
    assert run.document["rounds"]["re_added"] == 0


def test_a_member_with_both_secrets_revealed_is_named(hub: HubUnderTest, tmp_path: Path) -> None:
    built = _built(hub)
    survivor = "hotline-02"
    decision = decide_unmask(
        roster=built.roster,
        committed=built.committed,
        survivors=built.survivors,
        member="hotline-01",
        own=built.masked["hotline-01"],
    )
    both = UnmaskDecision(self_mask_of=decision.self_mask_of, agreement_of=(*decision.agreement_of, survivor))
    leaves = round_entries(hub, built)
    reveal = reveal_for(
        "hotline-01", both, built.roster, built.survivors, built.submissions, built.members, built.secrets
    )
    leaves[("reveal", "hotline-01")] = signed_entry(hub, reveal, built.members["hotline-01"])
    append_round(hub, leaves)

    found = _found(_audit(hub, tmp_path))

    assert found["both-secrets-revealed"] == {survivor}
    assert found["wrong-share-kind"] == {"hotline-01"}


def test_a_reveal_against_a_second_survivor_set_is_named(hub: HubUnderTest, tmp_path: Path) -> None:
    built = _built(hub)
    second = coordinator.make_survivors(built.committed, {m: v for m, v in built.masked.items() if m != "hotline-03"})
    decision = decide_unmask(
        roster=built.roster,
        committed=built.committed,
        survivors=second,
        member="hotline-01",
        own=built.masked["hotline-01"],
    )
    reveal = reveal_for("hotline-01", decision, built.roster, second, built.submissions, built.members, built.secrets)
    leaves = round_entries(hub, built)
    leaves[("reveal", "hotline-01")] = signed_entry(hub, reveal, built.members["hotline-01"])
    append_round(hub, leaves)

    found = _found(_audit(hub, tmp_path))

    assert found["survivor-set-inconsistent"] == {"hotline-01"}
    assert found["both-secrets-revealed"] == {"hotline-03"}  # the second set had it dropped: its agreement secret


def test_a_failure_the_log_does_not_bear_out_is_named(hub: HubUnderTest, tmp_path: Path) -> None:
    built = _built(hub)
    leaves = round_entries(hub, built)
    kept = {label: leaf for label, leaf in leaves.items() if label[0] in ("roster", "shares")}
    kept[("failed", None)] = SecaggFailedEntry(
        type="log_entry",
        version="tipshare/1",
        kind="secagg_failed",
        group=GROUP,
        period=PERIOD,
        round=0,
        step="committed",
        rule="below-threshold",
        reason="2 members shared their secrets, fewer than the threshold 5",
        effective_at=format_timestamp(hub.clock()),
    )
    append_round(hub, kept)

    run = _audit(hub, tmp_path)
    found = _found(run)

    assert found == {"failure-unfounded": {None}}  # 7 members shared
    assert run.document["rounds"]["failed"] == 1
