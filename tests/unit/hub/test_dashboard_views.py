# SPDX-License-Identifier: Apache-2.0
"""The dashboard's views and exports over the demo data (:mod:`tests.support.dashboard_demo`): every number is
compared with the API's answer to the same question (``GET /v1/estimates/{unit}``)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.dashboard.numbers import ranking_text
from hub.db import write_session
from hub.services.tokens import TokenService
from protocol.api import RankingSummary
from protocol.taxonomy import TAXONOMY_V1_ID, TAXONOMY_V2_ID
from tests.support.dashboard_demo import (
    CORRECTED,
    HOTLINES,
    MONTHS,
    MONTHS_PARAMS,
    SCHEDULE,
    V2,
    V2_MONTHS,
    get_json,
    get_page,
    html_section,
    signed_in,
    simulated_people,
)
from tests.support.hubs import HubUnderTest


@pytest.fixture(scope="module")
def demo(dashboard_demo: HubUnderTest) -> HubUnderTest:
    """The session's demo hub (``tests/conftest.py``), which this module only reads."""
    return dashboard_demo


def test_the_demo_grid_has_every_status(demo: HubUnderTest) -> None:
    grid = get_json(demo, "/v1/completeness")
    rows: Sequence[dict[str, Any]] = grid["rows"]
    statuses = {(row["hotline_id"], row["period"]): row["status"] for row in rows}
    assert statuses[("la-strada-ua", "2026-07")] == "on_time"
    assert statuses[("la-strada-md", "2026-10")] == "missing"
    assert statuses[("ro-line", "2026-09")] == "late"
    assert statuses[("ro-line", "2026-03")] == "not_enrolled"
    assert {row["hotline_id"] for row in rows if row["corrected"]} == {"la-strada-ua"}
    assert grid["period_from"] == "2025-11"


def test_the_demo_mixes_taxonomies_and_its_tables_agree(demo: HubUnderTest) -> None:
    """The range holds v1 and v2 releases; the least-squares total of the six months is close to the people
    simulated (whose noise-free number the demo knows)."""
    answer = get_json(demo, "/v1/estimates/person", **MONTHS_PARAMS)
    assert [t["id"] for t in answer["taxonomies"]] == [TAXONOMY_V1_ID, TAXONOMY_V2_ID]
    [row] = answer["rows"]
    countries = {hotline_id: country for hotline_id, country, _ in HOTLINES}
    truth = sum(
        len(simulated_people(countries[hotline_id], month, seed=2 if (hotline_id, month) == CORRECTED else 1))
        for hotline_id, month in SCHEDULE
    )
    # One seeded draw of noise: the truth is inside the 95% interval 95 times in 100. Checking that it lies within
    # 3.3 standard deviations (one time in a thousand outside) keeps the test about the estimator, not the draw.
    assert abs(row["estimate"] - truth) <= 3.3 * row["std"] + 1
    assert row["ci95_high"] - row["ci95_low"] == pytest.approx(2 * row["halfwidth"], abs=0.02)
    assert row["obs_status"] == "A"
    assert row["distinguishable"] is True


# ---------------------------------------------------------------------------------------------- the views

_NUMBER = r"(-?[0-9]*(?:\.[0-9]+)?)"
_CELL = re.compile(rf'data-estimate="{_NUMBER}" data-low="{_NUMBER}" data-high="{_NUMBER}"')
_DISTINGUISHABLE = re.compile(r'data-distinguishable="(true|false)"')

Triple = tuple[float | None, float | None, float | None]


@pytest.fixture(scope="module")
def browser(demo: HubUnderTest) -> TestClient:
    return signed_in(demo)


def _table(html: str, table_id: str) -> list[Triple]:
    """(estimate, low, high) of each estimate cell of the table with ``table_id``, in document order."""
    return [tuple(float(v) if v else None for v in cell) for cell in _CELL.findall(html_section(html, table_id))]  # type: ignore[misc]


def _island(html: str, island_id: str) -> Any:
    found = re.search(rf'<script type="application/json" id="{island_id}">(.*?)</script>', html, re.S)
    assert found is not None
    return json.loads(found.group(1))


