# SPDX-License-Identifier: Apache-2.0
"""The key history rebuilt from key events: validity at a time, windows, and events the hub would never log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from auditor.findings import Check
from auditor.keys import HotlineWindows, KeyHistory
from protocol.crypto import SigningKey, VerifyKey
from protocol.messages import PROTOCOL_VERSION, KeyEventEntry, format_timestamp

T0 = datetime(2026, 1, 10, 9, tzinfo=UTC)
T1 = datetime(2026, 3, 5, 12, tzinfo=UTC)
T2 = datetime(2026, 5, 20, 8, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def _key() -> VerifyKey:
    return SigningKey.generate().verify_key


def _event(
    kind: str, key: VerifyKey, at: datetime, *, hotline: str = "ua-a", country: str = "UA", **extra: str
) -> KeyEventEntry:
    return KeyEventEntry(
        type="log_entry",
        version=PROTOCOL_VERSION,
        kind=kind,  # type: ignore[arg-type]
        hotline_id=hotline,
        key_id=key.key_id,
        public_key=key.to_text(),
        display_name=hotline,
        country=country,
        effective_at=format_timestamp(at),
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def keys() -> tuple[VerifyKey, VerifyKey]:
    return _key(), _key()


@pytest.fixture
def history(keys: tuple[VerifyKey, VerifyKey]) -> KeyHistory:
    """ua-a: key A from T0, rotated to key B at T1, B revoked at T2."""
    a, b = keys
    history = KeyHistory()
    assert history.apply(0, _event("key_enrolled", a, T0)) == []
    assert history.apply(5, _event("key_rotated", b, T1, previous_key_id=a.key_id)) == []
    assert history.apply(9, _event("key_revoked", b, T2, reason="laptop stolen")) == []
    return history


def test_a_key_is_valid_from_its_enrolment_until_it_is_rotated_out(
    history: KeyHistory, keys: tuple[VerifyKey, VerifyKey]
) -> None:
    a, b = keys
    assert history.key_for("ua-a", a.key_id, at=T0) == a
    assert history.key_for("ua-a", a.key_id, at=T1 - SECOND) == a
    rotated = history.key_for("ua-a", a.key_id, at=T1)
    assert rotated == (
        f"key {a.key_id} of ua-a was replaced by a rotation at 2026-03-05T12:00:00Z, "
        "not after the entry was received (2026-03-05T12:00:00Z)"
    )
    assert history.key_for("ua-a", b.key_id, at=T1) == b
    early = history.key_for("ua-a", b.key_id, at=T1 - SECOND)
    assert isinstance(early, str)
    assert "only became valid at 2026-03-05T12:00:00Z" in early


def test_a_revoked_key_is_invalid_from_the_revocation_on(
    history: KeyHistory, keys: tuple[VerifyKey, VerifyKey]
) -> None:
    _, b = keys
    assert history.key_for("ua-a", b.key_id, at=T2 - SECOND) == b
    revoked = history.key_for("ua-a", b.key_id, at=T2)
    assert isinstance(revoked, str)
    assert revoked.startswith(f"key {b.key_id} of ua-a was revoked at 2026-05-20T08:00:00Z (laptop stolen)")


def test_unknown_hotlines_and_keys_of_other_hotlines_are_named(
    history: KeyHistory, keys: tuple[VerifyKey, VerifyKey]
) -> None:
    a, _ = keys
    assert history.key_for("md-a", a.key_id, at=T1) == (
        "hotline md-a was never enrolled: no key event for it precedes the entry"
    )
    stranger = _key()
    history.apply(10, _event("key_enrolled", stranger, T0, hotline="md-a", country="MD"))
    assert history.key_for("ua-a", stranger.key_id, at=T1) == (
        f"key {stranger.key_id} is not enrolled for hotline ua-a in the log before the entry"
    )


def test_windows_say_which_months_a_hotline_is_expected(history: KeyHistory, keys: tuple[VerifyKey, VerifyKey]) -> None:
    (windows,) = history.hotlines()
    assert windows == HotlineWindows("ua-a", "UA", ((T0, T1), (T1, T2)), display_name="ua-a")
    expected = [p for p in ("2025-12", "2026-01", "2026-03", "2026-05", "2026-06") if windows.enrolled_during(p)]
    assert expected == ["2026-01", "2026-03", "2026-05"]
    assert (history.enrolments, history.rotations, history.revocations) == (1, 1, 1)
    assert [index for index, _ in history.events] == [0, 5, 9]
    assert KeyHistory.replay(history.events[:2]).hotlines()[0].windows == ((T0, T1), (T1, None))


def test_events_the_hub_would_never_log_are_named(keys: tuple[VerifyKey, VerifyKey]) -> None:
    a, b = keys
    history = KeyHistory()
    history.apply(0, _event("key_enrolled", a, T0))

    def problems(index: int, event: KeyEventEntry) -> list[str]:
        failures = history.apply(index, event)
        assert all(f.check is Check.KEY_HISTORY and f.index == index for f in failures)
        return [f.message for f in failures]

    assert problems(1, _event("key_enrolled", a, T1, hotline="md-a", country="MD")) == [
        f"key {a.key_id} was already enrolled (for ua-a); every hotline key must be new"
    ]
    assert problems(2, _event("key_enrolled", b, T1)) == [
        f"enrols a second current key for ua-a while key {a.key_id} is valid "
        "(a new key for an enrolled hotline is a rotation naming the key it replaces)"
    ]
    ghost = _key()
    assert problems(3, _event("key_rotated", _key(), T1, previous_key_id=ghost.key_id)) == [
        f"replaces key {ghost.key_id}, which is not a key of ua-a"
    ]
    assert problems(4, _event("key_revoked", ghost, T1, reason="lost")) == [
        f"revokes key {ghost.key_id}, which the log never enrolled"
    ]
    assert problems(5, _event("key_revoked", a, T1, hotline="md-a", reason="lost")) == [
        f"revokes key {a.key_id} as a key of md-a, but it belongs to ua-a"
    ]
    assert problems(6, _event("key_revoked", a, T2, reason="lost")) == []
    assert problems(7, _event("key_revoked", a, T2, reason="lost")) == [
        f"revokes key {a.key_id} again (it was revoked at 2026-05-20T08:00:00Z)"
    ]
    d = _key()
    assert problems(8, _event("key_rotated", d, T2, previous_key_id=a.key_id)) == [
        f"replaces key {a.key_id} of ua-a, which was no longer its current key"
    ]
    e = _key()
    assert problems(9, _event("key_rotated", e, T2, hotline="ro-a", country="RO", previous_key_id=d.key_id)) == [
        f"replaces key {d.key_id}, which is not a key of ro-a",
        "rotates a key of hotline ro-a, which the log never enrolled",
    ]
    mismatched = _event("key_enrolled", _key(), T2, hotline="md-b", country="MD").model_copy(
        update={"key_id": a.key_id}
    )
    assert problems(10, mismatched) == [f"key_enrolled event: key id {a.key_id} is not its key's id"]
    assert problems(11, _event("key_enrolled", _key(), T2, hotline="ro-a", country="MD")) == [
        "moves hotline ro-a from country RO to MD",
        f"enrols a second current key for ro-a while key {e.key_id} is valid "
        "(a new key for an enrolled hotline is a rotation naming the key it replaces)",
    ]


def test_an_end_of_validity_backdated_before_a_logged_submission_is_named(keys: tuple[VerifyKey, VerifyKey]) -> None:
    a, _ = keys
    history = KeyHistory()
    history.apply(0, _event("key_enrolled", a, T0))
    history.record_use(a.key_id, index=1, at=T2)
    (failure,) = history.apply(2, _event("key_revoked", a, T1, reason="compromised since March"))
    assert failure.message == (
        f"ends key {a.key_id} at 2026-03-05T12:00:00Z, before entry 1 signed with it was received "
        "(2026-05-20T08:00:00Z) and logged: the end of validity is backdated"
    )
    # A revocation in the same second as a submission it follows in the log is not backdated.
    same = KeyHistory()
    same.apply(0, _event("key_enrolled", a, T0))
    same.record_use(a.key_id, index=1, at=T1)
    assert same.apply(2, _event("key_revoked", a, T1, reason="lost")) == []
