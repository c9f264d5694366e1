# SPDX-License-Identifier: Apache-2.0
"""A coordinator scoped to one country learns nothing about the others: every GET route, asked twice.

The hub first holds Ukraine alone (two hotlines, releases for two months); every probe below is asked by a
coordinator token limited to UA, and by its dashboard session. Then Moldova arrives: a hotline enrolled, a policy
logged, releases of *more tables* (and of another taxonomy) for the same months and for a month Ukraine never
reported, a revision, a withdrawal. Every probe is asked again. Any difference between the two answers is something
the UA coordinator learned about Moldova: a leak.

Probes that name Moldova (``country=MD``, ``hotline=md-chisinau``) must get the same answer before Moldova exists
and after: a hotline outside the token's countries is answered exactly like one that does not exist (404, same
body), and a country outside them is refused in the same words whether or not it has hotlines.

**What may differ, and why** (normalised away, each documented in SECURITY.md):

* *The transparency log's checkpoint* (its size, root hash and signature): answers name the signed checkpoint they
  reflect so that anyone can recompute them from the log, and that checkpoint is the hub's one public log state,
  served without a token at ``/v1/checkpoint`` to hotlines' nodes and witnesses. Its size counts every log entry
  of every country; it says nothing about which country or hotline an entry is from.
* Per-request values: ``X-Request-ID``, and cookies the dashboard refreshes.

Everything else — statuses, bodies, CSV and SDMX files, dashboard pages, file names — must be byte-identical.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
from fastapi.testclient import TestClient

from hub.db import write_session
from hub.services.tokens import TokenService
from protocol.taxonomy import builtin_taxonomy
from tests.support.hubkit import route_paths
from tests.support.hubs import HubUnderTest, start_hub
from tests.support.releases import make_release

_CSRF: Final = re.compile(r'name="csrf" value="([^"]+)"')
_CHECKPOINT_COLUMNS: Final = frozenset({"checkpoint_size", "checkpoint_root", "CHECKPOINT_SIZE", "CHECKPOINT_ROOT"})
_COMPARED_HEADERS: Final = ("content-type", "content-disposition", "location", "www-authenticate")

UA_RANGE: Final = {"period_from": "2026-07", "period_to": "2026-10"}


@dataclass(frozen=True)
class Probe:
    """One request of the scoped coordinator: over the API with its bearer token, or on the dashboard."""

    path: str
    params: tuple[tuple[str, str], ...] = ()
    dashboard: bool = False

    @property
    def label(self) -> str:
        query = "&".join(f"{name}={value}" for name, value in self.params)
        return f"{'dashboard ' if self.dashboard else ''}{self.path}{'?' + query if query else ''}"


def _api(path: str, **params: str) -> Probe:
    return Probe(path, tuple(params.items()))


def _page(path: str, **params: str) -> Probe:
    return Probe(path, tuple(params.items()), dashboard=True)


def _scoped(path: str, *, dashboard: bool = False, **params: str) -> list[Probe]:
    """The question for the token's region, for its country, for one of its hotlines, and the same question aimed
    at the other country and at the other country's hotline."""
    scopes: list[dict[str, str]] = [{}, {"country": "UA"}, {"country": "MD"}]
    if not dashboard:  # the dashboard's forms choose a country, never a hotline
        scopes += [{"hotline": "ua-kyiv"}, {"hotline": "md-chisinau"}, {"hotline": "xx-nowhere"}]
    return [Probe(path, tuple({**params, **scope}.items()), dashboard=dashboard) for scope in scopes]


