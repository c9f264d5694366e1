# SPDX-License-Identifier: Apache-2.0
"""Attack on a secure round (issue 18): the hub claims a live member dropped, to have the other members reveal its
agreement secret and so unmask its vector.

* The member whose vector the survivor set leaves out refuses to reveal anything (``own-vector-missing``).
* ``tipshare-audit verify`` names the hub's lie when the log shows it: the member's masked entry is in the log, but
  not in the survivor set (``survivor-omits-masked``, naming the member).
* A hub that never logged the masked vector leaves the auditor nothing to see: the log is then that of a member that
  dropped, and the round re-adds soundly. (What the member knows, the auditor cannot: the member's refusal is its
  defence there, and its signed receipt of the masked entry is its evidence.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.auditkit import HUB_URL, Wire, audit, run_cli
from tests.support.hubs import HubUnderTest, start_hub
from tests.support.round_members import GROUP, PERIOD, enroll_members
from tests.support.roundlog import BuiltRound, append_round, build_round, round_entries

VICTIM = "hotline-02"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    yield from start_hub(tmp_path / "hub")


def _attacked(hub: HubUnderTest) -> BuiltRound:
    members = enroll_members(hub, 8)
    hub.clock.advance(minutes=5)
    built = build_round(hub, members, threshold=5, claim_dropped=(VICTIM,))
    assert VICTIM not in built.survivors.member_ids
    assert built.refused == {VICTIM: "own-vector-missing"}  # the member refuses
    # every other survivor revealed the victim's agreement secret share, as the rules tell it for a dropped member
    assert all(any(s.owner == VICTIM and s.kind == "agreement" for s in r.shares) for r in built.reveals.values())
    return built


def test_attack_a_live_member_claimed_dropped_is_named_when_the_log_shows_its_vector(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    append_round(hub, round_entries(hub, _attacked(hub)))

    run = audit(hub, tmp_path / "state", "--log-key", hub.log_key.vkey)

    assert run.code == 1, run.out + run.err
    [found] = run.failures("rounds")
    assert found["keys"] == {"group": GROUP, "period": PERIOD, "round": "0", "rule": "survivor-omits-masked"}
    assert found["hotline_id"] == VICTIM
    assert found["message"] == (
        f"round 0 of {GROUP} for {PERIOD}, member {VICTIM}: the survivor set omits a logged masked vector"
    )
    assert run.document["rounds"]["re_added"] == 0
    # said in the auditor's language
    argv = [
        "--lang",
        "uk",
        "verify",
        "--hub",
        HUB_URL,
        "--token",
        hub.tokens["auditor"],
        "--state",
        str(tmp_path / "uk"),
    ]
    ukrainian = run_cli(argv, wire=Wire(hub), clock=hub.clock)
    assert ukrainian.code == 1
    assert (
        f"раунд 0 групи {GROUP} за {PERIOD}, учасник {VICTIM}: множина тих, хто залишився, пропускає" in ukrainian.out
    )
    assert "раунди" in ukrainian.out


def test_attack_a_vector_the_hub_never_logged_leaves_nothing_to_name(hub: HubUnderTest, tmp_path: Path) -> None:
    append_round(hub, round_entries(hub, _attacked(hub), masked=False))

    run = audit(hub, tmp_path / "state", "--log-key", hub.log_key.vkey)

    # Nothing about the round to name: its transcript is sound. (The log was written past the hub, whose statistics
    # therefore omit the round's sum; the auditor, which counts it as the hub should, names only that.)
    assert {f["check"] for f in run.document["failures"]} <= {"statistics", "estimates"}, run.out + run.err
    assert run.document["rounds"]["findings"] == 0
    assert run.document["rounds"]["re_added"] == 1
