# SPDX-License-Identifier: Apache-2.0
"""A round in the log: signed members' messages, the hub's step entries, sealing keys in key events."""

from __future__ import annotations

import pytest

from protocol.crypto import AgreementKey, SigningKey
from protocol.errors import InvalidSignature, MalformedMessage
from protocol.messages import (
    KeyEventEntry,
    SecaggFailedEntry,
    SecaggMemberEntry,
    SecaggStepEntry,
    b64decode,
    b64encode,
    parse_log_entry,
)
from protocol.secagg.signed import (
    RosterKeyMismatch,
    RoundRead,
    check_roster_keys,
    member_context,
    member_entry,
    member_message,
    parse_member_message,
    parse_step_message,
    sealing_keys,
    sign_member_message,
    sign_round_read,
    step_entry,
    step_message,
    unverified_round_read,
    verify_member_entry,
    verify_round_read,
    verify_signed,
)
from tests.unit.protocol.secagg_round import Round, make_roster, share_step

AT = "2026-11-02T10:00:00Z"


def _event(hotline: str, key: SigningKey, kind: str = "key_enrolled", **extra: object) -> KeyEventEntry:
    return KeyEventEntry(
        type="log_entry",
        version="tipshare/1",
        kind=kind,  # type: ignore[arg-type]
        hotline_id=hotline,
        key_id=key.verify_key.key_id,
        public_key=key.verify_key.to_text(),
        display_name=hotline,
        country="MD",
        effective_at=AT,
        **extra,  # type: ignore[arg-type]
    )


def _round() -> Round:
    roster, sealing = make_roster(5, threshold=3, length=4)
    rnd = Round(roster=roster, sealing=sealing)
    share_step(rnd)
    return rnd


def test_a_key_event_without_a_sealing_key_keeps_its_bytes() -> None:
    event = _event("hotline-00", SigningKey(bytes(32)))
    assert b"sealing_key" not in event.canonical_bytes()
    assert parse_log_entry(event.canonical_bytes()) == event


def test_a_key_event_carries_a_sealing_key_in_its_bytes() -> None:
    sealing = AgreementKey(bytes(range(32))).public_key.to_text()
    event = _event("hotline-00", SigningKey(bytes(32)), sealing_key=sealing)
    assert f'"sealing_key":"{sealing}"'.encode() in event.canonical_bytes()
    assert parse_log_entry(event.canonical_bytes()) == event


def test_a_revocation_carries_no_sealing_key() -> None:
    sealing = AgreementKey(bytes(range(32))).public_key.to_text()
    with pytest.raises(ValueError, match="never with a revocation"):
        _event("hotline-00", SigningKey(bytes(32)), kind="key_revoked", reason="lost", sealing_key=sealing)


def test_a_signed_share_submission_is_logged_and_verified_from_the_entry() -> None:
    rnd = _round()
    key = SigningKey(bytes(range(32)))
    submission = rnd.submissions["hotline-01"]
    signed = sign_member_message(submission, key=key)
    assert verify_signed(signed, key.verify_key) == submission
    entry = member_entry(signed, submission, received_at=AT)
    parsed = parse_log_entry(entry.canonical_bytes())
    assert isinstance(parsed, SecaggMemberEntry)
    assert parsed.kind == "secagg_shares"
    assert verify_member_entry(parsed, key.verify_key) == submission


def test_a_member_message_signed_by_another_key_is_refused() -> None:
    rnd = _round()
    key, other = SigningKey(bytes(range(32))), SigningKey(bytes(32))
    signed = sign_member_message(rnd.submissions["hotline-01"], key=other)
    with pytest.raises(MalformedMessage, match="names key"):
        verify_signed(signed, key.verify_key)
    forged = signed.model_copy(update={"key_id": key.verify_key.key_id})
    with pytest.raises(InvalidSignature):
        verify_signed(forged, key.verify_key)


def test_a_message_of_another_member_is_refused_even_with_a_good_signature() -> None:
    rnd = _round()
    key = SigningKey(bytes(range(32)))
    signed = sign_member_message(rnd.submissions["hotline-01"], key=key)
    with pytest.raises(MalformedMessage, match="signed a message of member"):
        verify_signed(signed.model_copy(update={"hotline_id": "hotline-02"}), key.verify_key)


def test_a_signature_of_one_message_type_does_not_verify_another() -> None:
    rnd = _round()
    key = SigningKey(bytes(range(32)))
    signed = sign_member_message(rnd.submissions["hotline-01"], key=key)
    data = b64decode(signed.message).replace(b'"secagg-shares"', b'"secagg-masked"')
    with pytest.raises((InvalidSignature, MalformedMessage)):
        verify_signed(signed.model_copy(update={"message": b64encode(data)}), key.verify_key)


def test_a_member_entry_whose_fields_differ_from_its_message_is_refused() -> None:
    rnd = _round()
    key = SigningKey(bytes(range(32)))
    submission = rnd.submissions["hotline-01"]
    entry = member_entry(sign_member_message(submission, key=key), submission, received_at=AT)
    with pytest.raises(MalformedMessage, match="do not match"):
        member_message(entry.model_copy(update={"round": 7}))


def test_hub_steps_round_trip_through_the_log() -> None:
    rnd = _round()
    assert rnd.committed is not None
    for message in (rnd.roster, rnd.committed):
        entry = step_entry(message, effective_at=AT)
        parsed = parse_log_entry(entry.canonical_bytes())
        assert isinstance(parsed, SecaggStepEntry)
        assert step_message(parsed) == message
    with pytest.raises(MalformedMessage, match="do not match"):
        step_message(step_entry(rnd.roster, effective_at=AT).model_copy(update={"kind": "secagg_committed"}))


