# SPDX-License-Identifier: Apache-2.0
"""Rate limits shared by every worker: one bucket row per class and key (hub.rate_buckets).

Revision ID: 0007d
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007d"
down_revision = "0007b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_buckets",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("full_at", sa.Double(), nullable=False),
        sa.Column("last_allowed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limit_buckets")),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_buckets")
