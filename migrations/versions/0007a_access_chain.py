# SPDX-License-Identifier: Apache-2.0
"""Access log chain: the parsed question, the request id, a hash chain over the records, and signed checkpoints.

Records written before this revision are chained in id order (their question and request id are NULL), so the
chain covers the whole access log.

Revision ID: 0007a
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from datetime import UTC

import sqlalchemy as sa
from alembic import op

from protocol.access_chain import GENESIS, AccessRecord, chain_hash
from protocol.messages import format_timestamp

revision = "0007a"
down_revision = "0007d"
branch_labels = None
depends_on = None

_access_log = sa.table(
    "access_log",
    sa.column("id", sa.BigInteger()),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("token_id", sa.Integer()),
    sa.column("role", sa.String()),
    sa.column("label", sa.String()),
    sa.column("countries", sa.String()),
    sa.column("method", sa.String()),
    sa.column("path", sa.String()),
    sa.column("query", sa.Text()),
    sa.column("status", sa.Integer()),
    sa.column("seq", sa.BigInteger()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("question", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    _chain_existing_records()
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_access_log_seq"), ["seq"])
    op.create_table(
        "access_log_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("head", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_access_log_checkpoints")),
    )


def _chain_existing_records() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(_access_log).order_by(_access_log.c.id)).all()
    previous = GENESIS
    for seq, row in enumerate(rows, start=1):
        at = row.at if row.at.tzinfo is not None else row.at.replace(tzinfo=UTC)
        record = AccessRecord(
            at=format_timestamp(at),
            token_id=row.token_id,
            role=row.role,
            label=row.label,
            countries=tuple(row.countries.split(",")) if row.countries else None,
            method=row.method,
            path=row.path,
            query=row.query,
            question=None,
            status=row.status,
            request_id=None,
        )
        digest = chain_hash(previous, record)
        connection.execute(
            sa.update(_access_log)
            .where(_access_log.c.id == row.id)
            .values(seq=seq, prev_hash=previous.hex(), hash=digest.hex())
        )
        previous = digest


def downgrade() -> None:
    op.drop_table("access_log_checkpoints")
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_access_log_seq"), type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
        batch_op.drop_column("request_id")
        batch_op.drop_column("question")
