# SPDX-License-Identifier: Apache-2.0
"""The hub's tables (SQLAlchemy 2, typed). The schema itself comes only from the Alembic migrations.

Nothing here can hold a raw case record: the widest thing stored is a hotline's signed, noisy payload.

==================  ==============================================================================
``hub_meta``         the hub's identity: log origin and current taxonomy
``taxonomies``       taxonomy documents the hub accepts (canonical bytes)
``hotlines``         enrolled hotlines (id, name, country)
``hotline_keys``     their Ed25519 keys with validity intervals and revocations
``api_tokens``       bearer tokens (stored hashed) with role, expiry and country scope
``submissions``      accepted signed payloads, one per (hotline, period, revision); withdrawn ones say so
``release_noise``    per (submission, table): the public noise parameters, for intervals
``log_leaves``       the transparency log's entries, in order
``log_nodes``        hashes of complete perfect subtrees, for O(log n) roots and proofs
``log_checkpoints``  every checkpoint the hub signed
``rollup_cells``     current noisy sums per (table, scope, period, cell), maintained at ingest
``rollup_noise``     per (table, scope, period): hotlines reporting and the noise terms of one cell
``access_log``       every coordinator request: who (token), when, what was asked, the answer's status
``hotline_policies``  every hotline policy logged (caps, maximum monthly volume, first period); the latest applies
``backfill_approvals`` periods before a hotline's first period that the operator approved, as logged
``submission_spends`` per submission: the privacy measure and the total spend it declares (for the caps)
``witnesses``        witnesses the hub asks to cosign its checkpoints (name, vkey, URL, last size cosigned)
``witness_cosignatures``  per (checkpoint size, witness): the cosignature line the witness returned
``ended_sessions``   dashboard sessions signed out before their expiry (refused until then, in every worker)
``secagg_groups``    aggregation groups for secure rounds (issue 18): members in roster order, threshold
``secagg_rounds``    one row per (group, period, round): its step, deadlines and the log leaves of its hub steps
``secagg_messages``  per (round, step, member): the log leaf of the member's message (the bytes are in the log)
==================  ==============================================================================

A *scope* is ``region`` (all hotlines), ``country:<CC>`` or ``hotline:<id>``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AccessCheckpoint",
    "AccessRecord",
    "ApiToken",
    "BackfillApproval",
    "Base",
    "EndedSession",
    "Hotline",
    "HotlineKey",
    "HotlinePolicyRecord",
    "HubMeta",
    "LogCheckpoint",
    "LogLeaf",
    "LogNode",
    "ReleaseNoise",
    "RollupCell",
    "RollupNoise",
    "SecaggGroup",
    "SecaggMessage",
    "SecaggRound",
    "Submission",
    "SubmissionSpend",
    "TaxonomyDocument",
    "Witness",
    "WitnessCosignature",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores no zone; we put it back on load)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Timestamp = Annotated[datetime, mapped_column(UTCDateTime())]
OptionalTimestamp = Annotated[datetime | None, mapped_column(UTCDateTime())]
HotlineIdColumn = Annotated[str, mapped_column(String(64))]
KeyIdColumn = Annotated[str, mapped_column(String(32))]
PeriodColumn = Annotated[str, mapped_column(String(7))]
Hash32 = Annotated[bytes, mapped_column(LargeBinary(32))]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class HubMeta(Base):
    __tablename__ = "hub_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class TaxonomyDocument(Base):
    __tablename__ = "taxonomies"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(71), unique=True)
    document: Mapped[bytes] = mapped_column(LargeBinary)
    added_at: Mapped[Timestamp]


class Hotline(Base):
    __tablename__ = "hotlines"

    id: Mapped[HotlineIdColumn] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2), index=True)
    enrolled_at: Mapped[Timestamp]


class HotlineKey(Base):
    __tablename__ = "hotline_keys"

    key_id: Mapped[KeyIdColumn] = mapped_column(primary_key=True)
    hotline_id: Mapped[HotlineIdColumn] = mapped_column(ForeignKey("hotlines.id"), index=True)
    public_key: Mapped[str] = mapped_column(String(60), unique=True)
    valid_from: Mapped[Timestamp]
    #: End of validity after a rotation (exclusive); NULL while current.
    valid_until: Mapped[OptionalTimestamp]
    revoked_at: Mapped[OptionalTimestamp]
    revoke_reason: Mapped[str | None] = mapped_column(String(500))
    #: For a key revoked as stolen: since when it is held compromised (its submissions from then on are withdrawn).
    compromised_since: Mapped[OptionalTimestamp]
    #: Log index of the enrolment or rotation entry that introduced the key.
    log_index: Mapped[int] = mapped_column(BigInteger)
    #: The share-sealing key (``x25519:<base64>``) enrolled with this key, for secure aggregation; NULL if none.
    sealing_key: Mapped[str | None] = mapped_column(String(60))


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: SHA-256 of the token, hex. The token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200))
    #: Comma-separated ISO country codes a coordinator may see; NULL for the whole region.
    countries: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[Timestamp]
    expires_at: Mapped[OptionalTimestamp]
    revoked_at: Mapped[OptionalTimestamp]


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("hotline_id", "period", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hotline_id: Mapped[HotlineIdColumn] = mapped_column(ForeignKey("hotlines.id"), index=True)
    key_id: Mapped[KeyIdColumn] = mapped_column(ForeignKey("hotline_keys.key_id"))
    period: Mapped[PeriodColumn] = mapped_column(index=True)
    revision: Mapped[int] = mapped_column(Integer)
    taxonomy_id: Mapped[str] = mapped_column(String(100))
    #: ``sha256:<hex>`` of the payload bytes; the identity used for idempotent resubmission.
    payload_hash: Mapped[str] = mapped_column(String(71), unique=True)
    #: The exact canonical payload bytes the hotline signed (noisy counts only).
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    received_at: Mapped[Timestamp]
    leaf_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    #: 1 while this is the highest revision of its (hotline, period); the one the statistics use.
    is_current: Mapped[bool] = mapped_column(default=True)
    #: The unit of privacy the payload declares (``privacy.unit``): ``person-month``, or ``record-month`` for a
    #: release whose bounds hold per record of the hotline's export (answers that include one say so).
    privacy_unit: Mapped[str] = mapped_column(String(16), default="person-month", server_default="person-month")
    #: Log index of the ``submission_withdrawn`` entry that took this submission out of the statistics (NULL: it
    #: counts), when, and why. A withdrawn submission is never current.
    withdrawn_index: Mapped[int | None] = mapped_column(BigInteger)
    withdrawn_at: Mapped[OptionalTimestamp]
    withdraw_reason: Mapped[str | None] = mapped_column(String(500))


class ReleaseNoise(Base):
    __tablename__ = "release_noise"
    __table_args__ = (Index(None, "table_name", "period", "is_current"),)

    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    hotline_id: Mapped[HotlineIdColumn]
    country: Mapped[str] = mapped_column(String(2))
    period: Mapped[PeriodColumn]
    mechanism: Mapped[str] = mapped_column(String(32))
    scale: Mapped[str] = mapped_column(String(64))
    is_current: Mapped[bool] = mapped_column(default=True)


class LogLeaf(Base):
    __tablename__ = "log_leaves"

    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf_hash: Mapped[Hash32] = mapped_column(unique=True)
    #: The leaf data: canonical bytes of a log entry (protocol.messages.LogEntry).
    data: Mapped[bytes] = mapped_column(LargeBinary)
    kind: Mapped[str] = mapped_column(String(32))
    appended_at: Mapped[Timestamp]


class LogNode(Base):
    __tablename__ = "log_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[Hash32]


class LogCheckpoint(Base):
    __tablename__ = "log_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[Hash32]
    #: The signed note, exactly as handed out.
    note: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[Timestamp]


class RollupCell(Base):
    __tablename__ = "rollup_cells"

    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(80), primary_key=True)
    period: Mapped[PeriodColumn] = mapped_column(primary_key=True)
    cell: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: The cell's codes, one per dimension of the table (NULL beyond the table's dimensions), so that
    #: grouping and filtering happen in SQL.
    d1: Mapped[str | None] = mapped_column(String(64))
    d2: Mapped[str | None] = mapped_column(String(64))
    d3: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[int] = mapped_column(BigInteger)


class RollupNoise(Base):
    __tablename__ = "rollup_noise"

    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(80), primary_key=True)
    period: Mapped[PeriodColumn] = mapped_column(primary_key=True)
    hotlines: Mapped[int] = mapped_column(Integer)
    #: Canonical JSON list of ``[mechanism, scale, hotlines]``: the noise terms in one cell of this period.
    terms: Mapped[str] = mapped_column(Text)


class AccessRecord(Base):
    """One coordinator request, recorded before its answer is sent; auditors read them (``/v1/audit/access-log``)."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    at: Mapped[Timestamp] = mapped_column(index=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id"), index=True)
    #: The token's role and label when the request was made (labels can be reused; ids cannot).
    role: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200))
    #: The countries the token was limited to, comma-separated; NULL for the whole region.
    countries: Mapped[str | None] = mapped_column(String(300))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    #: The query string as sent (percent-encoded); a longer one than the cap is refused, and kept cut to the cap.
    query: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    #: The parsed question (scope, subject, grouping, filters, periods, format) as canonical JSON; NULL before 0007a.
    question: Mapped[str | None] = mapped_column(Text)
    #: The request's id (its ``X-Request-ID``); NULL before 0007a.
    request_id: Mapped[str | None] = mapped_column(String(64))
    #: Position in the hash chain (1, 2, ...): assigned under the writer lock, so concurrent workers never fork it.
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    #: Hex SHA-256 of the previous record (zeros for the first) and of this one (:mod:`protocol.access_chain`).
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AccessCheckpoint(Base):
    """A signed checkpoint of the access log's chain: its size and the hash of its last record."""

    __tablename__ = "access_log_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    head: Mapped[str] = mapped_column(String(64))
    #: The signed note (C2SP checkpoint body under ``<origin>/access-log``), as served to auditors.
    note: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[Timestamp]


