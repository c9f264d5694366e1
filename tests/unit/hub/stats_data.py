# SPDX-License-Identifier: Apache-2.0
"""A small hub database for the statistics and completeness tests, written directly (no ingest).

Four hotlines in two countries, three months (2026-01..03) of two small tables (``persons_recruitment``, 75 cells,
and ``contacts``, 72 cells). The rollups are built here from the hand-made noisy vectors, independently of
:mod:`hub.services.rollups`, following the documented semantics; the tests compute every expected number again
from the vectors themselves.

=========  =======  ==============================================  ===========================================
hotline    country  keys                                            reports (received)
=========  =======  ==============================================  ===========================================
ua-one     UA       2025-06-01 →                                    01 (02-03), 02 r1 (03-05) r2 (03-20, σ=4),
                                                                    03 (04-20, late)
ua-two     UA       2025-06-01 → 2026-02-10 rotated, then new key   01 (02-10), 02 (03-16 00:00:00.4: on time)
md-one     MD       2026-02-15 →                                    01 backfill (02-20), 02 (03-01),
                                                                    03 (04-02, persons_recruitment only)
ua-gone    UA       2025-06-01 → revoked 2025-12-05                 nothing
=========  =======  ==============================================  ===========================================
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hub.db import make_engine, make_sessionmaker, write_session
from hub.migrate import upgrade
from hub.models import (
    Hotline,
    HotlineKey,
    LogCheckpoint,
    ReleaseNoise,
    RollupCell,
    RollupNoise,
    Submission,
)
from protocol.accuracy import Interval, sum_interval
from protocol.taxonomy import Taxonomy, builtin_taxonomy

TAXONOMY = builtin_taxonomy()
TABLES = ("persons_recruitment", "contacts")
PERIODS = ("2026-01", "2026-02", "2026-03")
GAUSS = "discrete_gaussian"
LAPLACE = "discrete_laplace"
CHECKPOINT_ROOT = hashlib.sha256(b"a root").digest()
CHECKPOINT_NOTE = "hub.test.tipshare/log\n23\nYSByb290\n\n— hub.test.tipshare/log AAAA\n"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@dataclass(frozen=True)
class Release:
    """One stored revision: its tables' noisy vectors and noise parameters."""

    hotline: str
    country: str
    period: str
    revision: int
    received_at: datetime
    mechanism: str
    scale: str
    cells: dict[str, list[int]] = field(hash=False)
    current: bool = True


@dataclass
class Dataset:
    engine: Engine
    sessions: sessionmaker[Session]
    releases: list[Release]
    countries: dict[str, str]

    def current(self) -> list[Release]:
        return [r for r in self.releases if r.current]


def _vector(rng: random.Random, size: int) -> list[int]:
    cells = [rng.randint(-6, 25) for _ in range(size)]
    cells[0] += 400  # one clearly non-zero cell, so some answers are not flagged
    return cells


def _releases() -> list[Release]:
    rng = random.Random(20261121)

    def cells(*tables: str) -> dict[str, list[int]]:
        return {t: _vector(rng, TAXONOMY.table(t).cell_count) for t in tables}

    both = TABLES
    return [
        Release("ua-one", "UA", "2026-01", 1, utc(2026, 2, 3, 9), GAUSS, "3.5", cells(*both)),
        Release("ua-one", "UA", "2026-02", 1, utc(2026, 3, 5, 9), GAUSS, "3.5", cells(*both), current=False),
        Release("ua-one", "UA", "2026-02", 2, utc(2026, 3, 20, 9), GAUSS, "4", cells(*both)),
        Release("ua-one", "UA", "2026-03", 1, utc(2026, 4, 20, 9), GAUSS, "3.5", cells(*both)),
        Release("ua-two", "UA", "2026-01", 1, utc(2026, 2, 10, 9), LAPLACE, "2", cells(*both)),
        Release(
            "ua-two",
            "UA",
            "2026-02",
            1,
            datetime(2026, 3, 16, 0, 0, 0, 400_000, tzinfo=UTC),
            LAPLACE,
            "2",
            cells(*both),
        ),
        Release("md-one", "MD", "2026-01", 1, utc(2026, 2, 20, 9), GAUSS, "3.5", cells(*both)),
        Release("md-one", "MD", "2026-02", 1, utc(2026, 3, 1, 9), GAUSS, "3.5", cells(*both)),
        Release("md-one", "MD", "2026-03", 1, utc(2026, 4, 2, 9), GAUSS, "3.5", cells("persons_recruitment")),
    ]


def build(tmp_path: Path, *, display_names: dict[str, str] | None = None, checkpoint: bool = True) -> Dataset:
    """A new migrated SQLite database holding the data set."""
    engine = make_engine("sqlite:///" + str(tmp_path / "hub.sqlite"))
    upgrade(engine)
    return populate(engine, display_names=display_names, checkpoint=checkpoint)