def _triples(rows: Sequence[dict[str, Any]]) -> list[Triple]:
    return [(row["estimate"], row["ci95_low"], row["ci95_high"]) for row in rows]


def _flag(row: dict[str, Any]) -> str:
    """The flag a cell shows (the first that applies)."""
    if row["estimate"] is None:
        return "no report"
    if row["estimate"] < 0:
        return "negative"
    if row["wide_interval"]:
        return "wide interval"
    return "" if row["distinguishable"] else "not distinguishable from 0"


def test_trends_show_the_apis_numbers_and_intervals(demo: HubUnderTest, browser: TestClient) -> None:
    html = get_page(browser, "/trends", unit="person", split="exploitation_group", **MONTHS_PARAMS)
    api = get_json(demo, "/v1/estimates/person", group_by="period,exploitation_group", **MONTHS_PARAMS)
    by_key = {(r["keys"]["period"], r["keys"]["exploitation_group"]): r for r in api["rows"]}
    codes = V2.dimension("exploitation_group").code_names
    assert _table(html, "trends-table") == _triples([by_key[month, code] for month in MONTHS for code in codes])
    assert _DISTINGUISHABLE.findall(html_section(html, "trends-table")) == [
        "true" if by_key[month, code]["distinguishable"] else "false" for month in MONTHS for code in codes
    ]
    island = _island(html, "trends-chart-data")
    assert island["kind"] == "trends"
    assert island["x"] == list(MONTHS)
    assert [s["label"] for s in island["series"]] == [
        "Sexual exploitation",
        "Forced labour or services, including begging, servitude and child labour",
        "Other forms of exploitation",
        "Forms in two or more groups",
        "Not specified",
    ]
    for series, code in zip(island["series"], codes, strict=True):
        rows = [by_key[month, code] for month in MONTHS]
        assert (series["est"], series["lo"], series["hi"]) == tuple(
            [r[key] for r in rows] for key in ("estimate", "ci95_low", "ci95_high")
        )
    assert "3 / 3" in html
    assert "2 / 3" in html
    assert "potential victims reported to hotlines" in html.lower()
    assert any(r["estimate"] != round(r["estimate"]) for r in api["rows"] if r["estimate"] is not None)
    # the answer's notes, with the taxonomies combined; the API question to ask the same
    assert "Releases combined: tipshare-taxonomy/1, tipshare-taxonomy/2." in html
    assert "generalised least squares" in html
    assert "GET /v1/estimates/person?group_by=period%2Cexploitation_group&amp;period_from=2026-05" in html
    # the unit picker, with persons chosen
    assert '<option value="person" selected>' in html
    assert '<option value="contact">' in html


def test_the_unit_picker_counts_cases_and_contacts(demo: HubUnderTest, browser: TestClient) -> None:
    for unit, split, code in (("contact", "channel", "phone"), ("case", "cross_border", "international")):
        html = get_page(browser, "/trends", unit=unit, split=split, **MONTHS_PARAMS)
        api = get_json(demo, f"/v1/estimates/{unit}", group_by=f"period,{split}", **MONTHS_PARAMS)
        assert _table(html, "trends-table") == _triples(api["rows"])
        assert f'<option value="{split}" selected>' in html
        assert f'<option value="{code}">' in html  # the filters are those of the unit's dimensions
        assert 'name="citizenship"' not in html
        assert api["unit_label"] in html


def test_trends_default_to_persons_over_the_last_twelve_months_with_gaps(browser: TestClient) -> None:
    html = get_page(browser, "/trends")
    island = _island(html, "trends-chart-data")
    assert island["x"][0] == "2025-11"
    assert island["x"][-1] == "2026-10"
    assert island["series"][0]["est"][:6] == [None] * 6  # nobody reported before 2026-05: gaps, not zeros
    assert html.count(">no report<") >= 6
    assert '<option value="person" selected>' in html


