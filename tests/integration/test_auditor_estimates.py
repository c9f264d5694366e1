# SPDX-License-Identifier: Apache-2.0
"""``tipshare-audit verify`` against the real hub's ``GET /v1/estimates/{unit}``: honest answers are recomputed
bit for bit from the signed submissions; an answer changed on the way (as a hostile hub would) is named.

The log: a hub publishing taxonomy version 2 and accepting version 1. Complete releases, discrete Gaussian noise:

========  =======  ==========================================================================================
hotline   country  releases
========  =======  ==========================================================================================
ua-a      UA       2026-09 version 1 (σ = 10); 2026-10 version 2 (after adopting it)
ua-b      UA       2026-09 version 2 (σ = 8); nothing in 2026-10
md-a      MD       2026-09 version 2 (σ = 12), corrected (revision 2, σ = 12) on 2026-11-06; 2026-10 version 2
========  =======  ==========================================================================================

So September mixes both versions (two classes of releases, combined by least squares) and holds a correction.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from protocol.taxonomy import Taxonomy, builtin_taxonomy
from tests.support.auditkit import Run, Wire, audit, utc, vector
from tests.support.hubs import HubUnderTest, start_hub
from tests.support.releases import make_release

pytestmark = pytest.mark.slow

V1, V2 = builtin_taxonomy(1), builtin_taxonomy(2)


def _cells(taxonomy: Taxonomy, seed: int) -> dict[str, list[int]]:
    return {name: vector(taxonomy, name, seed + i) for i, name in enumerate(sorted(taxonomy.tables))}


def _submit(hub: HubUnderTest, taxonomy: Taxonomy, hotline_id: str, period: str, seed: int, **kwargs: Any) -> None:
    key = hub.hotlines[hotline_id].key
    release = make_release(taxonomy, key, hotline_id=hotline_id, period=period, cells=_cells(taxonomy, seed), **kwargs)
    hub.submit(release)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubUnderTest]:
    for started in start_hub(tmp_path_factory.mktemp("hub"), current_taxonomy=None):
        assert started.context.taxonomy.id == V2.id
        started.clock.now = utc(2026, 8, 20, 10)
        for hotline_id, country in (("ua-a", "UA"), ("ua-b", "UA"), ("md-a", "MD")):
            started.enroll(hotline_id, country)
            started.log_loose_policy(hotline_id)  # made-up counts: 115,313 persons in ua-a's corridor
        started.clock.now = utc(2026, 10, 5, 10)
        _submit(started, V1, "ua-a", "2026-09", 1)
        _submit(started, V2, "ua-b", "2026-09", 2, scale="8")
        _submit(started, V2, "md-a", "2026-09", 3, scale="12")
        started.clock.now = utc(2026, 11, 5, 10)
        _submit(started, V2, "ua-a", "2026-10", 4)
        _submit(started, V2, "md-a", "2026-10", 5, scale="12")
        started.clock.now = utc(2026, 11, 6, 10)
        _submit(started, V2, "md-a", "2026-09", 6, scale="12", revision=2)
        started.clock.now = utc(2026, 11, 21, 12)
        yield started


@pytest.fixture(scope="module")
def honest(hub: HubUnderTest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    wire = Wire(hub)
    run = audit(hub, tmp_path_factory.mktemp("state"), "--log-key", hub.log_key.vkey, wire=wire)
    run.requests = wire.requests  # type: ignore[attr-defined]
    return run


def test_every_estimates_answer_of_an_honest_hub_is_recomputed_exactly(honest: Run) -> None:
    assert honest.code == 0, honest.out + honest.err
    report = honest.document
    assert report["failures"] == []
    estimates = report["estimates"]
    assert estimates["units"] == ["case", "contact", "person"]
    assert estimates["scopes"] == ["country MD", "country UA", "region"]
    assert estimates["refused"] == 0
    # person: total, 10 dimensions, the corridor by month and over the range; case and contact: total and 2
    # dimensions each; 3 scopes.
    assert estimates["questions"] == 13 + 3 + 3
    assert estimates["answers"] == 3 * 19
    assert estimates["rows"] > 3 * 3844  # the corridor alone has 3,844 rows per scope
    assert estimates["skipped"] is None
    asked = {request.url.path for request in honest.requests}  # type: ignore[attr-defined]
    assert {"/v1/estimates/person", "/v1/estimates/case", "/v1/estimates/contact"} <= asked


def test_the_summary_says_how_many_estimates_were_compared(hub: HubUnderTest, tmp_path: Path) -> None:
    run = audit(hub, tmp_path / "state", "--region-only", as_json=False)

    assert run.code == 0, run.out + run.err
    line = next(line for line in run.out.splitlines() if line.lstrip().startswith("estimates"))
    assert "19 answers" in line
    assert (
        "rows compared exactly: 19 questions (units case, contact, person: totals, each dimension, the corridor)"
        in line
    )
    assert line.rstrip().endswith("scopes region")


def _rewrite_estimates(path: str, group_by: str, change: Any) -> Any:
    """A transport rewrite: the region's answer to ``path`` grouped by ``group_by`` goes through ``change``."""

    def rewrite(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        params = request.url.params
        if request.url.path != path or params.get("group_by") != group_by or "country" in params:
            return response
        answer = json.loads(response.content)
        change(answer)
        return httpx.Response(200, json=answer, headers={"content-type": "application/json"})

    return rewrite


def test_one_estimate_changed_on_the_way_is_named_with_its_row(hub: HubUnderTest, tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def inflate(answer: dict[str, Any]) -> None:
        row = next(row for row in answer["rows"] if row["keys"] == {"period": "2026-09"})
        seen.update(row)
        row["estimate"] += 1.0

    wire = Wire(hub, rewrite=_rewrite_estimates("/v1/estimates/person", "period", inflate))
    run = audit(hub, tmp_path / "state", "--region-only", wire=wire)

    assert run.code == 1, run.out + run.err
    failures = run.document["failures"]
    assert [(f["check"], f["keys"]) for f in failures] == [("estimates", {"period": "2026-09"})]
    assert failures[0]["message"] == (
        f"person group_by=period 2026-09..2026-10 (region): estimate published {seen['estimate'] + 1.0}, "
        f"recomputed {seen['estimate']}"
    )


def test_a_changed_least_squares_weight_is_named(hub: HubUnderTest, tmp_path: Path) -> None:
    def reweigh(answer: dict[str, Any]) -> None:
        answer["combination"][0]["terms"][0]["coefficient"] *= 1 + 1e-9

    wire = Wire(hub, rewrite=_rewrite_estimates("/v1/estimates/person", "citizenship,country_of_exploitation", reweigh))
    run = audit(hub, tmp_path / "state", "--region-only", wire=wire)

    assert run.code == 1, run.out + run.err
    (failure,) = run.document["failures"]
    assert failure["check"] == "estimates"
    assert failure["message"].startswith(
        "person group_by=citizenship,country_of_exploitation 2026-09..2026-10 (region): combination 2026-09: "
        "coefficient of "
    )


def test_a_refused_question_the_log_answers_is_a_failure(hub: HubUnderTest, tmp_path: Path) -> None:
    def refuse(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.url.path == "/v1/estimates/contact" and request.url.params.get("group_by") == "period,channel":
            problem = {"code": "not_answerable", "detail": "no contact table carries channel"}
            return httpx.Response(400, json=problem, headers={"content-type": "application/problem+json"})
        return response

    run = audit(hub, tmp_path / "state", "--region-only", wire=Wire(hub, rewrite=refuse))

    assert run.code == 1, run.out + run.err
    (failure,) = run.document["failures"]
    assert failure["check"] == "estimates"
    assert failure["message"].startswith("contact group_by=period,channel 2026-09..2026-10 (region): the hub refused ")
    assert failure["message"].endswith(  # the log: 3 enrolments, 3 policies, 6 releases
        "HTTP 400 not_answerable: no contact table carries channel; but the log (size 12) answers it"
    )


def test_hotlines_reporting_counts_the_hotlines_whose_releases_the_row_combines(tmp_path: Path) -> None:
    """A question over a multi-valued dimension is answered by ``persons_control`` alone: a hotline that released
    other person tables but not that one is not among the hotlines reporting its rows (``EstimateRow``: "hotlines
    in scope whose releases the row is computed from"), and a month in which nobody in scope released it is a gap,
    not a refusal."""
    for hub in start_hub(tmp_path / "hub"):  # publishing version 1, whose releases may hold a few tables
        hub.clock.now = utc(2026, 8, 20, 10)
        hub.enroll("ua-a", "UA")
        hub.enroll("md-a", "MD")
        hub.clock.now = utc(2026, 10, 5, 10)
        with_control = ("contacts", "persons_control", "persons_recruitment")
        hub.submit_cells("ua-a", "2026-09", {t: vector(V1, t, 1) for t in with_control}, tables=with_control)
        without = ("contacts", "persons_recruitment")
        hub.submit_cells("md-a", "2026-09", {t: vector(V1, t, 2) for t in without}, tables=without)
        hub.clock.now = utc(2026, 11, 21, 12)

        run = audit(hub, tmp_path / "state")

        assert run.code == 0, [f["message"] for f in run.document["failures"]][:3]
        control = hub.client.get(
            "/v1/estimates/person",
            params={"group_by": "period,control_flag", "period_from": "2026-09", "period_to": "2026-09"},
            headers=hub.auth("auditor"),
        ).json()
        assert {row["hotlines_reporting"] for row in control["rows"]} == {1}
