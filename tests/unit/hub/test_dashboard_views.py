# SPDX-License-Identifier: Apache-2.0
"""Demo data for the dashboard tests, sent through the hub's real ingest (sealed, signed, logged, rolled up).

Three hotlines report six months (2026-05..10) of four tables made from the same simulated people, so the
tables agree with each other, plus integer Gaussian noise of scale 1.5 (declared as the discrete Gaussian). The
schedule gives the completeness grid every status:

==============  =======  ===========================================================================
hotline         country  reports
==============  =======  ===========================================================================
la-strada-ua    UA       every month on time; 2026-07 corrected (revision 2)
la-strada-md    MD       2026-05..09 on time; 2026-10 missing (its deadline, 11-15, has passed)
ro-line         RO       2026-05..08 on time; 2026-09 late; 2026-10 on time
==============  =======  ===========================================================================

The tests then look at the hub on 2026-11-21 (:data:`VIEW_NOW`), whose default range is 2025-11..2026-10.

The tests here render every view and every export of the dashboard over the demo and compare each number with
the API's answer to the same question. (The browser test, ``tests/integration/test_dashboard_browser.py``,
builds the same demo with :func:`demo_hub`.)
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.db import write_session
from hub.services.tokens import TokenService
from protocol.taxonomy import Taxonomy
from tests.support.hubs import HubUnderTest, start_hub

HOTLINES = (
    ("la-strada-ua", "UA", "La Strada Ukraine"),
    ("la-strada-md", "MD", "La Strada Moldova"),
    ("ro-line", "RO", "Linia verde Romania"),
)
MONTHS = ("2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10")
TABLES = ("persons_corridor", "persons_demography", "persons_recruitment", "contacts")
ENROLLED = datetime(2026, 4, 20, 10, tzinfo=UTC)
VIEW_NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
SCALE = "1.5"

#: (hotline, month) -> day of the following month the report arrives (deadline: the 15th); absent: never sent
SCHEDULE = {
    **{("la-strada-ua", month): 5 for month in MONTHS},
    **{("la-strada-md", month): 3 for month in MONTHS[:5]},
    **{("ro-line", month): 8 for month in MONTHS if month != "2026-09"},
    ("ro-line", "2026-09"): 24,
}
CORRECTED = ("la-strada-ua", "2026-07")

# Where a hotline's people come from and are exploited: code -> weight.
_CITIZENSHIP = {
    "UA": {"UA": 80, "MD": 4, "BY": 6, "RU": 3, "ZZ": 7},
    "MD": {"MD": 85, "UA": 8, "RO": 2, "ZZ": 5},
    "RO": {"RO": 78, "MD": 12, "BG": 4, "UA": 3, "ZZ": 3},
}
_DESTINATION = {
    "UA": {"PL": 30, "DE": 18, "UA": 15, "RU": 8, "IT": 6, "CZ": 8, "XN": 10, "ZZ": 5},
    "MD": {"RU": 25, "IT": 18, "MD": 14, "TR": 12, "DE": 8, "AE": 8, "XN": 10, "ZZ": 5},
    "RO": {"GB": 28, "DE": 18, "IT": 14, "RO": 12, "ES": 10, "FR": 6, "XN": 7, "ZZ": 5},
}
_GROUP = {"sexual": 38, "labour": 45, "other": 6, "multiple": 6, "unknown": 5}
_TYPE = {
    "sexual": {"SexualExploitation": 1},
    "labour": {"ForcedLabour": 7, "ForcedBegging": 1, "Servitude": 1, "ChildLabour": 1},
    "other": {"ForcedCriminalActivities": 2, "ForcedMarriage": 1},
    "multiple": {"SexualExploitation": 1, "ForcedLabour": 1},
    "unknown": {"Other": 1},
}
_GENDER = {"sexual": {"F": 85, "M": 12, "X": 1, "U": 2}, "other": {"F": 45, "M": 52, "X": 1, "U": 2}}
_AGES = ("0-8", "9-17", "18-20", "21-23", "24-26", "27-29", "30-38", "39-47", "48+", "unknown")
_AGE_WEIGHTS = (1, 6, 10, 14, 14, 12, 20, 11, 7, 5)


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _person(rng: random.Random, country: str) -> dict[str, str]:
    group = _pick(rng, _GROUP)
    return {
        "citizenship": _pick(rng, _CITIZENSHIP[country]),
        "country_of_exploitation": _pick(rng, _DESTINATION[country]),
        "exploitation_group": group,
        "exploitation_type": _pick(rng, _TYPE[group]),
        "gender": _pick(rng, _GENDER["sexual" if group == "sexual" else "other"]),
        "age_band": rng.choices(_AGES, weights=_AGE_WEIGHTS)[0],
        "recruiter_relation": _pick(
            rng, {"IntimatePartner": 8, "Friend": 30, "Family": 10, "Other": 40, "Unknown": 12}
        ),
        "recruitment_channel": _pick(rng, {"online": 45, "offline": 40, "unknown": 15}),
    }


def release_cells(taxonomy: Taxonomy, country: str, month: str, seed: int) -> dict[str, list[int]]:
    """One hotline-month: the tables of 120-220 simulated people (and their contacts), each cell plus noise."""
    rng = random.Random(f"{country}/{month}/{seed}")
    people = [_person(rng, country) for _ in range(rng.randint(120, 220))]
    cells: dict[str, list[int]] = {}
    for name in TABLES:
        table = taxonomy.table(name)
        counts = [0] * table.cell_count
        if name == "contacts":
            for index in range(table.cell_count):
                counts[index] = max(0, int(rng.gauss(6, 5))) if index % 3 else 0
        else:
            for person in people:
                counts[table.cell_index([person[d] for d in table.dimension_names])] += 1
        cells[name] = [count + round(rng.gauss(0, float(SCALE))) for count in counts]
    return cells


def _received(month: str, day: int) -> datetime:
    year, number = int(month[:4]), int(month[5:])
    return datetime(year + number // 12, number % 12 + 1, day, 9, 30, tzinfo=UTC)


def build_demo(hub: HubUnderTest) -> None:
    """Enroll the demo hotlines and submit their reports, each at its scheduled time; leave the clock at
    :data:`VIEW_NOW`."""
    hub.clock.now = ENROLLED
    for hotline_id, country, name in HOTLINES:
        hub.enroll(hotline_id, country, name)
    reports = [(_received(month, day), hotline_id, month, 1) for (hotline_id, month), day in SCHEDULE.items()]
    hotline_id, month = CORRECTED
    reports.append((_received(month, 25), hotline_id, month, 2))
    countries = {hotline_id: country for hotline_id, country, _ in HOTLINES}
    for received, hotline_id, month, revision in sorted(reports):
        hub.clock.now = received
        _submit(hub, hotline_id, countries[hotline_id], month, revision=revision, received=received)
    hub.clock.now = VIEW_NOW


def _submit(hub: HubUnderTest, hotline_id: str, country: str, month: str, *, revision: int, received: datetime) -> None:
    cells = release_cells(hub.context.taxonomy, country, month, seed=revision)
    created = received.strftime("%Y-%m-%dT%H:%M:%SZ")
    hub.submit_cells(hotline_id, month, cells, tables=list(TABLES), revision=revision, scale=SCALE, created_at=created)


def demo_hub(directory: Path) -> Iterator[HubUnderTest]:
    """A hub holding the demo data (for module-scoped fixtures)."""
    for hub in start_hub(directory):
        build_demo(hub)
        yield hub


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubUnderTest]:
    yield from demo_hub(tmp_path_factory.mktemp("demo") / "hub")


def _get(hub: HubUnderTest, path: str, **params: str) -> Any:
    response = hub.client.get(path, params=params, headers=hub.auth("coordinator"))
    assert response.status_code == 200, response.text
    return response.json()


def test_the_demo_grid_has_every_status(demo: HubUnderTest) -> None:
    grid = _get(demo, "/v1/completeness")
    rows: Sequence[dict[str, Any]] = grid["rows"]
    statuses = {(row["hotline_id"], row["period"]): row["status"] for row in rows}
    assert statuses[("la-strada-ua", "2026-07")] == "on_time"
    assert statuses[("la-strada-md", "2026-10")] == "missing"
    assert statuses[("ro-line", "2026-09")] == "late"
    assert statuses[("ro-line", "2026-03")] == "not_enrolled"
    assert {row["hotline_id"] for row in rows if row["corrected"]} == {"la-strada-ua"}
    assert grid["period_from"] == "2025-11"


def test_the_demo_tables_agree_on_the_people(demo: HubUnderTest) -> None:
    """Both person tables count the same people (their noise differs): the totals are close, not equal."""
    totals = []
    for table in ("persons_recruitment", "persons_demography"):
        body = _get(demo, f"/v1/stats/{table}", period_from="2026-05", period_to="2026-10")
        [row] = body["rows"]
        totals.append(row)
    recruitment, demography = totals
    assert recruitment["ci95_low"] <= demography["ci95_high"]
    assert demography["ci95_low"] <= recruitment["ci95_high"]
    assert recruitment["obs_status"] == "A"
    assert 2000 < recruitment["estimate"] < 3800


# ---------------------------------------------------------------------------------------------- the views

MONTHS_PARAMS = {"period_from": MONTHS[0], "period_to": MONTHS[-1]}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_CELL = re.compile(r'data-estimate="(-?[0-9]*)" data-low="(-?[0-9]*)" data-high="(-?[0-9]*)"')


def _browser(hub: HubUnderTest, token: str | None = None) -> TestClient:
    """A client signed in to the dashboard (as the coordinator unless another token is given)."""
    client = TestClient(hub.client.app, follow_redirects=False)
    form = client.get("/login")
    csrf = _CSRF.search(form.text)
    assert csrf is not None
    response = client.post("/login", data={"token": token or hub.tokens["coordinator"], "csrf": csrf.group(1)})
    assert response.status_code == 303, response.text
    return client


@pytest.fixture(scope="module")
def browser(demo: HubUnderTest) -> TestClient:
    return _browser(demo)


def _page(client: TestClient, path: str, status: int = 200, **params: str) -> str:
    response = client.get(path, params=params)
    assert response.status_code == status, response.text[:2000]
    return response.text


def _table(html: str, table_id: str) -> list[tuple[int | None, ...]]:
    """(estimate, low, high) of each estimate cell of the table with ``table_id``, in document order."""
    start = html.index(f'id="{table_id}"')
    section = html[start : html.index("</table>", start)]
    return [tuple(int(v) if v else None for v in cell) for cell in _CELL.findall(section)]


def _island(html: str, island_id: str) -> Any:
    found = re.search(rf'<script type="application/json" id="{island_id}">(.*?)</script>', html, re.S)
    assert found is not None
    return json.loads(found.group(1))


def _triples(rows: Sequence[dict[str, Any]]) -> list[tuple[int | None, ...]]:
    return [(row["estimate"], row["ci95_low"], row["ci95_high"]) for row in rows]


def test_trends_show_the_apis_numbers_and_intervals(demo: HubUnderTest, browser: TestClient) -> None:
    html = _page(browser, "/trends", table="persons_recruitment", split="exploitation_group", **MONTHS_PARAMS)
    api = _get(demo, "/v1/stats/persons_recruitment", group_by="period,exploitation_group", **MONTHS_PARAMS)
    by_key = {(r["keys"]["period"], r["keys"]["exploitation_group"]): r for r in api["rows"]}
    codes = demo.context.taxonomy.dimension("exploitation_group").code_names
    assert _table(html, "trends-table") == _triples([by_key[month, code] for month in MONTHS for code in codes])
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


def test_trends_default_to_the_last_twelve_months_with_gaps(browser: TestClient) -> None:
    html = _page(browser, "/trends")
    island = _island(html, "trends-chart-data")
    assert island["x"][0] == "2025-11"
    assert island["x"][-1] == "2026-10"
    assert island["series"][0]["est"][:6] == [None] * 6  # nobody reported before 2026-05: gaps, not zeros
    assert html.count("no report") >= 6


def test_wide_intervals_and_negative_estimates_are_flagged(demo: HubUnderTest, browser: TestClient) -> None:
    html = _page(browser, "/demography", **MONTHS_PARAMS)
    api = _get(demo, "/v1/stats/persons_demography", group_by="age_band,gender", **MONTHS_PARAMS)
    wide = [r for r in api["rows"] if r["wide_interval"]]
    assert wide, "the demo should have some wide intervals"
    assert html.count(">wide interval<") == len(wide)
    negative = [r for r in api["rows"] if r["estimate"] < 0 and not r["wide_interval"]]
    assert html.count(">negative<") == len(negative)


def test_clipping_is_a_marked_display_choice(demo: HubUnderTest, browser: TestClient) -> None:
    # Nobody in the demo was exploited by surrogacy: these estimates are noise around 0, some negative.
    split = {"table": "persons_demography", "split": "gender", "exploitation_type": "Surrogacy"}
    params = {**split, "clip": "on", **MONTHS_PARAMS}
    html = _page(browser, "/trends", **params)
    assert "Display choice:" in html
    api = _get(
        demo, "/v1/stats/persons_demography", group_by="period,gender", exploitation_type="Surrogacy", **MONTHS_PARAMS
    )
    assert any(r["estimate"] < 0 for r in api["rows"]), "the demo should have a negative estimate here"
    table = _table(html, "trends-table")
    assert sorted(table, key=str) == sorted(_triples(api["rows"]), key=str)  # the table is never clipped
    drawn = [v for s in _island(html, "trends-chart-data")["series"] for v in s["est"] + s["lo"]]
    assert min(v for v in drawn if v is not None) == 0  # the chart is
    unclipped = _page(browser, "/trends", **{k: v for k, v in params.items() if k != "clip"})
    assert "Display choice:" not in unclipped


def test_corridors_show_the_matrix_and_largest_corridors(demo: HubUnderTest, browser: TestClient) -> None:
    html = _page(browser, "/corridors", exploitation_group="sexual", top="15", **MONTHS_PARAMS)
    api = _get(
        demo,
        "/v1/stats/persons_corridor",
        group_by="citizenship,country_of_exploitation",
        exploitation_group="sexual",
        **MONTHS_PARAMS,
    )
    by_key = {(r["keys"]["citizenship"], r["keys"]["country_of_exploitation"]): r for r in api["rows"]}
    matrix = html[html.index('id="corridor-matrix"') : html.index("</table>", html.index('id="corridor-matrix"'))]
    rows = re.findall(r'<tr data-code="([^"]+)">', matrix)
    columns = re.findall(r'<th scope="col" data-code="([^"]+)">', matrix)
    assert len(rows) == len(columns) == 15
    assert _table(html, "corridor-matrix") == _triples([by_key[r, c] for r in rows for c in columns])
    ranked = sorted(api["rows"], key=lambda r: -r["estimate"])[:10]
    assert _table(html, "largest-corridors") == _triples(ranked)
    assert rows[0] in ("UA", "MD", "RO")
    # English names from ISO 3166 via pycountry, the taxonomy's labels for its own codes; codes stay in exports
    assert ">Moldova<" in html
    assert "Republic of" not in html
    assert "95% interval" in html


def test_corridor_shading_follows_the_legend(demo: HubUnderTest, browser: TestClient) -> None:
    html = _page(browser, "/corridors", top="0", **MONTHS_PARAMS)
    legend = re.findall(r'swatch heat-([1-6])" aria-hidden="true"></span>(-?[0-9]+) to ([0-9]+)<', html)
    assert legend, "the legend lists the shades"
    bounds = {int(level): (int(low), int(high)) for level, low, high in legend}
    cells = re.findall(r'<td class="heat-([0-6])(?: wide)?" data-tip="[^"]*" data-estimate="(-?[0-9]+)"', html)
    assert len(cells) == 62 * 62
    for level, estimate in ((int(a), int(b)) for a, b in cells):
        if level == 0:
            assert estimate <= 0
        else:
            low, high = bounds[level]
            assert low <= estimate <= high


def test_demography_shows_gender_by_age(demo: HubUnderTest, browser: TestClient) -> None:
    html = _page(browser, "/demography", exploitation_type="ForcedLabour", **MONTHS_PARAMS)
    api = _get(
        demo,
        "/v1/stats/persons_demography",
        group_by="age_band,gender",
        exploitation_type="ForcedLabour",
        **MONTHS_PARAMS,
    )
    assert _table(html, "demography-table") == _triples(api["rows"])
    island = _island(html, "demography-chart-data")
    assert island["kind"] == "bars"
    assert [s["label"] for s in island["series"]] == [
        "Female",
        "Male",
        "Transgender or gender non-conforming",
        "Not specified or unknown",
    ]
    assert island["x"][0] == "0 to 8 years"


def test_completeness_shows_every_status(demo: HubUnderTest, browser: TestClient) -> None:
    html = _page(browser, "/completeness")
    api = _get(demo, "/v1/completeness")
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
        ("/trends", {"table": "persons_corridor", "split": "citizenship"}, "at most 8"),
        ("/trends", {"split": "gender"}, "not a dimension of persons_recruitment"),
        ("/trends", {"recruitment_channel": "radio"}, "radio"),
        ("/trends", {"country": "Moldova"}, "ISO 3166-1 alpha-2"),
        ("/corridors", {"top": "7"}, "top must be one of"),
        ("/corridors", {"exploitation_group": "piracy"}, "piracy"),
        ("/demography", {"exploitation_type": "piracy"}, "piracy"),
        ("/completeness", {"period_to": "soon"}, "period_to must be a month"),
    ],
)
def test_questions_the_services_refuse_show_the_form_and_the_reason(
    browser: TestClient, path: str, params: dict[str, str], reason: str
) -> None:
    html = _page(browser, path, 400, **params)
    assert 'role="alert"' in html
    assert reason in html
    assert '<form method="get"' in html


def test_filters_of_another_table_are_ignored_with_a_notice(browser: TestClient) -> None:
    html = _page(browser, "/trends", table="contacts", exploitation_group="sexual", channel="phone")
    assert "Filters of another table were ignored: exploitation_group." in html
    assert '<option value="phone" selected>' in html


def test_a_country_limited_token_sees_its_countries_only(demo: HubUnderTest) -> None:
    with write_session(demo.context.sessions) as session:
        token = (
            TokenService(session)
            .create(role="coordinator", label="moldova", now=demo.clock(), countries=frozenset({"MD"}))
            .token
        )
    client = _browser(demo, token)
    html = _page(client, "/trends", **MONTHS_PARAMS)
    md = _get(demo, "/v1/stats/persons_recruitment", group_by="period", country="MD", **MONTHS_PARAMS)
    assert _table(html, "trends-table") == _triples(md["rows"])
    grid = _page(client, "/completeness")
    assert "la-strada-md" in grid
    assert "la-strada-ua" not in grid
    assert "ro-line" not in grid
    refused = _page(client, "/corridors", 403, country="UA")
    assert "MD only" in refused
    sdmx = client.get("/trends/export", params={"format": "sdmx-csv", **MONTHS_PARAMS})
    assert {row["REF_AREA"] for row in csv.DictReader(io.StringIO(sdmx.text))} == {"MD"}


def test_no_page_speaks_of_prevalence(browser: TestClient) -> None:
    for path in ("/trends", "/corridors", "/demography", "/completeness"):
        html = _page(browser, path)
        assert "prevalence" not in html.lower(), path
    assert "potential victims reported to hotlines" in _page(browser, "/corridors")


# ---------------------------------------------------------------------------------------------- exports

EXPORTS = [
    ("trends", {"table": "persons_recruitment", "split": "recruitment_channel", **MONTHS_PARAMS}),
    ("corridors", {"exploitation_group": "labour", "top": "10", **MONTHS_PARAMS}),
    ("demography", {"exploitation_type": "SexualExploitation", **MONTHS_PARAMS}),
]
API = {
    "trends": ("persons_recruitment", {"group_by": "period,recruitment_channel"}),
    "corridors": (
        "persons_corridor",
        {"group_by": "citizenship,country_of_exploitation", "exploitation_group": "labour"},
    ),
    "demography": ("persons_demography", {"group_by": "age_band,gender", "exploitation_type": "SexualExploitation"}),
}


@pytest.mark.parametrize(("view", "params"), EXPORTS, ids=[view for view, _ in EXPORTS])
def test_each_views_exports_are_the_apis_answer(
    demo: HubUnderTest, browser: TestClient, view: str, params: dict[str, str]
) -> None:
    table, api_params = API[view]
    api_params = {**api_params, **MONTHS_PARAMS}
    auth = demo.auth("coordinator")
    links = _page(browser, f"/{view}", **params)
    for fmt in ("csv", "json", "sdmx-csv"):
        assert f'data-format="{fmt}"' in links
    exported = {
        fmt: browser.get(f"/{view}/export", params={"format": fmt, **params}) for fmt in ("csv", "json", "sdmx-csv")
    }
    api_csv = demo.client.get(f"/v1/stats/{table}", params={**api_params, "format": "csv"}, headers=auth)
    api_json = demo.client.get(f"/v1/stats/{table}", params=api_params, headers=auth)
    api_sdmx = demo.client.get(f"/v1/exports/stats/{table}.sdmx.csv", params=api_params, headers=auth)
    assert exported["csv"].text == api_csv.text
    assert exported["json"].json() == api_json.json()
    assert exported["sdmx-csv"].text == api_sdmx.text
    size = api_json.json()["checkpoint"]["size"]
    for fmt, extension in (("csv", "csv"), ("json", "json"), ("sdmx-csv", "sdmx.csv")):
        disposition = exported[fmt].headers["content-disposition"]
        assert disposition.startswith("attachment; ")
        assert disposition.endswith(f'checkpoint-{size}.{extension}"')
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


def test_an_export_that_sdmx_cannot_express_is_explained(browser: TestClient) -> None:
    params = {"exploitation_group": "sexual,labour", **MONTHS_PARAMS}
    html = _page(browser, "/trends", **params)
    assert "SDMX-CSV: not available while exploitation_group sums several codes" in html
    assert 'data-format="sdmx-csv"' not in html
    refused = browser.get("/trends/export", params={"format": "sdmx-csv", **params})
    assert refused.status_code == 400
    assert "group by exploitation_group" in refused.text
    assert browser.get("/trends/export", params={"format": "csv", **params}).status_code == 200


@pytest.mark.parametrize(("view", "fmt", "status"), [("trends", "xml", 400), ("nowhere", "csv", 404)])
def test_a_bad_export_link_gets_a_page(browser: TestClient, view: str, fmt: str, status: int) -> None:
    response = browser.get(f"/{view}/export", params={"format": fmt})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
