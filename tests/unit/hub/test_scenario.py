# SPDX-License-Identifier: Apache-2.0
"""Four hotlines in three countries report three months through the real ingest; statistics are read over HTTP.

Every number an answer carries is computed again here from the vectors this test sent: estimates are sums of the
current revisions' cells, intervals are :func:`protocol.accuracy.sum_interval` over the noise terms the test
derives from the mechanisms and scales it chose (different per hotline, one hotline on discrete Laplace, one
correction with a new scale), and ``hotlines_reporting``/``hotlines_expected`` follow from who reported and when
each hotline was enrolled.

=============  =======  ====================  ==============  =================================================
hotline        country  noise                 enrolled        reports
=============  =======  ====================  ==============  =================================================
ua-kyiv        UA       Gaussian σ=10         2026-06-10      07, 08 (r1; r2 with σ=11), 09
ua-lviv        UA       Gaussian σ=12.5       2026-06-10      07, 09 (contacts only); key revoked 2026-10-05
md-chisinau    MD       Gaussian σ=7          2026-06-10      07, 08, 09 (persons_recruitment only)
ro-iasi        RO       Laplace t=2           2026-08-20      08, 09 (contacts only)
=============  =======  ====================  ==============  =================================================
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hub.db import read_session
from hub.services.rebuild import check_rollups
from protocol.accuracy import is_wide, sum_interval
from protocol.messages import SubmissionPayload
from protocol.taxonomy import builtin_taxonomy
from tests.support.hubs import HubUnderTest, start_hub
from tests.support.releases import make_release

TAXONOMY = builtin_taxonomy()
CONTACTS, RECRUITMENT = "contacts", "persons_recruitment"
BOTH = (CONTACTS, RECRUITMENT)
GAUSS, LAPLACE = "discrete_gaussian", "discrete_laplace"


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@dataclass(frozen=True)
class Hotline:
    id: str
    country: str
    mechanism: str
    scale: str
    enrolled: datetime
    revoked: datetime | None = None

    def enrolled_during(self, period: str) -> bool:
        year, month = int(period[:4]), int(period[5:])
        start, end = utc(year, month, 1), utc(year + month // 12, month % 12 + 1, 1)
        return self.enrolled < end and (self.revoked is None or self.revoked > start)


HOTLINES = {
    h.id: h
    for h in (
        Hotline("ua-kyiv", "UA", GAUSS, "10", utc(2026, 6, 10)),
        Hotline("ua-lviv", "UA", GAUSS, "12.5", utc(2026, 6, 10), revoked=utc(2026, 10, 5)),
        Hotline("md-chisinau", "MD", GAUSS, "7", utc(2026, 6, 10)),
        Hotline("ro-iasi", "RO", LAPLACE, "2", utc(2026, 8, 20)),
    )
}


@dataclass(frozen=True)
class Sent:
    """One release as this test sent it."""

    hotline: str
    period: str
    revision: int
    mechanism: str
    scale: str
    cells: Mapping[str, Sequence[int]] = field(hash=False)


#: (received at, hotline, period, revision, tables, scale override)
PLAN: tuple[tuple[datetime, str, str, int, tuple[str, ...], str | None], ...] = (
    (utc(2026, 8, 3), "ua-kyiv", "2026-07", 1, BOTH, None),
    (utc(2026, 8, 4), "ua-lviv", "2026-07", 1, BOTH, None),
    (utc(2026, 8, 5), "md-chisinau", "2026-07", 1, BOTH, None),
    (utc(2026, 9, 2), "ua-kyiv", "2026-08", 1, BOTH, None),
    (utc(2026, 9, 3), "md-chisinau", "2026-08", 1, BOTH, None),
    (utc(2026, 9, 4), "ro-iasi", "2026-08", 1, BOTH, None),
    (utc(2026, 9, 20), "ua-kyiv", "2026-08", 2, BOTH, "11"),  # the correction, with a new scale
    (utc(2026, 10, 2), "ua-kyiv", "2026-09", 1, BOTH, None),
    (utc(2026, 10, 3), "ua-lviv", "2026-09", 1, (CONTACTS,), None),
    (utc(2026, 10, 3), "md-chisinau", "2026-09", 1, (RECRUITMENT,), None),
    (utc(2026, 10, 4), "ro-iasi", "2026-09", 1, (CONTACTS,), None),
)


def _release(hub: HubUnderTest, sent: Sent) -> SubmissionPayload:
    """A release as a node makes it, with the hotline's own mechanism and scale."""
    return make_release(
        TAXONOMY,
        hub.hotlines[sent.hotline].key,
        hotline_id=sent.hotline,
        period=sent.period,
        revision=sent.revision,
        cells=sent.cells,
        tables=sorted(sent.cells),
        scale=sent.scale,
        created_at="2026-08-01T00:00:00Z",
        mechanism=sent.mechanism,  # type: ignore[arg-type]
    )


