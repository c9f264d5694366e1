# SPDX-License-Identifier: Apache-2.0
"""Every secure-aggregation round re-added from the log alone (issue 18).

>>> audit = RoundAudit(taxonomies)                                                     # doctest: +SKIP
>>> audit.run(store.iter_entries_containing(ROUND_MARK, size), key_events=checker.history.events)  # doctest: +SKIP
>>> audit.summary.document(), [f.keys["rule"] for f in audit.failures]                 # doctest: +SKIP
({'checked': 1, 're_added': 1, 'failed': 0, 'running': 0, 'findings': 0}, [])

For each (group, period, round) the log holds, its step entries and member entries are collected in log order,
and once the round is over (a ``secagg_result`` or a ``secagg_failed`` entry ends it):

1. each member entry's signature is checked with the key its hotline had when the hub received it, by the key
   events logged before it (:func:`protocol.secagg.signed.verify_member_entry`); an entry that fails is left out
   of the round, as the hub should have refused it;
2. the roster's sealing keys are those its members' logged key events enrolled
   (:func:`~protocol.secagg.signed.check_roster_keys`), and its tables are tables of the taxonomy it names, in
   the vector length it states (:func:`~protocol.secagg.layout.layout_of_roster`);
3. a masked vector logged before the survivor set but left out of it is named (``survivor-omits-masked``): the
   hub claimed a live member dropped, which would have the others reveal its agreement secret;
4. a ``secagg_result`` stands only on a sound transcript (:func:`~protocol.secagg.transcript.check_transcript`:
   the digest chain, the sets, share kinds, **never both secrets of one member**, and the sum rebuilt from the
   log equal to the one the hub logged);
5. a ``secagg_failed`` must name a failure the log bears out: fewer than the threshold at its step, or a sum
   that does not rebuild;
6. a result the log re-adds exactly is held to its survivors' one-cell totals
   (:func:`~protocol.secagg.totals.check_round_totals`): each table whose cells minus the survivors' totals lie
   beyond the tolerance (an honest round exceeds it with probability 10⁻⁶) is a ``totals-mismatch`` naming the
   table. A round one of whose survivors declared no noise or no totals is counted as not checkable.

Each problem is a :class:`~auditor.findings.Failure` of check ``rounds`` whose ``keys`` name the group, period,
round and rule (and ``table`` the table, where one is off; ``hotline_id`` the member, where one is at fault). A
round still running is counted, not judged: a later run checks it once it is over. Nothing about rounds is kept
in the state DIR: every run re-reads the round entries of the verified log (a scan of the stored leaves inside
SQLite) and re-adds every round, so a round spanning two runs is checked whole, and a resumed run concludes the
same as one from scratch.

What the hub answers for each round is compared with the log by :mod:`auditor.round_answers`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from auditor.entries import TaxonomySource
from auditor.findings import Check, Failure
from auditor.i18n import N_, T_
from auditor.keys import KeyHistory
from auditor.releases import CountedRound
from protocol.errors import InvalidSignature, ProtocolError, ReconstructionFailed, SecureAggregationError
from protocol.messages import (
    KeyEventEntry,
    SecaggFailedEntry,
    SecaggMemberEntry,
    SecaggStepEntry,
    parse_log_entry,
    parse_timestamp,
)
from protocol.secagg.layout import layout_of_roster
from protocol.secagg.messages import (
    CommittedSet,
    MaskedSubmission,
    RoundResult,
    RoundRoster,
    ShareSubmission,
    Survivors,
    UnmaskReveal,
    digest,
)
from protocol.secagg.reconstruction import reconstruct_sum
from protocol.secagg.release import NoNoiseDeclared, round_release
from protocol.secagg.signed import (
    RosterKeyMismatch,
    check_roster_keys,
    sealing_keys,
    step_message,
    verify_member_entry,
)
from protocol.secagg.totals import check_round_totals
from protocol.secagg.transcript import RoundTranscript, check_transcript

__all__ = ["ROUND_MARK", "RULE_SENTENCES", "RoundAudit", "RoundKey", "RoundSummary", "round_failure"]

#: ``(group, period, round)``
RoundKey = tuple[str, str, int]
#: A canonical log entry of a round holds this (RFC 8785 JSON has no spaces): the cheap filter of the scan.
ROUND_MARK: Final = b'"kind":"secagg_'

#: What each rule means, said to people (translated); the rule itself stays in ``keys["rule"]``.
RULE_SENTENCES: Final[Mapping[str, str]] = {
    "key-not-valid": N_("a member's entry names a key its hotline did not hold when the hub received it"),
    "bad-signature": N_("a member's entry does not verify with its hotline's key"),
    "malformed": N_("an entry does not match the message it carries"),
    "second-message": N_("a member has two messages of one step in the log"),
    "second-step": N_("the log holds a step of the hub twice"),
    "unknown-hotline": N_("the roster names a hotline no key event enrolled"),
    "no-sealing-key": N_("the roster names a member with no sealing key in the log"),
    "sealing-key-mismatch": N_("the roster lists a sealing key no key event enrolled for its member"),
    "roster-layout": N_("the roster's tables or vector length do not fit the taxonomy it names"),
    "survivor-omits-masked": N_("the survivor set omits a logged masked vector"),
    "late-message": N_("a member's message is logged after the step that closed it"),
    "incomplete-transcript": N_("a result is logged without the steps it rests on"),
    "result-and-failed": N_("the round is logged both as a result and as failed"),
    "failure-unfounded": N_("the round is logged as failed, but the log does not bear the failure out"),
    "published-differs": N_("the hub answers from another result than the logged one"),
    "totals-mismatch": N_("a table of the round's sum does not match the survivors' one-cell totals within tolerance"),
    # check_transcript's rules (protocol.secagg.transcript.RULES)
    "round-mismatch": N_("a message belongs to another group, period or round"),
    "chain-broken": N_("a step names another step than the logged one"),
    "not-subset": N_("a set names a member outside the set it must come from"),
    "below-threshold": N_("fewer members than the threshold took part"),
    "masked-vector-mismatch": N_("the survivor set names a masked vector the log does not hold"),
    "survivor-set-inconsistent": N_("a member revealed shares against another survivor set than the logged one"),
    "reveal-from-non-survivor": N_("a member that is not a survivor revealed shares"),
    "wrong-share-kind": N_("a share of the wrong kind was revealed"),
    "both-secrets-revealed": N_("both secrets of one member were revealed"),
    "reconstruction-failed": N_("the sum cannot be rebuilt from the log"),
    "sum-mismatch": N_("the logged result differs from the sum re-added from the log"),
    "noise-declaration": N_("a survivor's declared noise does not name the roster's tables"),
}


@dataclass(slots=True)
class RoundSummary:
    """How many rounds were re-added, and how they ended."""

    #: Rounds over (result or failed) that were checked.
    checked: int = 0
    #: Results whose sum the log re-adds exactly (sound transcript).
    re_added: int = 0
    #: Rounds the log ends with ``secagg_failed``.
    failed: int = 0
    #: Rounds still running (judged by a later run).
    running: int = 0
    #: Findings about rounds.
    findings: int = 0
    #: Round answers of the hub compared with the log (every round that is over).
    published: int = 0
    #: Results re-added exactly whose tables were checked against the survivors' one-cell totals.
    totals_checked: int = 0
    #: Of those, rounds with a table flagged (``totals-mismatch``).
    totals_flagged: int = 0
    #: Results re-added exactly that could not be checked: a survivor declared no noise or no totals.
    totals_unchecked: int = 0

    def document(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "re_added": self.re_added,
            "failed": self.failed,
            "running": self.running,
            "findings": self.findings,
            "published": self.published,
            "totals_checked": self.totals_checked,
            "totals_flagged": self.totals_flagged,
            "totals_unchecked": self.totals_unchecked,
        }


@dataclass(slots=True)
class _Member:
    index: int
    entry: SecaggMemberEntry


@dataclass(slots=True)
class _Round:
    """One round's entries, in log order."""

    key: RoundKey
    steps: dict[str, list[tuple[int, SecaggStepEntry]]] = field(default_factory=dict)
    members: list[_Member] = field(default_factory=list)
    failed: tuple[int, SecaggFailedEntry] | None = None

    def step(self, kind: str) -> tuple[int, SecaggStepEntry] | None:
        held = self.steps.get(kind)
        return held[0] if held else None


