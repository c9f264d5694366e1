# SPDX-License-Identifier: Apache-2.0
"""Bulk loading of accepted submissions: the rows ingest would write, without going through ingest.

Ingest costs about 0.3 s per full-taxonomy release on SQLite (it writes 3 × 21,502 rollup rows), so a hub of
200 hotlines × 36 months (7,200 releases) would take most of an hour to fill through it. :func:`load_releases`
writes the same rows directly, for the scopes asked for:

* ``submissions`` (the current revision of each (hotline, period) flagged ``is_current``) and ``release_noise``
  (one row per released table, current or not), exactly as :meth:`hub.services.ingest.IngestService.accept` and
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

from sqlalchemy import Engine, insert

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


def _scopes(release: LoadedRelease, levels: Sequence[str]) -> list[str]:
    named = {"region": REGION, "country": country_scope(release.country), "hotline": hotline_scope(release.hotline_id)}
    return [named[level] for level in levels]


def load_releases(
    engine: Engine,
    taxonomy: Taxonomy,
    releases: Sequence[LoadedRelease],
    bank: Sequence[Mapping[str, Sequence[int]]],
    *,
    scope_levels: Sequence[str] = SCOPE_LEVELS,
    tables: Sequence[str] | None = None,
) -> dict[str, int]:
    """Write the rows of ``releases`` (and the rollups of ``scope_levels``; of ``tables`` only, default all) in one
    transaction. Returns the number of rows written per table."""
    latest: dict[tuple[str, str], LoadedRelease] = {}
    for release in releases:
        slot = (release.hotline_id, release.period)
        if slot not in latest or release.revision > latest[slot].revision:
            latest[slot] = release
    current = {id(release) for release in latest.values()}
    rolled = list(tables) if tables is not None else list(taxonomy.tables)
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
    with engine.begin() as connection:
        submission_rows = [_submission_row(r, id(r) in current) for r in releases]
        connection.execute(insert(Submission), submission_rows)
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
        if rollup_noise:
            connection.execute(insert(RollupNoise), rollup_noise)
        marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        statement = _INSERT_CELLS.replace("?", marker)
        cells = 0
        batch: list[tuple[Any, ...]] = []
        for (table, scope, period), counts in sorted(weights.items()):
            codes = cell_codes(taxonomy, table)
            sums = _weighted_sum([(bank[index][table], weight) for index, weight in sorted(counts.items())])
            batch += [(table, scope, period, i, *c, v) for i, (c, v) in enumerate(zip(codes, sums, strict=True))]
            if len(batch) >= _BATCH:
                connection.exec_driver_sql(statement, batch)
                cells += len(batch)
                batch = []
        if batch:
            connection.exec_driver_sql(statement, batch)
            cells += len(batch)
    written.update(
        submissions=len(submission_rows),
        release_noise=len(noise_rows),
        rollup_noise=len(rollup_noise),
        rollup_cells=cells,
    )
    return written


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
    }


# ---------------------------------------------------------------------------------------------- validation


def check_against_ingest(workdir: Path, taxonomy: Taxonomy, bank: Sequence[NodeRelease]) -> list[str]:
    """Ingest a few releases (two countries, two months, a correction) through the real ingest service into one
    hub, bulk-load the same releases into another, and list how their rollups and current flags differ."""
    from hub.context import HubContext
    from hub.db import make_engine, read_session, write_session
    from hub.services.ingest import IngestService
    from hub.services.rebuild import compare, load_rollups
    from protocol.crypto import SigningKey, seal_envelope
    from protocol.messages import SubmissionPayload

    hotlines = [("check-ua-1", "UA"), ("check-ua-2", "UA"), ("check-md-1", "MD")]
    keys = {hotline_id: SigningKey.generate() for hotline_id, _ in hotlines}
    plan = [(h, p, 1, (i + p) % len(bank)) for i, (h, _) in enumerate(hotlines) for p in range(2)]
    plan.append((hotlines[0][0], 1, 2, (plan[1][3] + 1) % len(bank)))  # a correction of the second month
    ingested = new_hub(workdir / "check-ingest", hotlines, keys=keys)
    context = HubContext.open(ingested.settings, clock=lambda: NOW)
    bank_of: dict[str, int] = {}
    try:
        for hotline_id, month, revision, index in plan:
            payload = payload_for(
                bank[index], taxonomy, keys[hotline_id], hotline_id=hotline_id, period=f"2026-0{month + 1}",
                revision=revision,
            )  # fmt: skip
            body = seal_envelope(payload, signing_key=keys[hotline_id], hub_key=context.keys.envelope.public_key)
            with write_session(context.sessions) as session:
                IngestService(context, session).submit(body.canonical_bytes(), now=NOW)
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
                    )
                )
            expected = load_rollups(session)
    finally:
        context.engine.dispose()
    loaded = new_hub(workdir / "check-loaded", hotlines, keys=keys)
    engine = make_engine(loaded.settings.resolved_database_url)
    try:
        load_releases(engine, taxonomy, releases, [dict(release.tables) for release in bank])
        with read_session(make_sessionmaker(engine)) as session:
            actual = load_rollups(session)
    finally:
        engine.dispose()
    return compare(expected, actual)
