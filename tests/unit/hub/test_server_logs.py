# SPDX-License-Identifier: Apache-2.0
"""Structured logs: one JSON object a line with the request id, which the answer's X-Request-ID header and its
problem details carry too; text on a terminal."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from hub.server_logs import ACCESS_LOGGER, JsonFormatter, TextFormatter, logging_config, resolve_log_format
from tests.support.hubs import HubUnderTest


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the hub's loggers write, formatted as ``serve`` formats it in JSON."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tipshare")
    before = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before)


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_an_access_line_problem_and_header_share_the_request_id(hub: HubUnderTest, json_lines: io.StringIO) -> None:
    answer = hub.client.get("/v1/no-such-route?x=1", headers=hub.auth("coordinator"))
    assert answer.status_code == 404
    request_id = answer.headers["x-request-id"]
    assert answer.json()["request_id"] == request_id

    (line,) = [record for record in _records(json_lines) if record["logger"] == ACCESS_LOGGER]
    assert line["request_id"] == request_id
    assert (line["method"], line["path"], line["status"]) == ("GET", "/v1/no-such-route", 404)
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert line["level"] == "INFO"
    assert str(line["time"]).endswith("Z")
    assert line["message"] == "GET /v1/no-such-route 404"


def test_a_clients_request_id_is_the_one_logged(hub: HubUnderTest, json_lines: io.StringIO) -> None:
    answer = hub.client.get("/v1/hub", headers={"X-Request-ID": "proxy-0001abcd"})
    assert answer.headers["x-request-id"] == "proxy-0001abcd"
    (line,) = [record for record in _records(json_lines) if record["logger"] == ACCESS_LOGGER]
    assert line["request_id"] == "proxy-0001abcd"


def test_a_problem_outside_a_request_has_no_id_and_a_log_line_says_null() -> None:
    record = logging.LogRecord("hub", logging.WARNING, __file__, 1, "disk %s", ("full",), None)
    document = json.loads(JsonFormatter().format(record))
    assert document["message"] == "disk full"
    assert document["request_id"] is None
    assert set(document) == {"time", "level", "logger", "message", "request_id", "pid"}


def test_text_on_a_terminal_json_elsewhere() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert resolve_log_format("auto", Terminal()) == "text"
    assert resolve_log_format("auto", io.StringIO()) == "json"
    assert resolve_log_format("json", Terminal()) == "json"
    assert resolve_log_format("text", io.StringIO()) == "text"
    record = logging.LogRecord("hub", logging.INFO, __file__, 1, "hello", (), None)
    assert TextFormatter().format(record).endswith("INFO hub: hello")
    config = logging_config("json")
    assert config["formatters"]["hub"]["()"] == "hub.server_logs.JsonFormatter"
    assert config["loggers"]["uvicorn.access"]["handlers"] == []  # replaced by the hub's access line