#: Every GET route the hub serves → the probes asked on it. Routes the coordinator may not use are probed too:
#: their refusal must not depend on what exists either.
PROBES: Final[dict[str, list[Probe]]] = {
    "/": [_page("/")],
    "/login": [_page("/login")],
    "/docs": [_api("/docs")],
    "/docs/start.js": [_api("/docs/start.js")],
    "/openapi.json": [_api("/openapi.json")],
    "/healthz": [_api("/healthz")],
    "/metrics": [_api("/metrics")],
    "/v1/hub": [_api("/v1/hub")],
    "/v1/hub/handovers": [_api("/v1/hub/handovers")],
    "/v1/taxonomy": [_api("/v1/taxonomy")],
    "/v1/taxonomy/{taxonomy_id}": [_api("/v1/taxonomy/tipshare-taxonomy/1")],
    "/v1/sdmx/structure": [_api("/v1/sdmx/structure")],
    "/v1/sdmx/{kind}": [_api("/v1/sdmx/codelist")],
    "/v1/sdmx/{kind}/{agency}/{resource}/{version}": [
        _api("/v1/sdmx/dataflow/TIPSHARE/PERSON_ESTIMATES/latest", references="descendants")
    ],
    "/v1/checkpoint": [_api("/v1/checkpoint")],
    "/v1/checkpoint/consistency": [_api("/v1/checkpoint/consistency", first="1", second="3")],
    "/v1/stats/{table}": [
        *_scoped("/v1/stats/contacts", **UA_RANGE),
        *_scoped("/v1/stats/contacts", group_by="period,channel", **UA_RANGE),
        *_scoped("/v1/stats/contacts", format="csv", group_by="period", **UA_RANGE),
        _api("/v1/stats/contacts"),
        # Tables only Moldova released:
        *_scoped("/v1/stats/persons_corridor", group_by="citizenship", **UA_RANGE),
        *_scoped("/v1/stats/cases_opened", group_by="period,exploitation_type", **UA_RANGE),
    ],
    "/v1/estimates/{unit}": [
        *_scoped("/v1/estimates/contact", group_by="period,channel", **UA_RANGE),
        *_scoped("/v1/estimates/contact", format="csv", group_by="channel", **UA_RANGE),
        *_scoped("/v1/estimates/person", group_by="period", **UA_RANGE),
        *_scoped("/v1/estimates/person", group_by="citizenship,country_of_exploitation", **UA_RANGE),
        *_scoped("/v1/estimates/case", group_by="exploitation_type", **UA_RANGE),
        _api("/v1/estimates/contact"),
    ],
    "/v1/completeness": [
        *_scoped("/v1/completeness", **UA_RANGE),
        *_scoped("/v1/completeness", format="csv", **UA_RANGE),
        _api("/v1/completeness"),
    ],
    "/v1/exports/stats/{table}.sdmx.csv": [
        *_scoped("/v1/exports/stats/contacts.sdmx.csv", group_by="channel,contact_type,period", **UA_RANGE),
        *_scoped("/v1/exports/stats/persons_corridor.sdmx.csv", group_by="citizenship", **UA_RANGE),
    ],
    "/v1/exports/estimates/{unit}.sdmx.csv": _scoped(
        "/v1/exports/estimates/contact.sdmx.csv", group_by="period,channel", **UA_RANGE
    ),
    "/v1/exports/completeness.sdmx.csv": _scoped("/v1/exports/completeness.sdmx.csv", **UA_RANGE),
    "/v1/audit/access-log": [_api("/v1/audit/access-log")],
    "/v1/audit/access-log/checkpoints": [_api("/v1/audit/access-log/checkpoints")],
    "/v1/log/checkpoint": [_api("/v1/log/checkpoint")],
    "/v1/log/entries": [_api("/v1/log/entries")],
    "/v1/log/proof/inclusion": [_api("/v1/log/proof/inclusion", index="0", tree_size="2")],
    "/v1/log/proof/consistency": [_api("/v1/log/proof/consistency", first="1", second="2")],
    "/v1/submissions/{submission_id}": [_api("/v1/submissions/1"), _api("/v1/submissions/9")],
    "/v1/rounds/{group}/{period}": [_api("/v1/rounds/region-east/2026-09")],
    "/v1/rounds/{group}/{period}/{number}": [_api("/v1/rounds/region-east/2026-09/0")],
    "/v1/admin/hotlines": [_api("/v1/admin/hotlines")],
    "/v1/admin/hotlines/{hotline_id}/policy": [
        _api("/v1/admin/hotlines/md-chisinau/policy"),
        _api("/v1/admin/hotlines/ua-kyiv/policy"),
    ],
    "/v1/admin/tokens": [_api("/v1/admin/tokens")],
    "/trends": [
        *_scoped("/trends", dashboard=True, unit="contact", **UA_RANGE),
        *_scoped("/trends", dashboard=True, unit="contact", split="channel", **UA_RANGE),
        *_scoped("/trends", dashboard=True, unit="person", split="gender", **UA_RANGE),
        _page("/trends"),
    ],
    "/corridors": [*_scoped("/corridors", dashboard=True, **UA_RANGE), _page("/corridors")],
    "/demography": [*_scoped("/demography", dashboard=True, **UA_RANGE), _page("/demography")],
    "/completeness": [*_scoped("/completeness", dashboard=True, **UA_RANGE), _page("/completeness")],
    "/pivot": [
        *_scoped("/pivot", dashboard=True, unit="contact", rows="channel", columns="period", **UA_RANGE),
        *_scoped("/pivot", dashboard=True, unit="person", rows="exploitation_group", columns="", **UA_RANGE),
        _page("/pivot"),
    ],
    "/{view}/export": [
        *(
            probe
            for output in ("csv", "json", "sdmx-csv")
            for probe in _scoped("/trends/export", dashboard=True, unit="contact", format=output, **UA_RANGE)
        ),
        *(
            probe
            for output in ("csv", "json", "sdmx-csv")
            for probe in _scoped("/completeness/export", dashboard=True, format=output, **UA_RANGE)
        ),
        *(
            probe
            for output in ("csv", "json", "sdmx-csv")
            for probe in _scoped(
                "/pivot/export", dashboard=True, unit="contact", rows="channel", format=output, **UA_RANGE
            )
        ),
    ],
}

