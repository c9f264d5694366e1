# SPDX-License-Identifier: Apache-2.0
"""Scaled secure rounds (issue 18): a group's scaling factor, and a round's one noise term per table.

A group's rounds may be *scaled* (``secagg_groups.scaling``, an odd γ; 1: unscaled, as every group before). A
scaled round's cell carries one noise term for the whole round, ``round(Σ shares / γ)``, whose scale text names
every survivor's share (longer than a single scale): ``round_release_noise.scale`` becomes text, and its first
survivor's row carries that term while the others' carry none (``mechanism`` and ``scale`` NULL).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("secagg_groups") as batch:
        batch.add_column(sa.Column("scaling", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("round_release_noise") as batch:
        batch.alter_column("mechanism", existing_type=sa.String(length=32), nullable=True)
        batch.alter_column("scale", existing_type=sa.String(length=64), type_=sa.Text(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM round_release_noise WHERE mechanism IS NULL OR mechanism <> 'discrete_gaussian'")
    with op.batch_alter_table("round_release_noise") as batch:
        batch.alter_column("scale", existing_type=sa.Text(), type_=sa.String(length=64), nullable=False)
        batch.alter_column("mechanism", existing_type=sa.String(length=32), nullable=False)
    with op.batch_alter_table("secagg_groups") as batch:
        batch.drop_column("scaling")