@dataclass
class Scenario:
    hub: HubUnderTest
    sent: list[Sent]

    def current(self) -> list[Sent]:
        latest: dict[tuple[str, str], Sent] = {}
        for s in self.sent:
            if (s.hotline, s.period) not in latest or s.revision > latest[(s.hotline, s.period)].revision:
                latest[(s.hotline, s.period)] = s
        return list(latest.values())


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    for hub in start_hub(Path(tmp_path_factory.mktemp("scenario")) / "hub"):
        rng = random.Random(20261021)
        events: list[tuple[datetime, Any]] = [(h.enrolled, ("enrol", h)) for h in HOTLINES.values()]
        events += [(h.revoked, ("revoke", h)) for h in HOTLINES.values() if h.revoked is not None]
        events += [(at, ("submit", step)) for at, *step in PLAN]
        sent: list[Sent] = []
        for at, (action, subject) in sorted(events, key=lambda event: event[0]):
            hub.clock.now = at
            if action == "enrol":
                hub.enroll(subject.id, subject.country)
            elif action == "revoke":
                key_id = hub.hotlines[subject.id].key.verify_key.key_id
                response = hub.client.post(
                    f"/v1/admin/keys/{key_id}/revoke", json={"reason": "closed"}, headers=hub.auth("admin")
                )
                assert response.status_code == 200, response.text
            else:
                hotline_id, period, revision, tables, scale = subject
                hotline = HOTLINES[hotline_id]
                cells = {t: [rng.randint(-6, 40) for _ in range(TAXONOMY.table(t).cell_count)] for t in tables}
                release = Sent(hotline_id, period, revision, hotline.mechanism, scale or hotline.scale, cells)
                hub.submit(_release(hub, release))
                sent.append(release)
        hub.clock.now = utc(2026, 10, 20, 12)
        yield Scenario(hub, sent)


# ----------------------------------------------------------------------------------------------- expectations


def _months(first: str, last: str) -> list[str]:
    start, end = int(first[:4]) * 12 + int(first[5:]) - 1, int(last[:4]) * 12 + int(last[5:]) - 1
    return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(start, end + 1)]


