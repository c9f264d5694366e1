# SPDX-License-Identifier: Apache-2.0
"""Submissions: the unit of privacy each payload declares (person-month, or record-month).

Every payload stored before this revision declares person-month (the only unit the protocol had), which is the
column's default.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("privacy_unit", sa.String(length=16), server_default="person-month", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_column("privacy_unit")
