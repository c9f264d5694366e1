# SPDX-License-Identifier: Apache-2.0
"""Response models of the hub's HTTP API that more than one party reads: one contract for hub, auditor, dashboard.

The hub answers with these models; the auditor and other clients parse with them (``model_validate``), then
recompute every number themselves — sharing the shape of an answer is not trusting its content.

``GET /v1/hub`` (:class:`HubIdentity`): the keys a node pins at ``init`` and an auditor verifies the log with, and
the taxonomy new nodes follow (``GET /v1/taxonomy`` lists every :class:`PublishedTaxonomy` the hub accepts).

``GET /v1/stats/{table}`` (:class:`StatsAnswer`): sums of the hotlines' noisy counts of one table, with 95 %
intervals from the public noise scales. Clients parse it in one pass (``StatsAnswer.model_validate_json(body,
strict=True)``, pydantic-core), and the hub serialises it the same way.

``GET /v1/estimates/{unit}`` (:class:`EstimatesAnswer`): a coordinator's question, answered from every released
table that can answer it, combined by least squares (:mod:`protocol.combination`), with 95 % intervals that are
exact or provably conservative (:mod:`protocol.bounds`) and rankings that only rank what is distinguishable from
zero (:mod:`protocol.estimation`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from protocol.crypto import SealingKey
from protocol.note import NoteVerifier

__all__ = [
    "CONFIDENCE",
    "FAMILY_WISE_ERROR_RATE",
    "MAX_MONTHS",
    "MAX_ROWS",
    "PERIOD",
    "UNIT_LABELS",
    "AccessLogCheckpoint",
    "AccessLogCheckpoints",
    "AccessLogPage",
    "AccessLogRecord",
    "CheckpointRef",
    "CombinationBlock",
    "CombinationTerm",
    "ConsistencyProof",
    "EstimateRow",
    "EstimatesAnswer",
    "HubIdentity",
    "InclusionProof",
    "LogEntries",
    "LogEntry",
    "PublishedTaxonomy",
    "QuestionEcho",
    "RankingSummary",
    "RoundKeyEvent",
    "RoundLeaf",
    "RoundMessageAccepted",
    "RoundState",
    "ScopeEcho",
    "StatsAnswer",
    "StatsRow",
    "TaxonomyEcho",
    "observation_status",
]

#: Confidence of every published interval.
CONFIDENCE: Final = 0.95
#: Family-wise error rate of the tests "the true count is zero" behind rankings (Holm's step-down procedure): the
#: chance that a ranked list holds any true zero is at most this.
FAMILY_WISE_ERROR_RATE: Final = 0.05
#: Most rows one answer may have, and most months one question may span.
MAX_ROWS: Final = 50_000
MAX_MONTHS: Final = 120
#: The group key for months.
PERIOD: Final = "period"
#: What each unit's numbers count. Never "prevalence": only what was reported to hotlines.
UNIT_LABELS: Final = {
    "person": "potential victims reported to hotlines",
    "case": "cases opened by hotlines",
    "contact": "contacts received by hotlines",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PublishedTaxonomy(_Model):
    """A taxonomy the hub accepts: its id and the SHA-256 of its RFC 8785 bytes (``Taxonomy.content_hash``)."""

    id: Annotated[str, Field(min_length=1, examples=["tipshare-taxonomy/2"])]
    hash: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]


class HubIdentity(_Model):
    """``GET /v1/hub``: everything a node pins at ``init`` and an auditor needs to verify the log. Claims only, until
    the reader compares the log key with the one it pinned (and checks them with :attr:`log_verifier` and
    :attr:`sealing_key`, which raise :class:`~protocol.errors.ProtocolError` for a malformed key)."""

    protocol_version: str
    log_origin: str
    #: C2SP verifier key of the log: ``origin+keyid+base64(0x01||key)``.
    log_vkey: str
    #: X25519 key submissions are sealed to: ``x25519:<base64>``.
    encryption_key: str
    #: The taxonomy new nodes follow.
    taxonomy: PublishedTaxonomy

    @property
    def taxonomy_id(self) -> str:
        return self.taxonomy.id

    @property
    def taxonomy_hash(self) -> str:
        return self.taxonomy.hash

    @property
    def log_verifier(self) -> NoteVerifier:
        return NoteVerifier.from_vkey(self.log_vkey)

    @property
    def sealing_key(self) -> SealingKey:
        return SealingKey.from_text(self.encryption_key)


class AccessLogRecord(_Model):
    """One request the hub recorded before answering it, chained to the one before (:mod:`protocol.access_chain`)."""

    seq: int
    id: int
    at: str
    token_id: int
    role: str
    label: str
    countries: list[str] | None
    method: str
    path: str
    query: str
    #: The parsed question: scope, table/unit/view, group_by, filters, periods, format (null before the chain).
    question: dict[str, Any] | None
    status: int
    request_id: str | None
    prev_hash: str
    hash: str


class AccessLogPage(_Model):
    """``GET /v1/audit/access-log``: one page of records in chain order."""

    records: list[AccessLogRecord]
    #: Pass as ``after`` for the next page; null when this page is the last.
    next_after: int | None


class AccessLogCheckpoint(_Model):
    """A signed checkpoint of the access log's chain."""

    size: int
    #: Hex hash of record ``size`` (zeros for size 0).
    head: str
    #: The signed note: origin ``<log origin>/access-log``, size, base64 head; signed with the hub's log key.
    note: str
    signed_at: str


