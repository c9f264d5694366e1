# SPDX-License-Identifier: Apache-2.0
"""The Alembic migrations build exactly the schema the models describe, and go down and up again cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Engine, Index, MetaData, String, inspect

from hub.db import make_engine
from hub.migrate import current_revision, downgrade, head_revision, upgrade
from hub.models import Base
from tests.support.backends import fresh_database_url


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """An empty database on the run's backend (an SQLite file by default)."""
    with fresh_database_url() as url:
        engine = make_engine(url or f"sqlite:///{tmp_path / 'empty.sqlite'}")
        yield engine
        engine.dispose()


def _differences(engine: Engine, metadata: MetaData = Base.metadata) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
        return list(compare_metadata(context, metadata))


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_upgrade_head_builds_the_models_schema(engine: Engine) -> None:
    assert _tables(engine) == set()

    upgrade(engine)

    assert current_revision(engine) == head_revision(engine) is not None
    assert _tables(engine) == set(Base.metadata.tables) | {"alembic_version"}
    assert _differences(engine) == []


def test_downgrade_to_base_and_upgrade_again(engine: Engine) -> None:
    upgrade(engine)

    downgrade(engine, "base")

    assert current_revision(engine) is None
    assert _tables(engine) <= {"alembic_version"}
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    assert _differences(engine) == []


def test_autogenerate_would_notice_a_model_change(engine: Engine) -> None:
    """The comparison above is not vacuous: a column or index the migrations lack shows up as a difference."""
    upgrade(engine)
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    hotlines = changed.tables["hotlines"]
    hotlines.append_column(Column("website", String(200), nullable=True))
    Index("ix_hotlines_display_name", hotlines.c.display_name)

    found = {(d[0], getattr(d[-1], "name", None)) for d in _differences(engine, changed) if isinstance(d, tuple)}

    assert ("add_column", "website") in found
    assert ("add_index", "ix_hotlines_display_name") in found
