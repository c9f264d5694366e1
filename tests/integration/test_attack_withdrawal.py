# SPDX-License-Identifier: Apache-2.0
"""Issue 15, a stolen hotline key: its poisoned release must leave the statistics for good, in the open.

The attacker holds a copy of ua-a's key and sends revision 2 of 2026-09 with huge counts: the region's total jumps
and the hotline's own correction (revision 2) is refused. The operator then revokes the key as compromised since
the theft (``tipshare-hub hotline revoke-key --compromised-since``) or withdraws the release
(``tipshare-hub submission withdraw``): the genuine totals come back, ``rollups check`` and ``tipshare-audit verify``
pass, and a hub that keeps counting the withdrawn release, or logs withdrawals it cannot stand behind, is caught.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.cli import main as hub_main
from hub.db import write_session
from hub.models import LogLeaf
from hub.services.rebuild import expected_rollups, replace_rollups
from protocol.crypto import SigningKey
from protocol.messages import PROTOCOL_VERSION, KeyEventEntry, format_timestamp, parse_log_entry
from protocol.note import NoteSigner
from protocol.withdrawal import sign_withdrawal
from tests.support.auditkit import TABLES, Run, append_entry, audit, cells, rotate, utc
from tests.support.hubs import ORIGIN, HubUnderTest, start_hub

PERIOD = "2026-09"
THEFT = "2026-10-08T00:00:00Z"
#: What the attacker puts in every cell of every table it sends.
POISON = 100_000  # every table within what the loose policy of the fixture admits


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    for started in start_hub(tmp_path / "hub"):
        taxonomy = started.context.taxonomy
        started.clock.now = utc(2026, 8, 20, 10)
        for hotline_id, country in (("ua-a", "UA"), ("ua-b", "UA"), ("md-a", "MD")):
            started.enroll(hotline_id, country)
            started.log_loose_policy(hotline_id)  # the poison here is for withdrawal to remove, not for the door
        started.clock.now = utc(2026, 10, 5, 10)
        for seed, hotline_id in enumerate(("ua-a", "ua-b", "md-a")):
            started.submit_cells(hotline_id, PERIOD, cells(taxonomy, seed), tables=TABLES)
        yield started


def _region_total(hub: HubUnderTest, table: str = "contacts") -> int:
    response = hub.client.get(
        f"/v1/stats/{table}",
        params={"group_by": "period", "period_from": PERIOD, "period_to": PERIOD},
        headers=hub.auth("coordinator"),
    )
    assert response.status_code == 200, response.text
    [row] = response.json()["rows"]
    return int(row["estimate"])


def _poison(hub: HubUnderTest) -> tuple[int, int]:
    """The thief's release (revision 2 of ua-a's 2026-09, signed with the stolen key): its id and its leaf index."""
    taxonomy = hub.context.taxonomy
    stolen = hub.hotlines["ua-a"].key  # an exact copy: the hub cannot tell the thief from the hotline
    hub.clock.now = utc(2026, 10, 10, 3)
    poisoned = {name: [POISON] * taxonomy.table(name).cell_count for name in TABLES}
    receipt = hub.submit(hub.release("ua-a", PERIOD, cells=poisoned, tables=TABLES, revision=2))
    assert stolen == hub.hotlines["ua-a"].key
    return receipt.submission_id, receipt.leaf_index


def _operator(hub: HubUnderTest, *argv: str) -> tuple[int, str, str]:
    """``tipshare-hub ARGV`` against this hub's data directory and database, at the hub's clock."""
    settings = hub.context.settings
    where = ["--data-dir", str(settings.data_dir)]
    if settings.database_url is not None:
        where += ["--database-url", settings.database_url]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = hub_main([*argv, *where], clock=hub.clock)
    return code, out.getvalue(), err.getvalue()


def _verified(hub: HubUnderTest, state: Path) -> Run:
    run = audit(hub, state, "--log-key", hub.log_key.vkey, "--region-only")
    assert run.code == 0, run.out + run.err
    assert run.document["verdict"] == "VERIFIED"
    return run


def _correction(hub: HubUnderTest, revision: int) -> Any:
    release = hub.release("ua-a", PERIOD, cells=cells(hub.context.taxonomy, 9), tables=TABLES, revision=revision)
    return hub.post_envelope(hub.envelope_bytes(release))


def test_attack_a_stolen_key_is_revoked_as_compromised_and_the_region_is_genuine_again(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    genuine = _region_total(hub)
    _poison(hub)
    assert _region_total(hub) > POISON  # the poison is in every published number
    assert _correction(hub, 2).status_code == 409  # and the hotline cannot correct it: revision 2 is taken
    hub.clock.now = utc(2026, 10, 12, 9)
    key_id = hub.hotlines["ua-a"].key.verify_key.key_id

    code, out, err = _operator(
        hub, "hotline", "revoke-key", "--key-id", key_id, "--reason", "laptop stolen", "--compromised-since", THEFT
    )

    assert code == 0, err
    assert "Withdrew 1 submission(s) signed with it since 2026-10-08T00:00:00Z" in out
    assert _region_total(hub) == genuine
    code, out, err = _operator(hub, "rollups", "check")
    assert code == 0, err
    assert "Rollups match" in out
    state = tmp_path / "audit"
    first = _verified(hub, state)
    assert first.document["withdrawn"] == 1
    assert first.document["submissions"] == {"total": 4, "valid": 4, "current": 3}

    # The hotline gets a new key and corrects the month: its next revision is above the withdrawn one.
    rotate(hub, "ua-a")
    hub.clock.now = utc(2026, 10, 13, 9)
    assert _correction(hub, 2).status_code == 409
    assert _correction(hub, 3).status_code == 201
    assert _region_total(hub) != genuine
    assert _operator(hub, "rollups", "check")[0] == 0
    second = _verified(hub, state)  # resumed from the state DIR, withdrawals included
    assert second.document["entry_checks"]["resumed"] > 0
    assert second.document["submissions"]["current"] == 3


def test_attack_a_hub_that_keeps_counting_a_withdrawn_release_is_caught_by_the_auditor(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    genuine = _region_total(hub)
    poisoned, _ = _poison(hub)
    hub.clock.now = utc(2026, 10, 12, 9)
    code, out, err = _operator(hub, "submission", "withdraw", str(poisoned), "--reason", "sent with a stolen key")
    assert code == 0, err
    assert f"ua-a {PERIOD} now counts revision 1" in out
    assert _region_total(hub) == genuine
    _verified(hub, tmp_path / "honest")

    # A dishonest operator logs the withdrawal (it shows in the log) but rebuilds the rollups as if it were not there.
    with write_session(hub.context.sessions) as session:
        leaves = session.scalars(select(LogLeaf.data).order_by(LogLeaf.index)).all()
        kept = [data for data in leaves if parse_log_entry(data).kind != "submission_withdrawn"]
        replace_rollups(session, expected_rollups(kept, hub.context.taxonomies))
    assert _region_total(hub) > POISON

    run = audit(hub, tmp_path / "fresh", "--log-key", hub.log_key.vkey, "--region-only")

    assert run.code == 1, run.out + run.err
    assert "statistics" in run.checks()
    assert any(f["keys"] == {"period": PERIOD} for f in run.failures("statistics"))
    assert _operator(hub, "rollups", "check")[0] == 1


def test_attack_withdrawals_the_hub_cannot_stand_behind_are_named(hub: HubUnderTest, tmp_path: Path) -> None:
    poisoned, leaf = _poison(hub)
    hub.clock.now = utc(2026, 10, 12, 9)
    stranger = NoteSigner(ORIGIN, SigningKey.generate())
    fields: dict[str, Any] = {
        "leaf_index": leaf,
        "hotline_id": "ua-a",
        "key_id": hub.hotlines["ua-a"].key.verify_key.key_id,
        "period": PERIOD,
        "revision": 2,
        "reason": "quietly dropped",
        "withdrawn_at": format_timestamp(hub.clock()),
    }
    submission = hub.client.get(f"/v1/submissions/{poisoned}", headers=hub.auth("auditor")).json()
    fields["payload_hash"] = submission["payload_hash"]
    # Signed with another key than the log's, and naming an entry that is no submission: neither withdraws anything.
    forged = append_entry(hub, sign_withdrawal(stranger, **fields))  # type: ignore[arg-type]
    elsewhere = append_entry(
        hub,
        sign_withdrawal(hub.context.log_signer, **(fields | {"leaf_index": 0})),  # type: ignore[arg-type]
    )
    # A revocation "as compromised" that withdraws nothing the key signed since.
    key = hub.hotlines["ua-a"].key.verify_key
    revocation = append_entry(
        hub,
        KeyEventEntry(
            type="log_entry",
            version=PROTOCOL_VERSION,
            kind="key_revoked",
            hotline_id="ua-a",
            key_id=key.key_id,
            public_key=key.to_text(),
            display_name="ua-a",
            country="UA",
            reason="laptop stolen",
            effective_at=format_timestamp(hub.clock()),
            compromised_since=THEFT,
        ),
    )

    run = audit(hub, tmp_path / "state", "--log-key", hub.log_key.vkey, "--region-only")

    assert run.code == 1, run.out + run.err
    found = {f["index"]: f["message"] for f in run.failures("withdrawal")}
    assert set(found) == {forged, elsewhere, revocation}
    assert "signature does not verify" in found[forged]
    assert "entry 0 is not an earlier accepted submission" in found[elsewhere]
    assert f"entries {leaf} signed with it since then were not withdrawn" in found[revocation]
    assert "statistics" not in run.checks()  # the poison still counts, as the hub's own rollups say
