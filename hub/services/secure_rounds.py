# SPDX-License-Identifier: Apache-2.0
"""Aggregation groups and their secure rounds (issue 18): the hub's side, every step logged.

A round of a group for a period opens once the period is over (:meth:`SecureRounds.open_round`, or
:meth:`SecureRounds.open_due` from a timer): the hub logs the roster (members in the group's order, each with the
sealing key its logged key events enrolled, checked with :func:`protocol.secagg.signed.check_roster_keys`) and
sets the three deadlines. Members then post their share submission, masked submission and reveal
(:meth:`SecureRounds.accept`): each is verified (the member's current key signed it; it is of this round and
names the digest of the step before; it follows the rules of :mod:`protocol.secagg`) and logged as it came. The
hub moves on (:meth:`SecureRounds.advance`) when a deadline has passed or every member expected has answered:
committed set, survivor set, result (:func:`protocol.secagg.coordinator.make_result`). A step that falls below
the threshold, or a sum that cannot be rebuilt, ends the round with a logged ``secagg_failed`` entry; the
members then send local releases.

Every refusal names its rule (:class:`~hub.errors.RoundRefused` and its siblings). Time is passed in.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.context import HubContext
from hub.errors import (
    HubError,
    KeyNotValid,
    NotFound,
    RoundConflict,
    RoundForbidden,
    RoundRefused,
    UnknownHotline,
    UnknownKey,
    UnknownRound,
)
from hub.models import Hotline, LogLeaf, SecaggGroup, SecaggMessage, SecaggRound, Submission
from hub.services.log import TransparencyLog
from hub.services.registry import Registry
from hub.services.rollups import Rollups
from hub.services.round_rules import LoggedRound, check_member_message
from protocol.errors import InvalidSignature, MalformedMessage, ReconstructionFailed, SecureAggregationError
from protocol.messages import (
    KeyEventEntry,
    SecaggFailedEntry,
    SecaggMemberEntry,
    SecaggStepEntry,
    format_timestamp,
    parse_log_entry,
    parse_timestamp,
)
from protocol.period import Period
from protocol.rounded_noise import MAX_SCALING, is_scaling_factor
from protocol.secagg import coordinator
from protocol.secagg.encoding import DEFAULT_OFFSET
from protocol.secagg.layout import RoundLayout, taxonomy_ref
from protocol.secagg.messages import (
    CommittedSet,
    MaskedSubmission,
    RoundResult,
    RoundRoster,
    ShareSubmission,
    Survivors,
    digest,
)
from protocol.secagg.release import NoNoiseDeclared, round_release
from protocol.secagg.signed import (
    MemberMessage,
    RosterKeyMismatch,
    SignedRoundMessage,
    SignedRoundRead,
    StepMessage,
    check_roster_keys,
    member_entry,
    member_message,
    step_entry,
    step_message,
    unverified_round_read,
    verify_round_read,
    verify_signed,
)

__all__ = ["READ_FRESHNESS", "Accepted", "RoundView", "SecureRounds"]

_log = logging.getLogger("hub.rounds")

#: How far a member's signed read request may be dated from the hub's clock.
READ_FRESHNESS = timedelta(minutes=10)

#: The step a member's message belongs to, by its type.
_STEP_OF_TYPE = {"secagg-shares": "shares", "secagg-masked": "masked", "secagg-reveal": "reveal"}
_KEY_KINDS = ("key_enrolled", "key_rotated", "key_revoked")
_Step = TypeVar("_Step", RoundRoster, CommittedSet, Survivors)


@dataclass(frozen=True, slots=True)
class Accepted:
    """A member's message in the log: its leaf, and whether it was new (``False``: the identical one again)."""

    leaf_index: int
    message_hash: str
    created: bool


@dataclass(frozen=True, slots=True)
class RoundView:
    """What members read of a round: its state and the log leaves of every message so far (index, bytes)."""

    round: SecaggRound
    steps: dict[str, tuple[int, bytes]]
    messages: dict[str, list[tuple[int, bytes]]]
    #: The key events of the roster's members logged before the roster (index, bytes, inclusion proof), and the
    #: latest signed checkpoint the proofs lead to: a member checks the roster's sealing keys against the log.
    key_events: list[tuple[int, bytes, list[bytes]]] = field(default_factory=list)
    checkpoint: str | None = None