#: The probes whose answer must be a success, so that the comparison is of answers and not only of refusals.
ANSWERED: Final = {"/v1/stats/contacts", "/v1/estimates/contact", "/v1/completeness", "/trends", "/completeness"}


#: An answer as compared: status, the headers in _COMPARED_HEADERS, body.
Answer = tuple[int, dict[str, str], str]


@dataclass
class Answers:
    alone: dict[str, Answer]
    together: dict[str, Answer]
    routes: set[str]


def _ask(hub: HubUnderTest, bearer: dict[str, str], dashboard: TestClient) -> dict[str, Answer]:
    """Every probe's status, compared headers and body."""
    answers = {}
    for probes in PROBES.values():
        for probe in probes:
            if probe.dashboard:
                response = dashboard.get(probe.path, params=list(probe.params))
            else:
                response = hub.client.get(probe.path, params=list(probe.params), headers=bearer)
            headers = {name: response.headers[name] for name in _COMPARED_HEADERS if name in response.headers}
            answers[probe.label] = (response.status_code, headers, response.text)
    return answers


def _release_ua(hub: HubUnderTest) -> None:
    hub.enroll("ua-kyiv", "UA")
    hub.enroll("ua-lviv", "UA")
    for hotline_id in ("ua-kyiv", "ua-lviv"):
        for period in ("2026-08", "2026-09"):
            hub.submit_cells(hotline_id, period, {"contacts": [5] * 72}, tables=("contacts",))


def _release_md(hub: HubUnderTest) -> None:
    """Moldova: every table of taxonomy v1 (Ukraine released contacts only), a month Ukraine never reported, a
    revision and a withdrawal, a logged policy, and a release of taxonomy v2 (which Ukraine never followed)."""
    hub.enroll("md-chisinau", "MD")
    hub.log_loose_policy("md-chisinau")
    hub.submit(hub.release("md-chisinau", "2026-09"))
    hub.submit(hub.release("md-chisinau", "2026-10"))
    revised = hub.submit(hub.release("md-chisinau", "2026-10", revision=2))
    withdrawn = hub.client.post(
        f"/v1/admin/submissions/{revised.submission_id}/withdraw", json={"reason": "test"}, headers=hub.auth("admin")
    )
    assert withdrawn.status_code == 200, withdrawn.text
    hub.submit(hub.release("md-chisinau", "2026-07", revision=1))
    v2 = builtin_taxonomy(2)
    person_and_case = sorted(name for name, table in v2.tables.items() if table.unit != "contact")
    key = hub.hotlines["md-chisinau"].key
    hub.submit(make_release(v2, key, hotline_id="md-chisinau", period="2026-08", tables=person_and_case))


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Answers]:
    for hub in start_hub(Path(tmp_path_factory.mktemp("scope")) / "hub", rate_limits=False):
        with write_session(hub.context.sessions) as session:
            token = (
                TokenService(session)
                .create(role="coordinator", label="Kyiv desk", now=hub.clock(), countries=frozenset({"UA"}))
                .token
            )
        _release_ua(hub)
        bearer = {"Authorization": f"Bearer {token}"}
        dashboard = TestClient(hub.client.app, follow_redirects=False)
        form = dashboard.get("/login", params={"next": "/trends"})
        csrf = _CSRF.search(form.text)
        assert csrf is not None
        signed_in = dashboard.post("/login", data={"token": token, "csrf": csrf.group(1), "next": "/trends"})
        assert signed_in.status_code == 303, signed_in.text
        alone = _ask(hub, bearer, dashboard)
        _release_md(hub)
        together = _ask(hub, bearer, dashboard)
        routes = {path for (method, path) in route_paths(hub.client.app) if method == "GET"}  # type: ignore[arg-type]
        yield Answers(alone, together, routes)


