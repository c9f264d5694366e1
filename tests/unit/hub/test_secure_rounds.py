# SPDX-License-Identifier: Apache-2.0
"""A secure round of 20 members driven over the hub's HTTP API, and every refusal naming its rule."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.db import write_session
from hub.errors import RoundConflict, RoundRefused
from hub.limits import body_cap
from hub.services.rebuild import check_rollups
from hub.services.secure_rounds import SecureRounds
from hub.services.tokens import TokenService
from protocol.crypto import AgreementKey, SigningKey, VerifyKey
from protocol.messages import (
    KeyEventEntry,
    SecaggFailedEntry,
    SecaggMemberEntry,
    SecaggStepEntry,
    b64decode,
    b64encode,
    parse_log_entry,
)
from protocol.secagg import coordinator
from protocol.secagg.encoding import DEFAULT_OFFSET, pack
from protocol.secagg.layout import taxonomy_ref
from protocol.secagg.member import decide_unmask, make_share_submission, reveal_shares
from protocol.secagg.messages import (
    MaskedSubmission,
    RoundResult,
    ShareNoise,
    TableTotal,
    UnmaskReveal,
    digest,
)
from protocol.secagg.signed import sign_member_message, step_message, verify_member_entry
from protocol.secagg.transcript import RoundTranscript, check_transcript
from tests.support.hubs import EnrolledHotline, HubUnderTest
from tests.support.round_members import (
    GROUP,
    PERIOD,
    TABLES,
    Member,
    create_group,
    drbg,
    enroll_members,
    mask,
    member_values,
    open_round,
    post,
    read_round,
    reveal,
    share,
    signed_read,
)

DROP_BEFORE_SHARES = ("hotline-03", "hotline-17")
DROP_BEFORE_MASKED = ("hotline-08", "hotline-11")
DROP_BEFORE_UNMASK = ("hotline-05",)
LENGTH = 42  # the cells of TABLES


def _problem(response: Any, status: int, rule: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["rule"] == rule, response.json()


def _log(hub: HubUnderTest) -> list[bytes]:
    response = hub.client.get("/v1/log/entries", headers=hub.auth("auditor"))
    assert response.status_code == 200, response.text
    return [b64decode(e["data"]) for e in response.json()["entries"]]


def _started(hub: HubUnderTest, n: int = 20, threshold: int = 14) -> dict[str, Member]:
    members = enroll_members(hub, n)
    create_group(hub, list(members), threshold=threshold, tables=TABLES)
    open_round(hub)
    return members


def test_a_round_of_20_over_http_publishes_the_true_sum_plus_noise_and_its_log_checks(hub: HubUnderTest) -> None:
    members = _started(hub)
    roster = read_round(hub, member=members["hotline-00"]).roster
    for m in roster.member_ids:
        if m not in DROP_BEFORE_SHARES:
            share(hub, members[m], roster)
    assert read_round(hub).document["step"] == "shares"  # two members have not answered: wait for the deadline
    hub.clock.advance(days=3, seconds=1)
    read = read_round(hub, member=members["hotline-01"])  # a member's read moves the round on, like a timer
    assert read.document["step"] == "masked"
    assert read.committed is not None
    assert len(read.committed.members) == 18
    for m in read.committed.members:
        if m not in DROP_BEFORE_MASKED:
            mask(hub, members[m], read)
    hub.clock.advance(days=3)
    read = read_round(hub)
    assert read.survivors is not None
    assert len(read.survivors.members) == 16
    for m in read.survivors.member_ids:
        if m not in DROP_BEFORE_UNMASK:
            reveal(hub, members[m], read)
    hub.clock.advance(days=3)
    read = read_round(hub)
    assert read.document["step"] == "done"
    assert read.result is not None
    expected = [0] * LENGTH
    for m in read.survivors.member_ids:
        counts, noise = member_values(m, LENGTH)
        expected = [e + c + z for e, c, z in zip(expected, counts, noise, strict=True)]
    assert list(read.result.sum) == expected

    # Everything again, from the log alone: each entry parses, each member's signature verifies with the key its
    # key event logged, and the transcript passes.
    entries = [parse_log_entry(data) for data in _log(hub)]
    keys = {e.hotline_id: e for e in entries if isinstance(e, KeyEventEntry)}
    steps = {e.kind: step_message(e) for e in entries if isinstance(e, SecaggStepEntry)}
    messages = [e for e in entries if isinstance(e, SecaggMemberEntry)]
    assert len(messages) == 18 + 16 + 15
    for entry in messages:
        assert keys[entry.hotline_id].key_id == entry.key_id
    verified = [verify_member_entry(e, VerifyKey.from_text(keys[e.hotline_id].public_key)) for e in messages]
    by_type: dict[str, list[Any]] = {"secagg-shares": [], "secagg-masked": [], "secagg-reveal": []}
    for message in verified:
        by_type[message.type].append(message)
    result = steps["secagg_result"]
    assert isinstance(result, RoundResult)
    transcript = RoundTranscript(
        roster=steps["secagg_roster"],  # type: ignore[arg-type]
        share_submissions=tuple(by_type["secagg-shares"]),
        committed=steps["secagg_committed"],  # type: ignore[arg-type]
        masked=tuple(by_type["secagg-masked"]),
        survivors=steps["secagg_survivors"],  # type: ignore[arg-type]
        reveals=tuple(by_type["secagg-reveal"]),
        result=result,
    )
    assert check_transcript(transcript) == ()
    assert list(result.sum) == expected


def test_the_round_moves_on_as_soon_as_every_member_answered(hub: HubUnderTest) -> None:
    members = _started(hub, n=3, threshold=2)
    roster = read_round(hub).roster
    for m in roster.member_ids:
        share(hub, members[m], roster)
    read = read_round(hub)
    assert read.document["step"] == "masked"  # no deadline needed
    for m in roster.member_ids:
        mask(hub, members[m], read)
    read = read_round(hub)
    for m in roster.member_ids:
        reveal(hub, members[m], read)
    assert read_round(hub).document["step"] == "done"


def test_refusals_name_their_rule(hub: HubUnderTest) -> None:
    members = _started(hub, n=3, threshold=2)
    roster = read_round(hub).roster
    first = share(hub, members["hotline-00"], roster)

    # the identical message again: idempotent, same leaf
    again = post(hub, first, members["hotline-00"].key)
    assert again.status_code == 200, again.text
    # a different second message for the same step
    other = first.model_copy(update={"self_mask_commitment": b64encode(bytes(32))})
    _problem(post(hub, other, members["hotline-00"].key), 409, "second-message")
    # signed with a key the hub never enrolled, or by another member's key
    stranger = SigningKey(bytes(32))
    _problem(post(hub, first, stranger), 403, "key-not-valid")
    signed = sign_member_message(first, key=members["hotline-01"].key)
    forged = signed.model_copy(update={"key_id": members["hotline-00"].key.verify_key.key_id})
    response = hub.client.post("/v1/rounds/messages", content=forged.canonical_bytes())
    _problem(response, 403, "bad-signature")
    # another round, or a message naming another roster
    _problem(post(hub, first.model_copy(update={"round": 5}), members["hotline-00"].key), 404, "unknown-round")
    forged_roster = first.model_copy(update={"member": "hotline-01", "roster": "sha256:" + "0" * 64})
    _problem(post(hub, forged_roster, members["hotline-01"].key), 422, "chain-broken")
    # a masked vector before its step opens
    masked = MaskedSubmission(
        type="secagg-masked",
        version="tipshare/1",
        group=GROUP,
        period=PERIOD,
        round=0,
        member="hotline-01",
        committed="sha256:" + "0" * 64,
        masked=b64encode(pack([0] * LENGTH)),
    )
    _problem(post(hub, masked, members["hotline-01"].key), 409, "step-not-open")
    # late: the share step's deadline passed (only one member shared: the round fails below the threshold)
    hub.clock.advance(days=3, seconds=1)
    late, _ = _share_submission(members["hotline-02"], roster)
    _problem(post(hub, late, members["hotline-02"].key), 409, "deadline-passed")
    read = read_round(hub)
    assert read.document["step"] == "failed"
    failed = parse_log_entry(b64decode(read.document["steps"]["failed"]["entry"]))
    assert isinstance(failed, SecaggFailedEntry)
    assert (failed.step, failed.rule) == ("committed", "below-threshold")


def _share_submission(member: Member, roster: Any) -> Any:
    return make_share_submission(roster=roster, member=member.id, sealing_key=member.sealing, randomness=drbg("late"))


def test_a_roster_with_a_foreign_sealing_key_is_refused(hub: HubUnderTest) -> None:
    members = enroll_members(hub, 3)
    create_group(hub, list(members), threshold=2, tables=TABLES)
    foreign = AgreementKey(bytes([7]) * 32).public_key.to_text()
    roster = coordinator.make_roster(
        group=GROUP,
        period=PERIOD,
        round_number=0,
        threshold=2,
        taxonomy=taxonomy_ref(hub.context.taxonomy),
        tables=TABLES,
        vector_length=LENGTH,
        offset=DEFAULT_OFFSET,
        members=[(m.id, foreign if m.id == "hotline-01" else m.sealing.public_key.to_text()) for m in members.values()],
    )
    with write_session(hub.context.sessions) as session, pytest.raises(RoundRefused) as refused:
        SecureRounds(hub.context, session).log_roster(roster, now=hub.clock())
    assert refused.value.rule == "sealing-key-mismatch"


def test_group_creation_refusals(hub: HubUnderTest) -> None:
    members = enroll_members(hub, 4)
    enroll_members_without = {"id": "hotline-99", "display_name": "x", "country": "MD"}
    key = SigningKey(bytes([5]) * 32)
    response = hub.client.post(
        "/v1/admin/hotlines",
        json={**enroll_members_without, "public_key": key.verify_key.to_text()},
        headers=hub.auth("admin"),
    )
    assert response.status_code == 201, response.text
    cases = [
        (list(members), 2, "threshold"),  # t = n/2
        ([*members, "hotline-77"], 3, "unknown-hotline"),
        ([*members, "hotline-99"], 3, "no-sealing-key"),
    ]
    for ids, threshold, rule in cases:
        with write_session(hub.context.sessions) as session, pytest.raises(RoundRefused) as refused:
            SecureRounds(hub.context, session).create_group(
                group_id=GROUP, members=ids, threshold=threshold, tables=TABLES, now=hub.clock()
            )
        assert refused.value.rule == rule


def test_a_round_opens_only_after_its_period_and_only_once(hub: HubUnderTest) -> None:
    members = enroll_members(hub, 3)
    create_group(hub, list(members), threshold=2, tables=TABLES)
    with write_session(hub.context.sessions) as session, pytest.raises(RoundRefused) as refused:
        SecureRounds(hub.context, session).open_round(group_id=GROUP, period="2026-11", now=hub.clock())
    assert refused.value.rule == "period-open"
    with write_session(hub.context.sessions) as session:
        opened = SecureRounds(hub.context, session).open_due(now=hub.clock())
        assert [(r.group_id, r.period, r.round_number) for r in opened] == [(GROUP, PERIOD, 0)]
    with write_session(hub.context.sessions) as session, pytest.raises(RoundConflict) as running:
        SecureRounds(hub.context, session).open_round(group_id=GROUP, period=PERIOD, now=hub.clock())
    assert running.value.rule == "round-running"


def test_a_realistic_masked_vector_fits_the_round_route_cap_and_not_the_default_one() -> None:
    masked = MaskedSubmission(
        type="secagg-masked",
        version="tipshare/1",
        group=GROUP,
        period=PERIOD,
        round=0,
        member="hotline-00",
        committed="sha256:" + "0" * 64,
        masked=b64encode(pack([2**64 - 1] * 10_000)),
    )
    body = len(sign_member_message(masked, key=SigningKey(bytes(32))).canonical_bytes())
    cap = body_cap("POST", "/v1/rounds/messages", submission=4 * 1024 * 1024, other=64 * 1024)
    assert 64 * 1024 < body < cap
    assert body_cap("POST", "/v1/rounds/x", submission=10, other=5) == 5


def test_enrolment_and_rotation_log_the_sealing_key_and_refuse_a_bad_one(hub: HubUnderTest) -> None:
    members = enroll_members(hub, 1)
    member = members["hotline-00"]
    bad = hub.client.post(
        "/v1/admin/hotlines",
        json={
            "id": "hotline-bad",
            "display_name": "bad",
            "country": "MD",
            "public_key": SigningKey(bytes([3]) * 32).verify_key.to_text(),
            "sealing_key": "x25519:" + b64encode(bytes(32)),  # a point of small order
        },
        headers=hub.auth("admin"),
    )
    assert bad.status_code == 422, bad.text
    assert bad.json()["code"] == "invalid_public_key"
    new_key, new_sealing = SigningKey(bytes([4]) * 32), AgreementKey(bytes([5]) * 32).public_key.to_text()
    rotated = hub.client.post(
        f"/v1/admin/hotlines/{member.id}/keys",
        json={"public_key": new_key.verify_key.to_text(), "sealing_key": new_sealing},
        headers=hub.auth("admin"),
    )
    assert rotated.status_code == 201, rotated.text
    events = [e for e in map(parse_log_entry, _log(hub)) if isinstance(e, KeyEventEntry)]
    assert [(e.kind, e.sealing_key) for e in events if e.hotline_id == member.id] == [
        ("key_enrolled", member.sealing.public_key.to_text()),
        ("key_rotated", new_sealing),
    ]
    listed = hub.client.get("/v1/admin/hotlines", headers=hub.auth("admin")).json()
    [hotline] = [h for h in listed if h["id"] == member.id]
    assert [k["sealing_key"] for k in hotline["keys"]] == [member.sealing.public_key.to_text(), new_sealing]


def _reveal_message(member: Member, read: Any) -> UnmaskReveal:
    assert member.secrets is not None
    assert member.masked is not None
    decision = decide_unmask(
        roster=read.roster, committed=read.committed, survivors=read.survivors, member=member.id, own=member.masked
    )
    return reveal_shares(
        decision,
        roster=read.roster,
        survivors=read.survivors,
        submissions=read.submissions,
        member=member.id,
        sealing_key=member.sealing,
        secrets=member.secrets,
    )


def test_the_round_rules_refuse_by_name(hub: HubUnderTest) -> None:
    members = _started(hub, n=5, threshold=3)
    roster = read_round(hub).roster
    incomplete, _ = _share_submission(members["hotline-00"], roster)
    incomplete = incomplete.model_copy(update={"shares": incomplete.shares[1:]})
    _problem(post(hub, incomplete, members["hotline-00"].key), 422, "shares-incomplete")
    for m in ("hotline-00", "hotline-01", "hotline-02", "hotline-03"):  # hotline-04 never shares
        share(hub, members[m], roster)
    hub.clock.advance(days=3, seconds=1)
    read = read_round(hub)
    assert read.committed is not None
    outsider = MaskedSubmission(
        type="secagg-masked",
        version="tipshare/1",
        group=GROUP,
        period=PERIOD,
        round=0,
        member="hotline-04",
        committed=digest(read.committed),
        masked=b64encode(pack([0] * LENGTH)),
    )
    _problem(post(hub, outsider, members["hotline-04"].key), 422, "not-committed")
    short = outsider.model_copy(update={"member": "hotline-00", "masked": b64encode(pack([0] * (LENGTH - 1)))})
    _problem(post(hub, short, members["hotline-00"].key), 422, "vector-length")
    sized = outsider.model_copy(update={"member": "hotline-00"})
    elsewhere = TableTotal(table="persons_total", value=12, scale="60.19292654288461")  # not a table of the roster
    wrong_table = sized.model_copy(update={"totals": (elsewhere,)})
    _problem(post(hub, wrong_table, members["hotline-00"].key), 422, "totals-declaration")
    own = TableTotal(table=TABLES[0], value=12, scale="137.4")
    extra = sized.model_copy(update={"totals": (own, elsewhere)})
    _problem(post(hub, extra, members["hotline-00"].key), 422, "totals-declaration")
    wrong_noise = sized.model_copy(update={"noise": (ShareNoise(table="persons_total", scale="2.0"),)})
    _problem(post(hub, wrong_noise, members["hotline-00"].key), 422, "noise-declaration")
    for m in ("hotline-00", "hotline-01", "hotline-02"):  # hotline-03 drops before masking
        mask(hub, members[m], read)
    hub.clock.advance(days=3)
    read = read_round(hub)
    assert read.survivors is not None
    assert read.survivors.member_ids == ("hotline-00", "hotline-01", "hotline-02")
    honest = _reveal_message(members["hotline-00"], read)
    from_dropped = honest.model_copy(update={"member": "hotline-03"})
    _problem(post(hub, from_dropped, members["hotline-03"].key), 422, "reveal-from-non-survivor")
    first = honest.shares[0]  # hotline-00's self-mask share of itself
    wrong_kind = honest.model_copy(update={"shares": (first.model_copy(update={"kind": "agreement"}),)})
    _problem(post(hub, wrong_kind, members["hotline-00"].key), 422, "wrong-share-kind")
    dropped_share = next(s for s in honest.shares if s.owner == "hotline-03")
    both = honest.model_copy(
        update={"shares": (*honest.shares, dropped_share.model_copy(update={"kind": "self_mask"}))}
    )
    _problem(post(hub, both, members["hotline-00"].key), 422, "both-secrets-revealed")
    assert post(hub, honest, members["hotline-00"].key).status_code == 201


def test_a_round_is_read_by_its_members_and_token_holders_only(hub: HubUnderTest) -> None:
    members = _started(hub, n=3, threshold=2)
    outsider = enroll_members(hub, 1, start=3)["hotline-03"]  # enrolled, with a sealing key, but not in the group
    assert read_round(hub, member=members["hotline-02"]).roster.member_ids == ("hotline-00", "hotline-01", "hotline-02")
    assert hub.client.get(f"/v1/rounds/{GROUP}/{PERIOD}").status_code == 401
    refused = hub.client.post("/v1/rounds/state", content=signed_read(hub, outsider))
    _problem(refused, 403, "not-a-member")
    stale = signed_read(hub, members["hotline-00"], at="2026-11-21T11:00:00Z")
    _problem(hub.client.post("/v1/rounds/state", content=stale), 403, "stale-read")
    claimed = signed_read(hub, members["hotline-00"], hotline_id="hotline-01")  # hotline-00's key, not hotline-01's
    _problem(hub.client.post("/v1/rounds/state", content=claimed), 403, "key-not-valid")
    theirs = json.loads(signed_read(hub, members["hotline-01"]))
    theirs["signature"] = json.loads(signed_read(hub, members["hotline-00"]))["signature"]
    _problem(hub.client.post("/v1/rounds/state", json=theirs), 403, "bad-signature")


def test_a_group_adds_tables_of_the_hubs_taxonomy_and_its_roster_says_which(hub: HubUnderTest) -> None:
    members = enroll_members(hub, 3)
    with write_session(hub.context.sessions) as session, pytest.raises(RoundRefused) as refused:
        SecureRounds(hub.context, session).create_group(
            group_id=GROUP, members=list(members), threshold=2, tables=("persons_nowhere",), now=hub.clock()
        )
    assert refused.value.rule == "tables"
    create_group(hub, list(members), threshold=2)
    open_round(hub)
    roster = read_round(hub, member=members["hotline-00"]).roster
    assert roster.taxonomy == taxonomy_ref(hub.context.taxonomy)
    assert roster.tables == TABLES
    assert roster.vector_length == LENGTH


def test_a_member_whose_local_release_the_hub_holds_takes_no_part(hub: HubUnderTest) -> None:
    members = _started(hub, n=3, threshold=2)
    roster = read_round(hub).roster
    for member in members.values():
        share(hub, member, roster)
    read = read_round(hub)
    assert read.committed is not None
    hasty = members["hotline-02"]
    hub.hotlines[hasty.id] = EnrolledHotline(hasty.id, "MD", hasty.key)
    hub.submit(hub.release(hasty.id, PERIOD))  # its local release went out: a vector too would count it twice
    masked = MaskedSubmission(
        type="secagg-masked",
        version="tipshare/1",
        group=GROUP,
        period=PERIOD,
        round=0,
        member=hasty.id,
        committed=digest(read.committed),
        masked=b64encode(pack([0] * LENGTH)),
    )
    _problem(post(hub, masked, hasty.key), 422, "released-locally")


def test_a_round_of_two_countries_answers_the_region_only(hub: HubUnderTest) -> None:
    members = enroll_members(hub, 5, countries=("MD", "UA"))
    create_group(hub, list(members), threshold=3, tables=TABLES)
    open_round(hub)
    roster = read_round(hub).roster
    for member in members.values():
        share(hub, member, roster)
    read = read_round(hub)
    for member in members.values():
        mask(hub, member, read)
    read = read_round(hub)
    for member in members.values():
        reveal(hub, member, read)
    result = read_round(hub).result
    assert result is not None

    def total(token: dict[str, str], **scope: str) -> list[dict[str, Any]]:
        params = {"period_from": PERIOD, "period_to": PERIOD, **scope}
        response = hub.client.get(f"/v1/stats/{TABLES[0]}", params=params, headers=token)
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()["rows"]
        return rows

    (region,) = total(hub.auth("coordinator"))
    assert (region["estimate"], region["hotlines_reporting"]) == (sum(result.sum), 5)
    # The sum mixes two countries: neither country's view holds it, nor a token limited to one of them.
    assert total(hub.auth("coordinator"), country="MD") == []
    assert total(hub.auth("coordinator"), country="UA") == []
    with write_session(hub.context.sessions) as session:
        limited = TokenService(session).create(
            role="coordinator", label="MD only", now=hub.clock(), countries=frozenset({"MD"})
        )
    assert total({"Authorization": f"Bearer {limited.token}"}) == []
    estimates = hub.client.get(
        "/v1/estimates/case", params={"period_from": PERIOD, "period_to": PERIOD}, headers=hub.auth("coordinator")
    )
    assert estimates.status_code == 200, estimates.text
    assert estimates.json()["rows"][0]["hotlines_reporting"] == 5
    with write_session(hub.context.sessions) as session:
        assert check_rollups(session, hub.context.taxonomies) == []
