# SPDX-License-Identifier: Apache-2.0
"""The hub's messages: roster order, refusals of what is not a member's own, and the result from the log."""

from __future__ import annotations

import pytest

from protocol.errors import SecureAggregationError
from protocol.secagg.coordinator import make_committed_set, make_result, make_survivors
from protocol.secagg.messages import digest
from tests.unit.protocol.secagg_round import Round, issue_round, make_roster, masked_step, share_step


def test_committed_and_survivor_sets_follow_roster_order() -> None:
    rnd = issue_round(length=2)
    assert rnd.committed is not None
    assert rnd.survivors is not None
    assert list(rnd.committed.members) == sorted(rnd.committed.members, key=rnd.roster.index)
    reversed_masked = dict(reversed(list(rnd.masked.items())))
    assert make_survivors(rnd.committed, reversed_masked) == rnd.survivors


def test_a_submission_held_under_another_name_is_refused() -> None:
    roster, sealing = make_roster(4, threshold=3, length=2)
    rnd = Round(roster=roster, sealing=sealing)
    share_step(rnd)
    swapped = dict(rnd.submissions) | {"hotline-00": rnd.submissions["hotline-01"]}
    with pytest.raises(SecureAggregationError, match="not hotline-00's for this roster"):
        make_committed_set(roster, swapped)
    masked_step(rnd)
    assert rnd.committed is not None
    with pytest.raises(SecureAggregationError, match="not a committed member's own"):
        make_survivors(rnd.committed, dict(rnd.masked) | {"hotline-00": rnd.masked["hotline-02"]})


def test_the_result_ignores_reveals_decided_from_another_survivor_set() -> None:
    rnd = issue_round(length=2)
    assert rnd.committed is not None
    assert rnd.survivors is not None
    assert rnd.result is not None
    stray = rnd.reveals[0].model_copy(update={"survivors": "sha256:" + "3" * 64, "shares": ()})
    result = make_result(
        roster=rnd.roster,
        committed=rnd.committed,
        submissions=rnd.submissions,
        survivors=rnd.survivors,
        masked=rnd.masked,
        reveals=[stray, *rnd.reveals],
    )
    assert result == rnd.result
    assert result.survivors == digest(rnd.survivors)