def test_an_old_link_with_a_table_is_read_as_its_unit(demo: HubUnderTest, browser: TestClient) -> None:
    html = get_page(browser, "/trends", table="persons_recruitment", split="recruitment_channel", **MONTHS_PARAMS)
    assert "This link names the table persons_recruitment." in html
    api = get_json(demo, "/v1/estimates/person", group_by="period,recruitment_channel", **MONTHS_PARAMS)
    assert _table(html, "trends-table") == _triples(api["rows"])
    assert '<option value="person" selected>' in html
    links = re.findall(r'href="/trends/export\?([^"]+)"', html)
    assert links
    assert all("unit=person" in link and "table=" not in link for link in links)
    contacts = get_page(browser, "/trends", table="contacts", **MONTHS_PARAMS)
    assert '<option value="contact" selected>' in contacts


def test_flags_follow_the_answer(demo: HubUnderTest, browser: TestClient) -> None:
    html = get_page(browser, "/demography", **MONTHS_PARAMS)
    api = get_json(demo, "/v1/estimates/person", group_by="gender,age_band", **MONTHS_PARAMS)
    flags = [_flag(row) for row in api["rows"]]
    for flag in ("negative", "wide interval", "not distinguishable from 0"):
        assert html.count(f">{flag}<") == flags.count(flag), flag
    assert flags.count(""), "the demo should have some numbers distinguishable from zero"
    assert flags.count("wide interval") + flags.count("negative"), "and some flagged ones"
    muted = re.findall(r'<td class="num[^"]*indistinct[^"]*"', html_section(html, "demography-table"))
    assert len(muted) == sum(1 for row in api["rows"] if not row["distinguishable"])


def test_clipping_is_a_marked_display_choice(demo: HubUnderTest, browser: TestClient) -> None:
    # Nobody in the demo is a citizen of Germany, France or Italy: these estimates are noise around 0.
    split = {"unit": "person", "split": "citizenship", "citizenship": "DE,FR,IT"}
    params = {**split, "clip": "on", **MONTHS_PARAMS}
    html = get_page(browser, "/trends", **params)
    assert "Display choice:" in html
    api = get_json(demo, "/v1/estimates/person", group_by="period,citizenship", citizenship="DE,FR,IT", **MONTHS_PARAMS)
    assert any(r["estimate"] < 0 for r in api["rows"]), "the demo should have a negative estimate here"
    table = _table(html, "trends-table")
    assert sorted(table, key=str) == sorted(_triples(api["rows"]), key=str)  # the table is never clipped
    drawn = [v for s in _island(html, "trends-chart-data")["series"] for v in s["est"] + s["lo"]]
    assert min(v for v in drawn if v is not None) == 0  # the chart is
    unclipped = get_page(browser, "/trends", **{k: v for k, v in params.items() if k != "clip"})
    assert "Display choice:" not in unclipped


def _corridors(demo: HubUnderTest, **params: str) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, Any]]:
    """The corridors of the API's answer by key, and its ranking summary."""
    api = get_json(demo, "/v1/estimates/person", group_by="citizenship,country_of_exploitation", **params)
    rows = {(r["keys"]["citizenship"], r["keys"]["country_of_exploitation"]): r for r in api["rows"]}
    return rows, api["ranking"]