class HotlinePolicyRecord(Base):
    """A logged hotline policy; the one with the highest log index applies (none: the protocol's defaults)."""

    __tablename__ = "hotline_policies"

    log_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hotline_id: Mapped[HotlineIdColumn] = mapped_column(ForeignKey("hotlines.id"), index=True)
    #: The canonical bytes of the policy entry, as logged (protocol.messages.HotlinePolicyEntry).
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    effective_at: Mapped[Timestamp]


class BackfillApproval(Base):
    """An operator's logged approval for a hotline to release periods before its first period."""

    __tablename__ = "backfill_approvals"

    log_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hotline_id: Mapped[HotlineIdColumn] = mapped_column(ForeignKey("hotlines.id"), index=True)
    first_period: Mapped[PeriodColumn]
    last_period: Mapped[PeriodColumn]
    reason: Mapped[str] = mapped_column(String(500))
    approved_at: Mapped[Timestamp]


class SubmissionSpend(Base):
    """What an accepted submission declared it spent: every revision counts against the hotline's caps."""

    __tablename__ = "submission_spends"

    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), primary_key=True)
    hotline_id: Mapped[HotlineIdColumn] = mapped_column(index=True)
    period: Mapped[PeriodColumn]
    #: ``rho`` or ``epsilon``.
    measure: Mapped[str] = mapped_column(String(16))
    #: The payload's ``privacy.spent``, a decimal string as signed.
    spent: Mapped[str] = mapped_column(String(64))