class AccessLogCheckpoints(_Model):
    """``GET /v1/audit/access-log/checkpoints``: one page of signed checkpoints."""

    checkpoints: list[AccessLogCheckpoint]
    next_after: int | None


class LogEntry(_Model):
    """One entry of the transparency log as served: its leaf hash and its leaf data (the canonical JSON of the
    entry), both base64. A reader recomputes the hash from the data; the served hash is a claim."""

    index: Annotated[int, Field(ge=0)]
    leaf_hash: str
    data: str


class LogEntries(_Model):
    """``GET /v1/log/entries?start&end``: at most ``end − start`` entries from ``start`` (a hub may serve fewer)."""

    start: Annotated[int, Field(ge=0)]
    end: Annotated[int, Field(ge=0)]
    tree_size: Annotated[int, Field(ge=0)]
    entries: list[LogEntry]


class InclusionProof(_Model):
    """``GET /v1/log/proof/inclusion``: the RFC 6962 audit path of one leaf in a tree of ``tree_size``, base64."""

    index: Annotated[int, Field(ge=0)]
    tree_size: Annotated[int, Field(ge=0)]
    leaf_hash: str
    proof: list[str]


class ConsistencyProof(_Model):
    """``GET /v1/log/proof/consistency`` (and ``/v1/checkpoint/consistency``): the RFC 6962 consistency proof
    between two tree sizes, base64 hashes to check against signed checkpoints."""

    first: Annotated[int, Field(ge=0)]
    second: Annotated[int, Field(ge=0)]
    proof: list[str]


class RoundLeaf(_Model):
    """One log leaf of a secure round."""

    leaf_index: int
    #: The log entry's canonical bytes, base64 (parse with ``protocol.messages.parse_log_entry``).
    entry: str


class RoundKeyEvent(_Model):
    """A roster member's key event, with its inclusion proof in the tree of :attr:`RoundState.checkpoint`."""

    leaf_index: int
    entry: str
    #: The leaf's inclusion proof (base64 hashes) in the tree of :attr:`RoundState.checkpoint`.
    inclusion_proof: list[str]


class RoundState(_Model):
    """``POST /v1/rounds/state`` (a member) and ``GET /v1/rounds/{group}/{period}[/{round}]`` (an auditor): a
    secure round's step, deadlines and every log leaf of it so far. Claims until checked against the log."""

    group: str
    period: str
    round: int
    #: ``shares``, ``masked``, ``reveal`` (the step members answer now), ``done`` or ``failed``.
    step: str
    shares_due: datetime
    masked_due: datetime
    reveal_due: datetime
    #: The hub's steps logged so far: ``roster``, ``committed``, ``survivors``, ``result`` or ``failed``.
    steps: dict[str, RoundLeaf]
    shares: list[RoundLeaf]
    masked: list[RoundLeaf]
    reveals: list[RoundLeaf]
    #: The roster members' key events logged before the roster, each with its inclusion proof, and the hub's
    #: latest signed checkpoint (a note) the proofs lead to: members check the roster's sealing keys against them.
    key_events: list[RoundKeyEvent] = []
    checkpoint: str | None = None


