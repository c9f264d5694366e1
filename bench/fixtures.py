# SPDX-License-Identifier: Apache-2.0
"""Hubs and releases for the benchmarks: a hub with enrolled hotlines, and realistic signed, sealed releases.

* :func:`new_hub` does what ``tipshare-hub init`` and the operator's enrolments do, through the hub's own
  services (:func:`hub.setup.initialise_hub`, :class:`hub.services.registry.Registry`), and issues tokens.
* :func:`node_release` is one month of a real node: synthetic truth (:mod:`node.synth`) noised by the node's own
  plan and sampler (:func:`node.noise.calibrate`, :func:`node.noise.add_noise`) under the default budget. Its
  noisy tables and privacy block are reused for many (hotline, period) payloads, so that building hundreds of
  submissions does not cost hundreds of noise draws; every payload gets its own hotline, period and nonce.
* :func:`seal_payload_bytes` is :func:`protocol.crypto.seal_envelope` on payload bytes encoded once.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from hub.db import write_session
from hub.services.policies import PolicyTerms
from hub.services.registry import Registry
from hub.services.tokens import TokenService
from hub.settings import Settings
from hub.setup import initialise_hub
from protocol.crypto import ENVELOPE_CONTEXT, SUBMISSION_CONTEXT, SealingKey, SigningKey, seal
from protocol.messages import (
    PROTOCOL_VERSION,
    Envelope,
    PrivacyBlock,
    SubmissionPayload,
    TableRelease,
    TaxonomyRef,
    b64encode,
    envelope_header_bytes,
    format_timestamp,
)
from protocol.taxonomy import Taxonomy

__all__ = [
    "COUNTRIES",
    "NOW",
    "BenchHub",
    "NodeRelease",
    "month_text",
    "new_hub",
    "node_release",
    "payload_for",
    "seal_payload_bytes",
]

#: The benchmarks' clock: every period they use is over.
NOW: Final = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
#: Countries the benchmarks' hotlines are spread over (the region of the design: 9+ countries).
COUNTRIES: Final = ("UA", "MD", "RO", "PL", "BG", "GE", "CZ", "SK", "HU", "AL")
ORIGIN: Final = "bench.tipshare/log"
#: Benchmarks release random counts for many months and years: a policy that no release of theirs breaks (the daily
#: caps are settings: TIPSHARE_HUB_MAX_PERIODS_PER_DAY, TIPSHARE_HUB_MAX_REVISIONS_PER_DAY).
BENCH_POLICY: Final = PolicyTerms(
    caps={"rho": ("1000", "1000"), "epsilon": ("1000", "1000")}, max_monthly_volume=10_000_000, first_period="2000-01"
)


@dataclass(frozen=True, slots=True)
class BenchHub:
    settings: Settings
    keys: Mapping[str, SigningKey]
    countries: Mapping[str, str]
    tokens: Mapping[str, str]


def month_text(index: int, *, start_year: int) -> str:
    """``YYYY-MM`` of the ``index``-th month from January of ``start_year``."""
    year, month = divmod(index, 12)
    return f"{start_year + year:04d}-{month + 1:02d}"


def new_hub(
    data_dir: Path,
    hotlines: Iterable[tuple[str, str]],
    *,
    database_url: str | None = None,
    keys: Mapping[str, SigningKey] | None = None,
    enrolled_at: datetime | None = None,
) -> BenchHub:
    """An initialised hub with ``hotlines`` (id, country) enrolled, and admin, coordinator and auditor tokens."""
    # Benchmarks submit many months of a hotline at one instant: no daily caps in the way.
    settings = Settings(
        data_dir=data_dir, database_url=database_url, max_periods_per_day=100_000, max_revisions_per_day=100_000
    )
    when = enrolled_at or datetime(2010, 1, 1, tzinfo=UTC)
    context = initialise_hub(settings, origin=ORIGIN, clock=lambda: when)
    made: dict[str, SigningKey] = {}
    countries: dict[str, str] = {}
    try:
        with write_session(context.sessions) as session:
            registry = Registry.open(context, session)
            for hotline_id, country in hotlines:
                key = keys[hotline_id] if keys is not None and hotline_id in keys else SigningKey.generate()
                registry.enroll(
                    hotline_id=hotline_id,
                    display_name=f"Hotline {hotline_id}",
                    country=country,
                    public_key=key.verify_key.to_text(),
                    now=when,
                    policy=BENCH_POLICY,
                )
                made[hotline_id] = key
                countries[hotline_id] = country
            service = TokenService(session)
            tokens = {
                role: service.create(role=role, label=f"bench {role}", now=when).token
                for role in ("admin", "coordinator", "auditor")
            }
    finally:
        context.engine.dispose()
    return BenchHub(settings=settings, keys=made, countries=countries, tokens=tokens)


@dataclass(frozen=True, slots=True)
class NodeRelease:
    """The noisy tables and privacy block of one real node release (reused across payloads)."""

    tables: Mapping[str, tuple[int, ...]]
    privacy: PrivacyBlock
    #: The taxonomy the release follows.
    taxonomy_id: str

    @property
    def cells(self) -> int:
        return sum(len(cells) for cells in self.tables.values())


def node_release(
    taxonomy: Taxonomy, workdir: Path, *, tables: Sequence[str] | None = None, seed: int = 7
) -> NodeRelease:
    """One month of a synthetic hotline following ``taxonomy``, noised by the node under its default budget for
    that taxonomy (:meth:`node.budget.BudgetConfig.default`: v2's recorded weights; ``tables``: all)."""
    from node.budget import BudgetConfig
    from node.noise import add_noise, calibrate
    from node.synth import generate_export

    export = generate_export(
        out_dir=workdir / f"node-release-{taxonomy.version}-{seed}",
        profile="ua",
        months=1,
        seed=seed,
        taxonomy=taxonomy,
    )
    truth = export.truth()[export.periods[0]]
    names = [name for name in taxonomy.tables if tables is None or name in tables]
    plan = calibrate(taxonomy, names, BudgetConfig.default(taxonomy=taxonomy, tables=taxonomy.tables))
    noisy = add_noise(plan, {name: truth[name] for name in names})
    return NodeRelease(
        tables={name: tuple(noisy[name]) for name in names}, privacy=plan.privacy_block(), taxonomy_id=taxonomy.id
    )


def payload_for(
    release: NodeRelease, taxonomy: Taxonomy, key: SigningKey, *, hotline_id: str, period: str, revision: int = 1
) -> SubmissionPayload:
    return SubmissionPayload(
        type="submission",
        version=PROTOCOL_VERSION,
        taxonomy=TaxonomyRef(id=taxonomy.id, hash=taxonomy.content_hash),
        hotline_id=hotline_id,
        key_id=key.verify_key.key_id,
        period=period,
        revision=revision,
        created_at=format_timestamp(NOW),
        nonce=b64encode(secrets.token_bytes(16)),
        privacy=release.privacy,
        tables=tuple(TableRelease(name=name, cells=cells) for name, cells in release.tables.items()),
    )


def seal_payload_bytes(payload_bytes: bytes, *, hotline_id: str, key: SigningKey, hub_key: SealingKey) -> bytes:
    """The wire bytes of :func:`protocol.crypto.seal_envelope` for payload bytes already encoded."""
    signature = key.sign_message(SUBMISSION_CONTEXT, payload_bytes)
    sealed = b64encode(seal(payload_bytes + signature, hub_key))
    key_id = key.verify_key.key_id
    header = envelope_header_bytes(hotline_id=hotline_id, key_id=key_id, sealed=sealed)
    envelope = Envelope(
        type="envelope",
        version=PROTOCOL_VERSION,
        hotline_id=hotline_id,
        key_id=key_id,
        sealed=sealed,
        signature=b64encode(key.sign_message(ENVELOPE_CONTEXT, header)),
    )
    return envelope.canonical_bytes()
