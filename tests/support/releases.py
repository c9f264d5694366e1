# SPDX-License-Identifier: Apache-2.0
"""Valid releases, made with the protocol library exactly as a node makes them: the suite's one payload builder."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal, TypeAlias

from protocol.crypto import SigningKey
from protocol.messages import PrivacyBlock, SubmissionPayload, TableNoise, TableRelease, TaxonomyRef, b64encode
from protocol.taxonomy import Taxonomy

#: The mechanisms a release may declare.
Mechanism: TypeAlias = Literal["discrete_gaussian", "discrete_laplace"]


def gaussian_spend(l2_squared: int, scale: str) -> str:
    """ρ = L2² / (2σ²) as an exact decimal string."""
    return str(Decimal(l2_squared) / (2 * Decimal(scale) ** 2))


def make_release(
    taxonomy: Taxonomy,
    key: SigningKey | None,
    /,
    *,
    hotline_id: str,
    period: str,
    revision: int = 1,
    cells: Mapping[str, Sequence[int]] | None = None,
    tables: Sequence[str] | None = None,
    scale: str = "10",
    created_at: str = "2026-11-02T09:30:00Z",
    unit: str = "person-month",
    mechanism: Mechanism = "discrete_gaussian",
    **fields: Any,
) -> SubmissionPayload:
    """A release of ``tables`` (default: all) with the given cells (default: zeros), each noised at ``scale`` by
    ``mechanism`` and declaring exactly what that spends (ρ = L2²/(2σ²), or ε = L1/t), with ``unit`` as its unit of
    privacy. ``fields`` replace any other field of the payload (``key_id`` when there is no ``key``, ``nonce`` …)."""
    names = sorted(tables if tables is not None else taxonomy.tables)
    cells = cells or {}
    noise = []
    for name in names:
        table = taxonomy.table(name)
        if mechanism == "discrete_gaussian":
            spent = gaussian_spend(table.l2_sensitivity_squared, scale)
        else:
            spent = str(Decimal(table.l1_bound) / Decimal(scale))
        noise.append(
            TableNoise(
                table=name,
                scale=scale,
                l1_sensitivity=table.l1_bound,
                l2_sensitivity_squared=table.l2_sensitivity_squared,
                spent=spent,
            )
        )
    payload: dict[str, Any] = {
        "type": "submission",
        "version": "tipshare/1",
        "taxonomy": TaxonomyRef(id=taxonomy.id, hash=taxonomy.content_hash),
        "hotline_id": hotline_id,
        "key_id": None if key is None else key.verify_key.key_id,
        "period": period,
        "revision": revision,
        "created_at": created_at,
        "nonce": b64encode(secrets.token_bytes(16)),
        "privacy": PrivacyBlock(
            mode="local",
            mechanism=mechanism,
            measure="rho" if mechanism == "discrete_gaussian" else "epsilon",
            unit="record-month" if unit == "record-month" else "person-month",
            spent=str(sum(Decimal(t.spent) for t in noise)),
            tables=tuple(noise),
        ),
        "tables": tuple(
            TableRelease(name=name, cells=tuple(cells.get(name, (0,) * taxonomy.table(name).cell_count)))
            for name in names
        ),
    }
    payload.update(fields)
    return SubmissionPayload(**payload)
