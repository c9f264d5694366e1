# SPDX-License-Identifier: Apache-2.0
"""Withdrawals: a submission the operator withdrew (a logged ``submission_withdrawn`` entry) counts for nothing;
a revoked key may be recorded as compromised since some time.

Columns only, all nullable: every submission stored before counts as it did, every key keeps its history.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawn_index", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("withdraw_reason", sa.String(length=500), nullable=True))
    with op.batch_alter_table("hotline_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("compromised_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hotline_keys", schema=None) as batch_op:
        batch_op.drop_column("compromised_since")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_column("withdraw_reason")
        batch_op.drop_column("withdrawn_at")
        batch_op.drop_column("withdrawn_index")