def test_a_failed_round_entry_parses() -> None:
    entry = SecaggFailedEntry(
        type="log_entry",
        version="tipshare/1",
        kind="secagg_failed",
        group="region-eu-east",
        period="2026-10",
        round=0,
        step="survivors",
        rule="below-threshold",
        reason="only 2 masked vectors",
        effective_at=AT,
    )
    assert parse_log_entry(entry.canonical_bytes()) == entry


def _events_for(rnd: Round) -> list[KeyEventEntry]:
    return [
        _event(m.id, SigningKey(bytes([i]) * 32), sealing_key=m.sealing_key) for i, m in enumerate(rnd.roster.members)
    ]


def test_a_roster_of_enrolled_sealing_keys_passes() -> None:
    rnd = _round()
    check_roster_keys(rnd.roster, _events_for(rnd))


def test_a_roster_with_a_foreign_sealing_key_is_refused() -> None:
    rnd = _round()
    events = _events_for(rnd)
    foreign = AgreementKey(bytes([9]) * 32).public_key.to_text()
    events[2] = events[2].model_copy(update={"sealing_key": foreign})
    with pytest.raises(RosterKeyMismatch) as refused:
        check_roster_keys(rnd.roster, events)
    assert refused.value.rule == "sealing-key-mismatch"


def test_a_rotation_replaces_the_sealing_key_and_a_revocation_clears_it() -> None:
    rnd = _round()
    events = _events_for(rnd)
    member = rnd.roster.members[0]
    old, new = SigningKey(bytes([0]) * 32), SigningKey(bytes([7]) * 32)
    rotated = _event(member.id, new, kind="key_rotated", previous_key_id=old.verify_key.key_id)
    with pytest.raises(RosterKeyMismatch) as refused:
        check_roster_keys(rnd.roster, [*events, rotated])  # the rotation enrolled no sealing key
    assert refused.value.rule == "no-sealing-key"
    revoked = _event(member.id, old, kind="key_revoked", reason="stolen")
    with pytest.raises(RosterKeyMismatch, match="no sealing key"):
        check_roster_keys(rnd.roster, [*events, revoked])
    with pytest.raises(RosterKeyMismatch) as unknown:
        check_roster_keys(rnd.roster, events[1:])
    assert unknown.value.rule == "unknown-hotline"


def test_a_signed_round_read_verifies_only_with_its_signer_key() -> None:
    key, other = SigningKey(bytes(range(32))), SigningKey(bytes(32))
    request = RoundRead(
        type="secagg-read",
        version="tipshare/1",
        hotline_id="hotline-01",
        group="region-eu-east",
        period="2026-10",
        at=AT,
    )
    signed = sign_round_read(request, key=key)
    assert unverified_round_read(signed) == request
    assert verify_round_read(signed, key.verify_key) == request
    with pytest.raises(MalformedMessage, match="names key"):
        verify_round_read(signed, other.verify_key)
    swapped = signed.model_copy(update={"signature": sign_round_read(request, key=other).signature})
    with pytest.raises(InvalidSignature):
        verify_round_read(swapped, key.verify_key)
    # a member's message signature is no read signature: the contexts differ
    message_signature = b64encode(key.sign_message("tipshare/1 secagg-shares", b64decode(signed.request)))
    with pytest.raises(InvalidSignature):
        verify_round_read(signed.model_copy(update={"signature": message_signature}), key.verify_key)


def test_a_revocation_of_a_key_already_rotated_away_keeps_the_current_sealing_key() -> None:
    old, new = SigningKey(bytes([0]) * 32), SigningKey(bytes([7]) * 32)
    first, second = (AgreementKey(bytes([n]) * 32).public_key.to_text() for n in (1, 2))
    enrolled = _event("hotline-a", old, sealing_key=first)
    rotated = _event("hotline-a", new, kind="key_rotated", previous_key_id=old.verify_key.key_id, sealing_key=second)
    assert sealing_keys([enrolled]) == {"hotline-a": first}
    assert sealing_keys([enrolled, rotated]) == {"hotline-a": second}
    late = _event("hotline-a", old, kind="key_revoked", reason="stolen")
    assert sealing_keys([enrolled, rotated, late]) == {"hotline-a": second}
    current = _event("hotline-a", new, kind="key_revoked", reason="stolen")
    assert sealing_keys([enrolled, rotated, current]) == {"hotline-a": None}


def test_only_a_members_message_types_have_a_member_signing_context() -> None:
    assert member_context("secagg-shares") == "tipshare/1 secagg-shares"
    assert member_context("secagg-reveal") == "tipshare/1 secagg-reveal"
    with pytest.raises(MalformedMessage, match="'secagg-roster' is not a member's message of a round"):
        member_context("secagg-roster")


@pytest.mark.parametrize("data", [b"[1]", b'"secagg-shares"', b'{"type":1}', b'{"group":"g"}'])
def test_a_round_message_is_an_object_with_a_type(data: bytes) -> None:
    for parse in (parse_member_message, parse_step_message):
        with pytest.raises(MalformedMessage, match="a round message is a JSON object with a type"):
            parse(data)


def test_a_member_message_is_not_a_hub_step_and_the_other_way_round() -> None:
    rnd = _round()
    shares = next(iter(rnd.submissions.values())).canonical_bytes()
    roster = rnd.roster.canonical_bytes()
    assert parse_member_message(shares) == next(iter(rnd.submissions.values()))
    assert parse_step_message(roster) == rnd.roster
    with pytest.raises(MalformedMessage, match="'secagg-roster' is not a member's message of a round"):
        parse_member_message(roster)
    with pytest.raises(MalformedMessage, match="'secagg-shares' is not a hub step of a round"):
        parse_step_message(shares)
