# SPDX-License-Identifier: Apache-2.0
"""Rebuilding the rollups from the transparency log (:mod:`hub.services.rebuild`).

A hub with corrections (one dropping a table, one adding one, one changing the noise scale), a key rotation and a
revocation: the rollups rebuilt from the log's leaves equal the stored ones, and any tampering with the rollups or
the current-release flags is found and named. The rebuild itself is also checked on hand-made logs, against
numbers computed here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.sql import Executable

from hub.db import read_session
from hub.errors import LogIntegrityError
from hub.models import Hotline, LogLeaf, ReleaseNoise, RollupCell, RollupNoise, Submission
from hub.services.rebuild import (
    CellRow,
    CurrentRelease,
    check_rollups,
    compare,
    expected_rollups,
    load_rollups,
    replace_rollups,
)
from hub.services.rollups import encode_terms
from protocol.crypto import SUBMISSION_CONTEXT, SigningKey, payload_hash
from protocol.messages import KeyEventEntry, SubmissionEntry, SubmissionPayload, b64decode, b64encode
from protocol.taxonomy import builtin_taxonomy
from tests.support.hubs import EnrolledHotline, HubUnderTest, start_hub
from tests.support.releases import make_release

TAXONOMY = builtin_taxonomy()
TAXONOMIES = {TAXONOMY.id: TAXONOMY}
CONTACTS, RECRUITMENT, CASES = "contacts", "persons_recruitment", "cases_opened"


def vector(table: str, *seeds: object) -> list[int]:
    """A deterministic noisy-looking vector, different for every seed."""
    salt = sum(ord(c) for c in repr(seeds))
    return [(i * 7 + salt * 13) % 29 - 8 for i in range(TAXONOMY.table(table).cell_count)]


@dataclass
class Sent:
    hotline: str
    period: str
    revision: int
    cells: dict[str, list[int]]


@dataclass
class Scenario:
    hub: HubUnderTest
    sent: list[Sent]


def _send(
    hub: HubUnderTest, sent: list[Sent], hotline: str, period: str, revision: int, *tables: str, **kw: Any
) -> None:
    cells = {t: vector(t, hotline, period, revision) for t in tables}
    hub.submit_cells(hotline, period, cells, tables=tables, revision=revision, **kw)
    sent.append(Sent(hotline, period, revision, cells))


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    for hub in start_hub(Path(tmp_path_factory.mktemp("rebuild")) / "hub"):
        sent: list[Sent] = []
        for hotline, country in (("ua-kyiv", "UA"), ("ua-lviv", "UA"), ("md-chisinau", "MD"), ("ro-iasi", "RO")):
            hub.enroll(hotline, country)
        _send(hub, sent, "ua-kyiv", "2026-08", 1, CONTACTS, RECRUITMENT)
        _send(hub, sent, "ua-lviv", "2026-08", 1, CONTACTS, scale="12.5")
        _send(hub, sent, "md-chisinau", "2026-08", 1, CONTACTS, RECRUITMENT, CASES, scale="7")
        _send(hub, sent, "ua-kyiv", "2026-08", 2, CONTACTS)  # the correction drops persons_recruitment
        _send(hub, sent, "ua-lviv", "2026-08", 2, CONTACTS, CASES, scale="12.5")  # ... this one adds cases_opened
        rotated = SigningKey.generate()
        response = hub.client.post(
            "/v1/admin/hotlines/ua-kyiv/keys",
            json={"public_key": rotated.verify_key.to_text()},
            headers=hub.auth("admin"),
        )
        assert response.status_code == 201, response.text
        hub.hotlines["ua-kyiv"] = EnrolledHotline("ua-kyiv", "UA", rotated)
        _send(hub, sent, "ua-kyiv", "2026-09", 1, CONTACTS, RECRUITMENT)
        _send(hub, sent, "md-chisinau", "2026-09", 1, CONTACTS, scale="7")
        _send(hub, sent, "ro-iasi", "2026-09", 1, RECRUITMENT, scale="3")
        _send(hub, sent, "ua-lviv", "2026-08", 3, CONTACTS, CASES, scale="20")  # ... and this one the scale
        key_id = hub.hotlines["ro-iasi"].key.verify_key.key_id
        revoked = hub.client.post(
            f"/v1/admin/keys/{key_id}/revoke", json={"reason": "office closed"}, headers=hub.auth("admin")
        )
        assert revoked.status_code == 200, revoked.text
        yield Scenario(hub, sent)


def _current(sent: list[Sent]) -> list[Sent]:
    latest: dict[tuple[str, str], Sent] = {}
    for s in sent:
        if (s.hotline, s.period) not in latest or s.revision > latest[(s.hotline, s.period)].revision:
            latest[(s.hotline, s.period)] = s
    return list(latest.values())


def _log_data(hub: HubUnderTest) -> list[bytes]:
    response = hub.client.get("/v1/log/entries", headers=hub.auth("auditor"))
    assert response.status_code == 200, response.text
    return [b64decode(entry["data"]) for entry in response.json()["entries"]]


# ----------------------------------------------------------------------------------------------- the hub


def test_rollups_rebuilt_from_the_log_equal_the_stored_ones(scenario: Scenario) -> None:
    hub = scenario.hub
    with read_session(hub.context.sessions) as session:
        assert check_rollups(session, hub.context.taxonomies) == []
        stored = load_rollups(session)
    # As an auditor does it: the leaves over HTTP, countries from the log's key events.
    rebuilt = expected_rollups(_log_data(hub), hub.context.taxonomies)
    assert compare(rebuilt, stored) == []
    assert len(stored.cells) > 20  # the comparison covered something


def test_rebuilt_rollups_hold_the_current_revisions_only(scenario: Scenario) -> None:
    rebuilt = expected_rollups(_log_data(scenario.hub), TAXONOMIES)
    current = _current(scenario.sent)
    countries = {"ua-kyiv": "UA", "ua-lviv": "UA", "md-chisinau": "MD", "ro-iasi": "RO"}

    for (table, scope, period), cells in rebuilt.cells.items():
        members = [
            s
            for s in current
            if s.period == period
            and table in s.cells
            and scope in ("region", f"country:{countries[s.hotline]}", f"hotline:{s.hotline}")
        ]
        assert members, (table, scope, period)
        size = TAXONOMY.table(table).cell_count
        assert [cells[i].value for i in range(size)] == [sum(s.cells[table][i] for s in members) for i in range(size)]
    assert ("persons_recruitment", "hotline:ua-kyiv", "2026-08") not in rebuilt.cells  # dropped by revision 2
    assert ("cases_opened", "country:UA", "2026-08") in rebuilt.cells  # added by ua-lviv's revision 2
    assert rebuilt.noise[("contacts", "country:UA", "2026-08")].terms == (
        '[["discrete_gaussian","10",1],["discrete_gaussian","20",1]]'  # ua-lviv's revision 3 changed its scale
    )
    assert rebuilt.noise[("contacts", "region", "2026-08")].hotlines == 3
    assert {(r.hotline_id, r.period, r.revision) for r in rebuilt.current} == {
        (s.hotline, s.period, s.revision) for s in current
    }


@dataclass(frozen=True)
class Tamper:
    statement: Executable
    #: What each difference found says, in order ("…" stands for anything).
    found: tuple[str, ...]
    #: False when the tampering is outside the rollup tables, which replace_rollups does not repair.
    repairable: bool = True


def _cell(table: str, scope: str, period: str, cell: int) -> Any:
    return (
        (RollupCell.table_name == table)
        & (RollupCell.scope == scope)
        & (RollupCell.period == period)
        & (RollupCell.cell == cell)
    )


def _slice(model: Any, table: str, scope: str, period: str) -> Any:
    return (model.table_name == table) & (model.scope == scope) & (model.period == period)


TAMPERING = {
    "a cell's value": Tamper(
        update(RollupCell).where(_cell(CONTACTS, "region", "2026-08", 5)).values(value=RollupCell.value + 1),
        ("rollup_cells contacts region 2026-08 cell 5: expected value",),
    ),
    "a cell's codes": Tamper(
        update(RollupCell).where(_cell(CONTACTS, "hotline:ua-kyiv", "2026-09", 0)).values(d2="ZZ"),
        ("rollup_cells contacts hotline:ua-kyiv 2026-09 cell 0: expected codes",),
    ),
    "a missing cell": Tamper(
        delete(RollupCell).where(_cell(CASES, "country:UA", "2026-08", 7)),
        ("rollup_cells cases_opened country:UA 2026-08 cell 7: missing",),
    ),
    "a cell outside the domain": Tamper(
        insert(RollupCell).values(
            table_name=CONTACTS, scope="region", period="2026-09", cell=72, d1="x", d2="y", d3=None, value=0
        ),
        ("rollup_cells contacts region 2026-09 cell 72: outside the table's domain",),
    ),
    "many cells": Tamper(
        update(RollupCell).where(_slice(RollupCell, CONTACTS, "country:MD", "2026-08")).values(value=0),
        ("cell", "cell", "cell", "cell", "cell", "more differing cells"),
    ),
    "a missing slice": Tamper(
        delete(RollupCell).where(_slice(RollupCell, CONTACTS, "country:MD", "2026-09")),
        ("rollup_cells contacts country:MD 2026-09: missing (72 rows expected)",),
    ),
    "a stale slice": Tamper(
        insert(RollupCell).values(
            table_name=RECRUITMENT, scope="hotline:ua-kyiv", period="2026-08", cell=0, d1="a", d2="b", d3="c", value=3
        ),
        ("rollup_cells persons_recruitment hotline:ua-kyiv 2026-08: 1 rows where no current release reports",),
    ),
    "noise terms": Tamper(
        update(RollupNoise)
        .where(_slice(RollupNoise, CONTACTS, "region", "2026-08"))
        .values(terms=encode_terms([("discrete_gaussian", "1")] * 3)),
        ("rollup_noise contacts region 2026-08: expected 3 hotline(s), terms",),
    ),
    "hotlines reporting": Tamper(
        update(RollupNoise).where(_slice(RollupNoise, RECRUITMENT, "region", "2026-09")).values(hotlines=1),
        ("rollup_noise persons_recruitment region 2026-09: expected 2 hotline(s)",),
    ),
    "a missing noise row": Tamper(
        delete(RollupNoise).where(_slice(RollupNoise, CASES, "region", "2026-08")),
        ("rollup_noise cases_opened region 2026-08: missing",),
    ),
    "a superseded revision flagged current": Tamper(
        update(Submission)
        .where(Submission.hotline_id == "ua-kyiv", Submission.period == "2026-08", Submission.revision == 1)
        .values(is_current=True),
        ("submissions: revision 1 of 2026-08 from ua-kyiv (sha256:…) is flagged current but is not the current",),
        repairable=False,
    ),
    "the current revision not flagged": Tamper(
        update(Submission).where(Submission.hotline_id == "ro-iasi").values(is_current=False),
        ("submissions: revision 1 of 2026-09 from ro-iasi (…) is the current release but is not flagged current",),
        repairable=False,
    ),
    "a noise scale": Tamper(
        update(ReleaseNoise).where(ReleaseNoise.hotline_id == "ro-iasi").values(scale="300"),
        ("release_noise: no current row for table persons_recruitment", "release_noise: a current row for"),
        repairable=False,
    ),
    "a hotline's country": Tamper(
        update(Hotline).where(Hotline.id == "md-chisinau").values(country="PL"),
        ("hotlines: md-chisinau has country PL in the hotlines table, but MD in the log's key events",),
        repairable=False,
    ),
}


@pytest.mark.parametrize("tamper", TAMPERING.values(), ids=TAMPERING)
def test_tampering_is_found_and_named(scenario: Scenario, tamper: Tamper) -> None:
    hub = scenario.hub
    with hub.context.sessions() as session:  # rolled back at the end: the next case starts clean
        session.execute(tamper.statement)

        differences = check_rollups(session, hub.context.taxonomies)

        assert len(differences) == len(tamper.found), differences
        for difference, fragment in zip(differences, tamper.found, strict=True):
            assert all(part in difference for part in fragment.split("…")), differences
        replace_rollups(session, expected_rollups(_log_data_in(session), hub.context.taxonomies))
        assert (check_rollups(session, hub.context.taxonomies) == []) is tamper.repairable
        session.rollback()
    with read_session(hub.context.sessions) as session:
        assert check_rollups(session, hub.context.taxonomies) == []


def _log_data_in(session: Any) -> list[bytes]:
    return list(session.scalars(select(LogLeaf.data).order_by(LogLeaf.index)))


# ----------------------------------------------------------------------------------------------- hand-made logs


@dataclass
class HandLog:
    """A log written by hand: key events and submission entries, as the hub would append them."""

    keys: dict[str, SigningKey]
    entries: list[bytes]

    def enrol(self, hotline: str, country: str, kind: str = "key_enrolled") -> None:
        key = self.keys.setdefault(hotline, SigningKey.generate())
        self.entries.append(
            KeyEventEntry(
                type="log_entry",
                version="tipshare/1",
                kind=kind,  # type: ignore[arg-type]
                hotline_id=hotline,
                key_id=key.verify_key.key_id,
                public_key=key.verify_key.to_text(),
                display_name=hotline,
                country=country,
                previous_key_id=key.verify_key.key_id if kind == "key_rotated" else None,
                effective_at="2026-10-01T00:00:00Z",
            ).canonical_bytes()
        )

    def submit(self, payload: SubmissionPayload, **entry_changes: Any) -> None:
        data = payload.canonical_bytes()
        fields: dict[str, Any] = {
            "type": "log_entry",
            "version": "tipshare/1",
            "kind": "submission",
            "hotline_id": payload.hotline_id,
            "key_id": payload.key_id,
            "period": payload.period,
            "revision": payload.revision,
            "payload_hash": payload_hash(data),
            "payload": b64encode(data),
            "signature": b64encode(self.keys[payload.hotline_id].sign_message(SUBMISSION_CONTEXT, data)),
            "received_at": "2026-10-02T00:00:00Z",
            **entry_changes,
        }
        self.entries.append(SubmissionEntry(**fields).canonical_bytes())

    def release(self, hotline: str, period: str, revision: int, cells: dict[str, list[int]], scale: str) -> Any:
        return make_release(
            TAXONOMY,
            self.keys[hotline],
            hotline_id=hotline,
            period=period,
            revision=revision,
            cells=cells,
            tables=sorted(cells),
            scale=scale,
        )


@pytest.fixture
def log() -> HandLog:
    return HandLog(keys={}, entries=[])


def test_expected_rollups_of_a_hand_made_log(log: HandLog) -> None:
    log.enrol("ua-kyiv", "UA")
    log.enrol("md-chisinau", "MD")
    contacts = TAXONOMY.table(CONTACTS)
    log.submit(log.release("ua-kyiv", "2026-09", 1, {CONTACTS: [1] * 72}, "10"))
    chisinau = log.release("md-chisinau", "2026-09", 1, {CONTACTS: [-2] * 72, CASES: [5] * 42}, "12.5")
    log.submit(chisinau)
    second = log.release("ua-kyiv", "2026-09", 2, {CONTACTS: list(range(72))}, "7")
    log.submit(second)

    rebuilt = expected_rollups(log.entries, TAXONOMIES)

    region = rebuilt.cells[(CONTACTS, "region", "2026-09")]
    assert [region[i].value for i in range(72)] == [i - 2 for i in range(72)]
    first_codes = tuple(contacts.cell_codes(0))
    assert region[0] == CellRow(-2, first_codes[0], first_codes[1], None)
    assert [rebuilt.cells[(CONTACTS, "country:UA", "2026-09")][i].value for i in range(72)] == list(range(72))
    cases = rebuilt.cells[(CASES, "country:MD", "2026-09")]
    assert (len(cases), {row.value for row in cases.values()}) == (42, {5})
    assert (CASES, "country:UA", "2026-09") not in rebuilt.cells
    assert rebuilt.noise[(CONTACTS, "region", "2026-09")] == (
        2,
        json.dumps([["discrete_gaussian", "12.5", 1], ["discrete_gaussian", "7", 1]], separators=(",", ":")),
    )
    assert rebuilt.noise[(CASES, "region", "2026-09")] == (1, '[["discrete_gaussian","12.5",1]]')
    assert rebuilt.current == {
        CurrentRelease("ua-kyiv", "2026-09", 2, payload_hash(second.canonical_bytes())),
        CurrentRelease("md-chisinau", "2026-09", 1, payload_hash(chisinau.canonical_bytes())),
    }
    assert {(r.hotline_id, r.table, r.scale) for r in rebuilt.releases} == {
        ("ua-kyiv", CONTACTS, "7"),
        ("md-chisinau", CONTACTS, "12.5"),
        ("md-chisinau", CASES, "12.5"),
    }


def test_countries_come_from_the_latest_key_event_or_the_mapping_given(log: HandLog) -> None:
    log.enrol("ua-kyiv", "UA")
    log.submit(log.release("ua-kyiv", "2026-08", 1, {CASES: [1] * 42}, "10"))
    log.enrol("ua-kyiv", "PL", kind="key_rotated")  # a later event states another country
    log.submit(log.release("ua-kyiv", "2026-09", 1, {CASES: [1] * 42}, "10"))

    from_log = expected_rollups(log.entries, TAXONOMIES)
    given = expected_rollups(log.entries, TAXONOMIES, {"ua-kyiv": "MD"})

    assert {scope for _, scope, _ in from_log.cells} == {"region", "country:UA", "country:PL", "hotline:ua-kyiv"}
    assert (CASES, "country:UA", "2026-08") in from_log.cells
    assert (CASES, "country:PL", "2026-09") in from_log.cells
    assert {scope for _, scope, _ in given.cells} == {"region", "country:MD", "hotline:ua-kyiv"}


def _unenrolled(log: HandLog) -> None:
    log.keys["ua-kyiv"] = SigningKey.generate()
    log.submit(log.release("ua-kyiv", "2026-09", 1, {CASES: [0] * 42}, "10"))


def _wrong_hash(log: HandLog) -> None:
    log.enrol("ua-kyiv", "UA")
    log.submit(log.release("ua-kyiv", "2026-09", 1, {CASES: [0] * 42}, "10"), payload_hash="sha256:" + "1" * 64)


def _wrong_revision(log: HandLog) -> None:
    log.enrol("ua-kyiv", "UA")
    log.submit(log.release("ua-kyiv", "2026-09", 1, {CASES: [0] * 42}, "10"), revision=2)


def _twice(log: HandLog) -> None:
    log.enrol("ua-kyiv", "UA")
    log.submit(log.release("ua-kyiv", "2026-09", 1, {CASES: [0] * 42}, "10"))
    log.submit(log.release("ua-kyiv", "2026-09", 1, {CASES: [1] * 42}, "10"))


def _other_taxonomy(log: HandLog) -> None:
    log.enrol("ua-kyiv", "UA")
    payload = log.release("ua-kyiv", "2026-09", 1, {CASES: [0] * 42}, "10")
    log.submit(payload.model_copy(update={"taxonomy": payload.taxonomy.model_copy(update={"id": "elsewhere/1"})}))


def _garbage(log: HandLog) -> None:
    log.entries.append(b'{"kind":"submission"}')


REFUSED_LOGS = {
    "a submission before any key event": (_unenrolled, "no key event enrolls it"),
    "an entry whose hash is not its payload's": (_wrong_hash, "does not describe the payload"),
    "an entry whose revision is not its payload's": (_wrong_revision, "does not describe the payload"),
    "one revision logged twice": (_twice, "are both revision 1 of 2026-09 from ua-kyiv"),
    "an unknown taxonomy": (_other_taxonomy, "elsewhere/1"),
    "a leaf that is no log entry": (_garbage, "log entry 0 is not a valid log entry"),
}


@pytest.mark.parametrize(("build", "message"), REFUSED_LOGS.values(), ids=REFUSED_LOGS)
def test_an_inconsistent_log_is_refused(log: HandLog, build: Any, message: str) -> None:
    build(log)
    with pytest.raises(LogIntegrityError, match=message):
        expected_rollups(log.entries, TAXONOMIES)