def test_corridors_shade_and_rank_only_what_is_distinguishable(demo: HubUnderTest, browser: TestClient) -> None:
    html = get_page(browser, "/corridors", exploitation_group="sexual", top="15", **MONTHS_PARAMS)
    by_key, ranking = _corridors(demo, exploitation_group="sexual", **MONTHS_PARAMS)
    matrix = html_section(html, "corridor-matrix")
    rows = re.findall(r'<tr data-code="([^"]+)">', matrix)
    columns = re.findall(r'<th scope="col" data-code="([^"]+)">', matrix)
    assert len(rows) == len(columns) == 15
    assert _table(html, "corridor-matrix") == _triples([by_key[r, c] for r in rows for c in columns])
    cells = re.findall(r'<td class="heat-([0-6])( indistinct)?(?: wide)?" data-tip="[^"]*" data-estimate', matrix)
    shown = [by_key[r, c] for r in rows for c in columns]
    assert [(level != "0", bool(muted)) for level, muted in cells] == [
        (row["distinguishable"] and row["estimate"] > 0, not row["distinguishable"]) for row in shown
    ]
    assert any(row["distinguishable"] for row in shown)
    assert not all(row["distinguishable"] for row in shown)
    # the list holds the ranked corridors only, by rank, each with its interval
    ranked = sorted((r for r in by_key.values() if r["rank"] is not None), key=lambda r: r["rank"])[:10]
    assert ranked, "the demo should have ranked corridors"
    assert _table(html, "largest-corridors") == _triples(ranked)
    assert re.findall(r'<tr data-rank="([0-9]+)">', html) == [str(r["rank"]) for r in ranked]
    assert "not distinguishable from 0" not in html_section(html, "largest-corridors")
    distinguishable = sum(1 for r in by_key.values() if r["distinguishable"])
    assert f"3,844 corridors compared; <strong>{distinguishable}</strong> distinguishable from zero" in html
    procedure, guarantee = ranking_text(RankingSummary.model_validate(ranking))
    assert f"not distinguishable from zero ({procedure} over all 3,844 corridors)" in html
    assert f"({procedure}: {guarantee})" in html
    assert rows[0] in ("UA", "MD", "RO")
    # English names from ISO 3166 via pycountry, the taxonomy's labels for its own codes; codes stay in exports
    assert ">Moldova<" in html
    assert "Republic of" not in html
    assert "95% interval" in html


def test_no_ranking_when_nothing_is_distinguishable(demo: HubUnderTest, browser: TestClient) -> None:
    # Nobody in the demo is in exploitation group "unknown": every corridor of it is a true zero.
    html = get_page(browser, "/corridors", exploitation_group="unknown", **MONTHS_PARAMS)
    by_key, _ = _corridors(demo, exploitation_group="unknown", **MONTHS_PARAMS)
    assert not any(r["distinguishable"] for r in by_key.values())
    assert 'id="no-ranking"' in html
    assert "No corridor is distinguishable from zero" in html
    assert 'id="largest-corridors"' not in html
    assert "<strong>0</strong> distinguishable from zero" in html
    assert not re.findall(r'<td class="heat-[1-6]', html)  # nothing shaded
    assert 'data-level="' not in html  # and no shade in the legend


def test_corridor_shading_follows_the_legend(demo: HubUnderTest, browser: TestClient) -> None:
    html = get_page(browser, "/corridors", top="0", **MONTHS_PARAMS)
    legend = re.findall(r'data-level="([1-6])">.*?more than ([0-9.,]+), up to ([0-9.,]+)<', html)
    assert len(legend) == 6, "the legend lists the shades"
    bounds = {int(level): (float(low.replace(",", "")), float(high.replace(",", ""))) for level, low, high in legend}
    cells = re.findall(
        r'<td class="heat-([0-6])( indistinct)?(?: wide)?" data-tip="[^"]*" data-estimate="(-?[0-9.]+)"', html
    )
    assert len(cells) == 62 * 62
    for level, muted, estimate in ((int(a), b, float(c)) for a, b, c in cells):
        if level == 0:
            assert muted or estimate <= 0
        else:
            low, high = bounds[level]
            assert not muted
            assert low - 0.01 <= estimate <= high + 0.01


def test_demography_by_age_band_for_every_form(demo: HubUnderTest, browser: TestClient) -> None:
    html = get_page(browser, "/demography", **MONTHS_PARAMS)
    api = get_json(demo, "/v1/estimates/person", group_by="gender,age_band", **MONTHS_PARAMS)
    by_key = {(r["keys"]["age_band"], r["keys"]["gender"]): r for r in api["rows"]}
    genders = V2.dimension("gender").code_names
    ages = V2.dimension("age_band").code_names
    assert _table(html, "demography-table") == _triples([by_key[a, g] for a in ages for g in genders])
    assert 'data-age="age_band"' in html
    island = _island(html, "demography-chart-data")
    assert island["kind"] == "bars"
    assert [s["label"] for s in island["series"]] == [
        "Female",
        "Male",
        "Transgender or gender non-conforming",
        "Not specified or unknown",
    ]
    assert island["x"][0] == "0 to 8 years"
    assert "Releases combined: tipshare-taxonomy/1, tipshare-taxonomy/2." in html


