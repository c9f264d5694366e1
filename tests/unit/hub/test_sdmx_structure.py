# SPDX-License-Identifier: Apache-2.0
"""Issue 17: SDMX that SDMX tools can load.

The hub publishes its data structure definitions, dataflows, codelists and concept scheme as SDMX-ML 2.1 structure
messages (``/v1/sdmx/…``); a maintained SDMX library (``sdmx1``) parses them, and reads the SDMX-CSV exports of
statistics and estimates *with* the published structure into the same observations as the JSON API, every code of
the data in its dimension's codelist. Statistics use the data of :mod:`tests.unit.hub.stats_data`, estimates the
releases of both taxonomies of :mod:`tests.unit.hub.estimates_data`.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sdmx

from hub.services.sdmx_structure import STRUCTURE_MEDIA_TYPE, SdmxCatalogue
from protocol.sdmx_codes import SDMX_ID, SdmxCodes, sdmx_code
from protocol.taxonomy import builtin_taxonomies
from tests.support.hubs import HubUnderTest
from tests.unit.hub.estimates_data import Released, release_everything
from tests.unit.hub.stats_data import Dataset, populate

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
#: What a spreadsheet would read as a number or a date rather than as a code.
_SPREADSHEET_NUMBER = re.compile(r"[+-]?[0-9][0-9./+-]*|[0-9]+[eE][0-9]+")


@pytest.fixture
def data(hub: HubUnderTest) -> Dataset:
    dataset = populate(hub.context.engine)
    hub.clock.now = NOW
    return dataset


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Released]:
    yield from release_everything(Path(tmp_path_factory.mktemp("sdmx-estimates")) / "hub")


def _get(hub: HubUnderTest, path: str, **params: str) -> Any:
    return hub.client.get(path, params=params, headers=hub.auth("coordinator"))


def _structure(hub: HubUnderTest, path: str = "/v1/sdmx/structure", **params: str) -> Any:
    response = hub.client.get(path, params=params)  # public: no token
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == STRUCTURE_MEDIA_TYPE
    return sdmx.read_sdmx(io.BytesIO(response.content))


def _one(artefacts: Any, artefact_id: str, version: str) -> Any:
    """The artefact of that id and version (sdmx1 keys a collection by id, or by URN when ids repeat)."""
    return next(a for a in artefacts.values() if a.id == artefact_id and str(a.version) == version)


# ---------------------------------------------------------------------------------------------- codes


def test_every_sdmx_code_is_an_sdmx_id_no_spreadsheet_reads_as_a_number_and_maps_back() -> None:
    for taxonomy in builtin_taxonomies():
        for dimension in taxonomy.dimensions.values():
            codes = SdmxCodes(code.code for code in dimension.codes)  # refuses two codes sharing an SDMX code
            for code in dimension.codes:
                written = codes.sdmx_of(code.code)
                assert SDMX_ID.fullmatch(written), (dimension.name, written)
                assert not _SPREADSHEET_NUMBER.fullmatch(written), (dimension.name, written)
                assert codes.code_of(written) == code.code
    assert [sdmx_code(code) for code in ("0-8", "9-17", "48+", "unknown")] == ["Y0-8", "Y9-17", "Y_GE48", "unknown"]
    assert (sdmx_code("002"), sdmx_code("UA"), sdmx_code("labour")) == ("M49_002", "UA", "labour")


# ---------------------------------------------------------------------------------------------- structures


def test_the_structure_parses_and_every_dimension_has_a_codelist() -> None:
    taxonomies = builtin_taxonomies()
    catalogue = SdmxCatalogue(taxonomies)
    message = sdmx.read_sdmx(io.BytesIO(catalogue.message(catalogue.artefacts(), prepared=NOW)))
    for taxonomy in taxonomies:
        version = f"{taxonomy.version}.0.0"
        for table in taxonomy.tables.values():
            flow = _one(message.dataflow, table.name.upper(), version)
            dsd = flow.structure
            assert [d.id for d in dsd.dimensions] == [
                "REF_AREA",
                *(d.name.upper() for d in table.dimensions),
                "TIME_PERIOD",
            ]
            for dimension in table.dimensions:
                codelist = dsd.dimensions.get(dimension.name.upper()).local_representation.enumerated
                assert codelist.id == f"CL_{dimension.name.upper()}"
                assert {code.id for code in codelist} == {sdmx_code(c.code) for c in dimension.codes} | {"_T"}
                for code in dimension.codes:
                    assert str(codelist[sdmx_code(code.code)].name) == code.label
            assert {"OBS_STATUS", "CONF_STATUS", "UNIT_MEASURE", "INTERVAL_METHOD", "CI95_LOWER", "CI95_UPPER"} <= {
                a.id for a in dsd.attributes
            }
            assert dsd.measures[0].id == "OBS_VALUE"
    for unit in ("PERSON", "CASE", "CONTACT"):
        dsd = _one(message.dataflow, f"{unit}_ESTIMATES", "1.0.0").structure
        assert {"DISTINGUISHABLE", "RANK", "P_ZERO", "QUESTION", "CHECKPOINT_ROOT"} <= {a.id for a in dsd.attributes}
        for dimension in dsd.dimensions:
            if dimension.id != "TIME_PERIOD":
                assert dimension.local_representation.enumerated is not None, dimension.id
    units = _one(message.codelist, "CL_UNIT_MEASURE", "1.0.0")
    assert {code.id for code in units} == {"PER", "NR"}
    assert "OBS_STATUS" in {c.id for c in message.concept_scheme["CS_TIPSHARE"]}


def test_the_rest_paths_answer_sdmx_structure_queries(hub: HubUnderTest) -> None:
    flow_only = _structure(hub, "/v1/sdmx/dataflow/TIPSHARE/PERSONS_CORRIDOR/1.0.0")
    assert [(flow.id, str(flow.version)) for flow in flow_only.dataflow.values()] == [("PERSONS_CORRIDOR", "1.0.0")]
    assert not flow_only.codelist
    complete = _structure(hub, "/v1/sdmx/dataflow/TIPSHARE/PERSONS_CORRIDOR/latest", references="descendants")
    assert _one(complete.structure, "DSD_PERSONS_CORRIDOR", "2.0.0")  # the latest taxonomy's
    assert {("CL_CITIZENSHIP", "2.0.0"), ("CL_AREA", "1.0.0")} <= {
        (c.id, str(c.version)) for c in complete.codelist.values()
    }
    codelists = _structure(hub, "/v1/sdmx/codelist/all/CL_AGE_BAND/all")
    assert "Y_GE48" in {code.id for code in _one(codelists.codelist, "CL_AGE_BAND", "1.0.0")}
    assert len(_structure(hub, "/v1/sdmx/dataflow").dataflow) >= 10
    missing = hub.client.get("/v1/sdmx/dataflow/TIPSHARE/NO_SUCH_FLOW/1.0.0")
    assert missing.status_code == 404
    assert "GET /v1/sdmx/dataflow" in missing.json()["detail"]
    assert hub.client.get("/v1/sdmx/widgets").status_code == 404
    assert hub.client.get("/v1/sdmx/dataflow/ESTAT/all/latest").status_code == 404
    wrong = hub.client.get("/v1/sdmx/dataflow", params={"references": "parents", "detail": "full"})
    assert wrong.status_code == 400
    assert "detail" in wrong.json()["detail"]
    assert hub.client.get("/v1/sdmx/dataflow", params={"references": "parents"}).status_code == 400


# ---------------------------------------------------------------------------------------------- data loaded


def _observations(message: Any) -> dict[tuple[str, ...], Any]:
    """Observations by their key (dimension values in order), from an sdmx1 data message."""
    found: dict[tuple[str, ...], Any] = {}
    for data_set in message.data:
        for obs in data_set.obs:
            key = tuple(str(value.value) for value in obs.key.values.values())
            assert key not in found
            found[key] = obs
    return found


def _number(value: Any) -> float | None:
    number = float(value)
    return None if math.isnan(number) else number


def _codes_in_codelists(observations: dict[tuple[str, ...], Any], flow: Any) -> None:
    dimensions = list(flow.structure.dimensions)
    for key in observations:
        for dimension, value in zip(dimensions, key, strict=True):
            codelist = dimension.local_representation.enumerated
            if codelist is not None:
                assert value in {code.id for code in codelist}, (dimension.id, value)


def test_sdmx1_reads_the_statistics_export_with_the_structure_as_the_json_api_answers(
    hub: HubUnderTest, data: Dataset
) -> None:
    params = {"group_by": "period,exploitation_group", "period_from": "2026-01", "period_to": "2026-04"}
    structure = _structure(hub, "/v1/sdmx/dataflow/TIPSHARE/PERSONS_RECRUITMENT/1.0.0", references="all")
    flow = _one(structure.dataflow, "PERSONS_RECRUITMENT", "1.0.0")
    response = _get(hub, "/v1/exports/stats/persons_recruitment.sdmx.csv", **params)
    assert response.status_code == 200, response.text
    loaded = sdmx.read_sdmx(io.BytesIO(response.content), format="csv", structure=flow)
    observations = _observations(loaded)
    _codes_in_codelists(observations, flow)
    answer = _get(hub, "/v1/stats/persons_recruitment", **params).json()
    assert len(observations) == len(answer["rows"]) > 0
    for row in answer["rows"]:
        key = ("_T", sdmx_code(row["keys"]["exploitation_group"]), "_T", "_T", row["keys"]["period"])
        obs = observations[key]
        assert _number(obs.value) == row["estimate"]
        attributes = {name: str(value.value) for name, value in obs.attached_attribute.items()}
        assert attributes["OBS_STATUS"] == row["obs_status"]
        assert _number(attributes["CI95_LOWER"]) == row["ci95_low"]
        assert _number(attributes["CI95_UPPER"]) == row["ci95_high"]
        assert attributes["UNIT_MEASURE"] == "PER"
        assert attributes["CHECKPOINT_ROOT"] == answer["checkpoint"]["root_hash"]


def test_sdmx1_reads_the_estimates_export_with_the_structure_as_the_json_api_answers(released: Released) -> None:
    hub = released.hub
    params = {"group_by": "period,age_band", "period_from": "2026-07", "period_to": "2026-09", "gender": "F"}
    structure = _structure(hub, "/v1/sdmx/dataflow/TIPSHARE/PERSON_ESTIMATES/latest", references="descendants")
    flow = _one(structure.dataflow, "PERSON_ESTIMATES", "1.0.0")
    response = _get(hub, "/v1/exports/estimates/person.sdmx.csv", **params)
    assert response.status_code == 200, response.text
    loaded = sdmx.read_sdmx(io.BytesIO(response.content), format="csv", structure=flow)
    observations = _observations(loaded)
    _codes_in_codelists(observations, flow)
    answer = _get(hub, "/v1/estimates/person", **params).json()
    assert len(observations) == len(answer["rows"]) > 0
    names = [d.id for d in flow.structure.dimensions]
    seen_open_band = False
    for row in answer["rows"]:
        key = dict.fromkeys(names, "_T") | {"GENDER": "F", "TIME_PERIOD": row["keys"]["period"]}
        key["AGE_BAND"] = sdmx_code(row["keys"]["age_band"])
        seen_open_band |= key["AGE_BAND"] == "Y_GE48"
        obs = observations[tuple(key[name] for name in names)]
        assert _number(obs.value) == row["estimate"]
        attributes = {name: str(value.value) for name, value in obs.attached_attribute.items()}
        assert _number(attributes["CI95_LOWER"]) == row["ci95_low"]
        assert attributes["INTERVAL_METHOD"] == (row["interval_method"] or "#N/A")
        assert attributes["DISTINGUISHABLE"] == ("true" if row["distinguishable"] else "false")
    assert seen_open_band  # 48+ was written Y_GE48 and found in CL_AGE_BAND_ANY


def test_sdmx1_reads_the_completeness_export_with_the_structure(hub: HubUnderTest, data: Dataset) -> None:
    params = {"period_from": "2026-01", "period_to": "2026-04"}
    structure = _structure(hub, "/v1/sdmx/dataflow/TIPSHARE/REPORTING_COMPLETENESS/1.0.0", references="all")
    flow = _one(structure.dataflow, "REPORTING_COMPLETENESS", "1.0.0")
    response = _get(hub, "/v1/exports/completeness.sdmx.csv", **params)
    assert response.status_code == 200, response.text
    observations = _observations(sdmx.read_sdmx(io.BytesIO(response.content), format="csv", structure=flow))
    grid = _get(hub, "/v1/completeness", **params).json()
    assert len(observations) == len(grid["rows"]) > 0
    for row in grid["rows"]:
        obs = observations[(row["country"], row["hotline_id"], row["period"])]
        assert _number(obs.value) == (1 if row["status"] in ("on_time", "late") else 0)
        assert str(obs.attached_attribute["REPORTING_STATUS"].value) == row["status"]
    statuses = {code.id for code in _one(structure.codelist, "CL_REPORTING_STATUS", "1.0.0")}
    assert {row["status"] for row in grid["rows"]} <= statuses
