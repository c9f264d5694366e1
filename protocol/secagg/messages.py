# SPDX-License-Identifier: Apache-2.0
"""The messages of a secure-aggregation round, in the order the log will hold them.

``roster`` (hub) → ``shares`` (each member: its round agreement key, a commitment to its self-mask seed and its
Shamir shares, each sealed to one member) → ``committed`` (hub: whose shares it holds) → ``masked`` (each
committed member) → ``survivors`` (hub: whose masked vectors it holds, with their hashes) → ``reveal`` (each
survivor: the shares the rules let it reveal) → ``result`` (hub: the sum). Members' messages are signed by their
Ed25519 keys; every message is logged (the entry kinds: :mod:`protocol.secagg.signed`).

Each step names the digest of the step it builds on (``sha256:`` of its canonical bytes), so a message can only
be read against one roster, one committed set and one survivor set. Every model is a frozen, strict pydantic
model like :mod:`protocol.messages`, versioned (``tipshare/1``) with its canonical bytes from
:mod:`protocol.canonical`.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Final, Literal, Self

from pydantic import Field, model_validator

from protocol.canonical import MAX_SAFE_INTEGER, canonical_bytes
from protocol.errors import SecureAggregationError
from protocol.messages import (
    IDENTIFIER_PATTERN,
    Base64Bytes,
    ContentHash,
    DecimalString,
    HotlineId,
    Message,
    PeriodField,
    TableName,
    TaxonomyRef,
)
from protocol.rounded_noise import MAX_SCALING, is_scaling_factor
from protocol.secagg.encoding import check_no_wrap

__all__ = [
    "MAX_CELLS",
    "MAX_MEMBERS",
    "CommittedSet",
    "GroupId",
    "MaskedSubmission",
    "RevealedShare",
    "RosterMember",
    "RoundResult",
    "RoundRoster",
    "SealedShare",
    "ShareNoise",
    "ShareSubmission",
    "SurvivorEntry",
    "Survivors",
    "TableTotal",
    "UnmaskReveal",
    "digest",
]

GroupId = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]
"""An aggregation group (a region, or a country with enough hotlines): like a hotline id."""
X25519Text = Annotated[str, Field(pattern=r"^x25519:[A-Za-z0-9+/]{43}=$")]
#: Most members of one group (the no-wrap bound allows far more; this bounds the quadratic work).
MAX_MEMBERS: Final = 1000
#: Most cells in one round's vector.
MAX_CELLS: Final = 1_000_000


def digest(message: Message) -> str:
    """``sha256:<hex>`` of a message's canonical bytes: how the next step names it."""
    return "sha256:" + hashlib.sha256(message.canonical_bytes()).hexdigest()


class _RoundMessage(Message):
    """Fields every message of a round carries: which group, period and round it belongs to."""

    type: str
    version: Literal["tipshare/1"]
    group: GroupId
    period: PeriodField
    round: Annotated[int, Field(ge=0, lt=2**32)]


class RosterMember(Message):
    """A member of the round and its long-term share-sealing key (from its logged key event)."""

    id: HotlineId
    sealing_key: X25519Text


