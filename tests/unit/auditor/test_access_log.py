# SPDX-License-Identifier: Apache-2.0
"""``tipshare-audit access-log verify`` against an operator who rewrites the chain, hashes and all.

Editing a record and recomputing every hash after it leaves a chain that verifies on its own: only a checkpoint
signed before the edit shows it. An operator who also deletes the hub's checkpoints is caught by the checkpoint
the auditor kept in its state directory from an earlier run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from hub.cli import main as hub_main
from hub.db import write_session
from hub.models import AccessCheckpoint, AccessRecord
from hub.services.scope import as_utc
from protocol.access_chain import GENESIS, access_log_signer, chain_hash, sign_access_checkpoint
from protocol.access_chain import AccessRecord as ChainRecord
from protocol.crypto import SigningKey
from protocol.messages import format_timestamp
from tests.support.auditkit import HUB_URL, Run, Wire, run_cli
from tests.support.hubs import HubUnderTest, start_hub


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    yield from start_hub(tmp_path / "hub")


def _verify(hub: HubUnderTest, *argv: str) -> Run:
    args = ["access-log", "verify", "--hub", HUB_URL, "--token", hub.tokens["auditor"], "--json", *argv]
    return run_cli(args, wire=Wire(hub), clock=hub.clock)


def _ask(hub: HubUnderTest, count: int) -> None:
    for number in range(count):
        response = hub.client.get(
            "/v1/completeness", params={"period_from": f"2026-0{number % 9 + 1}"}, headers=hub.auth("coordinator")
        )
        assert response.status_code in (200, 400), response.text


def _rewrite_chain(hub: HubUnderTest, seq: int, **changes: Any) -> None:
    """Change record ``seq`` and recompute every hash from it on, as an operator with the database could."""
    with write_session(hub.context.sessions) as session:
        session.execute(update(AccessRecord).where(AccessRecord.seq == seq).values(**changes))
        rows = session.scalars(select(AccessRecord).order_by(AccessRecord.seq)).all()
        previous = GENESIS
        for row in rows:
            record = ChainRecord(
                at=format_timestamp(as_utc(row.at)),
                token_id=row.token_id,
                role=row.role,
                label=row.label,
                countries=tuple(row.countries.split(",")) if row.countries else None,
                method=row.method,
                path=row.path,
                query=row.query,
                question=json.loads(row.question) if row.question else None,
                status=row.status,
                request_id=row.request_id,
            )
            digest = chain_hash(previous, record)
            row.prev_hash, row.hash = previous.hex(), digest.hex()
            previous = digest


def test_an_honest_access_log_verifies_with_the_pinned_key(hub: HubUnderTest) -> None:
    _ask(hub, 4)
    run = _verify(hub, "--log-key", hub.log_key.vkey)
    assert run.code == 0, run.out + run.err
    assert run.document["records"] == 4


def test_a_rewritten_chain_fails_the_checkpoint_signed_before(hub: HubUnderTest, tmp_path: Path) -> None:
    _ask(hub, 3)
    assert _verify(hub, "--log-key", hub.log_key.vkey).code == 0
    hub_signed = hub.client.get("/v1/audit/access-log/checkpoints", headers=hub.auth("auditor")).json()
    assert hub_signed["checkpoints"] == []  # nothing signed yet: the default signs every 100 records
    settings = hub.context.settings
    argv = ["access-log", "checkpoint", "--data-dir", str(settings.data_dir)]
    assert hub_main([*argv, *(["--database-url", settings.database_url] if settings.database_url else [])]) == 0

    _rewrite_chain(hub, 2, query="period_from=2020-01")
    run = _verify(hub, "--log-key", hub.log_key.vkey)
    assert run.code == 1
    assert [(f["kind"], f["seq"]) for f in run.document["findings"]] == [("checkpoint_mismatch", 3)]


def test_the_auditor_remembers_a_checkpoint_the_hub_later_deletes(hub: HubUnderTest, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    _ask(hub, 3)
    settings = hub.context.settings
    argv = ["access-log", "checkpoint", "--data-dir", str(settings.data_dir)]
    assert hub_main([*argv, *(["--database-url", settings.database_url] if settings.database_url else [])]) == 0
    first = _verify(hub, "--log-key", hub.log_key.vkey, "--state", str(state))
    assert first.code == 0, first.out + first.err

    _rewrite_chain(hub, 1, status=404)
    with write_session(hub.context.sessions) as session:
        session.execute(delete(AccessCheckpoint))
    assert _verify(hub, "--log-key", hub.log_key.vkey).code == 0  # without memory, nothing shows
    run = _verify(hub, "--log-key", hub.log_key.vkey, "--state", str(state))
    assert run.code == 1
    [finding] = run.document["findings"]
    assert (finding["kind"], finding["seq"]) == ("checkpoint_mismatch", 3)
    assert "state directory" in finding["message"]


def test_a_checkpoint_signed_by_another_key_is_reported(hub: HubUnderTest) -> None:
    _ask(hub, 1)
    forged = sign_access_checkpoint(access_log_signer(hub.context.origin, SigningKey.generate()), 1, GENESIS)
    with write_session(hub.context.sessions) as session:
        session.add(AccessCheckpoint(size=1, head=GENESIS.hex(), note=forged, signed_at=hub.clock()))
    run = _verify(hub, "--log-key", hub.log_key.vkey)
    assert run.code == 1
    assert [f["kind"] for f in run.document["findings"]] == ["checkpoint_invalid"]
