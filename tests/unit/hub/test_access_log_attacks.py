# SPDX-License-Identifier: Apache-2.0
"""Hiding a question from the access log: each attack of issue 16 is refused, and recorded with what it asked.

Before, the access log kept the first 2,000 characters of the raw query: a filter repeated with all 62 codes, or a
percent-encoded ``%68otline=``, pushed the real question (one hotline's release, grouped by every dimension) out
of the record, and probes of auditor and admin routes by other principals left no record at all. Now the record
holds the parsed question, over-long queries are refused (414) and recorded, repeated and unknown parameters are
refused everywhere a question is asked, and every request an authenticated principal was refused (403) is
recorded. The records form a hash chain with signed checkpoints.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.models import AccessRecord
from hub.services.access_log import MAX_QUERY_CHARS
from protocol.access_chain import GENESIS, access_log_verifier, open_access_checkpoint
from protocol.taxonomy import builtin_taxonomy
from tests.support.hubkit import assert_problem
from tests.support.hubs import HubUnderTest
from tests.unit.hub.test_dashboard_auth import sign_in

CORRIDOR = "/v1/stats/persons_corridor"
EVERY_DIMENSION = "group_by=period,citizenship,country_of_exploitation,exploitation_group"
CITIZENSHIPS = builtin_taxonomy().table("persons_corridor").dimensions[0].code_names


def _records(hub: HubUnderTest) -> list[dict[str, Any]]:
    response = hub.client.get("/v1/audit/access-log", headers=hub.auth("auditor"))
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["records"]
    return records


def _last(hub: HubUnderTest) -> dict[str, Any]:
    return _records(hub)[-1]


def _get(hub: HubUnderTest, path: str, query: str, role: str = "coordinator") -> Any:
    return hub.client.get(f"{path}?{query}", headers=hub.auth(role))


def test_attack_padding_with_every_code_is_refused_and_recorded_with_the_question(hub: HubUnderTest) -> None:
    padding = "&".join(f"citizenship={code}" for code in CITIZENSHIPS * 4)
    query = f"{padding}&hotline=ua-one&{EVERY_DIMENSION}"
    assert len(query) > MAX_QUERY_CHARS

    response = _get(hub, CORRIDOR, query)

    body = assert_problem(response, 414, "query_too_long", str(MAX_QUERY_CHARS))
    assert str(len(query)) in body["detail"]
    record = _last(hub)
    assert record["status"] == 414
    assert record["query"].endswith("…")
    assert len(record["query"]) == MAX_QUERY_CHARS
    question = record["question"]  # the part the raw query lost is in the question
    assert question["scope"] == {"token_countries": None, "hotline": "ua-one"}
    assert question["table"] == "persons_corridor"
    assert question["group_by"] == ["period", "citizenship", "country_of_exploitation", "exploitation_group"]
    assert question["filters"] == {"citizenship": list(CITIZENSHIPS * 4)}
    assert question["repeated"] == ["citizenship"]
    assert record["request_id"] == response.headers["X-Request-ID"]


def test_attack_padding_under_the_cap_is_refused_as_a_repeated_filter(hub: HubUnderTest) -> None:
    padding = "&".join(f"citizenship={code}" for code in CITIZENSHIPS)
    response = _get(hub, CORRIDOR, f"{padding}&hotline=ua-one&{EVERY_DIMENSION}")
    assert_problem(response, 400, "invalid_query", "citizenship")
    record = _last(hub)
    assert (record["status"], record["question"]["scope"]["hotline"]) == (400, "ua-one")
    assert record["question"]["repeated"] == ["citizenship"]


def test_attack_percent_encoded_names_are_the_names_they_decode_to(hub: HubUnderTest) -> None:
    hub.enroll("ua-one", "UA")
    hub.enroll("md-one", "MD")
    hub.submit(hub.release("ua-one", "2026-01"))
    # Alone, %68otline is hotline: answered, and recorded as a question about that hotline.
    alone = _get(hub, CORRIDOR, f"%68otline=ua-one&period_from=2026-01&period_to=2026-01&{EVERY_DIMENSION}")
    assert alone.status_code == 200, alone.text
    assert alone.json()["scope"]["code"] == "ua-one"
    record = _last(hub)
    assert record["query"].startswith("%68otline=")
    assert record["question"]["scope"]["hotline"] == "ua-one"
    # Beside a plain hotline= it is the same parameter given twice: refused, both values recorded.
    twice = _get(hub, CORRIDOR, "hotline=md-one&%68otline=ua-one")
    assert_problem(twice, 400, "invalid_query", "hotline")
    assert _last(hub)["question"]["scope"]["hotline"] == ["md-one", "ua-one"]
    # And a misspelt, encoded name is an unknown parameter, named.
    unknown = _get(hub, CORRIDOR, "%68otlines=ua-one")
    assert_problem(unknown, 400, "invalid_query", "hotlines")


@pytest.mark.parametrize(
    ("path", "query", "named"),
    [
        (CORRIDOR, "citizenship=UA&citizenship=MD", "citizenship"),
        ("/v1/estimates/person", "group_by=citizenship&citizenship=UA&citizenship=MD", "citizenship"),
        ("/v1/completeness", "period_from=2026-01&period_from=2026-02", "period_from"),
        ("/v1/exports/stats/persons_corridor.sdmx.csv", "citizenship=UA&citizenship=MD", "citizenship"),
        ("/v1/exports/estimates/person.sdmx.csv", "citizenship=UA&citizenship=MD", "citizenship"),
        ("/v1/exports/completeness.sdmx.csv", "country=UA&country=MD", "country"),
        ("/v1/estimates/person", "citizenship=UA&colour=red", "colour"),
    ],
)
def test_attack_duplicated_filters_are_refused_and_recorded(
    hub: HubUnderTest, path: str, query: str, named: str
) -> None:
    response = _get(hub, path, query)
    assert_problem(response, 400, "invalid_query", named)
    record = _last(hub)
    assert record["status"] == 400
    assert record["path"] == path
    assert record["query"] == query
    given = record["question"].get("filters", {}) | record["question"]["scope"] | record["question"]
    assert named in given


def test_one_filter_with_comma_separated_codes_is_the_form_for_several_codes(hub: HubUnderTest) -> None:
    hub.enroll("ua-one", "UA")
    hub.submit(hub.release("ua-one", "2026-01"))
    response = _get(hub, CORRIDOR, "citizenship=UA,MD&period_from=2026-01&period_to=2026-01")
    assert response.status_code == 200, response.text
    assert _last(hub)["question"]["filters"] == {"citizenship": ["UA", "MD"]}


@pytest.mark.parametrize(
    ("view", "query", "named"),
    [
        ("/trends", "unit=person&colour=red", "colour"),
        ("/corridors", "top=10&top=25", "top"),
        ("/demography", "%68otline=ua-one", "hotline"),
        ("/completeness", "country=UA&country=MD", "country"),
        ("/trends/export", "format=csv&period_from=2026-01&period_from=2026-02", "period_from"),
    ],
)
def test_attack_the_dashboard_refuses_unknown_and_repeated_parameters(
    hub: HubUnderTest, view: str, query: str, named: str
) -> None:
    client = TestClient(hub.client.app, follow_redirects=False)
    sign_in(client, hub.tokens["coordinator"])
    response = client.get(f"{view}?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert named in response.text
    record = _last(hub)
    assert (record["path"], record["query"], record["status"]) == (view, query, 400)


def test_the_dashboard_form_sends_several_codes_as_repeated_fields(hub: HubUnderTest) -> None:
    client = TestClient(hub.client.app, follow_redirects=False)
    sign_in(client, hub.tokens["coordinator"])
    response = client.get("/trends?unit=person&citizenship=UA&citizenship=MD")
    assert response.status_code == 200
    assert _last(hub)["question"]["filters"] == {"citizenship": ["UA", "MD"]}


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("coordinator", "/v1/audit/access-log"),
        ("coordinator", "/v1/admin/tokens"),
        ("coordinator", "/v1/log/checkpoint"),
        ("auditor", "/v1/admin/hotlines"),
        ("admin", "/v1/audit/access-log"),
        ("admin", "/v1/stats/contacts"),
    ],
)
def test_attack_probes_of_other_roles_routes_are_recorded(hub: HubUnderTest, role: str, path: str) -> None:
    response = hub.client.get(path, headers=hub.auth(role))
    assert_problem(response, 403, "forbidden", f"a {role} token cannot use this route")
    record = _last(hub)
    assert (record["role"], record["label"], record["path"], record["status"]) == (role, f"test {role}", path, 403)
    assert record["request_id"] == response.headers["X-Request-ID"]


def test_authorised_requests_of_other_roles_and_anonymous_refusals_are_not_recorded(hub: HubUnderTest) -> None:
    hub.client.get(CORRIDOR, headers=hub.auth("auditor"))
    hub.client.get("/v1/admin/tokens", headers=hub.auth("admin"))
    hub.client.get("/v1/admin/tokens")
    hub.client.get("/v1/admin/tokens", headers={"Authorization": "Bearer tsh_not-a-token"})
    hub.client.get(f"{CORRIDOR}?{'x' * (MAX_QUERY_CHARS + 1)}")  # refused (414), but by nobody known
    assert _records(hub) == []


def test_records_form_a_chain_with_signed_checkpoints(tmp_path: Any) -> None:
    from tests.support.hubs import start_hub

    for hub in start_hub(tmp_path / "hub", access_sign_every=3):
        for number in range(7):
            _get(hub, "/v1/completeness", f"period_from=2026-0{number + 1}")
        records = _records(hub)
        assert [r["seq"] for r in records] == list(range(1, 8))
        assert records[0]["prev_hash"] == GENESIS.hex()
        assert all(r["prev_hash"] == p["hash"] for p, r in itertools.pairwise(records))
        page = hub.client.get("/v1/audit/access-log/checkpoints", headers=hub.auth("auditor")).json()
        assert [c["size"] for c in page["checkpoints"]] == [3, 6]
        verifier = access_log_verifier(hub.log_key)
        for served in page["checkpoints"]:
            checkpoint = open_access_checkpoint(served["note"], [verifier])
            assert checkpoint.origin == f"{hub.context.origin}/access-log"
            assert checkpoint.root_hash.hex() == records[checkpoint.size - 1]["hash"] == served["head"]
        with hub.context.sessions() as session:
            stored = session.scalars(select(AccessRecord).order_by(AccessRecord.seq)).all()
            assert [row.seq for row in stored] == list(range(1, 8))


def test_the_csv_export_shows_the_question_and_the_chain(hub: HubUnderTest) -> None:
    _get(hub, CORRIDOR, "%68otline=ua-one")
    response = hub.client.get("/v1/audit/access-log", params={"format": "csv"}, headers=hub.auth("auditor"))
    header, row = response.text.splitlines()[:2]
    assert header.split(",")[:3] == ["seq", "id", "at"]
    assert "question" in header
    assert "request_id" in header
    assert '""hotline"":""ua-one""' in row


def test_the_operator_signs_a_checkpoint_of_the_quiet_tail(
    hub: HubUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    from hub.cli import main

    _get(hub, "/v1/completeness", "period_from=2026-01")
    _get(hub, "/v1/completeness", "period_from=2026-02")
    settings = hub.context.settings
    argv = ["access-log", "checkpoint", "--data-dir", str(settings.data_dir)]
    if settings.database_url is not None:
        argv += ["--database-url", settings.database_url]

    assert main([*argv, "--json"], clock=hub.clock) == 0
    signed = json.loads(capsys.readouterr().out)
    assert main(argv, clock=hub.clock) == 0  # nothing new: the same checkpoint, not a second one
    assert capsys.readouterr().out.startswith("access log checkpoint: 2 records")

    records = _records(hub)
    assert (signed["size"], signed["head"]) == (2, records[-1]["hash"])
    page = hub.client.get("/v1/audit/access-log/checkpoints", headers=hub.auth("auditor")).json()
    assert [c["note"] for c in page["checkpoints"]] == [signed["note"]]
    assert open_access_checkpoint(signed["note"], [access_log_verifier(hub.log_key)]).size == 2