def test_demography_by_age_group_for_one_exploitation_group(demo: HubUnderTest, browser: TestClient) -> None:
    html = get_page(browser, "/demography", exploitation_group="labour", **V2_MONTHS)
    api = get_json(demo, "/v1/estimates/person", group_by="gender,age_group", exploitation_group="labour", **V2_MONTHS)
    by_key = {(r["keys"]["age_group"], r["keys"]["gender"]): r for r in api["rows"]}
    genders = V2.dimension("gender").code_names
    ages = V2.dimension("age_group").code_names
    assert _table(html, "demography-table") == _triples([by_key[a, g] for a in ages for g in genders])
    assert 'data-age="age_group"' in html
    assert _island(html, "demography-chart-data")["x"] == ["Child (under 18)", "Adult (18 or older)", "Age not known"]
    assert '<option value="labour" selected>' in html
    assert "by age group and gender" in html


def test_a_range_its_releases_cannot_answer_shows_the_reason(browser: TestClient) -> None:
    # v1 releases (ro-line, 2026-05..07) carry no gender × age group × exploitation group.
    html = get_page(browser, "/demography", 400, exploitation_group="labour", **MONTHS_PARAMS)
    assert 'role="alert"' in html
    assert "2026-05..2026-07" in html
    assert TAXONOMY_V1_ID in html
    assert "It can be answered for 2026-08..2026-10" in html
    assert '<form method="get"' in html
    assert 'id="demography-table"' not in html
    # An older link's exploitation type by age band: only v1 releases carry it, and every month holds v2 ones.
    old = get_page(browser, "/demography", 400, exploitation_type="ForcedLabour", **MONTHS_PARAMS)
    assert "This link asks for one exploitation type (Forced labour)" in old
    assert 'role="alert"' in old
    assert TAXONOMY_V2_ID in old


def test_completeness_shows_every_status(demo: HubUnderTest, browser: TestClient) -> None:
    html = get_page(browser, "/completeness")
    api = get_json(demo, "/v1/completeness")
    cells = re.findall(r'data-period="([0-9-]+)" data-status="([a-z_]+)" data-corrected="(true|false)"', html)
    assert cells == [(r["period"], r["status"], "true" if r["corrected"] else "false") for r in api["rows"]]
    assert {"on_time", "late", "missing", "not_enrolled"} <= {status for _, status, _ in cells}
    assert html.count("corrected, revision 2") == 1
    island = _island(html, "completeness-chart-data")
    october = api["periods"][-1]
    assert island["series"][0]["est"][-1] == round(october["reporting_rate"] * 100, 1)
    assert ">Ukraine</span>" in html  # the hotline's country by name


@pytest.mark.parametrize(
    ("path", "params", "reason"),
    [
        ("/trends", {"period_from": "2026-13"}, "period_from must be a month"),
        ("/trends", {"period_from": "2026-06", "period_to": "2026-01"}, "is after period_to"),
        ("/trends", {"table": "persons_nowhere"}, "there is no table"),
        ("/trends", {"unit": "persons"}, "there is no unit"),
        ("/trends", {"unit": "person", "split": "citizenship"}, "at most 8"),
        ("/trends", {"split": "colour"}, "there is no such dimension"),
        ("/trends", {"recruitment_channel": "radio"}, "radio"),
        (
            "/trends",
            {"split": "citizenship", "citizenship": "UA,MD", "recruitment_channel": "online"},
            "no person table carries citizenship, recruitment_channel together",
        ),
        ("/trends", {"country": "Moldova"}, "ISO 3166-1 alpha-2"),
        ("/corridors", {"top": "7"}, "top must be one of"),
        ("/corridors", {"exploitation_group": "piracy"}, "piracy"),
        ("/demography", {"exploitation_group": "piracy"}, "piracy"),
        ("/demography", {"exploitation_group": "labour", "exploitation_type": "ForcedLabour"}, "not both"),
        ("/completeness", {"period_to": "soon"}, "period_to must be a month"),
    ],
)
def test_questions_the_services_refuse_show_the_form_and_the_reason(
    browser: TestClient, path: str, params: dict[str, str], reason: str
) -> None:
    html = get_page(browser, path, 400, **params)
    assert 'role="alert"' in html
    assert reason in html
    assert '<form method="get"' in html