class RoundAudit:
    """Re-adds every round of a verified log; collects :attr:`failures` and :attr:`summary`."""

    def __init__(self, taxonomies: TaxonomySource) -> None:
        self._taxonomies = taxonomies
        self.failures: list[Failure] = []
        self.summary = RoundSummary()
        #: Rounds whose sums count as their survivors' releases (re-added exactly, noise declared), in log order.
        self.counted: list[CountedRound] = []
        #: The log's result entry of each round that has one: ``(index, leaf bytes)``.
        self.results: dict[RoundKey, tuple[int, bytes]] = {}
        #: The rounds that are over (a result or a failure logged), in order.
        self.over: list[RoundKey] = []

    def run(self, leaves: Iterable[tuple[int, bytes]], *, key_events: Sequence[tuple[int, KeyEventEntry]]) -> None:
        """Check every round in ``leaves`` (the verified log's entries, in order), against ``key_events`` (every key
        event of the log, with its index)."""
        rounds: dict[RoundKey, _Round] = {}
        for index, data in leaves:
            if ROUND_MARK not in data:
                continue
            try:
                entry = parse_log_entry(data)
            except ProtocolError:
                continue  # named by the entry checks
            if not isinstance(entry, SecaggStepEntry | SecaggMemberEntry | SecaggFailedEntry):
                continue
            key = (entry.group, entry.period, entry.round)
            held = rounds.setdefault(key, _Round(key))
            if isinstance(entry, SecaggMemberEntry):
                held.members.append(_Member(index, entry))
            elif isinstance(entry, SecaggFailedEntry):
                if held.failed is not None:
                    self._fail(key, "second-step", index=index, detail=entry.kind)
                else:
                    held.failed = (index, entry)
            else:
                held.steps.setdefault(entry.kind, []).append((index, entry))
                if entry.kind == "secagg_result" and len(held.steps[entry.kind]) == 1:
                    self.results[key] = (index, data)
        for key in sorted(rounds):
            self._check(rounds[key], key_events)

    # ------------------------------------------------------------------ one round

    def _check(self, held: _Round, key_events: Sequence[tuple[int, KeyEventEntry]]) -> None:
        key = held.key
        result_at = held.step("secagg_result")
        if result_at is None and held.failed is None:
            self.summary.running += 1
            return
        self.summary.checked += 1
        self.over.append(key)
        before = self.summary.findings
        for kind, entries in held.steps.items():
            for index, _ in entries[1:]:
                self._fail(key, "second-step", index=index, detail=kind)
        if result_at is not None and held.failed is not None:
            self._fail(key, "result-and-failed", index=held.failed[0])
        steps = self._step_messages(held)
        roster = steps.get("secagg_roster")
        if isinstance(roster, RoundRoster):
            self._roster(key, roster, held, key_events)
        messages = self._member_messages(held, key_events)
        if held.failed is not None:
            self.summary.failed += 1
            self._failed(held, held.failed, steps, messages)
        if result_at is not None:
            self._result(held, steps, messages)
            if held.failed is None and self.summary.findings == before:
                self.summary.re_added += 1
                self._totals(held, steps, messages)
                self._count(held, result_at[0], steps, messages, key_events)

    def _count(
        self,
        held: _Round,
        index: int,
        steps: Mapping[str, Any],
        messages: Sequence[tuple[int, Any]],
        key_events: Sequence[tuple[int, KeyEventEntry]],
    ) -> None:
        """Keep a re-added round's sum as its survivors' release (:attr:`counted`), as the hub answers from it; a
        round some survivor declared no noise for answers nothing."""
        roster, survivors, result = steps["secagg_roster"], steps["secagg_survivors"], steps["secagg_result"]
        taxonomy = self._taxonomies(roster.taxonomy.id, roster.taxonomy.hash)
        if isinstance(taxonomy, str):  # pragma: no cover - the roster check names it
            return
        alive = set(survivors.member_ids)
        masked = {m.member: m for _, m in messages if isinstance(m, MaskedSubmission) and m.member in alive}
        try:
            release = round_release(roster=roster, survivors=survivors, masked=masked, result=result, taxonomy=taxonomy)
        except NoNoiseDeclared:
            return
        except SecureAggregationError as e:
            self._fail(held.key, "noise-declaration", index=index, detail=str(e))
            return
        countries: dict[str, str] = {}
        for at, event in key_events:
            if at < index and event.hotline_id in alive:
                countries[event.hotline_id] = event.country
        received = {
            member.entry.hotline_id: parse_timestamp(member.entry.received_at)
            for member in held.members
            if member.entry.kind == "secagg_masked" and member.entry.hotline_id in alive
        }
        self.counted.append(CountedRound(release, taxonomy, countries, index, received))

    def _step_messages(self, held: _Round) -> dict[str, Any]:
        steps: dict[str, Any] = {}
        for kind, entries in held.steps.items():
            index, entry = entries[0]
            try:
                steps[kind] = step_message(entry)
            except ProtocolError as e:
                self._fail(held.key, "malformed", index=index, detail=str(e))
        return steps

    def _roster(
        self, key: RoundKey, roster: RoundRoster, held: _Round, key_events: Sequence[tuple[int, KeyEventEntry]]
    ) -> None:
        at = held.step("secagg_roster")
        index = at[0] if at is not None else None
        try:
            check_roster_keys(roster, (event for i, event in key_events if index is None or i < index))
        except RosterKeyMismatch as e:
            enrolled = sealing_keys(event for i, event in key_events if index is None or i < index)
            member = next((m.id for m in roster.members if enrolled.get(m.id) != m.sealing_key), None)
            self._fail(key, e.rule, index=index, member=member, detail=str(e))
        taxonomy = self._taxonomies(roster.taxonomy.id, roster.taxonomy.hash)
        if isinstance(taxonomy, str):
            self._fail(key, "roster-layout", index=index, detail=taxonomy)
            return
        try:
            layout_of_roster(roster, taxonomy)
        except SecureAggregationError as e:
            self._fail(key, "roster-layout", index=index, detail=str(e))

    def _member_messages(self, held: _Round, key_events: Sequence[tuple[int, KeyEventEntry]]) -> list[tuple[int, Any]]:
        """The member messages whose signatures verify, with their indices, in log order."""
        verified: list[tuple[int, Any]] = []
        seen: set[tuple[str, str]] = set()
        history = KeyHistory()
        events = iter(key_events)
        pending = next(events, None)
        for member in held.members:
            while pending is not None and pending[0] < member.index:
                history.apply(*pending)
                pending = next(events, None)
            entry = member.entry
            try:
                received = parse_timestamp(entry.received_at)
            except ProtocolError as e:  # pragma: no cover - a Timestamp field parses
                self._fail(held.key, "malformed", index=member.index, member=entry.hotline_id, detail=str(e))
                continue
            verify_key = history.key_for(entry.hotline_id, entry.key_id, at=received)
            if isinstance(verify_key, str):
                self._fail(held.key, "key-not-valid", index=member.index, member=entry.hotline_id, detail=verify_key)
                continue
            try:
                message = verify_member_entry(entry, verify_key)
            except InvalidSignature:
                self._fail(held.key, "bad-signature", index=member.index, member=entry.hotline_id, detail=entry.key_id)
                continue
            except ProtocolError as e:
                self._fail(held.key, "malformed", index=member.index, member=entry.hotline_id, detail=str(e))
                continue
            if (entry.kind, entry.hotline_id) in seen:
                self._fail(held.key, "second-message", index=member.index, member=entry.hotline_id, detail=entry.kind)
                continue
            seen.add((entry.kind, entry.hotline_id))
            verified.append((member.index, message))
        return verified

    def _result(self, held: _Round, steps: Mapping[str, Any], messages: Sequence[tuple[int, Any]]) -> None:
        key = held.key
        roster, committed = steps.get("secagg_roster"), steps.get("secagg_committed")
        survivors, result = steps.get("secagg_survivors"), steps.get("secagg_result")
        result_at = held.step("secagg_result")
        if not (
            isinstance(roster, RoundRoster)
            and isinstance(committed, CommittedSet)
            and isinstance(survivors, Survivors)
            and isinstance(result, RoundResult)
        ):
            self._fail(key, "incomplete-transcript", index=result_at[0] if result_at else None)
            return
        survivors_at = held.step("secagg_survivors")
        closed = survivors_at[0] if survivors_at is not None else 0
        alive = set(survivors.member_ids)
        masked: list[MaskedSubmission] = []
        for index, message in messages:
            if not isinstance(message, MaskedSubmission):
                continue
            if message.member in alive:
                masked.append(message)
            elif index > closed:
                self._fail(key, "late-message", index=index, member=message.member, detail=message.type)
            elif message.committed == digest(committed):
                self._fail(key, "survivor-omits-masked", index=index, member=message.member)
            else:
                masked.append(message)  # another committed set's vector: check_transcript names it
        transcript = RoundTranscript(
            roster=roster,
            share_submissions=tuple(m for _, m in messages if isinstance(m, ShareSubmission)),
            committed=committed,
            masked=tuple(masked),
            survivors=survivors,
            reveals=tuple(m for _, m in messages if isinstance(m, UnmaskReveal)),
            result=result,
        )
        for failure in check_transcript(transcript):
            member = _first_named(roster.member_ids, failure.detail)
            self._fail(
                key, failure.rule, index=result_at[0] if result_at else None, member=member, detail=failure.detail
            )

    def _totals(self, held: _Round, steps: Mapping[str, Any], messages: Sequence[tuple[int, Any]]) -> None:
        """A result the log re-adds exactly, against its survivors' one-cell totals: a flagged table is a
        ``totals-mismatch`` naming it, ``D`` and the tolerance (no member: the vectors are masked)."""
        roster, survivors, result = steps["secagg_roster"], steps["secagg_survivors"], steps["secagg_result"]
        result_at = held.step("secagg_result")
        taxonomy = self._taxonomies(roster.taxonomy.id, roster.taxonomy.hash)
        alive = set(survivors.member_ids)
        masked = {m.member: m for _, m in messages if isinstance(m, MaskedSubmission) and m.member in alive}
        try:
            if isinstance(taxonomy, str):  # pragma: no cover - roster-layout names it, and the round is not re-added
                raise SecureAggregationError(taxonomy)
            check = check_round_totals(
                roster=roster, survivors=survivors, masked=masked, result=result, taxonomy=taxonomy
            )
        except SecureAggregationError:  # pragma: no cover - the transcript was sound: the messages belong together
            self.summary.totals_unchecked += 1
            return
        if not check.checkable:
            self.summary.totals_unchecked += 1
            return
        self.summary.totals_checked += 1
        if check.findings:
            self.summary.totals_flagged += 1
        for finding in check.findings:
            detail = T_(
                "table {table}: its cells minus the survivors' totals are {difference}, beyond ±{tolerance}",
                table=finding.table,
                difference=finding.difference_text,
                tolerance=finding.tolerance_text,
            )
            self._fail(
                held.key,
                "totals-mismatch",
                index=result_at[0] if result_at else None,
                table=finding.table,
                detail=detail,
            )

    def _failed(
        self,
        held: _Round,
        failed: tuple[int, SecaggFailedEntry],
        steps: Mapping[str, Any],
        messages: Sequence[tuple[int, Any]],
    ) -> None:
        """A ``secagg_failed`` entry must name a failure the log before it bears out."""
        index, entry = failed
        roster = steps.get("secagg_roster")
        if not isinstance(roster, RoundRoster):
            self._fail(held.key, "failure-unfounded", index=index, detail=T_("no roster"))
            return
        before = [m for i, m in messages if i < index]
        committed, survivors = steps.get("secagg_committed"), steps.get("secagg_survivors")
        founded = False
        if entry.rule == "below-threshold":
            if entry.step == "committed":
                count = len({m.member for m in before if isinstance(m, ShareSubmission) and m.roster == digest(roster)})
                founded = count < roster.threshold
            elif entry.step == "survivors" and isinstance(committed, CommittedSet):
                chained = {
                    m.member
                    for m in before
                    if isinstance(m, MaskedSubmission)
                    and m.committed == digest(committed)
                    and m.member in committed.members
                }
                founded = len(chained) < roster.threshold
            elif entry.step == "result" and isinstance(survivors, Survivors):
                revealed = {
                    m.member
                    for m in before
                    if isinstance(m, UnmaskReveal)
                    and m.survivors == digest(survivors)
                    and m.member in survivors.member_ids
                }
                founded = len(revealed) < roster.threshold
        elif entry.step == "result" and isinstance(committed, CommittedSet) and isinstance(survivors, Survivors):
            founded = _does_not_rebuild(roster, committed, survivors, before)
        if not founded:
            self._fail(
                held.key,
                "failure-unfounded",
                index=index,
                detail=f"{entry.step}: {entry.rule}",
            )

    def _fail(
        self,
        key: RoundKey,
        rule: str,
        *,
        index: int | None = None,
        member: str | None = None,
        table: str | None = None,
        detail: str = "",
    ) -> None:
        self.summary.findings += 1
        self.failures.append(round_failure(key, rule, index=index, member=member, table=table, detail=detail))


