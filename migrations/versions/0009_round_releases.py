# SPDX-License-Identifier: Apache-2.0
"""Answers from secure rounds (issue 18): each survivor's declared noise share per table of a round's sum.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "round_release_noise",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("hotline_id", sa.String(length=64), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("scope_country", sa.String(length=2), nullable=True),
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("taxonomy_id", sa.String(length=100), nullable=False),
        sa.Column("mechanism", sa.String(length=32), nullable=False),
        sa.Column("scale", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["secagg_rounds.id"], name=op.f("fk_round_release_noise_round_id_secagg_rounds")
        ),
        sa.PrimaryKeyConstraint("round_id", "hotline_id", "table_name", name=op.f("pk_round_release_noise")),
    )
    op.create_index(
        op.f("ix_round_release_noise_table_name_period"), "round_release_noise", ["table_name", "period"], unique=False
    )
    op.create_index(
        op.f("ix_round_release_noise_hotline_id_period"), "round_release_noise", ["hotline_id", "period"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_round_release_noise_hotline_id_period"), table_name="round_release_noise")
    op.drop_index(op.f("ix_round_release_noise_table_name_period"), table_name="round_release_noise")
    op.drop_table("round_release_noise")