class RoundMessageAccepted(_Model):
    """``POST /v1/rounds/messages``: where the member's message was logged."""

    leaf_index: int
    message_hash: str


class CheckpointRef(_Model):
    """The signed log state an answer was computed from."""

    origin: Annotated[str | None, Field(description="The log's origin line; null while the log is empty")]
    size: Annotated[int, Field(ge=0, description="Tree size: the number of log entries the answer reflects")]
    root_hash: Annotated[str, Field(description="Merkle root of that tree, base64")]
    note: Annotated[str | None, Field(description="The C2SP signed checkpoint note, verifiable with the log key")]


class ScopeEcho(_Model):
    level: Literal["region", "country", "hotline"]
    code: Annotated[str | None, Field(description="Country code or hotline id; null for the region")]
    countries: Annotated[
        list[str] | None,
        Field(description="When the token is limited to some countries: the countries the answer covers"),
    ]


class QuestionEcho(_Model):
    """The question as the hub understood it: enough to ask it again and to recompute the answer."""

    unit: Literal["person", "case", "contact"]
    group_by: list[str]
    filters: Annotated[dict[str, list[str]], Field(description="Dimension → codes kept, in code-list order")]
    period_from: str
    period_to: str
    scope: ScopeEcho


class TaxonomyEcho(_Model):
    id: str
    hash: str


class CombinationTerm(_Model):
    """``coefficient × (sum of the table's noisy cells, over the block's months and the hotlines that released it
    under ``taxonomy`` (every hotline that released it, when null), whose codes on ``dimensions`` are the row's, or
    in the filter)``."""

    table: str
    taxonomy: Annotated[str | None, Field(description="The taxonomy whose hotlines' cells are summed; null: all")]
    dimensions: list[str]
    coefficient: float


class CombinationBlock(_Model):
    """The least-squares weights used for some months (months whose releases look alike share them)."""

    periods: list[str]
    terms: list[CombinationTerm]


class EstimateRow(_Model):
    keys: Annotated[dict[str, str], Field(description="Group keys: dimension name → code, and period → YYYY-MM")]
    estimate: Annotated[
        float | None,
        Field(description="Unbiased least-squares estimate (may be fractional or negative); null if nobody reported"),
    ]
    ci95_low: Annotated[float | None, Field(description="estimate − halfwidth (not clipped)")]
    ci95_high: Annotated[float | None, Field(description="estimate + halfwidth")]
    halfwidth: Annotated[float | None, Field(description="Half-width of the 95% interval")]
    std: Annotated[float | None, Field(description="Standard deviation of the noise in the estimate")]
    interval_method: Annotated[
        Literal["exact", "conservative"] | None,
        Field(description="exact: the noise distribution itself; conservative: a proven lower bound on coverage"),
    ]
    coverage: Annotated[
        float | None,
        Field(
            description="Probability (exact, or a guaranteed lower bound) that the interval holds the noise-free count"
        ),
    ]
    hotlines_reporting: Annotated[int, Field(description="Hotlines in scope whose releases the row is computed from")]
    hotlines_expected: Annotated[int, Field(description="Hotlines in scope expected to report (enrolled)")]
    obs_status: Annotated[
        Literal["A", "U", "O"],
        Field(
            description="SDMX OBS_STATUS: A normal, U low reliability (interval wider than |estimate|, or "
            "negative), O missing"
        ),
    ]
    conf_status: Annotated[
        Literal["F"], Field(description="SDMX CONF_STATUS: F free (differential privacy, no suppression)")
    ]
    wide_interval: Annotated[bool, Field(description="halfwidth > |estimate|")]
    p_zero: Annotated[
        float | None, Field(description="p-value (upper bound) of 'the true count is zero' against 'it is positive'")
    ]
    distinguishable: Annotated[
        bool,
        Field(
            description="Distinguishable from zero: rejected by Benjamini-Hochberg at 5% over every row of the answer"
        ),
    ]
    rank: Annotated[
        int | None,
        Field(
            description="Rank by estimate among distinguishable rows (per month when grouped by period); null otherwise"
        ),
    ]


