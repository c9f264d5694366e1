# SPDX-License-Identifier: Apache-2.0
"""Request and response bodies of hotline policies and backfill approvals (``/v1/admin/hotlines/{id}/...``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from hub.schemas import PERIOD_PATTERN, TEXT_PATTERN, CapBody, _Body, _Request

__all__ = [
    "BackfillCreate",
    "BackfillPublic",
    "PolicyEventPublic",
    "PolicyPublic",
]


class BackfillCreate(_Request):
    first_period: Annotated[str, Field(pattern=PERIOD_PATTERN)]
    last_period: Annotated[str, Field(pattern=PERIOD_PATTERN)]
    reason: Annotated[str, Field(min_length=1, max_length=500, pattern=TEXT_PATTERN)]


class PolicyEventPublic(_Body):
    """A policy or backfill approval that was logged."""

    hotline_id: str
    kind: str
    log_index: int
    tree_size: int


class BackfillPublic(_Body):
    first_period: str
    last_period: str
    reason: str
    approved_at: datetime
    log_index: int


class PolicyPublic(_Body):
    """The policy that applies to a hotline now; ``log_index`` is null when none was logged (the defaults apply)."""

    hotline_id: str
    caps: list[CapBody]
    max_monthly_volume: int
    first_period: str
    reason: str | None
    effective_at: datetime | None
    log_index: int | None
    backfills: list[BackfillPublic]
    #: The first month the hotline is expected to report; null: not declared (its key validity decides).
    reporting_from: str | None = None
