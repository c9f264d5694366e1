# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub serve --workers 2`` as an operator runs it: one set of counters for both workers, and JSON logs
whose request ids are the ones the answers carry."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hub.db import write_session
from hub.services.tokens import TokenService
from hub.settings import Settings
from hub.setup import initialise_hub
from tests.support.backends import fresh_database_url
from tools.served_hub import ServedHub, served_hub

pytestmark = pytest.mark.slow

ORIGIN = "hub.test.tipshare/operations"
#: Enough requests that both workers answer some (checked from the log, not assumed); more are sent if not.
REQUESTS = 24


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[ServedHub, str]]:
    data_dir = tmp_path / "hub"
    with fresh_database_url() as database_url:
        context = initialise_hub(Settings(data_dir=data_dir, database_url=database_url), origin=ORIGIN)
        with write_session(context.sessions) as session:
            token = TokenService(session).create(role="admin", label="scraper", now=context.clock()).token
        context.engine.dispose()
        (data_dir / "metrics").mkdir()
        (data_dir / "metrics" / "counter_1.db").write_bytes(b"left over from an earlier run")
        settings = {"TIPSHARE_HUB_RATE_LIMITS": "off"}
        with served_hub(data_dir, database_url=database_url, workers=2, settings=settings) as served:
            yield served, token


def _log_lines(served: ServedHub) -> list[dict[str, object]]:
    lines = []
    for line in served.log().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def _lines_of(served: ServedHub, request_id: str, *, within: float = 30.0) -> list[dict[str, object]]:
    """The log lines of one request. A worker writes its access line once the answer has gone out, so the client
    can read the answer first: wait for the line (a busy machine delays it; a missing line still fails)."""
    deadline = time.monotonic() + within
    while True:
        lines = [entry for entry in _log_lines(served) if entry["request_id"] == request_id]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def _count(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def test_two_workers_report_one_set_of_counters_and_log_json(two_workers: tuple[ServedHub, str]) -> None:
    served, token = two_workers
    metrics_dir = served.log_path.parent / "hub" / "metrics"
    assert stat.S_IMODE(os.stat(metrics_dir).st_mode) == 0o700
    assert not (metrics_dir / "counter_1.db").exists(), "the directory is wiped at start"

    sent: list[str] = []
    workers: set[object] = set()
    while len(sent) < REQUESTS or len(workers) < 2:
        assert len(sent) < 400, f"one worker answered every request:\n{served.log_tail()}"
        request_id = f"ops-test-{len(sent):04d}"
        with httpx.Client() as client:  # a new connection each time: either worker may accept it
            answer = client.get(f"{served.url}/v1/hub", headers={"X-Request-ID": request_id})
        assert answer.status_code == 200
        assert answer.headers["x-request-id"] == request_id
        sent.append(request_id)
        if len(sent) >= REQUESTS:
            by_id = {line["request_id"]: line for line in _log_lines(served) if line["logger"] == "tipshare.access"}
            workers = {by_id[i]["pid"] for i in sent if i in by_id}

    # Each scrape, whichever worker answers it, counts every request once (not one worker's share).
    for _ in range(6):
        with httpx.Client() as client:
            scrape = client.get(f"{served.url}/metrics", headers={"Authorization": f"Bearer {token}"})
        assert scrape.status_code == 200, scrape.text
        count = _count(scrape.text, "tipshare_http_requests_total", route="/v1/hub", status="200")
        assert count == len(sent), served.log_tail()
        assert _count(scrape.text, "tipshare_http_request_seconds_count", route="/v1/hub") == len(sent)
        assert _count(scrape.text, "tipshare_log_size") == 0

    # A refusal: its problem detail, its header and its access line name the same request.
    refused = httpx.get(f"{served.url}/v1/admin/tokens", headers={"Authorization": "Bearer tsh_wrong"})
    assert refused.status_code == 401
    request_id = refused.headers["x-request-id"]
    assert refused.json()["request_id"] == request_id
    (line,) = _lines_of(served, request_id)
    assert line["logger"] == "tipshare.access"
    assert (line["method"], line["path"], line["status"], line["level"]) == ("GET", "/v1/admin/tokens", 401, "INFO")
    assert isinstance(line["duration_ms"], float)
    # uvicorn's own lines are JSON as well, with no request id.
    started = [entry for entry in _log_lines(served) if entry["message"] == "Application startup complete."]
    assert len(started) == 2
    assert {entry["request_id"] for entry in started} == {None}
