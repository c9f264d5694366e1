# SPDX-License-Identifier: Apache-2.0
"""``tipshare-audit verify`` and ``receipt`` against a real hub app, on an honest log.

The log (:func:`tests.support.auditkit.populate`) has four hotlines in three countries, two months, both noise
mechanisms, a correction, a rotation and a revocation; every published statistic must be recomputed exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from auditor.state import StateStore
from hub.db import read_session
from hub.models import LogCheckpoint
from protocol.messages import b64encode
from tests.support.auditkit import HUB_URL, TABLES, Wire, audit, cells, populate, rotate, run_cli, utc
from tests.support.hubs import ORIGIN, HubUnderTest, start_hub


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    for started in start_hub(tmp_path / "hub"):
        populate(started)
        yield started


def test_a_clean_log_verifies_and_prints_a_summary(hub: HubUnderTest, tmp_path: Path) -> None:
    run = audit(hub, tmp_path / "state", "--log-key", hub.log_key.vkey, as_json=False)

    assert run.code == 0, run.out + run.err
    lines = run.out.splitlines()
    assert lines[0] == "VERIFIED  hub.test.tipshare/log, checkpoint 13"
    summary = "\n".join(lines)
    assert "pinned with --log-key" in summary
    assert "13 checked (13 new, 0 from the state DIR)" in summary
    assert "6: 4 enrolment(s), 1 rotation(s), 1 revocation(s)" in summary
    assert "4 in 3 countries (MD, RO, UA)" in summary
    assert "7 of 7 valid, 6 current; periods 2026-09..2026-10 (2)" in summary
    assert "8 tables, 32 groupings" in summary
    assert "scopes region, country MD, country RO, country UA" in summary
    assert run.err == ""  # an explicitly pinned key needs no out-of-band warning


def test_the_json_report_counts_what_was_checked(hub: HubUnderTest, tmp_path: Path) -> None:
    run = audit(hub, tmp_path / "state")

    assert run.code == 0, run.out + run.err
    report = run.document
    assert report["verdict"] == "VERIFIED"
    assert report["failures"] == []
    assert report["log"]["pinned"] == "first-use"
    assert report["log"]["vkey"] == hub.log_key.vkey
    assert report["checkpoint"]["size"] == 13
    assert report["entries"] == {"total": 13, "new": 13}
    assert report["submissions"] == {"total": 7, "valid": 7, "current": 6}
    assert report["hotlines"] == ["md-a", "ro-a", "ua-a", "ua-b"]
    statistics = report["statistics"]
    # Every grouping of the region (each month's full grid of the 3 tables released: the 5 others have none),
    # then each country's totals and the full grids of the tables its hotlines released (UA 3, MD 2, RO 1).
    assert statistics["answers"] == 29 + 3 + 8 * 3 + 6
    assert statistics["rows"] > 700
    assert report["state_saved"] is True
    # Trust on first use: the fingerprint goes to stderr, with what to do about it.
    assert "Pinned the hub's log key on first use" in run.err
    assert report["log"]["fingerprint"] in run.err


def test_a_second_run_downloads_only_what_is_new_and_still_proves_consistency(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    first = audit(hub, state, "--log-key", hub.log_key.vkey, "--region-only")
    assert first.code == 0, first.out
    taxonomy = hub.context.taxonomy
    hub.clock.now = utc(2026, 11, 22, 9)
    hub.submit_cells("ro-a", "2026-09", cells(taxonomy, 8, ("persons_recruitment",)), tables=("persons_recruitment",))
    rotate(hub, "md-a")  # md-a's only key was revoked: the hub logs a new enrolment
    hub.submit_cells("md-a", "2026-10", cells(taxonomy, 9), tables=TABLES)

    wire = Wire(hub)
    second = audit(hub, state, "--region-only", wire=wire)

    assert second.code == 0, second.out
    report = second.document
    assert report["entries"] == {"total": 16, "new": 3}
    assert report["consistent_with"] == [13]
    assert report["key_events"]["enrolments"] == 5
    entries = wire.paths("/v1/log/entries")
    assert entries, "the new entries were fetched"
    assert all(int(r.url.params["start"]) >= 13 for r in entries)
    assert [(r.url.params["first"], r.url.params["second"]) for r in wire.paths("/v1/log/proof/consistency")] == [
        ("13", "16")
    ]
    assert wire.paths("/v1/taxonomy/tipshare-taxonomy/1") == []  # kept in the state DIR

    third_wire = Wire(hub)
    third = audit(hub, state, "--region-only", wire=third_wire)
    assert third.code == 0
    assert third.document["entries"] == {"total": 16, "new": 0}
    assert third_wire.paths("/v1/log/entries") == []
    assert third.document["consistent_with"] == [13]  # and 16 is the same size: equal roots, no proof needed


def test_when_the_log_moves_during_the_run_the_answers_are_checked_at_their_own_checkpoint(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    moved: list[int] = []

    def submit_once(request: httpx.Request) -> None:
        if request.url.path.startswith("/v1/stats/") and not moved:
            hub.clock.now = utc(2026, 11, 22, 9)
            receipt = hub.submit_cells("ua-a", "2026-10", cells(hub.context.taxonomy, 11), tables=TABLES, revision=2)
            moved.append(receipt.leaf_index)

    run = audit(hub, tmp_path / "state", "--region-only", wire=Wire(hub, before=submit_once))

    assert moved == [13]
    assert run.code == 0, run.out
    report = run.document
    assert report["checkpoint"]["size"] == 14
    assert report["entries"] == {"total": 14, "new": 14}
    assert report["submissions"] == {"total": 8, "valid": 8, "current": 6}


def test_a_region_answer_limited_to_some_countries_is_checked_against_those_countries(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    """A token limited to some countries sees the region as the sum of those countries (the hub says which).

    The hub issues such tokens to coordinators only; a hub answering an auditor that way is simulated here by
    serving the UA answer as the region's, with ``scope.countries``, as the hub renders a limited token's answer.
    """

    def only_ukraine(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if not request.url.path.startswith("/v1/stats/") or "country" in request.url.params:
            return response
        ukraine = hub.client.get(
            request.url.path, params={**request.url.params, "country": "UA"}, headers=request.headers
        )
        answer = ukraine.json() | {"scope": {"level": "region", "code": None, "countries": ["UA"]}}
        return httpx.Response(200, json=answer)

    run = audit(hub, tmp_path / "state", wire=Wire(hub, rewrite=only_ukraine))

    assert run.code == 0, run.out
    assert run.document["statistics"]["scopes"] == ["country UA", "region"]


def test_a_receipt_verifies_offline_and_against_the_audited_log(hub: HubUnderTest, tmp_path: Path) -> None:
    hub.clock.now = utc(2026, 11, 22, 9)
    payload = hub.release("ua-b", "2026-10", cells=cells(hub.context.taxonomy, 12), tables=TABLES, revision=2)
    receipt = hub.submit(payload)
    receipt_file = tmp_path / "2026-10-r2.json"
    receipt_file.write_bytes(receipt.canonical_bytes())
    payload_file = tmp_path / "payload.json"
    payload_file.write_bytes(payload.canonical_bytes())
    vkey = hub.log_key.vkey

    offline = run_cli(["receipt", str(receipt_file), "--hub-key", vkey, "--payload", str(payload_file), "--json"])
    assert offline.code == 0, offline.out + offline.err
    document = offline.document
    assert (document["verdict"], document["leaf_index"], document["checkpoint"]["size"]) == ("VALID", 13, 14)
    assert document["entry"]["hotline_id"] == "ua-b"
    assert document["entry"]["revision"] == 2
    assert document["payload_checked"] is True

    state = tmp_path / "state"
    assert audit(hub, state, "--log-key", vkey, "--region-only").code == 0
    human = run_cli(["receipt", str(receipt_file), "--hub-key", vkey, "--state", str(state)])
    assert human.code == 0, human.out + human.err
    assert human.out.startswith("VALID  receipt of hub.test.tipshare/log")
    assert "matches the log verified in the state DIR (entry 13, tree size 14)" in human.out

    other = tmp_path / "other-payload.json"
    other.write_bytes(hub.release("ua-b", "2026-10", tables=TABLES).canonical_bytes())
    wrong = run_cli(["receipt", str(receipt_file), "--hub-key", vkey, "--payload", str(other)])
    assert wrong.code == 1
    assert "another payload than the one submitted" in wrong.err


def test_the_hub_url_is_normalised_and_requests_are_absolute(hub: HubUnderTest, tmp_path: Path) -> None:
    wire = Wire(hub)
    args = ["verify", "--hub", HUB_URL + "/", "--token", hub.tokens["auditor"], "--state", str(tmp_path / "s")]
    run = run_cli([*args, "--region-only", "--json"], wire=wire, clock=hub.clock)
    assert run.code == 0, run.out
    assert run.document["statistics"]["scopes"] == ["region"]
    assert {str(r.url).split("/v1/")[0] for r in wire.requests} == {HUB_URL}


def test_an_answer_from_an_older_checkpoint_is_recomputed_at_that_size(hub: HubUnderTest, tmp_path: Path) -> None:
    """A lagging read replica answers from checkpoint 12 (before md-a's revocation): still exact at that size."""
    with read_session(hub.context.sessions) as session:
        older = session.get(LogCheckpoint, 12)
        assert older is not None
        reference = {"origin": ORIGIN, "size": 12, "root_hash": b64encode(older.root_hash), "note": older.note}

    def from_replica(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.url.path.startswith("/v1/stats/"):
            return httpx.Response(200, json=response.json() | {"checkpoint": reference})
        return response

    run = audit(hub, tmp_path / "state", "--region-only", wire=Wire(hub, rewrite=from_replica))

    assert run.code == 0, run.out
    assert run.document["checkpoint"]["size"] == 13
    with StateStore.open(tmp_path / "state") as store:
        assert [c.size for c in store.checkpoints()] == [12, 13]  # the replica's checkpoint was verified and kept
