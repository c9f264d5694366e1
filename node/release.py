# SPDX-License-Identifier: Apache-2.0
"""From true tables to a noisy, self-describing release, and the preview the data officer approves.

:func:`noisy_payload` is the one place where true counts meet the noise: it checks the tables against the
taxonomy, draws the noise (:func:`node.noise.add_noise`), and wraps the noisy tables with the privacy block into a
:class:`~protocol.messages.SubmissionPayload` that passes :func:`protocol.validation.check_payload`. Only the
payload leaves this function; the true counts are not kept.

:func:`preview` shows each table's largest noisy cells with their 95 % intervals, computed from the public noise
scale alone (:func:`protocol.accuracy.single_cell_halfwidth`), exactly as the hub and auditors will compute them.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from node.errors import INTERNAL_ERROR_HINT, ReleaseError
from node.i18n import N_, Text
from node.noise import NoisePlan, add_noise
from protocol.accuracy import noise_variance, single_cell_halfwidth
from protocol.errors import ProtocolError
from protocol.messages import (
    PROTOCOL_VERSION,
    SubmissionPayload,
    TableRelease,
    TaxonomyRef,
    b64encode,
    format_timestamp,
)
from protocol.taxonomy import Taxonomy
from protocol.validation import check_payload

__all__ = ["DEFAULT_TOP", "PreviewCell", "TablePreview", "check_tables", "noisy_payload", "preview"]

#: Cells shown per table in a preview.
DEFAULT_TOP: Final = 5


def check_tables(taxonomy: Taxonomy, counts: Mapping[str, Sequence[int]]) -> list[str]:
    """The names of the tables to release, in taxonomy order, after checking each vector is the table's size."""
    unknown = sorted(set(counts) - set(taxonomy.tables))
    if unknown:
        raise ReleaseError(
            Text(N_("taxonomy %(id)s has no table(s) %(tables)s"), id=taxonomy.id, tables=", ".join(unknown))
        )
    names = [name for name in taxonomy.tables if name in counts]
    if not names:
        raise ReleaseError(Text(N_("the export produced no table to release")))
    for name in names:
        expected = taxonomy.table(name).cell_count
        if len(counts[name]) != expected:
            raise ReleaseError(
                Text(
                    N_("table %(table)s has %(cells)s cells; taxonomy %(id)s has %(expected)s"),
                    table=name,
                    cells=len(counts[name]),
                    id=taxonomy.id,
                    expected=expected,
                )
            )
    return names


def noisy_payload(
    *,
    counts: Mapping[str, Sequence[int]],
    plan: NoisePlan,
    taxonomy: Taxonomy,
    hotline_id: str,
    key_id: str,
    period: str,
    revision: int,
    now: datetime,
    unit: str = "person-month",
) -> SubmissionPayload:
    """Draw the noise for ``counts`` under ``plan`` and return the release (declaring ``unit`` as its unit of
    privacy); checked as the hub will check it."""
    names = check_tables(taxonomy, counts)
    if [t.table for t in plan.tables] != names:
        raise ReleaseError(
            Text(N_("internal error: the noise plan does not cover exactly the tables to release")),
            hint=Text(INTERNAL_ERROR_HINT),
        )
    noisy = add_noise(plan, {name: counts[name] for name in names})
    try:
        payload = SubmissionPayload(
            type="submission",
            version=PROTOCOL_VERSION,
            taxonomy=TaxonomyRef(id=taxonomy.id, hash=taxonomy.content_hash),
            hotline_id=hotline_id,
            key_id=key_id,
            period=period,
            revision=revision,
            created_at=format_timestamp(now),
            nonce=b64encode(secrets.token_bytes(16)),
            privacy=plan.privacy_block(unit),
            tables=tuple(TableRelease(name=name, cells=noisy[name]) for name in names),
        )
        check_payload(payload, taxonomy, now=now)
    except (ProtocolError, ValueError) as e:
        raise ReleaseError(
            Text(
                N_("internal error: the release of %(period)s does not pass the hub's checks: %(detail)s"),
                period=period,
                detail=str(e),
            ),
            hint=Text(INTERNAL_ERROR_HINT),
        ) from e
    return payload


@dataclass(frozen=True, slots=True)
class PreviewCell:
    """One noisy cell and its 95 % interval (never clipped at zero)."""

    codes: tuple[str, ...]
    value: int
    low: int
    high: int


@dataclass(frozen=True, slots=True)
class TablePreview:
    """What the officer sees of one table: its noise, what it spent, and its largest noisy cells."""

    table: str
    description: str
    cells: int
    scale: str
    std: float
    halfwidth: int
    spent: str
    top: tuple[PreviewCell, ...]


def preview(payload: SubmissionPayload, taxonomy: Taxonomy, *, top: int = DEFAULT_TOP) -> tuple[TablePreview, ...]:
    """Each table's ``top`` largest noisy cells with their 95 % intervals, from the payload alone."""
    noise = {t.table: t for t in payload.privacy.tables}
    mechanism = payload.privacy.mechanism
    previews = []
    for release in payload.tables:
        table = taxonomy.table(release.name)
        scale = noise[release.name].scale
        halfwidth = single_cell_halfwidth(mechanism, scale)
        order = sorted(range(len(release.cells)), key=lambda i: (-release.cells[i], i))[: max(0, top)]
        cells = tuple(
            PreviewCell(
                codes=table.cell_codes(i),
                value=release.cells[i],
                low=release.cells[i] - halfwidth,
                high=release.cells[i] + halfwidth,
            )
            for i in order
        )
        previews.append(
            TablePreview(
                table=release.name,
                description=table.description,
                cells=table.cell_count,
                scale=scale,
                std=noise_variance(mechanism, scale) ** 0.5,
                halfwidth=halfwidth,
                spent=noise[release.name].spent,
                top=cells,
            )
        )
    return tuple(previews)