def test_filters_of_another_unit_are_ignored_with_a_notice(browser: TestClient) -> None:
    html = get_page(browser, "/trends", unit="contact", exploitation_group="sexual", channel="phone", split="gender")
    assert "Filters that no contact table carries were ignored: exploitation_group." in html
    assert "No contact table has the dimension gender: one line for the total is drawn instead." in html
    assert '<option value="phone" selected>' in html


def test_a_country_limited_token_sees_its_countries_only(demo: HubUnderTest) -> None:
    with write_session(demo.context.sessions) as session:
        token = (
            TokenService(session)
            .create(role="coordinator", label="moldova", now=demo.clock(), countries=frozenset({"MD"}))
            .token
        )
    client = signed_in(demo, token)
    html = get_page(client, "/trends", **MONTHS_PARAMS)
    md = get_json(demo, "/v1/estimates/person", group_by="period", country="MD", **MONTHS_PARAMS)
    assert _table(html, "trends-table") == _triples(md["rows"])
    grid = get_page(client, "/completeness")
    assert "la-strada-md" in grid
    assert "la-strada-ua" not in grid
    assert "ro-line" not in grid
    refused = get_page(client, "/corridors", 403, country="UA")
    assert "MD only" in refused
    sdmx = client.get("/trends/export", params={"format": "sdmx-csv", **MONTHS_PARAMS})
    assert {row["REF_AREA"] for row in csv.DictReader(io.StringIO(sdmx.text))} == {"MD"}


def test_no_page_speaks_of_prevalence(browser: TestClient) -> None:
    for path in ("/trends", "/corridors", "/demography", "/completeness"):
        html = get_page(browser, path)
        assert "prevalence" not in html.lower(), path
    assert "potential victims reported to hotlines" in get_page(browser, "/corridors")


# ---------------------------------------------------------------------------------------------- exports

EXPORTS = [
    ("trends", {"unit": "person", "split": "recruitment_channel", **MONTHS_PARAMS}),
    ("corridors", {"exploitation_group": "labour", "top": "10", **MONTHS_PARAMS}),
    ("demography", {**MONTHS_PARAMS}),
    ("demography", {"exploitation_group": "sexual", **V2_MONTHS}),
]
API = [
    ("person", {"group_by": "period,recruitment_channel", **MONTHS_PARAMS}),
    ("person", {"group_by": "citizenship,country_of_exploitation", "exploitation_group": "labour", **MONTHS_PARAMS}),
    ("person", {"group_by": "gender,age_band", **MONTHS_PARAMS}),
    ("person", {"group_by": "gender,age_group", "exploitation_group": "sexual", **V2_MONTHS}),
]


