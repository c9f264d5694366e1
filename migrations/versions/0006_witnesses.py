# SPDX-License-Identifier: Apache-2.0
"""Witnesses: the witnesses the hub asks to cosign its checkpoints, and the cosignatures they returned.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "witnesses",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("vkey", sa.String(length=300), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cosigned_size", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_contact_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_witnesses")),
        sa.UniqueConstraint("vkey", name=op.f("uq_witnesses_vkey")),
    )
    op.create_table(
        "witness_cosignatures",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("witness", sa.String(length=200), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["size"], ["log_checkpoints.size"], name=op.f("fk_witness_cosignatures_size_log_checkpoints")
        ),
        sa.PrimaryKeyConstraint("size", "witness", name=op.f("pk_witness_cosignatures")),
    )


def downgrade() -> None:
    op.drop_table("witness_cosignatures")
    op.drop_table("witnesses")
