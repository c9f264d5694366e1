# SPDX-License-Identifier: Apache-2.0
"""``reporting_from`` in ``hotline_policy`` entries: old entries keep their exact bytes and leaf hash, new ones
round-trip, and a start before the first period is refused."""

from __future__ import annotations

import pytest

from protocol.canonical import canonical_bytes
from protocol.errors import MalformedMessage
from protocol.merkle import leaf_hash
from protocol.messages import HotlinePolicyEntry, parse_log_entry

#: A policy entry as ``tipshare/1`` logged it before ``reporting_from`` existed (its canonical bytes, verbatim).
OLD_ENTRY = (
    b'{"caps":[{"measure":"rho","period":"0.2","year":"1.5"}],"effective_at":"2026-11-01T08:00:00Z",'
    b'"first_period":"2024-11","hotline_id":"la-strada-ua","kind":"hotline_policy","max_monthly_volume":400,'
    b'"reason":null,"type":"log_entry","version":"tipshare/1"}'
)


def _fields(**changes: object) -> dict[str, object]:
    old = HotlinePolicyEntry.from_canonical(OLD_ENTRY).model_dump(mode="json", exclude={"reporting_from"})
    return {**old, **changes}


def test_an_old_policy_entry_parses_and_keeps_its_bytes_and_leaf_hash() -> None:
    entry = parse_log_entry(OLD_ENTRY)

    assert isinstance(entry, HotlinePolicyEntry)
    assert entry.reporting_from is None
    assert entry.canonical_bytes() == OLD_ENTRY
    assert leaf_hash(entry.canonical_bytes()) == leaf_hash(OLD_ENTRY)
    assert b"reporting_from" not in entry.canonical_bytes()


def test_a_new_policy_entry_round_trips_with_its_start() -> None:
    data = canonical_bytes(_fields(reporting_from="2026-10"))

    entry = parse_log_entry(data)

    assert isinstance(entry, HotlinePolicyEntry)
    assert entry.reporting_from == "2026-10"
    assert entry.canonical_bytes() == data
    assert b'"reporting_from":"2026-10"' in data


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2024-10", "reporting_from 2024-10 is before first_period 2024-11"),
        ("2026-13", "reporting_from"),
        ("2026-1", "reporting_from"),
    ],
)
def test_a_start_that_cannot_be_is_refused(value: str, message: str) -> None:
    with pytest.raises(MalformedMessage, match=message):
        parse_log_entry(canonical_bytes(_fields(reporting_from=value)))
