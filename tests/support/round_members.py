# SPDX-License-Identifier: Apache-2.0
"""Members of a secure round, simulated with the protocol's member functions and driven over the hub's HTTP API
(the node's side comes later): enrol hotlines with sealing keys, read a round, post signed messages."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.db import write_session
from hub.services.secure_rounds import SecureRounds
from protocol.crypto import AgreementKey, SigningKey
from protocol.messages import SecaggMemberEntry, SecaggStepEntry, b64decode, format_timestamp, parse_log_entry
from protocol.secagg.member import (
    RoundSecrets,
    decide_unmask,
    make_masked_submission,
    make_share_submission,
    reveal_shares,
)
from protocol.secagg.messages import (
    CommittedSet,
    MaskedSubmission,
    RoundResult,
    RoundRoster,
    ShareSubmission,
    Survivors,
    UnmaskReveal,
)
from protocol.secagg.signed import (
    MemberMessage,
    RoundRead,
    member_message,
    sign_member_message,
    sign_round_read,
    step_message,
)
from tests.support.hubs import HubUnderTest

GROUP, PERIOD = "region-eu-east", "2026-10"


def drbg(label: str) -> Callable[[int], bytes]:
    """Deterministic test randomness (SHAKE-256 of a label and a counter)."""
    counter = 0

    def draw(n: int) -> bytes:
        nonlocal counter
        counter += 1
        return hashlib.shake_256(f"{label}/{counter}".encode()).digest(n)

    return draw


def member_values(member: str, length: int) -> tuple[list[int], list[int]]:
    """A member's true counts (0..40) and its noise share (-60..60), fixed by its id."""
    raw = hashlib.shake_256(member.encode()).digest(2 * length)
    return [b % 41 for b in raw[:length]], [b % 121 - 60 for b in raw[length:]]


@dataclass
class Member:
    id: str
    key: SigningKey
    sealing: AgreementKey
    secrets: RoundSecrets | None = None
    masked: MaskedSubmission | None = None


@dataclass
class RoundShown:
    """A round as ``GET /v1/rounds/...`` shows it, parsed."""

    document: dict[str, Any]
    roster: RoundRoster
    committed: CommittedSet | None = None
    survivors: Survivors | None = None
    result: RoundResult | None = None
    submissions: dict[str, ShareSubmission] = field(default_factory=dict)
    masked: dict[str, MaskedSubmission] = field(default_factory=dict)
    reveals: dict[str, UnmaskReveal] = field(default_factory=dict)


def enroll_members(
    hub: HubUnderTest, n: int, *, sealing: bool = True, start: int = 0, countries: tuple[str, ...] = ("MD",)
) -> dict[str, Member]:
    """Enroll ``n`` members (``hotline-NN``), in ``countries`` by turns."""
    members = {}
    for i in range(start, start + n):
        member = Member(f"hotline-{i:02d}", SigningKey(drbg(f"key/{i}")(32)), AgreementKey(drbg(f"seal/{i}")(32)))
        body = {
            "id": member.id,
            "display_name": member.id,
            "country": countries[i % len(countries)],
            "public_key": member.key.verify_key.to_text(),
        }
        if sealing:
            body["sealing_key"] = member.sealing.public_key.to_text()
        response = hub.client.post("/v1/admin/hotlines", json=body, headers=hub.auth("admin"))
        assert response.status_code == 201, response.text
        members[member.id] = member
    return members


#: The tables the test rounds add: 42 cells (of every taxonomy), so a round of 20 over HTTP stays fast.
TABLES = ("cases_opened",)


def create_group(
    hub: HubUnderTest, members: list[str], *, threshold: int, tables: tuple[str, ...] = TABLES, scaling: int = 1
) -> None:
    with write_session(hub.context.sessions) as session:
        SecureRounds(hub.context, session).create_group(
            group_id=GROUP, members=members, threshold=threshold, tables=tables, now=hub.clock(), scaling=scaling
        )


def open_round(hub: HubUnderTest) -> None:
    with write_session(hub.context.sessions) as session:
        SecureRounds(hub.context, session).open_round(group_id=GROUP, period=PERIOD, now=hub.clock())