def _month_after(period: str) -> datetime:
    return Period.parse(period).end


class SecureRounds:
    """Groups and rounds, bound to a session and the log."""

    def __init__(self, context: HubContext, session: Session) -> None:
        self._context = context
        self._session = session
        self._log = TransparencyLog(session, signer=context.log_signer)
        self._registry = Registry.open(context, session, log=self._log)

    # ------------------------------------------------------------------------------------------- groups

    def create_group(
        self,
        *,
        group_id: str,
        members: Sequence[str],
        threshold: int,
        now: datetime,
        tables: Sequence[str] | None = None,
        scaling: int = 1,
    ) -> SecaggGroup:
        """A group of enrolled hotlines with sealing keys; ``threshold`` above half the members; its rounds add
        ``tables`` of the hub's taxonomy (``None``: every table of the taxonomy the hub publishes at each round),
        scaled by ``scaling`` (an odd γ; 1: unscaled; docs/secure-aggregation-privacy.md §7). Every member's node
        must be configured with the same threshold and scaling: a node refuses a roster that differs from what it
        drew its shares for."""
        ids = [m.strip() for m in members if m.strip()]
        if not is_scaling_factor(scaling):
            raise RoundRefused(
                f"the scaling factor must be an odd whole number from 1 to {MAX_SCALING}, got {scaling}", rule="scaling"
            )
        if self._session.get(SecaggGroup, group_id) is not None:
            raise RoundConflict(f"group {group_id} already exists", rule="group-exists")
        if len(ids) < 2 or len(set(ids)) != len(ids):
            raise RoundRefused("a group has at least two members, each named once", rule="members")
        if not 2 * threshold > len(ids) or threshold > len(ids):
            raise RoundRefused(
                f"threshold {threshold} must be above half of the {len(ids)} members and at most all of them: "
                "with t ≤ n/2 the n - t members a round withstands could rebuild an honest member's secrets",
                rule="threshold",
            )
        if tables is not None:
            self._layout(tables)
        for member in ids:
            try:
                self._registry.hotline(member)
            except NotFound:
                raise RoundRefused(f"hotline {member} is not enrolled", rule="unknown-hotline") from None
            if self._registry.sealing_key(member) is None:
                raise RoundRefused(
                    f"hotline {member} has no sealing key: rotate its key with one (--sealing-key) first",
                    rule="no-sealing-key",
                )
        group = SecaggGroup(
            id=group_id,
            members=",".join(ids),
            threshold=threshold,
            tables=None if tables is None else ",".join(tables),
            created_at=now,
            scaling=scaling,
        )
        self._session.add(group)
        self._session.flush()
        return group

    def _layout(self, tables: Sequence[str] | None) -> RoundLayout:
        """The vector of a round over ``tables`` (``None``: all) of the taxonomy the hub publishes."""
        taxonomy = self._context.taxonomy
        try:
            return RoundLayout(taxonomy, tuple(taxonomy.tables) if tables is None else tuple(tables))
        except SecureAggregationError as e:
            raise RoundRefused(str(e), rule="tables") from None

    def groups(self) -> list[SecaggGroup]:
        return list(self._session.scalars(select(SecaggGroup).order_by(SecaggGroup.id)))

    def group(self, group_id: str) -> SecaggGroup:
        group = self._session.get(SecaggGroup, group_id)
        if group is None:
            raise UnknownRound(f"no aggregation group {group_id}", rule="unknown-group")
        return group

    # ------------------------------------------------------------------------------------------- opening

    def open_round(self, *, group_id: str, period: str, now: datetime) -> SecaggRound:
        """Open the next round of ``group_id`` for ``period`` (over by ``now``) and log its roster."""
        group = self.group(group_id)
        if _month_after(period) > now:
            raise RoundRefused(f"period {period} is not over yet: its round opens after it ends", rule="period-open")
        previous = self._latest(group_id, period)
        if previous is not None and previous.step not in ("done", "failed"):
            raise RoundConflict(
                f"round {previous.round_number} of {group_id} for {period} is still running", rule="round-running"
            )
        if previous is not None and previous.step == "done":
            raise RoundConflict(f"{group_id} already has a result for {period}", rule="round-done")
        number = 0 if previous is None else previous.round_number + 1
        now = self._log.entry_time(now)
        members = [(m, self._registry.sealing_key(m) or "") for m in group.member_ids]
        layout = self._layout(group.table_names)
        try:
            roster = coordinator.make_roster(
                group=group_id,
                period=period,
                round_number=number,
                threshold=group.threshold,
                taxonomy=taxonomy_ref(layout.taxonomy),
                tables=layout.tables,
                vector_length=layout.length,
                offset=DEFAULT_OFFSET,
                members=members,
                scaling=group.scaling,
            )
        except ValueError as e:  # pydantic: a member without a sealing key, say
            raise RoundRefused(f"the roster cannot be made: {e}", rule="roster") from None
        return self.log_roster(roster, now=now)

    def log_roster(self, roster: RoundRoster, *, now: datetime) -> SecaggRound:
        """Log a roster (checked against the log's key events: no sealing key they did not enrol) and open its
        round with the three deadlines."""
        try:
            check_roster_keys(roster, self._key_events())
        except RosterKeyMismatch as e:
            raise RoundRefused(str(e), rule=e.rule) from e
        now = self._log.entry_time(now)
        appended = self._log.append(
            step_entry(roster, effective_at=format_timestamp(now)).canonical_bytes(), kind="secagg_roster", now=now
        )
        settings = self._context.settings
        shares_due = now + timedelta(days=settings.round_shares_days)
        masked_due = shares_due + timedelta(days=settings.round_masked_days)
        row = SecaggRound(
            group_id=roster.group,
            period=roster.period,
            round_number=roster.round,
            step="shares",
            opened_at=now,
            shares_due=shares_due,
            masked_due=masked_due,
            reveal_due=masked_due + timedelta(days=settings.round_reveal_days),
            roster_index=appended.index,
        )
        self._session.add(row)
        self._session.flush()
        return row

    def open_due(self, *, now: datetime) -> list[SecaggRound]:
        """What a timer calls: open the round of the month just ended for every group that has none yet."""
        ended = (Period.containing(now) - 1).text
        return [
            self.open_round(group_id=g.id, period=ended, now=now)
            for g in self.groups()
            if self._latest(g.id, ended) is None
        ]

    # ------------------------------------------------------------------------------------------- reading

    def find(self, group_id: str, period: str, round_number: int | None = None) -> SecaggRound:
        """A round (the latest of the period when ``round_number`` is ``None``)."""
        self.group(group_id)
        row = (
            self._latest(group_id, period)
            if round_number is None
            else self._session.scalars(
                select(SecaggRound).where(
                    SecaggRound.group_id == group_id,
                    SecaggRound.period == period,
                    SecaggRound.round_number == round_number,
                )
            ).first()
        )
        if row is None:
            raise UnknownRound(f"{group_id} has no such round for {period}", rule="unknown-round")
        return row

    def read_as_member(self, signed: SignedRoundRead, *, now: datetime) -> SecaggRound:
        """The round a member's signed read names, once the key is its hotline's valid key, the signature verifies,
        the request is fresh (within :data:`READ_FRESHNESS` of ``now``) and the hotline is in the group."""
        try:
            unverified = unverified_round_read(signed)
            key = self._registry.key_for_submission(unverified.hotline_id, signed.key_id, now=now)
            request = verify_round_read(signed, key)
        except (UnknownHotline, UnknownKey, KeyNotValid) as e:
            raise RoundForbidden(str(e), rule="key-not-valid") from e
        except InvalidSignature:
            raise RoundForbidden("the read request's signature does not verify", rule="bad-signature") from None
        except MalformedMessage as e:
            raise RoundRefused(str(e), rule="malformed") from e
        if abs(parse_timestamp(request.at) - now) > READ_FRESHNESS:
            raise RoundForbidden(
                f"the read request is dated {request.at}, more than {READ_FRESHNESS} from the hub's clock: "
                "sign a new one (and check this computer's clock)",
                rule="stale-read",
            )
        if request.hotline_id not in self.group(request.group).member_ids:
            raise RoundForbidden(f"{request.hotline_id} is not a member of {request.group}", rule="not-a-member")
        return self.find(request.group, request.period, request.round)

    def view(self, row: SecaggRound) -> RoundView:
        steps: dict[str, tuple[int, bytes]] = {}
        for name in ("roster", "committed", "survivors", "result", "failed"):
            index = getattr(row, f"{name}_index")
            if index is not None:
                steps[name] = (index, self._leaf(index))
        messages: dict[str, list[tuple[int, bytes]]] = {"shares": [], "masked": [], "reveal": []}
        for held in self._messages(row):
            messages[held.step].append((held.leaf_index, self._leaf(held.leaf_index)))
        checkpoint = self._log.latest_checkpoint()
        events: list[tuple[int, bytes, list[bytes]]] = []
        if checkpoint is not None:
            members = {m.id for m in self._step(row.roster_index, RoundRoster).members}
            leaves = self._session.scalars(
                select(LogLeaf)
                .where(LogLeaf.kind.in_(_KEY_KINDS), LogLeaf.index < row.roster_index)
                .order_by(LogLeaf.index)
            ).all()
            for leaf in leaves:
                event = parse_log_entry(leaf.data)
                if isinstance(event, KeyEventEntry) and event.hotline_id in members:
                    events.append((leaf.index, leaf.data, self._log.inclusion_proof(leaf.index, checkpoint.size)))
        return RoundView(
            round=row,
            steps=steps,
            messages=messages,
            key_events=events,
            checkpoint=None if checkpoint is None else checkpoint.note,
        )

    # ------------------------------------------------------------------------------------------- members

    def accept(self, signed: SignedRoundMessage, *, now: datetime) -> Accepted:
        """Verify a member's signed message and log it (or return the identical one logged before)."""
        now = self._log.entry_time(now)
        try:
            key = self._registry.key_for_submission(signed.hotline_id, signed.key_id, now=now)
            message = verify_signed(signed, key)
        except (UnknownHotline, UnknownKey, KeyNotValid) as e:
            raise RoundForbidden(str(e), rule="key-not-valid") from e
        except InvalidSignature:
            raise RoundForbidden(
                f"the signature does not verify with key {signed.key_id} of {signed.hotline_id}", rule="bad-signature"
            ) from None
        except MalformedMessage as e:
            raise RoundRefused(str(e), rule="malformed") from e
        row = self.find(message.group, message.period, message.round)
        self.advance(row, now=now)
        step = _STEP_OF_TYPE[message.type]
        held = self._session.scalars(
            select(SecaggMessage).where(
                SecaggMessage.round_id == row.id, SecaggMessage.step == step, SecaggMessage.member == message.member
            )
        ).first()
        if held is not None:
            if held.message_hash == digest(message):
                return Accepted(leaf_index=held.leaf_index, message_hash=held.message_hash, created=False)
            raise RoundConflict(
                f"{message.member} already sent another {message.type} message for this round; a member sends one",
                rule="second-message",
            )
        if row.step != step:
            late = ("shares", "masked", "reveal", "done", "failed")
            rule = "deadline-passed" if late.index(row.step) > late.index(step) else "step-not-open"
            raise RoundConflict(
                f"round {row.round_number} of {row.group_id} for {row.period} is at step {row.step}, "
                f"not {step}: the message comes {'too late' if rule == 'deadline-passed' else 'too early'}",
                rule=rule,
            )
        check_member_message(message, self._logged(row))
        if isinstance(message, MaskedSubmission) and self._released_locally(message.member, row.period):
            raise RoundRefused(
                f"{message.member} already has a local release of {row.period} at this hub: its vector would count "
                "the month twice, so it takes no part in the round",
                rule="released-locally",
            )
        entry = member_entry(signed, message, received_at=format_timestamp(now))
        appended = self._log.append(entry.canonical_bytes(), kind=entry.kind, now=now)
        self._session.add(
            SecaggMessage(
                round_id=row.id,
                step=step,
                member=message.member,
                message_hash=entry.message_hash,
                leaf_index=appended.index,
            )
        )
        self._session.flush()
        self.advance(row, now=now)
        return Accepted(leaf_index=appended.index, message_hash=entry.message_hash, created=True)

    # ------------------------------------------------------------------------------------------- advancing

    def advance_all(self, *, now: datetime) -> list[SecaggRound]:
        """What a timer calls: move on every running round whose deadline passed or whose members all answered."""
        running = self._session.scalars(
            select(SecaggRound).where(SecaggRound.step.in_(("shares", "masked", "reveal"))).order_by(SecaggRound.id)
        ).all()
        return [row for row in running if self.advance(row, now=now)]

    def advance(self, row: SecaggRound, *, now: datetime) -> bool:
        """Take every step now due; ``True`` if the round moved."""
        moved = False
        while row.step in ("shares", "masked", "reveal") and self._due(row, now):
            now = self._log.entry_time(now)
            {"shares": self._commit, "masked": self._survive, "reveal": self._finish}[row.step](row, now)
            moved = True
        return moved

    def _due(self, row: SecaggRound, now: datetime) -> bool:
        deadline = {"shares": row.shares_due, "masked": row.masked_due, "reveal": row.reveal_due}[row.step]
        if now >= deadline:
            return True
        expected = self._expected(row)
        answered = {m.member for m in self._messages(row) if m.step == row.step}
        return expected <= answered

    def _expected(self, row: SecaggRound) -> set[str]:
        logged = self._logged(row)
        if row.step == "shares":
            return set(logged.roster.member_ids)
        if row.step == "masked":
            return set(logged.committed.members) if logged.committed is not None else set()
        return set(logged.survivors.member_ids) if logged.survivors is not None else set()

    def _commit(self, row: SecaggRound, now: datetime) -> None:
        logged = self._logged(row)
        roster, submissions = logged.roster, logged.submissions
        if len(submissions) < roster.threshold:
            reason = f"{len(submissions)} members shared their secrets, fewer than the threshold {roster.threshold}"
            self._fail(row, "committed", "below-threshold", reason, now)
            return
        committed = coordinator.make_committed_set(roster, submissions)
        row.committed_index = self._append_step(committed, now)
        row.step = "masked"

    def _survive(self, row: SecaggRound, now: datetime) -> None:
        logged = self._logged(row)
        roster, committed, masked = logged.roster, logged.committed, logged.masked
        if committed is None:
            raise HubError(f"round {row.id} is at the masked step without a committed set")
        if len(masked) < roster.threshold:
            reason = f"{len(masked)} masked vectors arrived, fewer than the threshold {roster.threshold}"
            self._fail(row, "survivors", "below-threshold", reason, now)
            return
        survivors = coordinator.make_survivors(committed, masked)
        row.survivors_index = self._append_step(survivors, now)
        row.step = "reveal"

    def _finish(self, row: SecaggRound, now: datetime) -> None:
        logged = self._logged(row)
        roster, committed, survivors, reveals = logged.roster, logged.committed, logged.survivors, logged.reveals
        if committed is None or survivors is None:
            raise HubError(f"round {row.id} is at the reveal step without a committed or survivor set")
        if len(reveals) < roster.threshold:
            reason = f"{len(reveals)} survivors revealed their shares, fewer than the threshold {roster.threshold}"
            self._fail(row, "result", "below-threshold", reason, now)
            return
        try:
            result = coordinator.make_result(
                roster=roster,
                committed=committed,
                submissions=logged.submissions,
                survivors=survivors,
                masked=logged.masked,
                reveals=list(reveals.values()),
            )
        except ReconstructionFailed as e:
            self._fail(row, "result", e.rule, str(e), now)
            return
        row.result_index = self._append_step(result, now)
        row.step = "done"
        self._count_in_statistics(row, logged, survivors, result)

    def _count_in_statistics(
        self, row: SecaggRound, logged: LoggedRound, survivors: Survivors, result: RoundResult
    ) -> None:
        """Put the round's sum into the rollups as its survivors' release (:meth:`Rollups.add_round`), in the
        transaction that logs the result; a round some survivor declared no noise for is published but answers
        nothing."""
        roster = logged.roster
        taxonomy = self._context.taxonomies.get(roster.taxonomy.id)
        if taxonomy is None or taxonomy.content_hash != roster.taxonomy.hash:
            raise HubError(f"round {row.id} names taxonomy {roster.taxonomy.id}, which this hub does not hold")
        try:
            release = round_release(
                roster=roster, survivors=survivors, masked=logged.masked, result=result, taxonomy=taxonomy
            )
        except NoNoiseDeclared as e:
            _log.info("round %s of %s for %s answers nothing: %s", row.round_number, row.group_id, row.period, e)
            return
        rows = self._session.execute(select(Hotline.id, Hotline.country).where(Hotline.id.in_(release.survivors)))
        countries = {str(hotline_id): str(country) for hotline_id, country in rows}
        Rollups(self._session, taxonomy).add_round(release, round_id=row.id, countries=countries)

    def _fail(self, row: SecaggRound, step: str, rule: str, reason: str, now: datetime) -> None:
        entry = SecaggFailedEntry(
            type="log_entry",
            version="tipshare/1",
            kind="secagg_failed",
            group=row.group_id,
            period=row.period,
            round=row.round_number,
            step=step,  # type: ignore[arg-type]
            rule=rule,
            reason=(reason + "; members send local releases for this period")[:500],
            effective_at=format_timestamp(now),
        )
        row.failed_index = self._log.append(entry.canonical_bytes(), kind=entry.kind, now=now).index
        row.step = "failed"
        self._session.flush()

    def _append_step(self, message: StepMessage, now: datetime) -> int:
        entry = step_entry(message, effective_at=format_timestamp(now))
        index = self._log.append(entry.canonical_bytes(), kind=entry.kind, now=now).index
        self._session.flush()
        return index

    # ------------------------------------------------------------------------------------------- helpers

    def _released_locally(self, hotline_id: str, period: str) -> bool:
        found = self._session.scalar(
            select(Submission.id).where(
                Submission.hotline_id == hotline_id, Submission.period == period, Submission.is_current.is_(True)
            )
        )
        return found is not None

    def _latest(self, group_id: str, period: str) -> SecaggRound | None:
        return self._session.scalars(
            select(SecaggRound)
            .where(SecaggRound.group_id == group_id, SecaggRound.period == period)
            .order_by(SecaggRound.round_number.desc())
            .limit(1)
        ).first()

    def _messages(self, row: SecaggRound) -> list[SecaggMessage]:
        return list(
            self._session.scalars(
                select(SecaggMessage).where(SecaggMessage.round_id == row.id).order_by(SecaggMessage.leaf_index)
            )
        )

    def _leaf(self, index: int) -> bytes:
        leaf = self._session.get(LogLeaf, index)
        if leaf is None:
            raise HubError(f"the round names log leaf {index}, which the database does not hold")
        return leaf.data

    def _step(self, index: int, kind: type[_Step]) -> _Step:
        entry = parse_log_entry(self._leaf(index))
        message = step_message(entry) if isinstance(entry, SecaggStepEntry) else None
        if not isinstance(message, kind):
            raise HubError(f"log leaf {index} is not the {kind.__name__} the round names")
        return message

    def _logged(self, row: SecaggRound) -> LoggedRound:
        """What the log holds of the round: the hub's steps, and the members' messages by member."""
        logged = LoggedRound(
            roster=self._step(row.roster_index, RoundRoster),
            committed=None if row.committed_index is None else self._step(row.committed_index, CommittedSet),
            survivors=None if row.survivors_index is None else self._step(row.survivors_index, Survivors),
        )
        for held in self._messages(row):
            entry = parse_log_entry(self._leaf(held.leaf_index))
            if not isinstance(entry, SecaggMemberEntry):
                raise HubError(f"log leaf {held.leaf_index} is not the member's message the round names")
            message: MemberMessage = member_message(entry)
            if isinstance(message, ShareSubmission):
                logged.submissions[message.member] = message
            elif isinstance(message, MaskedSubmission):
                logged.masked[message.member] = message
            else:
                logged.reveals[message.member] = message
        return logged

    def _key_events(self) -> list[KeyEventEntry]:
        leaves = self._session.scalars(
            select(LogLeaf).where(LogLeaf.kind.in_(_KEY_KINDS)).order_by(LogLeaf.index)
        ).all()
        events = [parse_log_entry(leaf.data) for leaf in leaves]
        return [e for e in events if isinstance(e, KeyEventEntry)]
