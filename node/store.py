# SPDX-License-Identifier: Apache-2.0
"""The node's database: one SQLite file in the node home holding the ledger, the outbox and the receipts.

It holds **noisy** releases only. True counts exist in memory during ``prepare`` and are never written here (no
table has a column that could hold one). A node in a secure group also keeps its round vectors here: true counts
plus its noise *share* (σ²/t, less noise than a release), which leave the node only masked; the file is 0600.

================  =====================================================================================
table             rows
================  =====================================================================================
``releases``      one per (period, revision): the canonical bytes of the unsigned payload (the noisy tables
                  and their noise parameters), its hash, its spend and status (prepared, approved, queued,
                  delivered, failed, superseded)
``spends``        one per release: the privacy loss it spent (measure and exact decimal), when recorded
``outbox``        one per queued release: the sealed envelope, attempts, next attempt, last error
``receipts``      one per delivered release: the hub's receipt (canonical JSON), verified before storing
``discards``      one per release discarded before it was ever queued: what it had spent (given back, since
                  nothing left the machine), its payload hash (not its payload), when prepared and discarded
``rounds``        one per period of a node in a secure group (:mod:`node.rounds`): its tables as true counts
                  plus the node's noise *share*, drawn once by ``prepare``; the round's spend with both
                  guarantees; how far ``sync`` took part (status, round number, what happened last)
================  =====================================================================================

**Schema versions.** 1: the first four tables. 2 (``approve`` and ``discard``): a release may be ``approved``, and
``discards`` records what was discarded. A version 1 database is upgraded in place when it is opened (one
transaction: the ``releases`` table is rebuilt with the wider status list, every row kept). 3 (secure rounds): the
``rounds`` table, added to an older database when it is opened. 4: the rounds' ``noise`` (each table's share σ,
declared with the masked vector) and ``totals`` (each table's one-cell local total and its σ, released with the
masked vector); a round prepared before them declares neither.

Durability: WAL journal with ``synchronous=FULL`` (a spend, once committed, survives a power cut), foreign keys
on, and every change in one ``BEGIN IMMEDIATE`` transaction (:func:`transaction`), so concurrent ``tipshare-node``
processes serialise and a crash leaves all of a change or none of it. The file is created 0600.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from node.errors import ConfigError
from node.i18n import N_, Text

__all__ = ["SCHEMA_VERSION", "open_database", "transaction"]

SCHEMA_VERSION: Final = 5

_SCHEMA: Final = """
CREATE TABLE releases (
    period        TEXT    NOT NULL CHECK (period GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]'),
    revision      INTEGER NOT NULL CHECK (revision BETWEEN 1 AND 999),
    created_at    TEXT    NOT NULL,
    mechanism     TEXT    NOT NULL CHECK (mechanism IN ('discrete_gaussian', 'discrete_laplace')),
    measure       TEXT    NOT NULL CHECK (measure IN ('rho', 'epsilon')),
    spent         TEXT    NOT NULL,
    payload       BLOB    NOT NULL,
    payload_hash  TEXT    NOT NULL UNIQUE,
    status        TEXT    NOT NULL
                  CHECK (status IN ('prepared', 'approved', 'queued', 'delivered', 'failed', 'superseded')),
    PRIMARY KEY (period, revision)
);
CREATE TABLE spends (
    id            INTEGER PRIMARY KEY,
    period        TEXT    NOT NULL,
    revision      INTEGER NOT NULL,
    measure       TEXT    NOT NULL CHECK (measure IN ('rho', 'epsilon')),
    amount        TEXT    NOT NULL,
    recorded_at   TEXT    NOT NULL,
    UNIQUE (period, revision),
    FOREIGN KEY (period, revision) REFERENCES releases (period, revision)
);
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    period          TEXT    NOT NULL,
    revision        INTEGER NOT NULL,
    payload_hash    TEXT    NOT NULL,
    envelope        BLOB    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('queued', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    last_error      TEXT,
    queued_at       TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    UNIQUE (period, revision),
    FOREIGN KEY (period, revision) REFERENCES releases (period, revision)
);
CREATE TABLE receipts (
    period         TEXT    NOT NULL,
    revision       INTEGER NOT NULL,
    payload_hash   TEXT    NOT NULL,
    submission_id  INTEGER NOT NULL,
    leaf_index     INTEGER NOT NULL,
    tree_size      INTEGER NOT NULL,
    receipt        BLOB    NOT NULL,
    received_at    TEXT    NOT NULL,
    PRIMARY KEY (period, revision),
    FOREIGN KEY (period, revision) REFERENCES releases (period, revision)
);
CREATE TABLE discards (
    id            INTEGER PRIMARY KEY,
    period        TEXT    NOT NULL,
    revision      INTEGER NOT NULL,
    measure       TEXT    NOT NULL CHECK (measure IN ('rho', 'epsilon')),
    amount        TEXT    NOT NULL,
    payload_hash  TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('prepared', 'approved')),
    created_at    TEXT    NOT NULL,
    discarded_at  TEXT    NOT NULL,
    reason        TEXT    NOT NULL CHECK (reason IN ('discard', 'correction'))
);
CREATE TABLE rounds (
    period              TEXT    PRIMARY KEY CHECK (period GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]'),
    group_id            TEXT    NOT NULL,
    taxonomy_hash       TEXT    NOT NULL,
    vectors             BLOB    NOT NULL,
    against_hub         TEXT    NOT NULL,
    against_all_others  TEXT    NOT NULL,
    members             INTEGER NOT NULL,
    threshold           INTEGER NOT NULL,
    status              TEXT    NOT NULL
                        CHECK (status IN ('waiting', 'shares', 'masked', 'revealed', 'done', 'missed', 'refused')),
    round_number        INTEGER,
    detail              TEXT,
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    noise               TEXT,
    totals              TEXT,
    scaling             INTEGER
);
"""
#: Version 1 to 2: the releases table again, with ``approved`` among its statuses (SQLite cannot change a CHECK
#: constraint in place), and the discards table.
_UPGRADE_1_TO_2: Final = (
    _SCHEMA.split("CREATE TABLE spends")[0].replace("CREATE TABLE releases", "CREATE TABLE releases_v2"),
    "INSERT INTO releases_v2 SELECT period, revision, created_at, mechanism, measure, spent, payload, payload_hash, "
    "status FROM releases",
    "DROP TABLE releases",
    "ALTER TABLE releases_v2 RENAME TO releases",
    "CREATE TABLE discards" + _SCHEMA.split("CREATE TABLE discards")[1].split("CREATE TABLE rounds")[0],
)
#: Version 2 to 3: the rounds table (as version 4 has it: the upgrade to 4 then finds its columns there).
_UPGRADE_2_TO_3: Final = ("CREATE TABLE rounds" + _SCHEMA.split("CREATE TABLE rounds")[1],)
#: Version 3 to 4: the noise share of each table, as the masked vector declares it, and each table's one-cell
#: total (noisy, public once sent), as the masked vector releases it.
_ROUND_COLUMNS_4: Final = {
    "noise": "ALTER TABLE rounds ADD COLUMN noise TEXT",
    "totals": "ALTER TABLE rounds ADD COLUMN totals TEXT",
}
#: Version 4 to 5: the scaling factor the round vectors were drawn for (NULL: 1, unscaled).
_ROUND_COLUMNS_5: Final = {"scaling": "ALTER TABLE rounds ADD COLUMN scaling INTEGER"}


def open_database(path: Path, *, create: bool = False) -> sqlite3.Connection:
    """Open the node database at ``path`` and bring its schema up to date.

    Only ``init`` passes ``create=True`` (the file is created 0600). Otherwise a missing database is an error, not
    a fresh start: it is the record of the privacy budget spent, and an empty one would let it be spent again.
    """
    if not path.exists():
        if not create:
            raise ConfigError(
                Text(N_("the node database %(path)s (the privacy-budget ledger) is missing"), path=str(path)),
                hint=Text(
                    N_(
                        "Restore it from your backup of the node home. Do not re-initialise: the budget already "
                        "spent would be forgotten."
                    )
                ),
            )
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(descriptor)
    try:
        connection = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if 0 < version < SCHEMA_VERSION:
            connection.execute("PRAGMA foreign_keys=OFF")
            _upgrade(connection)  # with foreign keys off: the releases table is rebuilt under its references
        connection.execute("PRAGMA foreign_keys=ON")
        version = connection.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as e:
        raise ConfigError(
            Text(N_("the node database %(path)s cannot be opened: %(error)s"), path=str(path), error=str(e)),
            hint=Text(
                N_("Restore the node home from your backup; do not delete the database (it is the budget ledger).")
            ),
        ) from e
    if version > SCHEMA_VERSION:
        connection.close()
        raise ConfigError(
            Text(
                N_("the node database %(path)s was written by a newer tipshare-node (schema %(version)s)"),
                path=str(path),
                version=version,
            ),
            hint=Text(N_("Install that newer tipshare-node version again.")),
        )
    if version < SCHEMA_VERSION:
        with transaction(connection):
            if connection.execute("PRAGMA user_version").fetchone()[0] == 0:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    return connection


def _upgrade(connection: sqlite3.Connection) -> None:
    """Bring a database of an older schema version to :data:`SCHEMA_VERSION`, in one transaction."""
    with transaction(connection):
        if connection.execute("PRAGMA user_version").fetchone()[0] == 1:  # another process may have done it
            for statement in _UPGRADE_1_TO_2:
                connection.execute(statement)
            if connection.execute("PRAGMA foreign_key_check").fetchall():  # pragma: no cover - rows are copied whole
                raise sqlite3.DatabaseError("the upgraded database fails its foreign-key check")
            connection.execute("PRAGMA user_version=2")
        if connection.execute("PRAGMA user_version").fetchone()[0] == 2:
            for statement in _UPGRADE_2_TO_3:
                connection.execute(statement)
            connection.execute("PRAGMA user_version=3")
        if connection.execute("PRAGMA user_version").fetchone()[0] in (3, 4):
            present = {row[1] for row in connection.execute("PRAGMA table_info(rounds)")}
            for column, statement in (_ROUND_COLUMNS_4 | _ROUND_COLUMNS_5).items():
                if column not in present:
                    connection.execute(statement)
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction (``BEGIN IMMEDIATE``): committed if the block ends normally, rolled back otherwise."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