def expected_rows(
    scenario: Scenario,
    table_name: str,
    *,
    period_from: str,
    period_to: str,
    group_by: Sequence[str] = (),
    filters: Mapping[str, Sequence[str]] | None = None,
    hotlines: Sequence[str] = tuple(HOTLINES),
) -> list[dict[str, Any]]:
    """The rows an answer must have, computed from the sent vectors alone."""
    table = TAXONOMY.table(table_name)
    filters = filters or {}
    months = _months(period_from, period_to)
    allowed = {d.name: [c for c in d.code_names if c in filters.get(d.name, d.code_names)] for d in table.dimensions}
    key_lists = [months if name == "period" else allowed[name] for name in group_by]
    estimates: dict[tuple[str, ...], int] = defaultdict(int)
    cells_of: dict[tuple[tuple[str, ...], Sent], int] = defaultdict(int)
    for release in scenario.current():
        if release.hotline not in hotlines or release.period not in months or table_name not in release.cells:
            continue
        for index, value in enumerate(release.cells[table_name]):
            codes = dict(zip(table.dimension_names, table.cell_codes(index), strict=True), period=release.period)
            if all(codes[name] in allowed[name] for name in table.dimension_names):
                key = tuple(codes[name] for name in group_by)
                estimates[key] += value
                cells_of[(key, release)] += 1
    rows = []
    for key in itertools.product(*key_lists):
        covered = [key[group_by.index("period")]] if "period" in group_by else months
        contributing = [release for (k, release) in cells_of if k == key]
        expected = {h for h in hotlines if any(HOTLINES[h].enrolled_during(p) for p in covered)}
        reporting = {release.hotline for release in contributing}
        if not contributing and "period" not in group_by:
            continue  # not grouped by period: no data, no row
        row: dict[str, Any] = {
            "keys": dict(zip(group_by, key, strict=True)),
            "hotlines_reporting": len(reporting),
            "hotlines_expected": len(expected | reporting),
        }
        if contributing:
            terms = [(r.mechanism, r.scale, cells_of[(key, r)]) for r in contributing]
            interval = sum_interval(terms)
            estimate = estimates[key]
            row |= {
                "estimate": estimate,
                "ci95_low": estimate - interval.halfwidth,
                "ci95_high": estimate + interval.halfwidth,
                "std": pytest.approx(interval.std, rel=1e-12),
                "interval_method": interval.method,
                "obs_status": "U" if is_wide(estimate, interval) or estimate < 0 else "A",
            }
        else:
            row |= {"estimate": None, "ci95_low": None, "ci95_high": None, "std": None, "obs_status": "O"}
        rows.append(row)
    return rows


