# SPDX-License-Identifier: Apache-2.0
"""A served hub (several worker processes) keeps one access log chain, and ``tipshare-audit access-log verify``
catches every record edited, deleted or reordered in its database, by sequence number.

Coordinators' requests race through the workers (SQLite: two, PostgreSQL: three): the chain must not fork (one
record per sequence number, each following the one before), and its checkpoints are signed along the way. Then a
dishonest operator edits the database directly, one tampering at a time, and the auditor (over real HTTP, as typed)
names each.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, delete, select, update

from auditor.cli import main as audit_main
from hub.db import make_engine, write_session
from hub.models import AccessRecord
from hub.services.tokens import TokenService
from hub.settings import Settings
from hub.setup import initialise_hub
from tests.support.backends import BACKEND, fresh_database_url
from tools.served_hub import ServedHub, served_hub

pytestmark = pytest.mark.slow

ORIGIN = "hub.test.tipshare/access-log"
WORKERS = {"sqlite": 2, "postgresql": 3}
REQUESTS = 36
SIGN_EVERY = 5


@dataclass(frozen=True, slots=True)
class Audited:
    served: ServedHub
    engine: Engine
    vkey: str
    coordinator: str
    auditor: str

    def verify(self, *argv: str) -> tuple[int, dict[str, Any]]:
        out, err = io.StringIO(), io.StringIO()
        command = ["access-log", "verify", "--hub", self.served.url, "--token", self.auditor, "--json", *argv]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = audit_main(command)
        assert out.getvalue(), err.getvalue()
        document: dict[str, Any] = json.loads(out.getvalue())
        return code, document


@pytest.fixture
def audited(tmp_path: Path) -> Iterator[Audited]:
    with fresh_database_url() as url:
        data_dir = tmp_path / "hub"
        context = initialise_hub(Settings(data_dir=data_dir, database_url=url), origin=ORIGIN)
        with write_session(context.sessions) as session:
            tokens = TokenService(session)
            coordinator = tokens.create(role="coordinator", label="desk", now=context.clock()).token
            auditor = tokens.create(role="auditor", label="auditor", now=context.clock()).token
        vkey = context.log_signer.verifier.vkey
        database_url = context.settings.resolved_database_url
        context.engine.dispose()
        engine = make_engine(database_url)
        settings = {"TIPSHARE_HUB_RATE_LIMITS": "off", "TIPSHARE_HUB_ACCESS_SIGN_EVERY": str(SIGN_EVERY)}
        try:
            with served_hub(data_dir, database_url=url, workers=WORKERS[BACKEND.name], settings=settings) as served:
                yield Audited(served, engine, vkey, coordinator, auditor)
        finally:
            engine.dispose()


def _ask(audited: Audited, number: int) -> int:
    with httpx.Client(base_url=audited.served.url, timeout=60.0) as client:
        response = client.get(
            "/v1/completeness",
            params={"period_from": f"2025-{number % 12 + 1:02d}", "period_to": "2026-10"},
            headers={"Authorization": f"Bearer {audited.coordinator}"},
        )
        return response.status_code


def _findings(document: dict[str, Any]) -> list[tuple[str, int]]:
    return [(finding["kind"], finding["seq"]) for finding in document["findings"]]


def test_concurrent_workers_keep_one_chain_and_the_auditor_names_each_tampering(audited: Audited) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda number: _ask(audited, number), range(REQUESTS)))
    assert statuses == [200] * REQUESTS

    code, report = audited.verify("--log-key", audited.vkey, "--page-size", "10")
    assert code == 0, report
    assert report["records"] == REQUESTS
    assert report["checkpoints"] == REQUESTS // SIGN_EVERY
    assert report["signed"] == REQUESTS // SIGN_EVERY * SIGN_EVERY
    assert report["findings"] == []
    with audited.engine.connect() as connection:
        seqs = connection.scalars(select(AccessRecord.seq).order_by(AccessRecord.seq)).all()
    assert seqs == list(range(1, REQUESTS + 1))  # no fork: one record per position

    # An edited record: what it asked is rewritten.
    with audited.engine.begin() as connection:
        connection.execute(update(AccessRecord).where(AccessRecord.seq == 7).values(query="period_from=2026-01"))
    code, report = audited.verify("--log-key", audited.vkey)
    assert code == 1
    assert _findings(report) == [("edited", 7)]

    # A deleted record.
    with audited.engine.begin() as connection:
        connection.execute(delete(AccessRecord).where(AccessRecord.seq == 12))
    code, report = audited.verify("--log-key", audited.vkey)
    assert code == 1
    assert ("deleted", 12) in _findings(report)
    assert ("checkpoint_mismatch", 15) not in _findings(report)  # record 15 itself is intact
    assert ("checkpoint_beyond_log", 15) not in _findings(report)

    # Two records swapped.
    with audited.engine.begin() as connection:
        connection.execute(update(AccessRecord).where(AccessRecord.seq == 21).values(seq=-21))
        connection.execute(update(AccessRecord).where(AccessRecord.seq == 22).values(seq=21))
        connection.execute(update(AccessRecord).where(AccessRecord.seq == -21).values(seq=22))
    code, report = audited.verify("--log-key", audited.vkey)
    assert code == 1
    findings = _findings(report)
    assert [seq for kind, seq in findings if kind == "out_of_order"][:2] == [21, 22]
    assert ("edited", 7) in findings
    assert ("deleted", 12) in findings


def test_the_auditor_needs_the_hub_key(audited: Audited) -> None:
    assert _ask(audited, 1) == 200
    code, report = audited.verify("--log-key", audited.vkey)
    assert (code, report["records"]) == (0, 1)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = audit_main(["access-log", "verify", "--hub", audited.served.url, "--token", audited.auditor])
    assert code != 0
    assert "--log-key" in err.getvalue()
