# SPDX-License-Identifier: Apache-2.0
"""Bulk loading of accepted submissions: the rows ingest would write, without going through ingest.

Ingest costs about 0.3 s per full-taxonomy release on SQLite (it writes 3 × 21,502 rollup rows), so a hub of
200 hotlines × 36 months (7,200 releases) would take most of an hour to fill through it. :func:`load_releases`
writes the same rows directly, for the scopes asked for:

* ``submissions`` (the current revision of each (hotline, period) flagged ``is_current``) and ``release_noise``
  (one row per released table, current or not), exactly as :meth:`hub.services.ingest.IngestService.submit` and
  :meth:`hub.services.rollups.Rollups.replace` leave them;
* ``rollup_cells`` (one row per cell of the table's dense domain, the sum over the scope's current releases) and
  ``rollup_noise`` (hotlines reporting, and :func:`hub.services.rollups.encode_terms` of their noise terms), for
  ``region``, ``country:<CC>`` and/or ``hotline:<id>``.

Releases name their noisy tables by an index into a *bank* of table sets, so thousands of releases can share a few
real node releases and the sums are weighted sums of the bank (cheap); every release's own row still exists.
:func:`check_against_ingest` (run by the query benchmark on a small instance) loads releases both through the
real ingest service and through this loader and compares the two databases with
:func:`hub.services.rebuild.load_rollups` / :func:`~hub.services.rebuild.compare`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, insert, select

from bench.fixtures import NOW, NodeRelease, new_hub, payload_for
from hub.db import make_sessionmaker
from hub.models import ReleaseNoise, RollupNoise, Submission
from hub.services.rollups import REGION, cell_codes, country_scope, encode_terms, hotline_scope
from protocol.taxonomy import Taxonomy

__all__ = ["SCOPE_LEVELS", "LoadedRelease", "check_against_ingest", "load_releases"]

SCOPE_LEVELS: Final = ("region", "country", "hotline")
_INSERT_CELLS: Final = (
    "INSERT INTO rollup_cells (table_name, scope, period, cell, d1, d2, d3, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_BATCH: Final = 20_000


@dataclass(frozen=True, slots=True)
class LoadedRelease:
    """One accepted submission: who, when, its stored bytes, and which bank entry holds its noisy tables."""

    hotline_id: str
    country: str
    key_id: str
    period: str
    revision: int
    received_at: datetime
    payload_hash: str
    payload: bytes
    signature: bytes
    leaf_index: int
    taxonomy_id: str
    mechanism: str
    #: table -> noise scale (decimal string), for every table the release holds.
    scales: Mapping[str, str]
    #: Index into the bank of noisy tables.
    bank: int
    #: The payload's unit of privacy (``privacy.unit``), which ingest keeps on the submission.
    privacy_unit: str = "person-month"


def _scopes(release: LoadedRelease, levels: Sequence[str]) -> list[str]:
    named = {"region": REGION, "country": country_scope(release.country), "hotline": hotline_scope(release.hotline_id)}
    return [named[level] for level in levels]


def load_releases(
    engine: Engine,
    taxonomy: Taxonomy | Sequence[Taxonomy],
    releases: Sequence[LoadedRelease],
    bank: Sequence[Mapping[str, Sequence[int]]],
    *,
    scope_levels: Sequence[str] = SCOPE_LEVELS,
    tables: Sequence[str] | None = None,
) -> dict[str, int]:
    """Write the rows of ``releases`` (and the rollups of ``scope_levels``; of ``tables`` only, default all) in one
    transaction. ``taxonomy``: the taxonomies the releases follow (their tables' cell codes). Returns the number of
    rows written per table.

    On SQLite the cells are written by ``INSERT … SELECT`` from a temporary copy of the bank (any rollup is a
    weighted sum of bank entries: a release's own is one entry with weight 1), in primary-key order, with the
    rollback journal instead of the WAL and without fsync during the load (a load of tens of GB would otherwise be
    written twice), at about a million rows a second; other backends get the same rows through ``executemany``.
    """
    owners = _owners(taxonomy)
    latest: dict[tuple[str, str], LoadedRelease] = {}
    for release in releases:
        slot = (release.hotline_id, release.period)
        if slot not in latest or release.revision > latest[slot].revision:
            latest[slot] = release
    current = {id(release) for release in latest.values()}
    rolled = set(tables) if tables is not None else set(owners)
    # (table, scope, period) -> bank index -> number of current releases; and their noise terms.
    weights: dict[tuple[str, str, str], Counter[int]] = {}
    terms: dict[tuple[str, str, str], list[tuple[str, str, str]]] = {}
    for release in latest.values():
        for table, scale in release.scales.items():
            if table not in rolled:
                continue
            for scope in _scopes(release, scope_levels):
                key = (table, scope, release.period)
                weights.setdefault(key, Counter())[release.bank] += 1
                terms.setdefault(key, []).append((release.hotline_id, release.mechanism, scale))
    written: dict[str, int] = {}
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _sqlite_pragmas(connection, journal_mode="DELETE", synchronous="OFF")
        try:
            with connection.begin():
                submission_rows = [_submission_row(r, id(r) in current) for r in releases]
                for start in range(0, len(submission_rows), _BATCH):
                    connection.execute(insert(Submission), submission_rows[start : start + _BATCH])
                found = connection.exec_driver_sql("SELECT payload_hash, id FROM submissions").tuples()
                ids: dict[str, int] = dict(found.all())
                noise_rows = [
                    {
                        "submission_id": ids[r.payload_hash],
                        "table_name": table,
                        "hotline_id": r.hotline_id,
                        "country": r.country,
                        "period": r.period,
                        "mechanism": r.mechanism,
                        "scale": scale,
                        "is_current": id(r) in current,
                    }
                    for r in releases
                    for table, scale in r.scales.items()
                ]
                for start in range(0, len(noise_rows), _BATCH):
                    connection.execute(insert(ReleaseNoise), noise_rows[start : start + _BATCH])
                rollup_noise = [
                    {
                        "table_name": table,
                        "scope": scope,
                        "period": period,
                        "hotlines": len({hotline for hotline, _, _ in found}),
                        "terms": encode_terms((mechanism, scale) for _, mechanism, scale in found),
                    }
                    for (table, scope, period), found in sorted(terms.items())
                ]
                for start in range(0, len(rollup_noise), _BATCH):
                    connection.execute(insert(RollupNoise), rollup_noise[start : start + _BATCH])
                writer = _SqliteCells(connection, owners, bank) if sqlite else _Cells(connection, owners, bank)
                for (table, scope, period), counts in sorted(weights.items()):
                    writer.write(table, scope, period, counts)
                cells = writer.finish()
        finally:
            if sqlite:
                _sqlite_pragmas(connection, journal_mode="WAL", synchronous="FULL")
    written.update(
        submissions=len(submission_rows),
        release_noise=len(noise_rows),
        rollup_noise=len(rollup_noise),
        rollup_cells=cells,
    )
    return written


def _owners(taxonomies: Taxonomy | Sequence[Taxonomy]) -> dict[str, Taxonomy]:
    """table name -> a taxonomy that has it (a name means the same cells in every taxonomy a hub registers)."""
    owners: dict[str, Taxonomy] = {}
    for taxonomy in [taxonomies] if isinstance(taxonomies, Taxonomy) else taxonomies:
        for name in taxonomy.tables:
            owners.setdefault(name, taxonomy)
    return owners


def _sqlite_pragmas(connection: Connection, *, journal_mode: str, synchronous: str) -> None:
    """Set the journal mode (outside any transaction, on the driver's connection: no implicit ``BEGIN``)."""
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA journal_mode={journal_mode}")
    driver.execute(f"PRAGMA synchronous={synchronous}")


class _Cells:
    """``rollup_cells`` rows through ``executemany`` (any backend): weighted sums of bank entries in Python."""

    def __init__(
        self, connection: Connection, owners: Mapping[str, Taxonomy], bank: Sequence[Mapping[str, Sequence[int]]]
    ) -> None:
        self._connection = connection
        self._owners = owners
        self._bank = bank
        marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        self._statement = _INSERT_CELLS.replace("?", marker)
        self._batch: list[tuple[Any, ...]] = []
        self.cells = 0

    def write(self, table: str, scope: str, period: str, counts: Counter[int]) -> None:
        codes = cell_codes(self._owners[table], table)
        sums = _weighted_sum([(self._bank[index][table], weight) for index, weight in sorted(counts.items())])
        self._batch += [(table, scope, period, i, *c, v) for i, (c, v) in enumerate(zip(codes, sums, strict=True))]
        if len(self._batch) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            self._connection.exec_driver_sql(self._statement, self._batch)
            self.cells += len(self._batch)
            self._batch = []

    def finish(self) -> int:
        self._flush()
        return self.cells


class _SqliteCells:
    """``rollup_cells`` rows by ``INSERT … SELECT`` from a temporary copy of the bank (SQLite): one row per cell of
    every table, one column per bank entry, so that any sum of releases is a weighted sum of columns, in the
    order of the primary key, without a join or a ``GROUP BY``."""

    def __init__(
        self, connection: Connection, owners: Mapping[str, Taxonomy], bank: Sequence[Mapping[str, Sequence[int]]]
    ) -> None:
        self._connection = connection
        self._entries = len(bank)
        self.cells = 0
        values = [f"v{i}" for i in range(self._entries)]  # v0, v1, ...: integers of the bank's size only
        connection.exec_driver_sql("DROP TABLE IF EXISTS temp.bench_bank")
        connection.exec_driver_sql(
            "CREATE TEMP TABLE bench_bank (table_name TEXT, cell INTEGER, d1 TEXT, d2 TEXT, d3 TEXT, "
            f"{', '.join(f'{v} INTEGER' for v in values)}, PRIMARY KEY (table_name, cell)) WITHOUT ROWID"
        )
        rows = []
        for table, taxonomy in owners.items():
            columns = [entry.get(table) for entry in bank]  # a table an entry lacks: 0 (no release weighs it)
            for i, codes in enumerate(cell_codes(taxonomy, table)):
                rows.append((table, i, *codes, *(0 if c is None else c[i] for c in columns)))
        marks = ", ".join("?" for _ in range(5 + self._entries))
        connection.exec_driver_sql(f"INSERT INTO temp.bench_bank VALUES ({marks})", rows)  # noqa: S608
        self._sizes = {table: len(cell_codes(taxonomy, table)) for table, taxonomy in owners.items()}
        weighted = " + ".join(f"{v} * ?" for v in values)
        select = f"SELECT table_name, ?, ?, cell, d1, d2, d3, {weighted} FROM temp.bench_bank"  # noqa: S608
        self._statement = (
            "INSERT INTO rollup_cells (table_name, scope, period, cell, d1, d2, d3, value) "
            f"{select} WHERE table_name = ? ORDER BY cell"
        )

    def write(self, table: str, scope: str, period: str, counts: Counter[int]) -> None:
        weights = [counts.get(index, 0) for index in range(self._entries)]
        self._connection.exec_driver_sql(self._statement, (scope, period, *weights, table))
        self.cells += self._sizes[table]

    def finish(self) -> int:
        self._connection.exec_driver_sql("DROP TABLE temp.bench_bank")
        return self.cells


def _weighted_sum(vectors: Sequence[tuple[Sequence[int], int]]) -> list[int]:
    if len(vectors) == 1:
        vector, weight = vectors[0]
        return [weight * v for v in vector]
    total = [0] * len(vectors[0][0])
    for vector, weight in vectors:
        total = [t + weight * v for t, v in zip(total, vector, strict=True)]
    return total


def _submission_row(release: LoadedRelease, is_current: bool) -> dict[str, Any]:
    return {
        "hotline_id": release.hotline_id,
        "key_id": release.key_id,
        "period": release.period,
        "revision": release.revision,
        "taxonomy_id": release.taxonomy_id,
        "payload_hash": release.payload_hash,
        "payload": release.payload,
        "signature": release.signature,
        "received_at": release.received_at,
        "leaf_index": release.leaf_index,
        "is_current": is_current,
        "privacy_unit": release.privacy_unit,
    }


# ---------------------------------------------------------------------------------------------- validation


def check_against_ingest(workdir: Path, taxonomies: Sequence[Taxonomy], bank: Sequence[NodeRelease]) -> list[str]:
    """Ingest a few releases through the real ingest service into one hub, bulk-load the same releases into
    another, and list how the two databases differ: rollups of every scope, current flags, every submission row
    (taxonomy, revision, hash, leaf, received, unit of privacy) and every ``release_noise`` row (current or not).

    Three countries, two months and two corrections (one per taxonomy): every hotline follows the first taxonomy
    of the bank but one, which follows another, so both months mix taxonomies. (A correction under another
    taxonomy than the release it corrects is not among them: ingest refuses it, 422, since
    :meth:`hub.services.rollups.Rollups.replace` looks the old release's tables up in the new one's taxonomy.)"""
    from hub.context import HubContext
    from hub.db import make_engine, read_session
    from hub.services.ingest import IngestService
    from hub.services.rebuild import compare, load_rollups
    from protocol.crypto import SigningKey, seal_envelope
    from protocol.messages import SubmissionPayload

    by_id = {taxonomy.id: taxonomy for taxonomy in taxonomies}
    followed = list(dict.fromkeys(release.taxonomy_id for release in bank))
    first, other = followed[0], followed[-1]
    entries = {t: [i for i, release in enumerate(bank) if release.taxonomy_id == t] for t in followed}
    hotlines = [("check-ua-1", "UA"), ("check-ua-2", "UA"), ("check-md-1", "MD"), ("check-pl-1", "PL")]
    follows = {"check-ua-1": first, "check-ua-2": first, "check-md-1": other, "check-pl-1": first}
    keys = {hotline_id: SigningKey.generate() for hotline_id, _ in hotlines}
    plan: list[tuple[str, int, int, int]] = []  # hotline, month, revision, bank entry
    for i, (hotline_id, _) in enumerate(hotlines):
        for month in range(2):
            mine = entries[follows[hotline_id]]
            plan.append((hotline_id, month, 1, mine[(i + month) % len(mine)]))
    plan.append(("check-ua-1", 1, 2, entries[first][-1]))  # a correction
    plan.append(("check-md-1", 1, 2, entries[other][0]))  # a correction under the other taxonomy
    ingested = new_hub(workdir / "check-ingest", hotlines, keys=keys)
    context = HubContext.open(ingested.settings, clock=lambda: NOW)
    bank_of: dict[str, int] = {}
    try:
        for hotline_id, month, revision, index in plan:
            payload = payload_for(
                bank[index], by_id[bank[index].taxonomy_id], keys[hotline_id], hotline_id=hotline_id,
                period=f"2026-0{month + 1}", revision=revision,
            )  # fmt: skip
            body = seal_envelope(payload, signing_key=keys[hotline_id], hub_key=context.keys.envelope.public_key)
            IngestService(context).submit(body.canonical_bytes())  # the server's sequence, at the context's clock
            bank_of[payload.canonical_bytes().hex()] = index
        with read_session(context.sessions) as session:
            stored = session.query(Submission).order_by(Submission.id).all()
            releases = []
            for row in stored:
                payload = SubmissionPayload.from_canonical(row.payload)
                releases.append(
                    LoadedRelease(
                        hotline_id=row.hotline_id,
                        country=ingested.countries[row.hotline_id],
                        key_id=row.key_id,
                        period=row.period,
                        revision=row.revision,
                        received_at=row.received_at,
                        payload_hash=row.payload_hash,
                        payload=row.payload,
                        signature=row.signature,
                        leaf_index=row.leaf_index,
                        taxonomy_id=row.taxonomy_id,
                        mechanism=payload.privacy.mechanism,
                        scales={t.table: t.scale for t in payload.privacy.tables},
                        bank=bank_of[row.payload.hex()],
                        privacy_unit=payload.privacy.unit,
                    )
                )
            expected = load_rollups(session)
            expected_rows = _stored_rows(session)
    finally:
        context.engine.dispose()
    loaded = new_hub(workdir / "check-loaded", hotlines, keys=keys)
    engine = make_engine(loaded.settings.resolved_database_url)
    try:
        load_releases(engine, taxonomies, releases, [dict(release.tables) for release in bank])
        with read_session(make_sessionmaker(engine)) as session:
            actual = load_rollups(session)
            actual_rows = _stored_rows(session)
    finally:
        engine.dispose()
    differences = compare(expected, actual)
    for name in expected_rows:
        missing, extra = expected_rows[name] - actual_rows[name], actual_rows[name] - expected_rows[name]
        differences += [f"{name}: ingest wrote {row}, the loader did not" for row in sorted(missing, key=repr)]
        differences += [f"{name}: the loader wrote {row}, ingest did not" for row in sorted(extra, key=repr)]
    if len({release.taxonomy_id for release in releases if release.period == "2026-02"}) < 2:
        differences.append("the check's releases do not mix taxonomies within a month")
    return differences


def _stored_rows(session: Any) -> dict[str, set[tuple[Any, ...]]]:
    """Every submission row and every ``release_noise`` row (current or not), without the database's ids."""
    submissions = session.execute(
        select(
            Submission.hotline_id,
            Submission.key_id,
            Submission.period,
            Submission.revision,
            Submission.taxonomy_id,
            Submission.payload_hash,
            Submission.received_at,
            Submission.leaf_index,
            Submission.is_current,
            Submission.privacy_unit,
        )
    ).all()
    noise = session.execute(
        select(
            Submission.payload_hash,
            ReleaseNoise.table_name,
            ReleaseNoise.hotline_id,
            ReleaseNoise.country,
            ReleaseNoise.period,
            ReleaseNoise.mechanism,
            ReleaseNoise.scale,
            ReleaseNoise.is_current,
        ).join(Submission, Submission.id == ReleaseNoise.submission_id)
    ).all()
    return {"submissions": {tuple(row) for row in submissions}, "release_noise": {tuple(row) for row in noise}}
