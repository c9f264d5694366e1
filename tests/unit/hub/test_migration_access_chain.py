# SPDX-License-Identifier: Apache-2.0
"""Migration 0007a chains the access log records written before it, in id order, so the chain covers them all;
the first record written after it follows them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, column, insert, select, table

from hub.db import make_engine, make_sessionmaker, write_session
from hub.migrate import upgrade
from hub.models import AccessRecord, ApiToken
from hub.services.access_log import AccessLogService
from hub.services.tokens import Principal
from protocol.access_chain import AccessRecord as ChainRecord
from protocol.access_chain import ChainedRecord, verify_chain
from protocol.messages import format_timestamp
from tests.support.backends import fresh_database_url

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
OLD_ACCESS_LOG = table(
    "access_log",
    *(column(name) for name in ("id", "at", "token_id", "role", "label", "countries", "method", "path", "query")),
    column("status"),
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with fresh_database_url() as url:
        engine = make_engine(url or f"sqlite:///{tmp_path / 'old.sqlite'}")
        yield engine
        engine.dispose()


def _chain(engine: Engine) -> list[ChainedRecord]:
    with engine.connect() as connection:
        rows = connection.execute(select(AccessRecord.__table__).order_by(AccessRecord.seq)).all()
    return [
        ChainedRecord(
            seq=row.seq,
            prev_hash=bytes.fromhex(row.prev_hash),
            hash=bytes.fromhex(row.hash),
            record=ChainRecord(
                at=format_timestamp(row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)),
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
            ),
        )
        for row in rows
    ]


def test_upgrading_chains_the_records_written_before(engine: Engine) -> None:
    upgrade(engine, "0006")
    with engine.begin() as connection:
        connection.execute(
            insert(ApiToken).values(id=1, token_hash="0" * 64, role="coordinator", label="desk", countries="MD,UA",
                                    created_at=NOW)
        )  # fmt: skip
        for number, status in ((3, 200), (5, 403), (9, 200)):  # ids with gaps, as PostgreSQL leaves them
            connection.execute(
                insert(OLD_ACCESS_LOG).values(
                    id=number, at=NOW, token_id=1, role="coordinator", label="desk", countries="MD,UA", method="GET",
                    path="/v1/completeness", query=f"period_from=2026-0{number}", status=status,
                )
            )  # fmt: skip

    upgrade(engine)

    chain = _chain(engine)
    assert [item.seq for item in chain] == [1, 2, 3]
    assert [item.record.query for item in chain] == [
        "period_from=2026-03",
        "period_from=2026-05",
        "period_from=2026-09",
    ]
    assert verify_chain(chain) == []
    with write_session(make_sessionmaker(engine)) as session:
        principal = Principal(token_id=1, role="coordinator", label="desk", countries=frozenset({"MD"}))
        AccessLogService(session).record(principal, method="GET", path="/trends", query="", status=200, now=NOW)
    chain = _chain(engine)
    assert [item.seq for item in chain] == [1, 2, 3, 4]
    assert verify_chain(chain) == []