@pytest.mark.parametrize(
    ("view", "params", "api"),
    [(*e, a) for e, a in zip(EXPORTS, API, strict=True)],
    ids=["trends", "corridors", "ages", "groups"],
)
def test_each_views_exports_are_the_apis_answer(
    demo: HubUnderTest, browser: TestClient, view: str, params: dict[str, str], api: tuple[str, dict[str, str]]
) -> None:
    unit, api_params = api
    auth = demo.auth("coordinator")
    links = get_page(browser, f"/{view}", **params)
    for fmt in ("csv", "json", "sdmx-csv"):
        assert f'data-format="{fmt}"' in links
    exported = {
        fmt: browser.get(f"/{view}/export", params={"format": fmt, **params}) for fmt in ("csv", "json", "sdmx-csv")
    }
    api_csv = demo.client.get(f"/v1/estimates/{unit}", params={**api_params, "format": "csv"}, headers=auth)
    api_json = demo.client.get(f"/v1/estimates/{unit}", params=api_params, headers=auth)
    api_sdmx = demo.client.get(f"/v1/exports/estimates/{unit}.sdmx.csv", params=api_params, headers=auth)
    assert api_csv.status_code == api_json.status_code == api_sdmx.status_code == 200, api_sdmx.text
    assert exported["csv"].text == api_csv.text
    assert exported["json"].json() == api_json.json()
    assert exported["sdmx-csv"].text == api_sdmx.text
    # exactly what the page shows: every estimate of the page's tables is in the export
    rows = list(csv.DictReader(io.StringIO(exported["csv"].text)))
    shown = [
        cell[0] for table in re.findall(r'id="([a-z-]+-table|corridor-matrix)"', links) for cell in _table(links, table)
    ]
    exported_estimates = {float(row["estimate"]) for row in rows if row["estimate"]}
    assert shown
    assert {value for value in shown if value is not None} <= exported_estimates
    size = api_json.json()["checkpoint"]["size"]
    api_name = api_csv.headers["content-disposition"].removeprefix('attachment; filename="').removesuffix('.csv"')
    for fmt, extension in (("csv", "csv"), ("json", "json"), ("sdmx-csv", "sdmx.csv")):
        disposition = exported[fmt].headers["content-disposition"]
        assert disposition == f'attachment; filename="{api_name}.{extension}"'
        assert f"-cp{size}." in disposition  # the checkpoint the file was computed from
    assert exported["sdmx-csv"].headers["content-type"].startswith("application/vnd.sdmx.data+csv; version=2.0.0")
    assert exported["json"].headers["content-security-policy"]


def test_completeness_exports_are_the_apis_answer(demo: HubUnderTest, browser: TestClient) -> None:
    auth = demo.auth("coordinator")
    csv_text = browser.get("/completeness/export", params={"format": "csv"}).text
    assert csv_text == demo.client.get("/v1/completeness", params={"format": "csv"}, headers=auth).text
    body = browser.get("/completeness/export", params={"format": "json"}).json()
    assert body == demo.client.get("/v1/completeness", headers=auth).json()
    sdmx = browser.get("/completeness/export", params={"format": "sdmx-csv"}).text
    assert sdmx == demo.client.get("/v1/exports/completeness.sdmx.csv", headers=auth).text


def test_exports_mark_what_is_not_distinguishable_from_zero(browser: TestClient) -> None:
    params = {"exploitation_group": "sexual", **MONTHS_PARAMS}
    rows = list(csv.DictReader(io.StringIO(browser.get("/corridors/export", params={"format": "csv", **params}).text)))
    sdmx = list(
        csv.DictReader(io.StringIO(browser.get("/corridors/export", params={"format": "sdmx-csv", **params}).text))
    )
    assert len(rows) == len(sdmx) == 62 * 62
    for row, observation in zip(rows, sdmx, strict=True):
        assert observation["DISTINGUISHABLE"] == row["distinguishable"]
        assert observation["RANK"] == row["rank"]
        assert (observation["RANK"] == "") == (row["distinguishable"] == "false")
    assert {row["distinguishable"] for row in rows} == {"true", "false"}


def test_an_export_that_sdmx_cannot_express_is_explained(browser: TestClient) -> None:
    params = {"exploitation_group": "sexual,labour", **MONTHS_PARAMS}
    html = get_page(browser, "/trends", **params)
    assert "SDMX-CSV: not available while exploitation_group sums several codes" in html
    assert 'data-format="sdmx-csv"' not in html
    refused = browser.get("/trends/export", params={"format": "sdmx-csv", **params})
    assert refused.status_code == 400
    assert "group by exploitation_group" in refused.text
    assert browser.get("/trends/export", params={"format": "csv", **params}).status_code == 200


@pytest.mark.parametrize(
    ("view", "params", "status"),
    [
        ("trends", {"format": "xml"}, 400),
        ("nowhere", {"format": "csv"}, 404),
        ("demography", {"format": "csv", "exploitation_group": "labour", **MONTHS_PARAMS}, 400),
    ],
)
def test_a_bad_export_link_gets_a_page(browser: TestClient, view: str, params: dict[str, str], status: int) -> None:
    response = browser.get(f"/{view}/export", params=params)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
