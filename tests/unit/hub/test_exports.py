# SPDX-License-Identifier: Apache-2.0
"""SDMX-CSV exports (:mod:`hub.services.exports`) checked against the format's column rules, and the export API.

:func:`check_sdmx_csv` encodes the rules of the SDMX-CSV 2.x field guide (sdmx-twg/sdmx-csv,
``data-message/docs/sdmx-csv-field-guide.md``) that a data message like ours must follow; every message the hub
writes in these tests passes through it. The per-table statistics use the data of
:mod:`tests.unit.hub.stats_data`; the estimates answers the releases of both taxonomies of
:mod:`tests.unit.hub.estimates_data`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete

from hub.db import read_session, write_session
from hub.errors import InvalidQuery
from hub.models import LogCheckpoint
from hub.services.completeness import CompletenessService
from hub.services.estimates import EstimatesQuery, EstimatesService
from hub.services.exports import (
    COMPLETENESS_DATAFLOW,
    SDMX_CSV_MEDIA_TYPE,
    UNIT_MEASURES,
    completeness_to_sdmx_csv,
    estimates_dataflow,
    estimates_to_sdmx_csv,
    sdmx_dataflow,
    stats_to_sdmx_csv,
)
from hub.services.scope import Scope
from hub.services.stats import StatsQuery, StatsResult, StatsService
from hub.services.tokens import TokenService
from protocol.api import EstimatesAnswer
from protocol.csv_cells import unescape_cell
from protocol.merkle import EMPTY_ROOT
from protocol.messages import b64encode
from protocol.sdmx_codes import sdmx_code
from tests.support.hubs import HubUnderTest
from tests.unit.hub.estimates_data import TABLES, Released, release_everything
from tests.unit.hub.stats_data import CHECKPOINT_ROOT, TAXONOMY, Dataset, populate, utc

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
RECRUITMENT = TAXONOMY.table("persons_recruitment")

# SDMX cross-domain code lists (notes/reporting.md, B.3)
OBS_STATUS = frozenset("ABDEFGHIJKLMNOPQSUVW")
CONF_STATUS = frozenset("FNCAOTGMDSEX")
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_STRUCTURE_ID = re.compile(r"[A-Za-z][A-Za-z0-9_@$-]*:[A-Za-z][A-Za-z0-9_@$-]*(\([0-9]+\.[0-9]+\.[0-9]+\))?")
_PERIOD = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])|[0-9]{4}-[0-9]{2}-[0-9]{2}/P[1-9][0-9]*M")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE]-?[0-9]+)?|NaN")  # xs:double (p-values can be tiny)


@dataclass(frozen=True)
class Message:
    header: list[str]
    rows: list[dict[str, str]]
    dimensions: list[str]
    attributes: list[str]


def check_sdmx_csv(
    text: str, *, dimensions: Sequence[str], numeric: Sequence[str] = ("OBS_VALUE",), coded: Sequence[str] = ()
) -> Message:
    """Check ``text`` against the SDMX-CSV column rules and return it parsed.

    ``dimensions`` are the message's dimension columns (TIME_PERIOD last); ``numeric`` the numeric components
    (intentionally missing: ``NaN``); ``coded`` the other non-numeric components (missing: ``#N/A``).
    """
    # RFC 4180: CRLF line ends, one header, every record with the header's number of fields.
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")
    records = list(csv.reader(io.StringIO(text, newline="")))
    header, body = records[0], records[1:]
    assert all(len(record) == len(header) for record in body)
    # The fixed columns come first, in order; no sub-field separator is declared (no multi-valued component).
    assert header[:3] == ["STRUCTURE", "STRUCTURE_ID", "ACTION"]
    components = header[3:]
    assert len(set(header)) == len(header)
    assert all(_ID.fullmatch(name) for name in components), components
    # Dimensions, then the measure, then the attributes.
    assert components[: len(dimensions)] == list(dimensions)
    assert dimensions[-1] == "TIME_PERIOD"
    assert components[len(dimensions)] == "OBS_VALUE"
    attributes = components[len(dimensions) + 1 :]
    rows = [dict(zip(header, record, strict=True)) for record in body]
    keys = set()
    for row in rows:
        assert row["STRUCTURE"] in ("dataflow", "datastructure", "dataprovision")
        assert _STRUCTURE_ID.fullmatch(row["STRUCTURE_ID"]), row["STRUCTURE_ID"]
        assert row["ACTION"] in ("I", "A", "M", "R", "D")
        if row["ACTION"] in ("M", "R"):  # bulk merge or replace is not permitted: every dimension has a value
            assert all(row[name] for name in dimensions), row
            assert any(row[name] for name in [*attributes, "OBS_VALUE"])
        assert _PERIOD.fullmatch(row["TIME_PERIOD"]), row["TIME_PERIOD"]
        for name in numeric:
            assert _NUMBER.fullmatch(row[name]), (name, row[name])  # never empty: NaN when missing
        for name in coded:
            assert row[name] != "", (name, row)  # never empty: #N/A when missing
        if "OBS_STATUS" in row:
            assert row["OBS_STATUS"] in OBS_STATUS
        if "CONF_STATUS" in row:
            assert row["CONF_STATUS"] in CONF_STATUS
        key = tuple(row[name] for name in [*dimensions, "STRUCTURE_ID"])
        assert key not in keys, f"two observations with key {key}"
        keys.add(key)
    return Message(header, rows, list(dimensions), attributes)


STATS_NUMERIC = ("OBS_VALUE", "CI95_LOWER", "CI95_UPPER", "HOTLINES_REPORTING", "HOTLINES_EXPECTED", "CHECKPOINT_SIZE")
STATS_CODED = ("OBS_STATUS", "CONF_STATUS", "UNIT_MEASURE", "CHECKPOINT_ORIGIN", "CHECKPOINT_ROOT", "QUESTION")
RECRUITMENT_DIMENSIONS = ("REF_AREA", "EXPLOITATION_GROUP", "RECRUITER_RELATION", "RECRUITMENT_CHANNEL", "TIME_PERIOD")


def check_stats(text: str, result: StatsResult) -> Message:
    table = TAXONOMY.table(result.table)
    dimensions = ("REF_AREA", *(name.upper() for name in table.dimension_names), "TIME_PERIOD")
    message = check_sdmx_csv(text, dimensions=dimensions, numeric=STATS_NUMERIC, coded=STATS_CODED)
    assert len(message.rows) == len(result.rows)
    for row, source in zip(message.rows, result.rows, strict=True):
        if source.estimate is None:
            assert (row["OBS_VALUE"], row["CI95_LOWER"], row["CI95_UPPER"]) == ("NaN", "NaN", "NaN")
        else:
            assert int(row["CI95_LOWER"]) <= int(row["OBS_VALUE"]) <= int(row["CI95_UPPER"])
            assert (int(row["OBS_VALUE"]), int(row["CI95_LOWER"]), int(row["CI95_UPPER"])) == (
                source.estimate,
                source.ci95_low,
                source.ci95_high,
            )
        assert (row["OBS_STATUS"], row["CONF_STATUS"]) == (source.obs_status, source.conf_status)
        assert (int(row["HOTLINES_REPORTING"]), int(row["HOTLINES_EXPECTED"])) == (
            source.hotlines_reporting,
            source.hotlines_expected,
        )
        assert row["UNIT_MEASURE"] == UNIT_MEASURES[result.unit]
        assert row["STRUCTURE_ID"] == sdmx_dataflow(result.table, TAXONOMY.id)
        assert (row["CHECKPOINT_SIZE"], unescape_cell(row["CHECKPOINT_ROOT"])) == (
            str(result.checkpoint.size),
            result.checkpoint.root_hash_b64,
        )
    return message


@pytest.fixture
def data(hub: HubUnderTest) -> Dataset:
    dataset = populate(hub.context.engine)
    hub.clock.now = NOW
    return dataset


def _answer(hub: HubUnderTest, **query: object) -> StatsResult:
    with read_session(hub.context.sessions) as session:
        return StatsService(session, TAXONOMY).query(StatsQuery(**query), now=NOW)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- statistics


def test_a_time_series_with_a_gap(hub: HubUnderTest, data: Dataset) -> None:
    result = _answer(hub, table=RECRUITMENT.name, group_by=("period",), period_from="2026-01", period_to="2026-04")
    text = stats_to_sdmx_csv(result, RECRUITMENT)
    message = check_stats(text, result)
    assert message.header[3:8] == list(RECRUITMENT_DIMENSIONS)
    assert message.attributes == [
        "CI95_LOWER",
        "CI95_UPPER",
        "INTERVAL_METHOD",
        "OBS_STATUS",
        "CONF_STATUS",
        "HOTLINES_REPORTING",
        "HOTLINES_EXPECTED",
        "UNIT_MEASURE",
        "CHECKPOINT_ORIGIN",
        "CHECKPOINT_SIZE",
        "CHECKPOINT_ROOT",
        "GROUP_BY",
        "FILTERS",
        "PERIOD_FROM",
        "PERIOD_TO",
        "QUESTION",
    ]
    assert {row["QUESTION"] for row in message.rows} == {
        f"/v1/stats/{RECRUITMENT.name}?group_by=period&period_from=2026-01&period_to=2026-04"
    }
    assert [row["TIME_PERIOD"] for row in message.rows] == ["2026-01", "2026-02", "2026-03", "2026-04"]
    gap = message.rows[-1]
    assert (gap["OBS_VALUE"], gap["OBS_STATUS"], gap["HOTLINES_REPORTING"]) == ("NaN", "O", "0")
    first = message.rows[0]
    assert [first[name] for name in RECRUITMENT_DIMENSIONS[:4]] == ["_T", "_T", "_T", "_T"]  # totals
    assert (first["STRUCTURE"], first["STRUCTURE_ID"], first["ACTION"]) == (
        "dataflow",
        "TIPSHARE:PERSONS_RECRUITMENT(1.0.0)",
        "R",
    )
    assert first["CHECKPOINT_ORIGIN"] == "hub.test.tipshare/log"
    assert first["CHECKPOINT_SIZE"] == "23"


def test_grouped_filtered_and_summed_dimensions(hub: HubUnderTest, data: Dataset) -> None:
    result = _answer(
        hub,
        table=RECRUITMENT.name,
        group_by=("recruitment_channel",),
        filters={"exploitation_group": ("labour",), "recruitment_channel": ("online", "offline")},
        period_from="2026-01",
        period_to="2026-03",
    )
    message = check_stats(stats_to_sdmx_csv(result, RECRUITMENT), result)
    assert [
        (row["EXPLOITATION_GROUP"], row["RECRUITER_RELATION"], row["RECRUITMENT_CHANNEL"]) for row in message.rows
    ] == [("labour", "_T", "online"), ("labour", "_T", "offline")]
    assert {row["TIME_PERIOD"] for row in message.rows} == {"2026-01-01/P3M"}  # a sum over three months


def test_a_single_month_is_a_monthly_period(hub: HubUnderTest, data: Dataset) -> None:
    result = _answer(hub, table="contacts", period_from="2026-02", period_to="2026-02", scope=Scope.hotline("md-one"))
    message = check_stats(stats_to_sdmx_csv(result, TAXONOMY.table("contacts")), result)
    [row] = message.rows
    assert (row["TIME_PERIOD"], row["REF_AREA"], row["CHANNEL"], row["UNIT_MEASURE"]) == (
        "2026-02",
        "md-one",
        "_T",
        "NR",
    )


@pytest.mark.parametrize(
    ("scope", "allowed", "ref_area"),
    [
        (Scope.region(), None, "_T"),
        (Scope.country("UA"), None, "UA"),
        (Scope.hotline("ua-two"), None, "ua-two"),
        (Scope.region(), frozenset({"MD"}), "MD"),
        (Scope.region(), frozenset({"UA", "MD"}), "MD+UA"),
    ],
)
def test_ref_area_names_the_scope(
    hub: HubUnderTest, data: Dataset, scope: Scope, allowed: frozenset[str] | None, ref_area: str
) -> None:
    result = _answer(
        hub, table=RECRUITMENT.name, group_by=("period",), scope=scope, allowed_countries=allowed, period_to="2026-03"
    )
    message = check_stats(stats_to_sdmx_csv(result, RECRUITMENT), result)
    assert {row["REF_AREA"] for row in message.rows} == {ref_area}


def test_a_sum_over_several_chosen_codes_has_no_sdmx_code(hub: HubUnderTest, data: Dataset) -> None:
    result = _answer(hub, table=RECRUITMENT.name, filters={"exploitation_group": ("sexual", "labour")})
    with pytest.raises(InvalidQuery, match="group by exploitation_group"):
        stats_to_sdmx_csv(result, RECRUITMENT)
    with pytest.raises(ValueError, match="persons_recruitment"):
        stats_to_sdmx_csv(result, TAXONOMY.table("contacts"))


def test_an_empty_log_is_written_as_missing_values(hub: HubUnderTest, data: Dataset) -> None:
    with write_session(hub.context.sessions) as session:
        session.execute(delete(LogCheckpoint))
    result = _answer(hub, table="contacts", group_by=("period",), period_to="2026-02")
    message = check_stats(stats_to_sdmx_csv(result, TAXONOMY.table("contacts")), result)
    assert {(row["CHECKPOINT_ORIGIN"], row["CHECKPOINT_SIZE"]) for row in message.rows} == {("#N/A", "0")}
    assert message.rows[0]["CHECKPOINT_ROOT"] == b64encode(EMPTY_ROOT) != b64encode(CHECKPOINT_ROOT)


def test_dataflow_ids_follow_the_taxonomy_version() -> None:
    assert sdmx_dataflow("persons_corridor", "tipshare-taxonomy/1") == "TIPSHARE:PERSONS_CORRIDOR(1.0.0)"
    assert sdmx_dataflow("contacts", "tipshare-taxonomy/12") == "TIPSHARE:CONTACTS(12.0.0)"


# ---------------------------------------------------------------------------------------------- completeness


def test_completeness_as_sdmx(hub: HubUnderTest, data: Dataset) -> None:
    with read_session(hub.context.sessions) as session:
        grid = CompletenessService(session, hub.context.settings).grid(
            "2026-01", "2026-03", now=NOW, allowed_countries=None
        )
    message = check_sdmx_csv(
        completeness_to_sdmx_csv(grid),
        dimensions=("REF_AREA", "HOTLINE", "TIME_PERIOD"),
        numeric=("OBS_VALUE", "EXPECTED_REPORTS", "REVISIONS", "CHECKPOINT_SIZE"),
        coded=("REPORTING_STATUS", "CORRECTED", "FIRST_RECEIVED", "DEADLINE", "CHECKPOINT_ORIGIN"),
    )
    assert len(message.rows) == len(grid.rows) == 4 * 3
    for row, source in zip(message.rows, grid.rows, strict=True):
        assert row["STRUCTURE_ID"] == COMPLETENESS_DATAFLOW
        assert (row["REF_AREA"], row["HOTLINE"], row["TIME_PERIOD"], row["REPORTING_STATUS"]) == (
            source.country,
            source.hotline_id,
            source.period,
            source.status,
        )
        assert row["OBS_VALUE"] == ("1" if source.status in ("on_time", "late") else "0")
        assert row["EXPECTED_REPORTS"] == ("1" if source.expected else "0")
        assert row["CORRECTED"] == ("true" if source.corrected else "false")
    by_key = {(row["HOTLINE"], row["TIME_PERIOD"]): row for row in message.rows}
    assert by_key["ua-one", "2026-02"]["CORRECTED"] == "true"
    assert by_key["ua-one", "2026-02"]["FIRST_RECEIVED"] == "2026-03-05T09:00:00Z"
    assert by_key["ua-gone", "2026-02"]["FIRST_RECEIVED"] == "#N/A"


# ---------------------------------------------------------------------------------------------- the API


def _get(hub: HubUnderTest, path: str, role: str = "coordinator", **params: str):  # type: ignore[no-untyped-def]
    return hub.client.get(path, params=params, headers=hub.auth(role))


def test_the_api_serves_the_same_message(hub: HubUnderTest, data: Dataset) -> None:
    response = _get(
        hub,
        "/v1/exports/stats/persons_recruitment.sdmx.csv",
        group_by="period,exploitation_group",
        recruitment_channel="online",
        period_from="2026-01",
        period_to="2026-03",
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == SDMX_CSV_MEDIA_TYPE
    assert response.headers["content-disposition"] == (
        'attachment; filename="tipshare-stats-persons_recruitment-by-period+exploitation_group'
        '-recruitment_channel=online-2026-01..2026-03-region-cp23.sdmx.csv"'
    )
    result = _answer(
        hub,
        table=RECRUITMENT.name,
        group_by=("period", "exploitation_group"),
        filters={"recruitment_channel": ("online",)},
        period_from="2026-01",
        period_to="2026-03",
    )
    assert response.text == stats_to_sdmx_csv(result, RECRUITMENT)
    message = check_stats(response.text, result)
    assert {row["RECRUITMENT_CHANNEL"] for row in message.rows} == {"online"}
    grid = _get(hub, "/v1/exports/completeness.sdmx.csv", period_from="2026-01", period_to="2026-03", country="MD")
    assert grid.status_code == 200, grid.text
    assert {row["HOTLINE"] for row in csv.DictReader(io.StringIO(grid.text))} == {"md-one"}


@pytest.mark.parametrize(
    ("path", "params", "status", "named"),
    [
        ("/v1/exports/stats/persons_recruitment.sdmx.csv", {"colour": "red"}, 400, "colour"),
        ("/v1/exports/stats/persons_recruitment.sdmx.csv", {"format": "csv"}, 400, "format"),
        ("/v1/exports/stats/persons_recruitment.sdmx.csv", {"clip": "true"}, 400, "clip"),
        ("/v1/exports/stats/persons_recruitment.sdmx.csv", {"recruitment_channel": "online,offline"}, 400, "SDMX"),
        ("/v1/exports/stats/persons_recruitment.sdmx.csv", {"group_by": "gender"}, 400, "gender"),
        ("/v1/exports/stats/persons_nowhere.sdmx.csv", {}, 404, "persons_nowhere"),
        ("/v1/exports/stats/persons_recruitment.sdmx.csv", {"hotline": "no-such-line"}, 404, "no-such-line"),
        ("/v1/exports/completeness.sdmx.csv", {"group_by": "period"}, 400, "group_by"),
        ("/v1/exports/completeness.sdmx.csv", {"period_from": "2026-13"}, 400, "period_from"),
    ],
)
def test_the_api_refuses_what_it_cannot_answer(
    hub: HubUnderTest, data: Dataset, path: str, params: dict[str, str], status: int, named: str
) -> None:
    response = _get(hub, path, **params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert named in response.json()["detail"]


def test_a_repeated_parameter_is_refused(hub: HubUnderTest, data: Dataset) -> None:
    response = hub.client.get(
        "/v1/exports/stats/contacts.sdmx.csv?period_from=2026-01&period_from=2026-02", headers=hub.auth("coordinator")
    )
    assert response.status_code == 400
    assert "period_from" in response.json()["detail"]


def test_the_api_checks_roles_and_countries(hub: HubUnderTest, data: Dataset) -> None:
    path = "/v1/exports/stats/contacts.sdmx.csv"
    assert hub.client.get(path).status_code == 401
    assert _get(hub, path, role="admin").status_code == 403
    assert _get(hub, path, role="auditor").status_code == 200
    assert _get(hub, "/v1/exports/completeness.sdmx.csv", role="admin").status_code == 403
    with write_session(hub.context.sessions) as session:
        token = (
            TokenService(session)
            .create(role="coordinator", label="md", now=utc(2026, 4, 1), countries=frozenset({"MD"}))
            .token
        )
    headers = {"Authorization": f"Bearer {token}"}
    refused = hub.client.get(path, params={"country": "UA"}, headers=headers)
    assert refused.status_code == 403
    allowed = hub.client.get(path, params={"group_by": "period", "period_to": "2026-03"}, headers=headers)
    assert {row["REF_AREA"] for row in csv.DictReader(io.StringIO(allowed.text))} == {"MD"}


# ---------------------------------------------------------------------------------------------- estimates

#: Every dimension of the person tables of both taxonomies: the columns of every person answer, alphabetical.
PERSON_DIMENSIONS = (
    "AGE_BAND",
    "AGE_GROUP",
    "CITIZENSHIP",
    "CONTROL_FLAG",
    "COUNTRY_OF_EXPLOITATION",
    "EXPLOITATION_GROUP",
    "EXPLOITATION_TYPE",
    "GENDER",
    "RECRUITER_RELATION",
    "RECRUITMENT_CHANNEL",
)
ESTIMATES_NUMERIC = (
    "OBS_VALUE",
    "CI95_LOWER",
    "CI95_UPPER",
    "P_ZERO",
    "HOTLINES_REPORTING",
    "HOTLINES_EXPECTED",
    "CHECKPOINT_SIZE",
)
ESTIMATES_CODED = (
    "INTERVAL_METHOD",
    "OBS_STATUS",
    "CONF_STATUS",
    "DISTINGUISHABLE",
    "UNIT_MEASURE",
    "CHECKPOINT_ORIGIN",
    "CHECKPOINT_ROOT",
    "QUESTION",
)
ESTIMATES_ATTRIBUTES = [
    "CI95_LOWER",
    "CI95_UPPER",
    "INTERVAL_METHOD",
    "OBS_STATUS",
    "CONF_STATUS",
    "DISTINGUISHABLE",
    "RANK",
    "P_ZERO",
    "HOTLINES_REPORTING",
    "HOTLINES_EXPECTED",
    "UNIT_MEASURE",
    "CHECKPOINT_ORIGIN",
    "CHECKPOINT_SIZE",
    "CHECKPOINT_ROOT",
    "GROUP_BY",
    "FILTERS",
    "PERIOD_FROM",
    "PERIOD_TO",
    "QUESTION",
]


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Released]:
    yield from release_everything(Path(tmp_path_factory.mktemp("exports-estimates")) / "hub")


def _estimates(released: Released, **query: object) -> EstimatesAnswer:
    context = released.hub.context
    with read_session(context.sessions) as session:
        service = EstimatesService(session, context.taxonomies.values())
        return service.answer(EstimatesQuery(**query), now=context.clock())  # type: ignore[arg-type]


def check_estimates(text: str, answer: EstimatesAnswer, dimensions: Sequence[str] = PERSON_DIMENSIONS) -> Message:
    """The message holds the answer's rows, one observation each, with every attribute the answer gives."""
    message = check_sdmx_csv(
        text,
        dimensions=("REF_AREA", *dimensions, "TIME_PERIOD"),
        numeric=ESTIMATES_NUMERIC,
        coded=ESTIMATES_CODED,
    )
    assert message.attributes == ESTIMATES_ATTRIBUTES
    assert len(message.rows) == len(answer.rows)
    for row, source in zip(message.rows, answer.rows, strict=True):
        assert row["STRUCTURE_ID"] == estimates_dataflow(answer.question.unit, answer.version)
        for name, code in source.keys.items():
            # SDMX codes (protocol.sdmx_codes): a spreadsheet reads no code as a number or a date
            assert row["TIME_PERIOD" if name == "period" else name.upper()] == (
                code if name == "period" else sdmx_code(code)
            )
        if source.estimate is None:
            assert [row[name] for name in ("OBS_VALUE", "CI95_LOWER", "CI95_UPPER", "P_ZERO")] == ["NaN"] * 4
            assert (row["INTERVAL_METHOD"], row["OBS_STATUS"]) == ("#N/A", "O")
        else:
            assert (float(row["OBS_VALUE"]), float(row["CI95_LOWER"]), float(row["CI95_UPPER"])) == (
                source.estimate,
                source.ci95_low,
                source.ci95_high,
            )
            assert float(row["P_ZERO"]) == source.p_zero
            assert row["INTERVAL_METHOD"] == source.interval_method
        assert (row["OBS_STATUS"], row["CONF_STATUS"]) == (source.obs_status, source.conf_status)
        # the ranking: whether the observation is distinguishable from zero, and its rank (empty when not ranked)
        assert row["DISTINGUISHABLE"] == ("true" if source.distinguishable else "false")
        assert row["RANK"] == ("" if source.rank is None else str(source.rank))
        assert (row["RANK"] != "") == source.distinguishable
        assert (int(row["HOTLINES_REPORTING"]), int(row["HOTLINES_EXPECTED"])) == (
            source.hotlines_reporting,
            source.hotlines_expected,
        )
        assert row["UNIT_MEASURE"] == UNIT_MEASURES[answer.question.unit]
        assert (row["CHECKPOINT_SIZE"], unescape_cell(row["CHECKPOINT_ROOT"])) == (
            str(answer.checkpoint.size),
            answer.checkpoint.root_hash,
        )
    return message


def test_an_estimates_time_series_carries_intervals_and_rankings(released: Released) -> None:
    answer = _estimates(
        released,
        unit="person",
        group_by=("period", "citizenship"),
        period_from="2026-07",
        period_to="2026-09",
    )
    message = check_estimates(estimates_to_sdmx_csv(answer, TABLES), answer)
    first = message.rows[0]
    assert (first["STRUCTURE"], first["STRUCTURE_ID"], first["ACTION"], first["REF_AREA"]) == (
        "dataflow",
        "TIPSHARE:PERSON_ESTIMATES(1.0.0)",
        "R",
        "_T",
    )
    assert {row["GENDER"] for row in message.rows} == {"_T"}  # summed over every code
    gap = [row for row in message.rows if row["TIME_PERIOD"] == "2026-08"]  # nobody reported
    assert len(gap) == 62
    assert {(row["OBS_VALUE"], row["DISTINGUISHABLE"], row["RANK"]) for row in gap} == {("NaN", "false", "")}
    ranked = [row for row in message.rows if row["RANK"]]
    assert ranked, "the releases hold clearly non-zero cells: some observations are ranked"
    assert any(row["DISTINGUISHABLE"] == "false" and row["OBS_VALUE"] != "NaN" for row in message.rows)
    for period in {row["TIME_PERIOD"] for row in ranked}:  # ranks count within each month
        ranks = sorted(int(row["RANK"]) for row in ranked if row["TIME_PERIOD"] == period)
        assert ranks == list(range(1, len(ranks) + 1))


def test_an_estimate_over_a_range_is_one_observation_per_key(released: Released) -> None:
    answer = _estimates(
        released,
        unit="person",
        group_by=("citizenship", "country_of_exploitation"),
        period_from="2026-06",
        period_to="2026-09",
        scope=Scope.country("UA"),
    )
    message = check_estimates(estimates_to_sdmx_csv(answer, TABLES), answer)
    assert len(message.rows) == 62 * 62
    assert {(row["TIME_PERIOD"], row["REF_AREA"]) for row in message.rows} == {("2026-06-01/P4M", "UA")}
    assert any("." in row["OBS_VALUE"] for row in message.rows)  # least-squares estimates are fractional
    ranks = sorted(int(row["RANK"]) for row in message.rows if row["RANK"])
    assert ranks == list(range(1, answer.ranking.distinguishable + 1))


def test_the_columns_are_the_units_dimensions(released: Released) -> None:
    answer = _estimates(released, unit="case", group_by=("cross_border",), period_from="2026-07", period_to="2026-07")
    message = check_estimates(estimates_to_sdmx_csv(answer, TABLES), answer, ("CROSS_BORDER", "EXPLOITATION_TYPE"))
    assert [(row["CROSS_BORDER"], row["EXPLOITATION_TYPE"], row["TIME_PERIOD"]) for row in message.rows] == [
        ("domestic", "_T", "2026-07"),
        ("international", "_T", "2026-07"),
        ("unknown", "_T", "2026-07"),
    ]
    assert message.rows[0]["STRUCTURE_ID"] == "TIPSHARE:CASE_ESTIMATES(1.0.0)"


def test_an_estimate_summed_over_several_chosen_codes_has_no_sdmx_code(released: Released) -> None:
    answer = _estimates(released, unit="person", filters={"exploitation_group": ("sexual", "labour")})
    with pytest.raises(InvalidQuery, match="group by exploitation_group"):
        estimates_to_sdmx_csv(answer, TABLES)


def test_the_api_serves_the_estimates_message(released: Released) -> None:
    hub = released.hub
    params = {
        "group_by": "period,gender",
        "exploitation_group": "sexual",
        "period_from": "2026-07",
        "period_to": "2026-09",
    }
    response = _get(hub, "/v1/exports/estimates/person.sdmx.csv", **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == SDMX_CSV_MEDIA_TYPE
    assert response.headers["content-disposition"] == (
        'attachment; filename="tipshare-estimates-person-by-period+gender-exploitation_group=sexual-2026-07..2026-09'
        '-region-cp19.sdmx.csv"'
    )
    answer = _estimates(
        released,
        unit="person",
        group_by=("period", "gender"),
        filters={"exploitation_group": ("sexual",)},
        period_from="2026-07",
        period_to="2026-09",
    )
    assert response.text == estimates_to_sdmx_csv(answer, TABLES)
    json_answer = _get(hub, "/v1/estimates/person", **params).json()
    message = check_estimates(response.text, EstimatesAnswer.model_validate(json_answer))
    assert {row["EXPLOITATION_GROUP"] for row in message.rows} == {"sexual"}  # the one code filtered to


@pytest.mark.parametrize(
    ("path", "params", "status", "named"),
    [
        ("/v1/exports/estimates/person.sdmx.csv", {"colour": "red"}, 400, "colour"),
        ("/v1/exports/estimates/person.sdmx.csv", {"format": "csv"}, 400, "format"),
        ("/v1/exports/estimates/person.sdmx.csv", {"citizenship": "UA,MD"}, 400, "SDMX"),
        ("/v1/exports/estimates/person.sdmx.csv", {"group_by": "channel"}, 400, "channel"),
        (
            "/v1/exports/estimates/person.sdmx.csv",
            {"group_by": "gender,age_group", "exploitation_group": "labour", "period_from": "2026-05"},
            400,
            "2026-05",
        ),
        ("/v1/exports/estimates/persons.sdmx.csv", {}, 404, "persons"),
        ("/v1/exports/estimates/person.sdmx.csv", {"hotline": "no-such-line"}, 404, "no-such-line"),
    ],
)
def test_the_estimates_api_refuses_what_it_cannot_answer(
    released: Released, path: str, params: dict[str, str], status: int, named: str
) -> None:
    response = _get(released.hub, path, **params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert named in response.json()["detail"]


def test_a_table_of_an_older_taxonomy_still_exports(released: Released) -> None:
    """The hub publishes v2; the per-table export serves a v1 table (``/v1/stats`` does too)."""
    params = {"group_by": "period", "period_from": "2026-05", "period_to": "2026-06"}
    response = _get(released.hub, "/v1/exports/stats/persons_demography.sdmx.csv", **params)
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {row["STRUCTURE_ID"] for row in rows} == {"TIPSHARE:PERSONS_DEMOGRAPHY(1.0.0)"}
    assert [row["TIME_PERIOD"] for row in rows] == ["2026-05", "2026-06"]