def signed_read(hub: HubUnderTest, member: Member, number: int | None = None, **change: Any) -> bytes:
    """A member's signed request to read the round (``change`` overrides fields of the request)."""
    request = RoundRead(
        type="secagg-read",
        version="tipshare/1",
        hotline_id=member.id,
        group=GROUP,
        period=PERIOD,
        round=number,
        at=format_timestamp(hub.clock()),
    ).model_copy(update=change)
    return sign_round_read(request, key=member.key).canonical_bytes()


def read_round(hub: HubUnderTest, number: int | None = None, *, member: Member | None = None) -> RoundShown:
    """The round as an auditor reads it (``GET``, token), or as ``member`` reads it (signed request)."""
    if member is None:
        path = f"/v1/rounds/{GROUP}/{PERIOD}" + ("" if number is None else f"/{number}")
        response = hub.client.get(path, headers=hub.auth("auditor"))
    else:
        response = hub.client.post("/v1/rounds/state", content=signed_read(hub, member, number))
    assert response.status_code == 200, response.text
    document = response.json()

    def step(name: str) -> Any:
        leaf = document["steps"].get(name)
        if leaf is None:
            return None
        entry = parse_log_entry(b64decode(leaf["entry"]))
        assert isinstance(entry, SecaggStepEntry)
        return step_message(entry)

    read = RoundShown(
        document, step("roster"), committed=step("committed"), survivors=step("survivors"), result=step("result")
    )
    for name, into in (("shares", read.submissions), ("masked", read.masked), ("reveals", read.reveals)):
        for leaf in document[name]:
            entry = parse_log_entry(b64decode(leaf["entry"]))
            assert isinstance(entry, SecaggMemberEntry)
            message = member_message(entry)
            into[message.member] = message  # type: ignore[index, assignment]
    return read


def post(hub: HubUnderTest, message: MemberMessage, key: SigningKey) -> Any:
    signed = sign_member_message(message, key=key)
    return hub.client.post(
        "/v1/rounds/messages", content=signed.canonical_bytes(), headers={"Content-Type": "application/json"}
    )


def share(hub: HubUnderTest, member: Member, roster: RoundRoster) -> ShareSubmission:
    submission, member.secrets = make_share_submission(
        roster=roster, member=member.id, sealing_key=member.sealing, randomness=drbg(f"round/{member.id}")
    )
    response = post(hub, submission, member.key)
    assert response.status_code == 201, response.text
    return submission


def mask(hub: HubUnderTest, member: Member, read: RoundShown, *, declare_noise: bool = True) -> MaskedSubmission:
    """Post the member's masked vector (its counts times the roster's scaling factor, plus its noise), declaring a
    share σ of 1.5 for every table (as nodes do) unless told not to (a message from before the declaration
    existed)."""
    assert read.committed is not None
    assert member.secrets is not None
    counts, noise = member_values(member.id, read.roster.vector_length)
    member.masked = make_masked_submission(
        [read.roster.factor * c + z for c, z in zip(counts, noise, strict=True)],
        roster=read.roster,
        committed=read.committed,
        submissions=read.submissions,
        member=member.id,
        secrets=member.secrets,
        noise=dict.fromkeys(read.roster.tables, "1.5") if declare_noise else None,
    )
    response = post(hub, member.masked, member.key)
    assert response.status_code == 201, response.text
    return member.masked


def reveal(hub: HubUnderTest, member: Member, read: RoundShown) -> UnmaskReveal:
    assert read.committed is not None
    assert read.survivors is not None
    assert member.secrets is not None
    assert member.masked is not None
    decision = decide_unmask(
        roster=read.roster, committed=read.committed, survivors=read.survivors, member=member.id, own=member.masked
    )
    message = reveal_shares(
        decision,
        roster=read.roster,
        survivors=read.survivors,
        submissions=read.submissions,
        member=member.id,
        sealing_key=member.sealing,
        secrets=member.secrets,
    )
    response = post(hub, message, member.key)
    assert response.status_code == 201, response.text
    return message
