# SPDX-License-Identifier: Apache-2.0
"""Secure aggregation (issue 18): sealing keys beside hotline keys; aggregation groups, rounds, members' messages.

Revision ID: 0008
Revises: 0007a
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hotline_keys") as batch:
        batch.add_column(sa.Column("sealing_key", sa.String(length=60), nullable=True))
    op.create_table(
        "secagg_groups",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("members", sa.Text(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("tables", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_secagg_groups")),
    )
    op.create_table(
        "secagg_rounds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("round_number", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shares_due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("masked_due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reveal_due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("roster_index", sa.BigInteger(), nullable=False),
        sa.Column("committed_index", sa.BigInteger(), nullable=True),
        sa.Column("survivors_index", sa.BigInteger(), nullable=True),
        sa.Column("result_index", sa.BigInteger(), nullable=True),
        sa.Column("failed_index", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"], ["secagg_groups.id"], name=op.f("fk_secagg_rounds_group_id_secagg_groups")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_secagg_rounds")),
        sa.UniqueConstraint(
            "group_id", "period", "round_number", name=op.f("uq_secagg_rounds_group_id_period_round_number")
        ),
    )
    op.create_index(op.f("ix_secagg_rounds_group_id"), "secagg_rounds", ["group_id"], unique=False)
    op.create_table(
        "secagg_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("message_hash", sa.String(length=71), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["secagg_rounds.id"], name=op.f("fk_secagg_messages_round_id_secagg_rounds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_secagg_messages")),
        sa.UniqueConstraint("round_id", "step", "member", name=op.f("uq_secagg_messages_round_id_step_member")),
    )
    op.create_index(op.f("ix_secagg_messages_round_id"), "secagg_messages", ["round_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_secagg_messages_round_id"), table_name="secagg_messages")
    op.drop_table("secagg_messages")
    op.drop_index(op.f("ix_secagg_rounds_group_id"), table_name="secagg_rounds")
    op.drop_table("secagg_rounds")
    op.drop_table("secagg_groups")
    with op.batch_alter_table("hotline_keys") as batch:
        batch.drop_column("sealing_key")