def _answer(scenario: Scenario, table: str, token: str | None = None, **params: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else scenario.hub.auth("coordinator")
    response = scenario.hub.client.get(f"/v1/stats/{table}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _observed(rows: list[dict[str, Any]], like: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The answer's rows, reduced to the fields the expectation names."""
    return [{name: row[name] for name in expected} for row, expected in zip(rows, like, strict=False)]


def _check(body: dict[str, Any], expected: list[dict[str, Any]]) -> None:
    assert len(body["rows"]) == len(expected)
    assert _observed(body["rows"], expected) == expected


# ----------------------------------------------------------------------------------------------- the answers


def test_regional_time_series(scenario: Scenario) -> None:
    body = _answer(scenario, CONTACTS, group_by="period", period_from="2026-06", period_to="2026-10")

    expected = expected_rows(scenario, CONTACTS, period_from="2026-06", period_to="2026-10", group_by=["period"])
    _check(body, expected)
    june, july, august, september, october = body["rows"]
    assert (june["estimate"], june["hotlines_expected"]) == (None, 3)  # ro-iasi was not enrolled yet
    assert (july["hotlines_reporting"], august["hotlines_reporting"], september["hotlines_reporting"]) == (3, 3, 3)
    assert (august["hotlines_expected"], september["hotlines_expected"]) == (4, 4)  # ua-lviv missed August
    assert (october["estimate"], october["hotlines_expected"]) == (None, 4)  # ua-lviv's key was valid Oct 1-5
    assert body["periods_with_data"] == ["2026-07", "2026-08", "2026-09"]


def test_the_correction_replaces_the_first_revision(scenario: Scenario) -> None:
    body = _answer(
        scenario, RECRUITMENT, group_by="period", period_from="2026-08", period_to="2026-08", hotline="ua-kyiv"
    )

    [row] = body["rows"]
    [first, second] = [s for s in scenario.sent if s.hotline == "ua-kyiv" and s.period == "2026-08"]
    assert row["estimate"] == sum(second.cells[RECRUITMENT]) != sum(first.cells[RECRUITMENT])
    interval = sum_interval([(GAUSS, "11", 75)])  # the correction's own scale, not σ=10
    assert (row["ci95_low"], row["ci95_high"]) == (
        row["estimate"] - interval.halfwidth,
        row["estimate"] + interval.halfwidth,
    )


def test_one_country_grouped_by_a_dimension_with_a_filter(scenario: Scenario) -> None:
    contact_types = ["crisis", "tip"]
    body = _answer(
        scenario,
        CONTACTS,
        group_by="channel",
        contact_type=",".join(contact_types),
        country="UA",
        period_from="2026-07",
        period_to="2026-09",
    )

    expected = expected_rows(
        scenario,
        CONTACTS,
        period_from="2026-07",
        period_to="2026-09",
        group_by=["channel"],
        filters={"contact_type": contact_types},
        hotlines=["ua-kyiv", "ua-lviv"],
    )
    _check(body, expected)
    assert [row["keys"]["channel"] for row in body["rows"]] == list(TAXONOMY.dimension("channel").code_names)
    assert {(row["hotlines_reporting"], row["hotlines_expected"]) for row in body["rows"]} == {(2, 2)}


def test_one_hotline_grouped_by_a_dimension_and_period(scenario: Scenario) -> None:
    body = _answer(
        scenario,
        RECRUITMENT,
        group_by="exploitation_group,period",
        recruitment_channel="online,unknown",
        hotline="md-chisinau",
        period_from="2026-07",
        period_to="2026-09",
    )

    expected = expected_rows(
        scenario,
        RECRUITMENT,
        period_from="2026-07",
        period_to="2026-09",
        group_by=["exploitation_group", "period"],
        filters={"recruitment_channel": ["online", "unknown"]},
        hotlines=["md-chisinau"],
    )
    _check(body, expected)
    assert len(body["rows"]) == 5 * 3
    assert {row["interval_method"] for row in body["rows"]} == {"exact"}  # 2 cells × 1 hotline: exact


def test_a_regional_total_without_grouping(scenario: Scenario) -> None:
    body = _answer(scenario, RECRUITMENT, period_from="2026-07", period_to="2026-09")

    expected = expected_rows(scenario, RECRUITMENT, period_from="2026-07", period_to="2026-09")
    _check(body, expected)
    [row] = body["rows"]
    assert (row["hotlines_reporting"], row["hotlines_expected"]) == (4, 4)
    total = sum(sum(s.cells[RECRUITMENT]) for s in scenario.current() if RECRUITMENT in s.cells)
    assert row["estimate"] == total


def test_a_country_of_one_laplace_hotline(scenario: Scenario) -> None:
    body = _answer(scenario, CONTACTS, group_by="period", country="RO", period_from="2026-07", period_to="2026-09")

    expected = expected_rows(
        scenario, CONTACTS, period_from="2026-07", period_to="2026-09", group_by=["period"], hotlines=["ro-iasi"]
    )
    _check(body, expected)
    july, august, _ = body["rows"]
    assert (july["estimate"], july["hotlines_expected"]) == (None, 0)  # not enrolled in July
    interval = sum_interval([(LAPLACE, "2", 72)])
    assert august["ci95_high"] - august["estimate"] == interval.halfwidth


def test_a_token_limited_to_countries_sees_their_sum_as_the_region(scenario: Scenario) -> None:
    hub = scenario.hub
    created = hub.client.post(
        "/v1/admin/tokens",
        json={"role": "coordinator", "label": "MD+RO", "countries": ["MD", "RO"]},
        headers=hub.auth("admin"),
    )
    assert created.status_code == 201, created.text

    body = _answer(
        scenario,
        RECRUITMENT,
        token=created.json()["token"],
        group_by="recruiter_relation,period",
        period_from="2026-07",
        period_to="2026-09",
    )

    expected = expected_rows(
        scenario,
        RECRUITMENT,
        period_from="2026-07",
        period_to="2026-09",
        group_by=["recruiter_relation", "period"],
        hotlines=["md-chisinau", "ro-iasi"],
    )
    _check(body, expected)
    assert body["scope"] == {"level": "region", "code": None, "countries": ["MD", "RO"]}


def test_the_rollups_behind_the_answers_rebuild_from_the_log(scenario: Scenario) -> None:
    with read_session(scenario.hub.context.sessions) as session:
        assert check_rollups(session, scenario.hub.context.taxonomies) == []