class Witness(Base):
    """A witness the hub sends its checkpoints to (C2SP tlog-witness); registered by ``tipshare-hub witness add``."""

    __tablename__ = "witnesses"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    vkey: Mapped[str] = mapped_column(String(300), unique=True)
    #: The witness's submission prefix: ``<url>/add-checkpoint`` is where checkpoints are sent.
    url: Mapped[str] = mapped_column(String(500))
    added_at: Mapped[Timestamp]
    #: The size of the latest checkpoint this witness cosigned, as far as the hub knows (0: none yet).
    cosigned_size: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: When the hub last reached it, and what went wrong the last time it did not (NULL once it answered).
    last_contact_at: Mapped[OptionalTimestamp]
    last_error: Mapped[str | None] = mapped_column(String(500))


class WitnessCosignature(Base):
    """A witness's cosignature on one of the hub's checkpoints: one signature line, served with the checkpoint."""

    __tablename__ = "witness_cosignatures"

    size: Mapped[int] = mapped_column(ForeignKey("log_checkpoints.size"), primary_key=True, autoincrement=False)
    #: The witness's name (no foreign key: a removed witness's cosignatures stay served, they were handed out).
    witness: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: The note signature line, exactly as the witness returned it (ending in a newline).
    line: Mapped[str] = mapped_column(Text)
    #: The cosignature's own time (POSIX seconds, signed by the witness).
    timestamp: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[Timestamp]


