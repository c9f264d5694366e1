# SPDX-License-Identifier: Apache-2.0
"""Hotline policies, backfill approvals, and the spend each submission declares.

``submission_spends`` is filled from the payloads already stored (their ``privacy.measure`` and ``privacy.spent``),
so the caps count every release accepted before this revision. No policy is written: a hotline without a logged
policy follows the protocol's defaults (``protocol.plausibility.Policy.default``), as auditors conclude from the
log alone.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hotline_policies",
        sa.Column("log_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hotline_id", sa.String(length=64), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["hotline_id"], ["hotlines.id"], name=op.f("fk_hotline_policies_hotline_id_hotlines")),
        sa.PrimaryKeyConstraint("log_index", name=op.f("pk_hotline_policies")),
    )
    with op.batch_alter_table("hotline_policies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hotline_policies_hotline_id"), ["hotline_id"], unique=False)
    op.create_table(
        "backfill_approvals",
        sa.Column("log_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hotline_id", sa.String(length=64), nullable=False),
        sa.Column("first_period", sa.String(length=7), nullable=False),
        sa.Column("last_period", sa.String(length=7), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hotline_id"], ["hotlines.id"], name=op.f("fk_backfill_approvals_hotline_id_hotlines")
        ),
        sa.PrimaryKeyConstraint("log_index", name=op.f("pk_backfill_approvals")),
    )
    with op.batch_alter_table("backfill_approvals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_backfill_approvals_hotline_id"), ["hotline_id"], unique=False)
    spends = op.create_table(
        "submission_spends",
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("hotline_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("measure", sa.String(length=16), nullable=False),
        sa.Column("spent", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_submission_spends_submission_id_submissions")
        ),
        sa.PrimaryKeyConstraint("submission_id", name=op.f("pk_submission_spends")),
    )
    with op.batch_alter_table("submission_spends", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_submission_spends_hotline_id"), ["hotline_id"], unique=False)
    submissions = sa.table(
        "submissions",
        sa.column("id", sa.Integer()),
        sa.column("hotline_id", sa.String()),
        sa.column("period", sa.String()),
        sa.column("payload", sa.LargeBinary()),
    )
    connection = op.get_bind()
    columns = (submissions.c.id, submissions.c.hotline_id, submissions.c.period, submissions.c.payload)
    rows = connection.execute(sa.select(*columns)).all()
    batch = []
    for submission_id, hotline_id, period, payload in rows:
        privacy = json.loads(bytes(payload))["privacy"]
        batch.append(
            {
                "submission_id": submission_id,
                "hotline_id": hotline_id,
                "period": period,
                "measure": privacy["measure"],
                "spent": privacy["spent"],
            }
        )
    if batch:
        op.bulk_insert(spends, batch)


def downgrade() -> None:
    with op.batch_alter_table("submission_spends", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submission_spends_hotline_id"))
    op.drop_table("submission_spends")
    with op.batch_alter_table("backfill_approvals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_backfill_approvals_hotline_id"))
    op.drop_table("backfill_approvals")
    with op.batch_alter_table("hotline_policies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hotline_policies_hotline_id"))
    op.drop_table("hotline_policies")