class RankingSummary(_Model):
    method: Annotated[
        Literal["holm"],
        Field(description="Holm's step-down procedure: family-wise error rate at most `level` over the rows compared"),
    ]
    level: float
    compared: Annotated[int, Field(description="Rows tested (every row with an estimate)")]
    distinguishable: int
    threshold: Annotated[float, Field(description="The largest p-value rejected (0 when none is)")]


class EstimatesAnswer(_Model):
    """``GET /v1/estimates/{unit}``."""

    type: Literal["estimates"] = "estimates"
    version: Literal[1] = 1
    question: QuestionEcho
    unit_label: str
    taxonomies: Annotated[list[TaxonomyEcho], Field(description="Taxonomies of the releases the answer combines")]
    confidence: float
    periods_with_data: list[str]
    checkpoint: CheckpointRef
    generated_at: datetime
    notes: list[str]
    combination: Annotated[list[CombinationBlock], Field(description="The least-squares weights, per months")]
    ranking: RankingSummary
    rows: list[EstimateRow]


class StatsRow(_Model):
    keys: Annotated[dict[str, str], Field(description="Group keys: dimension name → code, and period → YYYY-MM")]
    estimate: Annotated[
        int | None, Field(description="Unbiased sum of noisy counts (may be negative); null if nobody reported")
    ]
    ci95_low: Annotated[int | None, Field(description="estimate − half-width of the 95% interval (not clipped)")]
    ci95_high: Annotated[int | None, Field(description="estimate + half-width of the 95% interval")]
    display_estimate: Annotated[
        int | None, Field(description="max(0, estimate), for display only; present when clip=true")
    ]
    std: Annotated[float | None, Field(description="Standard deviation of the noise in the estimate")]
    interval_method: Literal["exact", "normal"] | None
    coverage: Annotated[float | None, Field(description="Probability that the interval holds the noise-free sum")]
    hotlines_reporting: Annotated[int, Field(description="Hotlines in scope that reported the table")]
    hotlines_expected: Annotated[int, Field(description="Hotlines in scope expected to report (enrolled)")]
    obs_status: Annotated[
        Literal["A", "U", "O"],
        Field(description="SDMX OBS_STATUS: A normal, U low reliability, O missing (nobody reported)"),
    ]
    conf_status: Annotated[
        Literal["F"], Field(description="SDMX CONF_STATUS: F free (differential privacy, no suppression)")
    ]
    wide_interval: Annotated[bool, Field(description="The interval is wider than the estimate: half-width > |est|")]


class StatsAnswer(_Model):
    """``GET /v1/stats/{table}``."""

    table: str
    description: str
    unit: Annotated[str, Field(description="Taxonomy counting unit: person, case or contact")]
    unit_label: Annotated[str, Field(description="What the numbers count, e.g. potential victims reported to hotlines")]
    taxonomy: TaxonomyEcho
    group_by: list[str]
    filters: dict[str, list[str]]
    scope: ScopeEcho
    period_from: str
    period_to: str
    periods_with_data: Annotated[list[str], Field(description="Months in range that some hotline in scope reported")]
    confidence: float
    clip_negative: Annotated[Literal[False], Field(description="Estimates and intervals are never clipped at zero")]
    clip: Annotated[bool, Field(description="Whether display_estimate was requested")]
    checkpoint: CheckpointRef
    generated_at: datetime
    notes: list[str]
    rows: list[StatsRow]


def observation_status(estimate: float | None, wide: bool) -> Literal["A", "U", "O"]:
    """The SDMX ``OBS_STATUS`` of a published number: ``O`` missing (nobody reported: no estimate), ``U`` low
    reliability (its interval is wider than the estimate, or the estimate is negative), ``A`` normal.

    >>> observation_status(None, False), observation_status(12, False), observation_status(12, True)
    ('O', 'A', 'U')
    >>> observation_status(-1, False)
    'U'
    """
    if estimate is None:
        return "O"
    return "U" if wide or estimate < 0 else "A"