def test_every_get_route_is_probed(answers: Answers) -> None:
    assert answers.routes == set(PROBES), "add the new GET route to PROBES"


# ---------------------------------------------------------------------------------------------- normalising


def _normalised(answer: Answer) -> Answer:
    """The answer with the log checkpoint it names (size, root hash, signature) and its request id (a problem
    detail's) replaced by placeholders."""
    status, headers, body = answer
    headers = dict(headers)
    if "content-disposition" in headers:
        headers["content-disposition"] = re.sub(r"-cp\d+\.", "-cpN.", headers["content-disposition"])
    kind = headers.get("content-type", "")
    if kind.startswith(("application/json", "application/problem+json")):
        body = json.dumps(_without_checkpoint(json.loads(body)), sort_keys=True)
    elif kind.startswith(("text/csv", "application/vnd.sdmx")):
        body = _csv_without_checkpoint(body)
    elif kind.startswith("text/html"):
        body = re.sub(r"checkpoint <strong>\d+</strong>\s*\(root <code>[^<]*</code>\)", "checkpoint N (root R)", body)
    elif body.startswith("hub.test.tipshare/log\n"):  # the signed note of /v1/checkpoint
        body = body.split("\n", 1)[0]
    return status, headers, body


def _without_checkpoint(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: f"<{key}>" if key in {"checkpoint", "request_id"} else _without_checkpoint(v)
            for key, v in value.items()
        }
    if isinstance(value, list):
        return [_without_checkpoint(item) for item in value]
    return value


def _csv_without_checkpoint(text: str) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return text
    blank = {index for index, name in enumerate(rows[0]) if name in _CHECKPOINT_COLUMNS}
    out = io.StringIO()
    csv.writer(out).writerows([[("" if i in blank else cell) for i, cell in enumerate(row)] for row in rows])
    return out.getvalue()


# ---------------------------------------------------------------------------------------------- the comparison


@pytest.mark.parametrize("route", list(PROBES))
def test_attack_a_scoped_coordinator_learns_nothing_of_other_countries(answers: Answers, route: str) -> None:
    leaks = []
    for probe in PROBES[route]:
        alone, together = answers.alone[probe.label], answers.together[probe.label]
        if _normalised(alone) != _normalised(together):
            leaks.append(f"{probe.label}:\n  without MD: {_short(alone)}\n  with MD:    {_short(together)}")
    assert not leaks, "answers that depend on another country:\n" + "\n".join(leaks)


def test_the_probes_were_answered(answers: Answers) -> None:
    """The comparison is of real answers: the in-scope questions succeed, out-of-scope ones are refused."""
    for probes in PROBES.values():
        for probe in probes:
            status = answers.together[probe.label][0]
            params = dict(probe.params)
            if probe.path in ANSWERED and params.get("country") != "MD" and "hotline" not in params:
                assert status == 200, probe.label
            if params.get("hotline") in ("md-chisinau", "xx-nowhere") and not probe.dashboard:
                assert status == 404, probe.label
            if params.get("country") == "MD" and not probe.dashboard:
                assert status == 403, probe.label


def test_an_out_of_scope_hotline_is_answered_like_a_missing_one(answers: Answers) -> None:
    for path in ("/v1/stats/contacts", "/v1/completeness", "/v1/exports/completeness.sdmx.csv"):
        enrolled = answers.together[_api(path, **UA_RANGE, hotline="md-chisinau").label]
        missing = answers.together[_api(path, **UA_RANGE, hotline="xx-nowhere").label]
        assert enrolled[0] == missing[0] == 404
        assert json.loads(enrolled[2])["detail"] == "no hotline 'md-chisinau' is enrolled in countries UA"
        assert json.loads(missing[2])["detail"] == "no hotline 'xx-nowhere' is enrolled in countries UA"
        assert "MD" not in enrolled[2].replace("'md-chisinau'", "")


def _short(answer: Answer) -> str:
    status, headers, body = _normalised(answer)
    return f"{status} {headers} {body[:600]!r}"
