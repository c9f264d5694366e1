# SPDX-License-Identifier: Apache-2.0
"""Migration 0004 counts the releases accepted before it: each stored payload's declared spend is copied into
``submission_spends``, so the year caps hold across the upgrade."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from hub.db import make_engine
from hub.migrate import upgrade
from hub.models import Hotline, HotlineKey, Submission, SubmissionSpend
from protocol.crypto import SigningKey
from protocol.taxonomy import builtin_taxonomy
from tests.support.backends import fresh_database_url
from tests.support.releases import make_release

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with fresh_database_url() as url:
        engine = make_engine(url or f"sqlite:///{tmp_path / 'old.sqlite'}")
        yield engine
        engine.dispose()


def test_upgrading_copies_every_stored_release_s_spend(engine: Engine) -> None:
    upgrade(engine, "0003")
    key = SigningKey.generate()
    payloads = [
        make_release(builtin_taxonomy(1), key, hotline_id="ua-a", period=period, revision=revision,
                     tables=("contacts",), scale=scale)
        for period, revision, scale in (("2026-09", 1, "10"), ("2026-09", 2, "5"), ("2026-10", 1, "10"))
    ]  # fmt: skip
    with engine.begin() as connection:
        connection.execute(insert(Hotline).values(id="ua-a", display_name="A", country="UA", enrolled_at=NOW))
        connection.execute(
            insert(HotlineKey).values(
                key_id=key.verify_key.key_id, hotline_id="ua-a", public_key=key.verify_key.to_text(),
                valid_from=NOW, log_index=0,
            )
        )  # fmt: skip
        for number, payload in enumerate(payloads, start=1):
            connection.execute(
                insert(Submission).values(
                    id=number, hotline_id="ua-a", key_id=key.verify_key.key_id, period=payload.period,
                    revision=payload.revision, taxonomy_id=payload.taxonomy.id, payload_hash=f"sha256:{number:064x}",
                    payload=payload.canonical_bytes(), signature=b"\0" * 64, received_at=NOW, leaf_index=number,
                    is_current=True,
                )
            )  # fmt: skip

    upgrade(engine)

    with engine.connect() as connection:
        rows = connection.execute(
            select(
                SubmissionSpend.submission_id, SubmissionSpend.period, SubmissionSpend.measure, SubmissionSpend.spent
            )
        ).all()
    assert sorted(rows) == [
        (1, "2026-09", "rho", "0.045"),
        (2, "2026-09", "rho", "0.18"),
        (3, "2026-10", "rho", "0.045"),
    ]
