# SPDX-License-Identifier: Apache-2.0
"""``GET /v1/estimates/{unit}`` over HTTP (JSON and CSV, parameters, roles, scopes, the access log), and the
taxonomy routes of a hub that accepts both versions: ``/v1/hub``, ``/v1/taxonomy/{id}``, and ``/v1/stats/{table}``
for a table of any registered taxonomy."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.db import read_session, write_session
from hub.services.estimates import EstimatesQuery, EstimatesService
from hub.services.tokens import TokenService
from protocol.api import EstimatesAnswer
from protocol.combination import Question
from protocol.csv_cells import unescape_cell
from protocol.taxonomy import TAXONOMY_V1_ID, TAXONOMY_V2_ID
from tests.support.hubkit import assert_problem
from tests.unit.hub.estimates_data import V1, V2, Released, brute_force, release_everything

PATH = "/v1/estimates/person"
RANGE = {"period_from": "2026-07", "period_to": "2026-09"}


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Released]:
    yield from release_everything(Path(tmp_path_factory.mktemp("estimates-routes")) / "hub")


def _get(released: Released, path: str = PATH, role: str = "coordinator", **params: Any) -> Any:
    return released.hub.client.get(path, params=params, headers=released.hub.auth(role))


def _token(released: Released, label: str, countries: frozenset[str]) -> dict[str, str]:
    hub = released.hub
    with write_session(hub.context.sessions) as session:
        created = TokenService(session).create(role="coordinator", label=label, now=hub.clock(), countries=countries)
    return {"Authorization": f"Bearer {created.token}"}


def test_the_json_answer_is_the_service_answer(released: Released) -> None:
    response = _get(released, group_by="citizenship, period", exploitation_group="labour", **RANGE)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    answer = EstimatesAnswer.model_validate(response.json())
    context = released.hub.context
    with read_session(context.sessions) as session:
        direct = EstimatesService(session, context.taxonomies.values()).answer(
            EstimatesQuery(
                "person",
                group_by=("citizenship", "period"),
                filters={"exploitation_group": ("labour",)},
                period_from="2026-07",
                period_to="2026-09",
            ),
            now=context.clock(),
        )
    assert answer == direct
    assert answer.question.group_by == ["period", "citizenship"]
    assert len(answer.rows) == 3 * 62


def test_filters_are_parameters_named_after_dimensions_with_comma_separated_codes(released: Released) -> None:
    repeated = _get(released, group_by="citizenship", citizenship=["UA,MD", "RO"], **RANGE)
    assert repeated.status_code == 400  # one form only: a repeated filter is refused
    assert "citizenship" in repeated.json()["detail"]
    response = _get(
        released,
        group_by="citizenship",
        citizenship="UA,MD,RO",
        exploitation_group="labour,sexual",
        **RANGE,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["question"]["filters"] == {
        "citizenship": ["MD", "RO", "UA"],
        "exploitation_group": ["sexual", "labour"],
    }
    assert [row["keys"]["citizenship"] for row in body["rows"]] == ["MD", "RO", "UA"]
    expected = brute_force(
        released,
        Question(
            "person", ("citizenship",), {"citizenship": ("UA", "MD", "RO"), "exploitation_group": ("labour", "sexual")}
        ),
        periods=("2026-07", "2026-08", "2026-09"),
        hotlines={"ua-a", "ua-b", "md-a", "ro-v1"},
        by_period=False,
    )
    assert [row["estimate"] for row in body["rows"]] == [row.estimate for row in expected.rows]


@pytest.mark.parametrize(
    ("params", "mentions"),
    [
        ({"citizenchip": "UA"}, ("unknown query parameter(s): citizenchip",)),
        ({"clip": "true"}, ("unknown query parameter(s): clip",)),
        ({"format": "xml"}, ("format must be json or csv",)),
        ({"period_from": "2026-13"}, ("period_from", "YYYY-MM")),
        ({"country": "UA", "hotline": "ua-a"}, ("country or hotline",)),
        ({"group_by": "period,period"}, ("twice",)),
        ({"citizenship": ""}, ("citizenship", "one or more codes")),
    ],
)
def test_invalid_parameters_are_400_invalid_query(
    released: Released, params: dict[str, str], mentions: tuple[str, ...]
) -> None:
    assert_problem(_get(released, **params), 400, "invalid_query", *mentions)


def test_a_repeated_parameter_is_refused(released: Released) -> None:
    response = released.hub.client.get(
        f"{PATH}?group_by=citizenship&group_by=period", headers=released.hub.auth("coordinator")
    )
    assert_problem(response, 400, "invalid_query", "more than once: group_by")


def test_what_no_table_answers_is_400_not_answerable_naming_dimensions_months_and_taxonomies(
    released: Released,
) -> None:
    response = _get(
        released, group_by="gender,age_group,exploitation_group", period_from="2026-05", period_to="2026-09"
    )
    assert_problem(
        response,
        400,
        "not_answerable",
        "by gender, age_group, exploitation_group",
        "no released person table carries age_group, exploitation_group together",
        "2026-05",
        "2026-06",
        TAXONOMY_V1_ID,
        "persons_origin_demo",
        "It can be answered for 2026-07, 2026-09",
    )
    assert_problem(_get(released, group_by="channel"), 400, "not_answerable", "channel", "persons_citizenship")


def test_unknown_units_and_hotlines_are_404(released: Released) -> None:
    assert_problem(_get(released, "/v1/estimates/victim"), 404, "not_found", "victim", "person, case, contact")
    assert_problem(_get(released, hotline="nobody-here"), 404, "not_found", "nobody-here")


def test_auditors_may_ask_too_and_others_may_not(released: Released) -> None:
    assert _get(released, role="auditor", **RANGE).status_code == 200
    assert_problem(_get(released, role="admin", **RANGE), 403, "forbidden", "coordinator, auditor")
    assert_problem(released.hub.client.get(PATH), 401, "unauthorized")


def test_a_token_limited_to_some_countries(released: Released) -> None:
    headers = _token(released, "UA and MD desk", frozenset({"UA", "MD"}))
    hub = released.hub

    response = hub.client.get(PATH, params={"group_by": "period", **RANGE}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["question"]["scope"] == {"level": "region", "code": None, "countries": ["MD", "UA"]}
    assert [t["id"] for t in body["taxonomies"]] == [TAXONOMY_V2_ID]
    assert_problem(hub.client.get(PATH, params={"country": "RO"}, headers=headers), 403, "forbidden", "RO")
    outside = assert_problem(hub.client.get(PATH, params={"hotline": "ro-v1"}, headers=headers), 404, "not_found")
    assert outside["detail"] == "no hotline 'ro-v1' is enrolled in countries MD, UA"
    country = hub.client.get(PATH, params={"country": "UA", **RANGE}, headers=headers).json()
    assert country["question"]["scope"] == {"level": "country", "code": "UA", "countries": ["UA"]}


def test_coordinator_questions_are_in_the_access_log(released: Released) -> None:
    headers = _token(released, "logged desk", frozenset({"MD"}))
    hub = released.hub
    assert hub.client.get(PATH, params={"group_by": "citizenship", **RANGE}, headers=headers).status_code == 200
    assert hub.client.get(PATH, params={"country": "UA"}, headers=headers).status_code == 403

    records = _get(released, "/v1/audit/access-log", role="auditor").json()["records"]
    mine = [r for r in records if r["label"] == "logged desk"]
    assert [(r["path"], r["status"], r["countries"]) for r in mine] == [(PATH, 200, ["MD"]), (PATH, 403, ["MD"])]
    assert "group_by=citizenship" in mine[0]["query"]


def test_csv_lines_carry_the_question_checkpoint_and_flags(released: Released) -> None:
    params = {"group_by": "period,citizenship", "exploitation_group": "labour", "country": "UA", **RANGE}
    answer = _get(released, **params).json()
    response = _get(released, format="csv", **params)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    filename = re.fullmatch(r'attachment; filename="([^"]+)"', response.headers["content-disposition"])
    assert filename is not None
    assert filename.group(1) == (
        "tipshare-estimates-person-by-period+citizenship-exploitation_group=labour-2026-07..2026-09-country-UA"
        f"-cp{answer['checkpoint']['size']}.csv"
    )
    assert "\r\n" in response.text
    lines = list(csv.DictReader(io.StringIO(response.text)))
    assert len(lines) == len(answer["rows"]) == 3 * 62
    for line, row in zip(lines, answer["rows"], strict=True):
        assert (line["period"], line["citizenship"]) == (row["keys"]["period"], row["keys"]["citizenship"])
        assert line["estimate"] == ("" if row["estimate"] is None else str(row["estimate"]))
        assert line["halfwidth"] == ("" if row["halfwidth"] is None else str(row["halfwidth"]))
        assert line["interval_method"] == (row["interval_method"] or "")
        assert line["rank"] == ("" if row["rank"] is None else str(row["rank"]))
        assert line["distinguishable"] == ("true" if row["distinguishable"] else "false")
        assert (line["unit"], line["filters"], line["scope"]) == ("person", "exploitation_group=labour", "country:UA")
        assert (line["period_from"], line["period_to"]) == ("2026-07", "2026-09")
        assert line["checkpoint_size"] == str(answer["checkpoint"]["size"])
        assert unescape_cell(line["checkpoint_root"]) == answer["checkpoint"]["root_hash"]
        assert line["question"] == (
            "/v1/estimates/person?group_by=period,citizenship&period_from=2026-07&period_to=2026-09&country=UA"
            "&exploitation_group=labour"
        )
        assert line["obs_status"] in ("A", "U", "O")
    negative = [line["estimate"] for line in lines if line["estimate"].startswith("-")]
    assert negative, "the data have negative estimates: numbers are written as numbers, not neutralised text"
    assert not any(line["estimate"].startswith("'") for line in lines)
    gaps = [line for line in lines if line["period"] == "2026-08"]
    assert {(g["estimate"], g["obs_status"], g["hotlines_reporting"]) for g in gaps} == {("", "O", "0")}


def test_a_csv_file_name_is_safe_whatever_the_question(released: Released) -> None:
    headers = _token(released, "several countries", frozenset({"UA", "MD"}))
    response = released.hub.client.get(PATH, params={"format": "csv", "citizenship": "UA,MD", **RANGE}, headers=headers)
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    size = released.hub.client.get(PATH, params={"citizenship": "UA,MD", **RANGE}, headers=headers).json()["checkpoint"]
    assert disposition == (
        'attachment; filename="tipshare-estimates-person-total-citizenship=MD+UA-2026-07..2026-09-region-of-MD+UA'
        f'-cp{size["size"]}.csv"'
    )
    [line] = list(csv.DictReader(io.StringIO(response.text)))
    assert line["scope"] == "region (MD, UA)"


# ----------------------------------------------------------------------------------------------- taxonomies


def test_a_new_hub_publishes_version_2_and_serves_both(released: Released) -> None:
    hub = released.hub
    assert hub.client.get("/v1/hub").json()["taxonomy"] == {"id": TAXONOMY_V2_ID, "hash": V2.content_hash}
    listed = hub.client.get("/v1/taxonomy").json()
    assert listed == [{"id": TAXONOMY_V1_ID, "hash": V1.content_hash}, {"id": TAXONOMY_V2_ID, "hash": V2.content_hash}]
    for taxonomy in (V1, V2):
        response = hub.client.get(f"/v1/taxonomy/{taxonomy.id}")
        assert response.content == taxonomy.canonical_bytes()


@pytest.mark.parametrize(
    ("table", "taxonomy"),
    [
        ("persons_demography", V1),  # version 1 only: the hub's current taxonomy (2) does not have it
        ("persons_corridor_2way", V2),
        ("persons_origin_demo", V1),
    ],
)
def test_per_table_statistics_serve_a_table_of_any_registered_taxonomy(
    released: Released, table: str, taxonomy: Any
) -> None:
    dimension = taxonomy.table(table).dimension_names[0]
    response = _get(released, f"/v1/stats/{table}", role="auditor", group_by=f"period,{dimension}", **RANGE)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["taxonomy"] == {"id": taxonomy.id, "hash": taxonomy.content_hash}
    assert len(body["rows"]) == 3 * len(taxonomy.table(table).dimensions[0])


def test_per_table_statistics_sum_a_shared_table_over_both_versions(released: Released) -> None:
    body = _get(released, "/v1/stats/persons_recruitment", period_from="2026-06", period_to="2026-06").json()
    [row] = body["rows"]
    submitted = [p for p in released.current() if p.period == "2026-06"]
    assert {p.taxonomy.id for p in submitted} == {TAXONOMY_V1_ID, TAXONOMY_V2_ID}
    assert row["estimate"] == sum(sum(t.cells) for p in submitted for t in p.tables if t.name == "persons_recruitment")
    assert row["hotlines_reporting"] == 4
    assert body["taxonomy"]["id"] == TAXONOMY_V2_ID  # the current taxonomy describes a table it has


def test_an_unknown_table_is_404_naming_the_taxonomies(released: Released) -> None:
    assert_problem(
        _get(released, "/v1/stats/persons_everything"),
        404,
        "not_found",
        "persons_everything",
        TAXONOMY_V1_ID,
        TAXONOMY_V2_ID,
        "persons_origin_demo",
        "persons_total",
    )
