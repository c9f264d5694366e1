# SPDX-License-Identifier: Apache-2.0
"""Alembic migrations of the hub's database (SQLite and PostgreSQL). Run them with ``tipshare-hub db upgrade``."""
