# SPDX-License-Identifier: Apache-2.0
"""Protocol messages: strict, frozen, versioned, canonical."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pydantic
import pytest

from protocol.canonical import canonical_bytes
from protocol.errors import MalformedMessage, NonCanonicalEncoding, UnsupportedVersion
from protocol.messages import (
    MAX_ABS_CELL,
    KeyEventEntry,
    SubmissionEntry,
    SubmissionPayload,
    TableRelease,
    b64decode,
    b64encode,
    format_timestamp,
    parse_log_entry,
    parse_timestamp,
)
from protocol.period import Period


def _mutated(payload: SubmissionPayload, path: list[str | int], value: Any) -> bytes:
    document = payload.model_dump(mode="json")
    target = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return canonical_bytes(document)


def test_payload_round_trips_through_canonical_bytes(make_payload) -> None:  # type: ignore[no-untyped-def]
    payload = make_payload()
    data = payload.canonical_bytes()
    assert SubmissionPayload.from_canonical(data) == payload
    assert b" " not in data.replace(b"tipshare-taxonomy/1", b"")
    assert json.loads(data)["tables"][1]["cells"] == [3, -1, 0, 0, 12, 4]


def test_messages_are_frozen(make_payload) -> None:  # type: ignore[no-untyped-def]
    payload = make_payload()
    with pytest.raises(pydantic.ValidationError):
        payload.revision = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["surprise"], 1, "surprise: Extra inputs are not permitted"),
        (["revision"], "1", "revision: Input should be a valid integer"),
        (["revision"], True, "revision: Input should be a valid integer"),
        (["revision"], 0, "revision: Input should be greater than or equal to 1"),
        (["period"], "2026-13", "period: String should match pattern"),
        (["period"], "2026-1", "period: String should match pattern"),
        (["period"], "0000-12", "period 0000-12 is in year 0, which does not exist"),
        (["created_at"], "2026-11-02 09:30:00", "not of the form YYYY-MM-DDTHH:MM:SSZ"),
        (["created_at"], "2026-02-30T09:30:00Z", "not a real date"),
        (["nonce"], b64encode(b"short"), "nonce"),
        (["hotline_id"], "La Strada", "hotline_id: String should match pattern"),
        (["key_id"], "XYZ", "key_id: String should match pattern"),
        (["type"], "receipt", "type: Input should be 'submission'"),
        (["tables", 0, "cells", 0], MAX_ABS_CELL + 1, "less than or equal to 10000000"),
        (["tables", 0, "cells"], [], "at least 1 item"),
        (["tables", 0, "name"], "Contacts", "String should match pattern"),
        (["tables", 1, "name"], "contacts", "a table appears twice"),
        (["privacy", "measure"], "epsilon", "accounted in rho, not epsilon"),
        (["privacy", "tables", 0, "scale"], "0", "must be greater than zero"),
        (["privacy", "tables", 0, "scale"], "-1.5", "not a plain non-negative decimal"),
        (["privacy", "tables", 0, "scale"], "1e-3", "not a plain non-negative decimal"),
        (["privacy", "tables", 0, "table"], "other_table", "exactly the released tables"),
        (["privacy", "tables", 1, "table"], "contacts", "a table appears twice in the privacy block"),
        (["privacy", "mode"], "two_aggregator", "mode: Input should be 'local'"),
        (["taxonomy", "hash"], "md5:abc", "taxonomy.hash: String should match pattern"),
    ],
)
def test_invalid_payloads_name_the_field(make_payload, path: list[str | int], value: Any, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MalformedMessage, match=message):
        SubmissionPayload.from_canonical(_mutated(make_payload(), path, value))


def test_other_protocol_version_is_unsupported(make_payload) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnsupportedVersion, match="'tipshare/2'"):
        SubmissionPayload.from_canonical(_mutated(make_payload(), ["version"], "tipshare/2"))


def test_non_canonical_payload_bytes_are_refused(make_payload) -> None:  # type: ignore[no-untyped-def]
    pretty = json.dumps(make_payload().model_dump(mode="json"), indent=2).encode()
    with pytest.raises(NonCanonicalEncoding):
        SubmissionPayload.from_canonical(pretty)
    assert SubmissionPayload.from_json(pretty) == SubmissionPayload.from_canonical(canonical_bytes(json.loads(pretty)))


def test_python_construction_is_strict_too(make_payload) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(pydantic.ValidationError):
        TableRelease(name="contacts", cells=[1, 2])  # type: ignore[arg-type]  # a list is not a tuple
    with pytest.raises(pydantic.ValidationError):
        TableRelease(name="contacts", cells=(1.0,))  # type: ignore[arg-type]


def test_error_summary_is_bounded(make_payload) -> None:  # type: ignore[no-untyped-def]
    document = make_payload().model_dump(mode="json")
    document["tables"][0]["cells"] = ["x"] * 50
    with pytest.raises(MalformedMessage, match=r"cells\.4: .* \(and \d+ more\)$") as raised:
        SubmissionPayload.from_canonical(canonical_bytes(document))
    assert "cells.5" not in str(raised.value)


def test_timestamps() -> None:
    moment = datetime(2026, 11, 2, 11, 30, 5, 999, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(moment) == "2026-11-02T09:30:05Z"
    assert parse_timestamp("2026-11-02T09:30:05Z") == datetime(2026, 11, 2, 9, 30, 5, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        format_timestamp(datetime(2026, 1, 1))
    assert Period.parse("2026-02").start == datetime(2026, 2, 1, tzinfo=UTC)


def test_base64_is_strict() -> None:
    assert b64decode(b64encode(b"\x00\xff")) == b"\x00\xff"
    for bad in ["AA", "AA=", "A===", "AB==", "AA==\n", "Zm9v!"]:
        with pytest.raises(MalformedMessage):
            b64decode(bad)


def _key_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "log_entry",
        "version": "tipshare/1",
        "kind": "key_enrolled",
        "hotline_id": "la-strada-md",
        "key_id": "0" * 32,
        "public_key": "ed25519:" + b64encode(bytes(32)),
        "display_name": "La Strada Moldova",
        "country": "MD",
        "effective_at": "2026-01-05T10:00:00Z",
    }
    event.update(overrides)
    return event


def test_key_events_parse_by_kind() -> None:
    entry = parse_log_entry(canonical_bytes(_key_event()))
    assert isinstance(entry, KeyEventEntry)
    rotated = parse_log_entry(canonical_bytes(_key_event(kind="key_rotated", previous_key_id="1" * 32)))
    assert isinstance(rotated, KeyEventEntry)
    assert rotated.previous_key_id == "1" * 32


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": "key_rotated"}, "previous_key_id is given for a rotation"),
        ({"previous_key_id": "1" * 32}, "previous_key_id is given for a rotation"),
        ({"kind": "key_revoked"}, "a revocation states its reason"),
        ({"kind": "key_lost"}, "unknown log entry kind 'key_lost'"),
        ({"country": "mda"}, "country: String should match pattern"),
    ],
)
def test_key_event_rules(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedMessage, match=message):
        parse_log_entry(canonical_bytes(_key_event(**overrides)))


def test_submission_entry_parses(make_payload) -> None:  # type: ignore[no-untyped-def]
    payload = make_payload()
    entry = SubmissionEntry(
        type="log_entry",
        version="tipshare/1",
        kind="submission",
        hotline_id=payload.hotline_id,
        key_id=payload.key_id,
        period=payload.period,
        revision=payload.revision,
        payload_hash="sha256:" + "0" * 64,
        payload=b64encode(payload.canonical_bytes()),
        signature=b64encode(bytes(64)),
        received_at="2026-11-02T09:31:00Z",
    )
    assert parse_log_entry(entry.canonical_bytes()) == entry
    with pytest.raises(MalformedMessage, match="a log entry is a JSON object"):
        parse_log_entry(b"[]")


def _backfill(first: str, last: str) -> bytes:
    return canonical_bytes(
        {
            "type": "log_entry",
            "version": "tipshare/1",
            "kind": "backfill_approved",
            "hotline_id": "ua-a",
            "first_period": first,
            "last_period": last,
            "reason": "archive",
            "effective_at": "2026-11-21T12:00:00Z",
        }
    )


def test_a_backfill_approval_runs_forward_in_time() -> None:
    assert parse_log_entry(_backfill("2025-12", "2025-12")).kind == "backfill_approved"  # one month
    with pytest.raises(MalformedMessage, match="first_period 2025-12 is after last_period 2025-11"):
        parse_log_entry(_backfill("2025-12", "2025-11"))
    with pytest.raises(MalformedMessage, match="period 0000-01 is in year 0"):
        parse_log_entry(_backfill("0000-01", "2025-11"))
