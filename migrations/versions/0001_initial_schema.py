# SPDX-License-Identifier: Apache-2.0
"""Initial schema: identity, hotlines and keys, tokens, submissions, transparency log, rollups.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("countries", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "hotlines",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotlines")),
    )
    with op.batch_alter_table("hotlines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hotlines_country"), ["country"], unique=False)

    op.create_table(
        "hub_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_hub_meta")),
    )
    op.create_table(
        "log_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_log_checkpoints")),
    )
    op.create_table(
        "log_leaves",
        sa.Column("index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("appended_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("index", name=op.f("pk_log_leaves")),
        sa.UniqueConstraint("leaf_hash", name=op.f("uq_log_leaves_leaf_hash")),
    )
    op.create_table(
        "log_nodes",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "index", name=op.f("pk_log_nodes")),
    )
    op.create_table(
        "rollup_cells",
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("cell", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("d1", sa.String(length=64), nullable=True),
        sa.Column("d2", sa.String(length=64), nullable=True),
        sa.Column("d3", sa.String(length=64), nullable=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("table_name", "scope", "period", "cell", name=op.f("pk_rollup_cells")),
    )
    op.create_table(
        "rollup_noise",
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("hotlines", sa.Integer(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("table_name", "scope", "period", name=op.f("pk_rollup_noise")),
    )
    op.create_table(
        "taxonomies",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("content_hash", sa.String(length=71), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taxonomies")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_taxonomies_content_hash")),
    )
    op.create_table(
        "hotline_keys",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("hotline_id", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=60), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=500), nullable=True),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["hotline_id"], ["hotlines.id"], name=op.f("fk_hotline_keys_hotline_id_hotlines")),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_hotline_keys")),
        sa.UniqueConstraint("public_key", name=op.f("uq_hotline_keys_public_key")),
    )
    with op.batch_alter_table("hotline_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hotline_keys_hotline_id"), ["hotline_id"], unique=False)

    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hotline_id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("taxonomy_id", sa.String(length=100), nullable=False),
        sa.Column("payload_hash", sa.String(length=71), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["hotline_id"], ["hotlines.id"], name=op.f("fk_submissions_hotline_id_hotlines")),
        sa.ForeignKeyConstraint(["key_id"], ["hotline_keys.key_id"], name=op.f("fk_submissions_key_id_hotline_keys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
        sa.UniqueConstraint("hotline_id", "period", "revision", name=op.f("uq_submissions_hotline_id_period_revision")),
        sa.UniqueConstraint("leaf_index", name=op.f("uq_submissions_leaf_index")),
        sa.UniqueConstraint("payload_hash", name=op.f("uq_submissions_payload_hash")),
    )
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_submissions_hotline_id"), ["hotline_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_submissions_period"), ["period"], unique=False)

    op.create_table(
        "release_noise",
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("hotline_id", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("mechanism", sa.String(length=32), nullable=False),
        sa.Column("scale", sa.String(length=64), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_release_noise_submission_id_submissions")
        ),
        sa.PrimaryKeyConstraint("submission_id", "table_name", name=op.f("pk_release_noise")),
    )
    with op.batch_alter_table("release_noise", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_release_noise_table_name_period_is_current"),
            ["table_name", "period", "is_current"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("release_noise", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_release_noise_table_name_period_is_current"))

    op.drop_table("release_noise")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submissions_period"))
        batch_op.drop_index(batch_op.f("ix_submissions_hotline_id"))

    op.drop_table("submissions")
    with op.batch_alter_table("hotline_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hotline_keys_hotline_id"))

    op.drop_table("hotline_keys")
    op.drop_table("taxonomies")
    op.drop_table("rollup_noise")
    op.drop_table("rollup_cells")
    op.drop_table("log_nodes")
    op.drop_table("log_leaves")
    op.drop_table("log_checkpoints")
    op.drop_table("hub_meta")
    with op.batch_alter_table("hotlines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hotlines_country"))

    op.drop_table("hotlines")
    op.drop_table("api_tokens")