def round_failure(
    key: RoundKey,
    rule: str,
    *,
    index: int | None = None,
    member: str | None = None,
    table: str | None = None,
    detail: str = "",
) -> Failure:
    """A finding about round ``key``, named by ``rule`` (and by ``member`` where one is at fault, by ``table``
    where one is off)."""
    group, period, number = key
    sentence = T_(RULE_SENTENCES.get(rule, N_("the round breaks a rule of the protocol")))
    where = T_("round {number} of {group} for {period}", number=number, group=group, period=period)
    if member is not None:
        where = T_("{round}, member {member}", round=where, member=member)
    message = T_("{round}: {problem}", round=where, problem=sentence)
    if detail:
        message = T_("{finding} ({detail})", finding=message, detail=detail)
    keys = {"group": group, "period": period, "round": str(number), "rule": rule}
    if table is not None:
        keys["table"] = table
    return Failure(Check.ROUNDS, message, index=index, hotline_id=member, keys=keys)


def _first_named(members: Sequence[str], detail: str) -> str | None:
    """The member a transcript failure's detail names first (the one at fault: ``hotline-02 revealed ...``)."""
    found = [(m.start(), m.group()) for m in re.finditer(r"[a-z0-9][a-z0-9-]*[a-z0-9]", detail) if m.group() in members]
    return min(found)[1] if found else None


def _does_not_rebuild(
    roster: RoundRoster, committed: CommittedSet, survivors: Survivors, messages: Sequence[Any]
) -> bool:
    """Whether the sum fails to rebuild from the messages logged before the round was declared failed."""
    try:
        reconstruct_sum(
            roster=roster,
            committed=committed,
            submissions={m.member: m for m in messages if isinstance(m, ShareSubmission)},
            survivors=survivors,
            masked={m.member: m for m in messages if isinstance(m, MaskedSubmission)},
            reveals=[m for m in messages if isinstance(m, UnmaskReveal)],
        )
    except (ReconstructionFailed, ProtocolError, KeyError):
        return True
    return False