def populate(engine: Engine, *, display_names: dict[str, str] | None = None, checkpoint: bool = True) -> Dataset:
    """Write the data set into an existing hub database (one without hotlines yet)."""
    sessions = make_sessionmaker(engine)
    releases = _releases()
    countries = {"ua-one": "UA", "ua-two": "UA", "md-one": "MD", "ua-gone": "UA"}
    names = display_names or {}
    with write_session(sessions) as session:
        for hotline_id, country in countries.items():
            enrolled = utc(2026, 2, 15) if hotline_id == "md-one" else utc(2025, 6, 1)
            session.add(
                Hotline(
                    id=hotline_id,
                    display_name=names.get(hotline_id, hotline_id.upper()),
                    country=country,
                    enrolled_at=enrolled,
                )
            )
        session.flush()
        keys = [
            ("k-ua-one", "ua-one", utc(2025, 6, 1), None, None),
            ("k-ua-two-1", "ua-two", utc(2025, 6, 1), utc(2026, 2, 10), None),
            ("k-ua-two-2", "ua-two", utc(2026, 2, 10), None, None),
            ("k-md-one", "md-one", utc(2026, 2, 15), None, None),
            ("k-ua-gone", "ua-gone", utc(2025, 6, 1), None, utc(2025, 12, 5)),
        ]
        for index, (key_id, hotline_id, valid_from, valid_until, revoked_at) in enumerate(keys):
            session.add(
                HotlineKey(
                    key_id=key_id,
                    hotline_id=hotline_id,
                    public_key=f"ed25519:{key_id}",
                    valid_from=valid_from,
                    valid_until=valid_until,
                    revoked_at=revoked_at,
                    log_index=index,
                )
            )
        session.flush()
        for index, release in enumerate(releases):
            key_id = "k-ua-two-2" if release.hotline == "ua-two" and release.period == "2026-02" else None
            submission = Submission(
                hotline_id=release.hotline,
                key_id=key_id or next(k[0] for k in keys if k[1] == release.hotline),
                period=release.period,
                revision=release.revision,
                taxonomy_id=TAXONOMY.id,
                payload_hash=f"sha256:{index:064x}",
                payload=b"{}",
                signature=bytes(64),
                received_at=release.received_at,
                leaf_index=1000 + index,
                is_current=release.current,
            )
            session.add(submission)
            session.flush()
            for table in release.cells:
                session.add(
                    ReleaseNoise(
                        submission_id=submission.id,
                        table_name=table,
                        hotline_id=release.hotline,
                        country=release.country,
                        period=release.period,
                        mechanism=release.mechanism,
                        scale=release.scale,
                        is_current=release.current,
                    )
                )
        _write_rollups(session, TAXONOMY, [r for r in releases if r.current])
        if checkpoint:
            session.add(
                LogCheckpoint(size=23, root_hash=CHECKPOINT_ROOT, note=CHECKPOINT_NOTE, signed_at=utc(2026, 4, 20))
            )
    return Dataset(engine=engine, sessions=sessions, releases=releases, countries=countries)


def _write_rollups(session: Session, taxonomy: Taxonomy, current: Sequence[Release]) -> None:
    """The rollup semantics, written out plainly: per (table, scope, period), dense sums and one cell's terms."""
    for table_name in TABLES:
        table = taxonomy.table(table_name)
        codes = [(*cell, None, None, None)[:3] for cell in table.iter_cells()]
        for period in PERIODS:
            reporting = [r for r in current if r.period == period and table_name in r.cells]
            scopes: dict[str, list[Release]] = {"region": reporting}
            for r in reporting:
                scopes.setdefault(f"country:{r.country}", []).append(r)
                scopes.setdefault(f"hotline:{r.hotline}", []).append(r)
            for scope, members in scopes.items():
                if not members:
                    continue
                for index, cell in enumerate(codes):
                    session.add(
                        RollupCell(
                            table_name=table_name,
                            scope=scope,
                            period=period,
                            cell=index,
                            d1=cell[0],
                            d2=cell[1],
                            d3=cell[2],
                            value=sum(r.cells[table_name][index] for r in members),
                        )
                    )
                counted = Counter((r.mechanism, r.scale) for r in members)
                terms = [[m, s, n] for (m, s), n in sorted(counted.items())]
                session.add(
                    RollupNoise(
                        table_name=table_name,
                        scope=scope,
                        period=period,
                        hotlines=len({r.hotline for r in members}),
                        terms=json.dumps(terms, separators=(",", ":")),
                    )
                )


def cell_matches(table_name: str, index: int, filters: dict[str, Iterable[str]]) -> bool:
    table = TAXONOMY.table(table_name)
    codes = dict(zip(table.dimension_names, table.cell_codes(index), strict=True))
    return all(codes[name] in set(allowed) for name, allowed in filters.items())


def independent(
    data: Dataset, table: str, *, hotlines: Iterable[str], periods: Iterable[str], cells: Mapping[str, Iterable[str]]
) -> tuple[int, Interval]:
    """The estimate and interval of a sum, straight from the vectors: one noise term per hotline, month and cell."""
    chosen = set(hotlines)
    months = set(periods)
    releases = [r for r in data.current() if r.hotline in chosen and r.period in months and table in r.cells]
    indices = [i for i in range(TAXONOMY.table(table).cell_count) if cell_matches(table, i, dict(cells))]
    estimate = sum(r.cells[table][i] for r in releases for i in indices)
    return estimate, sum_interval([(r.mechanism, r.scale, len(indices)) for r in releases])