class RoundRoster(_RoundMessage):
    """Logged by the hub after the period ends: the members (their order gives their Shamir x = 1, 2, ...), the
    threshold, and the vector's meaning (the ``tables`` of ``taxonomy``, their cells one after another:
    :mod:`protocol.secagg.layout`), shape and encoding.

    ``scaling`` (an odd γ from 3 to :data:`~protocol.rounded_noise.MAX_SCALING`) makes the round a *scaled* one:
    every member sends ``γ · counts`` plus its noise share on that finer lattice, and the round's cells are its sum
    divided by γ and rounded (:mod:`protocol.secagg.release`; docs/secure-aggregation-privacy.md §7). Absent, the
    round is unscaled (γ = 1) and the roster's bytes are those of a roster from before the field existed, so every
    logged round stays verifiable; ``1`` itself is never written (one encoding per roster).
    """

    type: Literal["secagg-roster"]
    taxonomy: TaxonomyRef
    tables: Annotated[tuple[TableName, ...], Field(min_length=1, max_length=64)]
    threshold: Annotated[int, Field(ge=2)]
    vector_length: Annotated[int, Field(ge=1, le=MAX_CELLS)]
    modulus_bits: Literal[64]
    offset: Annotated[int, Field(ge=1, le=MAX_SAFE_INTEGER)]
    members: Annotated[tuple[RosterMember, ...], Field(min_length=2, max_length=MAX_MEMBERS)]
    scaling: Annotated[int, Field(ge=3, le=MAX_SCALING)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.scaling is not None and not is_scaling_factor(self.scaling):
            raise ValueError(f"a round's scaling factor must be odd, got {self.scaling}")
        ids = [m.id for m in self.members]
        if len(set(ids)) != len(ids):
            raise ValueError("a member appears twice in the roster")
        if len(set(self.tables)) != len(self.tables):
            raise ValueError("a table appears twice in the roster")
        if self.threshold > len(ids):
            raise ValueError(f"threshold {self.threshold} is above the {len(ids)} members")
        if 2 * self.threshold <= len(ids):
            # n - t colluding members would hold t shares of an honest member's secrets
            raise ValueError(
                f"threshold {self.threshold} is not above half of the {len(ids)} members: the n - t members the "
                "round is meant to withstand could rebuild an honest member's secrets"
            )
        try:
            check_no_wrap(members=len(ids), offset=self.offset)
        except SecureAggregationError as e:  # pragma: no cover - 2 × MAX_MEMBERS × MAX_SAFE_INTEGER < 2^64: the bounds
            raise ValueError(str(e)) from None  # of members and offset rule a wrap out (test_secagg_encoding checks)
        return self

    def canonical_bytes(self) -> bytes:
        """As for every message, but an absent ``scaling`` is left out: a roster logged before the field existed
        keeps its exact bytes (and digest)."""
        return canonical_bytes(self.model_dump(mode="json", exclude={"scaling"} if self.scaling is None else None))

    @property
    def factor(self) -> int:
        """The round's scaling factor γ: 1 for an unscaled round."""
        return 1 if self.scaling is None else self.scaling

    @property
    def member_ids(self) -> tuple[str, ...]:
        return tuple(m.id for m in self.members)

    def index(self, member: str) -> int:
        """The member's 1-based position: the x-coordinate of the shares it holds."""
        return self.member_ids.index(member) + 1


class SealedShare(Message):
    """Shares of the sender's two secrets for one recipient, sealed to the recipient's sealing key."""

    recipient: HotlineId
    sealed: Base64Bytes


class ShareSubmission(_RoundMessage):
    """Step 1, by the first deadline: a member's round agreement key, its self-mask commitment and its shares."""

    type: Literal["secagg-shares"]
    member: HotlineId
    roster: ContentHash
    agreement_key: X25519Text
    self_mask_commitment: Base64Bytes
    shares: tuple[SealedShare, ...]


class CommittedSet(_RoundMessage):
    """Logged by the hub after the first deadline: the members whose share submissions it holds."""

    type: Literal["secagg-committed"]
    roster: ContentHash
    members: Annotated[tuple[HotlineId, ...], Field(min_length=1, max_length=MAX_MEMBERS)]


class ShareNoise(Message):
    """The noise share a member added to every cell of one table: a discrete Gaussian of σ ``scale``."""

    table: TableName
    #: σ as the member's sampler took it (the shortest decimal that reads back as that double).
    scale: DecimalString


class TableTotal(Message):
    """A member's one-cell local total of one table: the sum of its true cells of ``table`` plus one discrete
    Gaussian of σ ``scale`` that the member drew (a local release of one number, public once sent). The auditor
    compares the round's table totals with the survivors' totals (:mod:`protocol.secagg.totals`)."""

    table: TableName
    value: Annotated[int, Field(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER)]
    #: σ as the member's sampler took it (the shortest decimal that reads back as that double).
    scale: DecimalString


class MaskedSubmission(_RoundMessage):
    """Step 2, by the second deadline: a committed member's masked vector (little-endian uint64s), the noise
    share it added to each of the roster's tables (``noise``, one per table in the roster's order), so that anyone
    knows the noise of the round's sum and every interval drawn from it, and its one-cell local total of each of
    the roster's tables (``totals``, likewise), so that anyone can check the round's table totals against them
    (the only plausibility check a masked vector allows: :mod:`protocol.secagg.totals`).

    ``noise`` and ``totals`` were added after the first rounds: a message without them keeps its exact bytes. A
    round one of whose survivors sent no ``noise`` still publishes its sum, but no answer is drawn from it (its
    noise is unknown); one of whose survivors sent no ``noise`` or no ``totals`` is not checkable against totals.
    """

    type: Literal["secagg-masked"]
    member: HotlineId
    committed: ContentHash
    masked: Base64Bytes
    noise: Annotated[tuple[ShareNoise, ...], Field(min_length=1, max_length=64)] | None = None
    totals: Annotated[tuple[TableTotal, ...], Field(min_length=1, max_length=64)] | None = None

    @model_validator(mode="after")
    def _one_per_table(self) -> Self:
        if self.noise is not None:
            names = [n.table for n in self.noise]
            if len(set(names)) != len(names):
                raise ValueError("a table's noise share appears twice")
        if self.totals is not None:
            names = [t.table for t in self.totals]
            if len(set(names)) != len(names):
                raise ValueError("a table's total appears twice")
        return self

    def canonical_bytes(self) -> bytes:
        """As for every message, but an absent ``noise`` or ``totals`` is left out: a masked vector logged before
        the fields existed keeps its exact bytes (and digest)."""
        absent = {name for name in ("noise", "totals") if getattr(self, name) is None}
        return canonical_bytes(self.model_dump(mode="json", exclude=absent or None))


class SurvivorEntry(Message):
    """A member whose masked vector the hub holds, and the digest of that submission."""

    member: HotlineId
    masked: ContentHash


class Survivors(_RoundMessage):
    """Logged by the hub after the second deadline: the one survivor set every member decides from."""

    type: Literal["secagg-survivors"]
    committed: ContentHash
    members: Annotated[tuple[SurvivorEntry, ...], Field(min_length=1, max_length=MAX_MEMBERS)]

    @property
    def member_ids(self) -> tuple[str, ...]:
        return tuple(e.member for e in self.members)


class RevealedShare(Message):
    """One revealed share: of ``owner``'s self-mask seed (a survivor) or agreement secret (dropped)."""

    owner: HotlineId
    kind: Literal["self_mask", "agreement"]
    share: Base64Bytes


class UnmaskReveal(_RoundMessage):
    """Step 3, by the third deadline: what one survivor reveals, decided from the logged survivor set."""

    type: Literal["secagg-reveal"]
    member: HotlineId
    survivors: ContentHash
    shares: tuple[RevealedShare, ...]


class RoundResult(_RoundMessage):
    """Logged by the hub: the round's sum (true counts plus every survivor's noise share), cell by cell."""

    type: Literal["secagg-result"]
    survivors: ContentHash
    sum: tuple[Annotated[int, Field(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER)], ...]