class EndedSession(Base):
    """A dashboard session that was signed out: its cookie is refused until it would have expired anyway.

    Keyed by the SHA-256 of the session's random nonce (the cookie carries the nonce; the table never does).
    """

    __tablename__ = "ended_sessions"

    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[int] = mapped_column(Integer)
    ended_at: Mapped[Timestamp]
    #: When the cookie expires in any case: the row is useless after that and is pruned.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class RateBucket(Base):
    """A rate-limit bucket every worker shares (:mod:`hub.rate_buckets`): one row per class and key.

    Not part of the hub's record: rows come and go with the traffic, and a row whose ``full_at`` has passed means
    the same as no row.
    """

    __tablename__ = "rate_limit_buckets"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: When the bucket is full again (POSIX seconds; GCRA's theoretical arrival time).
    full_at: Mapped[float] = mapped_column(Double)
    #: Whether the request that last touched it was allowed (what the upsert returns).
    last_allowed: Mapped[bool] = mapped_column(Boolean)


class SecaggGroup(Base):
    """An aggregation group: its members (in roster order, comma-separated) and the round's threshold."""

    __tablename__ = "secagg_groups"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    members: Mapped[str] = mapped_column(Text)
    threshold: Mapped[int] = mapped_column(Integer)
    #: The tables a round adds, comma-separated in vector order; ``None``: every table of the taxonomy the hub
    #: publishes when the round opens.
    tables: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[Timestamp]
    #: The rounds' scaling factor γ (odd; 1: unscaled), named in every roster (docs/secure-aggregation-privacy.md).
    scaling: Mapped[int] = mapped_column(Integer, server_default="1", default=1)

    @property
    def member_ids(self) -> tuple[str, ...]:
        return tuple(self.members.split(","))

    @property
    def table_names(self) -> tuple[str, ...] | None:
        return None if self.tables is None else tuple(self.tables.split(","))


class SecaggRound(Base):
    """One round of a group for a period. ``step`` is what it waits for: ``shares``, ``masked``, ``reveal``; or it is
    over: ``done`` (a result is logged) or ``failed`` (a failure is logged)."""

    __tablename__ = "secagg_rounds"
    __table_args__ = (UniqueConstraint("group_id", "period", "round_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[str] = mapped_column(String(64), ForeignKey("secagg_groups.id"), index=True)
    period: Mapped[PeriodColumn]
    round_number: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[Timestamp]
    shares_due: Mapped[Timestamp]
    masked_due: Mapped[Timestamp]
    reveal_due: Mapped[Timestamp]
    #: Log leaves of the hub's steps, once logged.
    roster_index: Mapped[int] = mapped_column(BigInteger)
    committed_index: Mapped[int | None] = mapped_column(BigInteger)
    survivors_index: Mapped[int | None] = mapped_column(BigInteger)
    result_index: Mapped[int | None] = mapped_column(BigInteger)
    failed_index: Mapped[int | None] = mapped_column(BigInteger)


class RoundReleaseNoise(Base):
    """A successful round's sum as the statistics read it: for each survivor and table, its part of the noise
    (the share it declared with ``MaskedSubmission.noise``; in a scaled round the round's one term, or none). The
    sum itself is in the rollups, at ``region``, at ``country:<CC>`` when every survivor is of that country
    (``scope_country``), and at the round's own scope ``secure:<group>``; never at a hotline's
    (:meth:`hub.services.rollups.Rollups.add_round`)."""

    __tablename__ = "round_release_noise"
    #: By table (the statistics' reads) and by hotline (ingest's check that a month is not in a round's sum).
    __table_args__ = (Index(None, "table_name", "period"), Index(None, "hotline_id", "period"))

    round_id: Mapped[int] = mapped_column(ForeignKey("secagg_rounds.id"), primary_key=True)
    hotline_id: Mapped[HotlineIdColumn] = mapped_column(primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: The survivor's own country, and the round's one country (NULL: its survivors are of several).
    country: Mapped[str] = mapped_column(String(2))
    scope_country: Mapped[str | None] = mapped_column(String(2))
    group_id: Mapped[str] = mapped_column(String(64))
    period: Mapped[PeriodColumn]
    taxonomy_id: Mapped[str] = mapped_column(String(100))
    #: The survivor's part of one cell's noise (:meth:`protocol.secagg.release.RoundRelease.member_terms`): its
    #: share; in a scaled round the round's one term for its first survivor and NULL (none) for the others.
    mechanism: Mapped[str | None] = mapped_column(String(32))
    scale: Mapped[str | None] = mapped_column(Text)


class SecaggMessage(Base):
    """A member's logged message of a round: which step, whose, its digest and its log leaf."""

    __tablename__ = "secagg_messages"
    __table_args__ = (UniqueConstraint("round_id", "step", "member"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    round_id: Mapped[int] = mapped_column(Integer, ForeignKey("secagg_rounds.id"), index=True)
    step: Mapped[str] = mapped_column(String(16))
    member: Mapped[HotlineIdColumn]
    message_hash: Mapped[str] = mapped_column(String(71))
    leaf_index: Mapped[int] = mapped_column(BigInteger)
