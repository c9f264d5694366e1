# SPDX-License-Identifier: Apache-2.0
"""Every log entry checked on its own merits, in log order: key events build the key history, and each
submission must stand up against it.

A submission entry is *accepted* (it counts in the statistics) only if all of these hold:

1. its hotline was enrolled and its ``key_id`` is a key of that hotline that was valid at ``received_at``, by the
   key events logged before it (:meth:`auditor.keys.KeyHistory.key_for`);
2. its signature verifies with that key over its payload bytes (:func:`protocol.crypto.verify_submission_signature`,
   which also requires the payload to name that key);
3. ``payload_hash`` is the hash of those bytes, and the payload names the entry's hotline, period and revision;
4. the payload fits the taxonomy it names, fetched from the hub and checked against its content hash
   (:func:`protocol.validation.check_payload`, with ``now`` = ``received_at``);
5. it is not a repeat: no earlier accepted entry holds the same payload or the same (hotline, period, revision),
   and its revision is higher than every earlier one of its (hotline, period) — as the hub's ingest rules demand;
6. it is plausible under its hotline's policy as logged before it (:mod:`auditor.policies`,
   :func:`protocol.plausibility.check_plausible`): within the period and year caps given what was accepted before,
   noise not below the floor, cells and table sums within the bounds, the next revision, not before the first
   period unless a backfill was approved.

Policy and backfill entries are applied in log order like key events (and saved with them, for resuming).

Along the log, entry times never go back (:mod:`auditor.times`): an entry dated before an earlier one was
backdated, a failure of its own (the entry is still checked on its other merits).

Each failure is recorded (:class:`~auditor.findings.Failure`, naming the entry, hotline and check) and the
entry is left out of the statistics.

A ``submission_withdrawn`` entry takes an accepted submission out of the statistics from that entry on
(:attr:`EntryChecker.withdrawn`) if its signature verifies with the hub's log key
(:func:`protocol.withdrawal.verify_withdrawal`), it names an earlier accepted submission and describes it (hotline,
key, period, revision, payload hash), is not dated before that submission was received, and that submission was
not withdrawn before; otherwise it is a failure and withdraws nothing. A revocation naming ``compromised_since``
must come after the withdrawal of every accepted submission signed with that key and received since then. The
revision numbers of withdrawn submissions stay taken (rule 5 counts them).

What the checker concludes about an entry depends only on the entries before it (and on taxonomies fixed by
their content hash), so it never changes: :meth:`EntryChecker.conclusions` hands what it concluded to the state
DIR, and :meth:`EntryChecker.resume` picks up from there, so a later run checks only the entries after them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Final

from auditor.findings import Check, Failure
from auditor.hub_keys import HubKeyChain
from auditor.i18n import N_, T_, Joined, Text
from auditor.keys import KeyHistory
from auditor.policies import PolicyBook
from auditor.times import EntryTimes, LatestTime, entry_time
from protocol.crypto import payload_hash, verify_submission_signature
from protocol.errors import InvalidSignature, ProtocolError
from protocol.messages import (
    BackfillApprovedEntry,
    HotlinePolicyEntry,
    HubKeyHandoverEntry,
    KeyEventEntry,
    SubmissionEntry,
    SubmissionWithdrawnEntry,
    b64decode,
    format_timestamp,
    parse_log_entry,
    parse_timestamp,
)
from protocol.note import NoteVerifier
from protocol.plausibility import Implausible
from protocol.taxonomy import Taxonomy
from protocol.validation import check_payload
from protocol.withdrawal import verify_withdrawal

__all__ = ["AcceptedSubmission", "Conclusions", "EntryChecker", "RegistryEvent", "TaxonomySource"]

#: ``(taxonomy id, content hash) -> Taxonomy``, or a sentence saying why it cannot be had.
TaxonomySource = Callable[[str, str], Taxonomy | str]
#: Entries applied in log order to what later submissions are judged by (saved as ``key_event_indices``).
RegistryEvent = KeyEventEntry | HotlinePolicyEntry | BackfillApprovedEntry


@dataclass(frozen=True, slots=True)
class AcceptedSubmission:
    """A submission entry that passed every check: what the statistics are recomputed from."""

    index: int
    hotline_id: str
    key_id: str
    period: str
    revision: int
    received_at: datetime
    mechanism: str
    #: ``sha256:<hex>`` of the payload bytes (no other accepted entry may hold the same payload).
    payload_hash: str
    #: The noise scale of each released table (decimal strings, as signed).
    scales: Mapping[str, str] = field(hash=False)
    #: The total privacy spend the payload declares (``privacy.spent``, a decimal string as signed).
    spent: str = "0"


@dataclass(frozen=True, slots=True)
class Conclusions:
    """What a checker concluded about the entries ``start <= index < next_index``, and its counters so far.

    ``start`` is 0 for everything a checker concluded; a later ``start`` is the part not handed over before.
    """

    start: int
    next_index: int
    #: Totals since entry 0: entries checked, and how many of them were key events and submissions.
    checked: int
    key_events: int
    submissions: int
    #: Entries (in the range) that are key events, applied to the key history whatever their failures.
    key_event_indices: tuple[int, ...]
    accepted: tuple[AcceptedSubmission, ...]
    failures: tuple[Failure, ...]
    #: ``(withdrawal entry, submission entry)`` of every valid withdrawal in the range.
    withdrawals: tuple[tuple[int, int], ...] = ()
    #: The latest entry time before ``next_index`` (``None``: none, or not saved by an older version).
    latest_time: LatestTime | None = None


class EntryChecker:
    """Checks entries handed to it in log order; collects failures and accepted submissions."""

    def __init__(self, taxonomies: TaxonomySource, *, log_keys: Sequence[NoteVerifier] = ()) -> None:
        self._taxonomies = taxonomies
        #: The hub's log keys, which sign withdrawals.
        self._log_keys = tuple(log_keys)
        #: Submission entry -> the withdrawal entry that took it out of the statistics.
        self.withdrawn: dict[int, int] = {}
        self._by_index: dict[int, AcceptedSubmission] = {}
        self.history = KeyHistory()
        #: Hotline policies, backfill approvals and declared spends, as far as the log goes.
        self.policies = PolicyBook()
        #: Handovers of the hub's own keys (:mod:`auditor.hub_keys`).
        self.hub_keys = HubKeyChain()
        self.failures: list[Failure] = []
        self.accepted: list[AcceptedSubmission] = []
        #: Entries checked, and how many were key events and submissions.
        self.checked = 0
        self.key_events = 0
        self.submissions = 0
        #: The index after the last entry checked (entries must come in order, without repeats).
        self.next_index = 0
        self._by_payload: dict[str, int] = {}
        self._revisions: dict[tuple[str, str], dict[int, int]] = {}
        self._key_event_indices: list[int] = []
        self.times = EntryTimes()

    @classmethod
    def resume(
        cls,
        taxonomies: TaxonomySource,
        saved: Conclusions,
        key_events: Iterable[tuple[int, RegistryEvent]],
        *,
        log_keys: Sequence[NoteVerifier] = (),
    ) -> EntryChecker:
        """A checker in the state it was in after concluding ``saved`` (which starts at entry 0).

        ``key_events`` are the entries ``saved.key_event_indices`` names, parsed again from the verified log; they
        are replayed with the accepted submissions in log order, so the key history also knows which submission
        last used each key (what a later rotation or revocation is checked against).
        """
        if saved.start != 0:
            raise ValueError("a checker resumes from conclusions that start at entry 0")
        checker = cls(taxonomies, log_keys=log_keys)
        events = dict(key_events)
        if sorted(events) != list(saved.key_event_indices):
            raise ValueError("the key events given are not the ones the conclusions name")
        steps: list[tuple[int, RegistryEvent | AcceptedSubmission]] = [*events.items()]
        steps += [(s.index, s) for s in saved.accepted]
        for index, step in sorted(steps, key=lambda item: item[0]):
            if isinstance(step, AcceptedSubmission):
                checker._note_accepted(step)
            elif isinstance(step, KeyEventEntry):
                checker.policies.note_key_event(step)
                checker.history.apply(index, step)  # its failures are among saved.failures
            else:
                checker.policies.apply(index, step)
        checker.withdrawn = {submission: withdrawal for withdrawal, submission in saved.withdrawals}
        checker._key_event_indices = list(saved.key_event_indices)
        checker.failures = list(saved.failures)
        checker.checked, checker.key_events, checker.submissions = saved.checked, saved.key_events, saved.submissions
        checker.next_index = saved.next_index
        checker.times = EntryTimes(saved.latest_time)
        return checker

    def conclusions(self, *, start: int = 0) -> Conclusions:
        """What was concluded about the entries from ``start`` on (and the totals), to be saved."""
        return Conclusions(
            start=start,
            next_index=self.next_index,
            checked=self.checked,
            key_events=self.key_events,
            submissions=self.submissions,
            key_event_indices=tuple(i for i in self._key_event_indices if i >= start),
            accepted=tuple(s for s in self.accepted if s.index >= start),
            failures=tuple(f for f in self.failures if f.index is not None and f.index >= start),
            withdrawals=tuple(sorted((w, s) for s, w in self.withdrawn.items() if w >= start)),
            latest_time=self.times.latest,
        )

    def counts(self, submission: AcceptedSubmission, size: int) -> bool:
        """Whether an accepted submission counts in the statistics of tree size ``size``: it is in that tree, and
        no withdrawal in that tree took it out."""
        return submission.index < size and self.withdrawn.get(submission.index, size) >= size

    def check(self, index: int, data: bytes) -> None:
        """Check entry ``index`` (its leaf data)."""
        if index < self.next_index:
            raise ValueError(f"entry {index} handed to the checker after entry {self.next_index - 1}")
        self.next_index = index + 1
        self.checked += 1
        try:
            entry = parse_log_entry(data)
        except ProtocolError as e:
            self.failures.append(
                Failure(Check.ENTRY, T_("not a tipshare/1 log entry: {error}", error=str(e)), index=index)
            )
            return
        backdated = self.times.check(index, entry_time(entry), hotline_id=getattr(entry, "hotline_id", None))
        if backdated is not None:
            self.failures.append(backdated)
        if isinstance(entry, HubKeyHandoverEntry):
            problems = self.hub_keys.apply(index, entry)
            self.failures += problems
            if not problems and self.hub_keys.current is not None:
                # Withdrawals after a handover are signed by the new log key; earlier ones keep the old key's.
                known = {key.vkey for key in self._log_keys}
                trusted = NoteVerifier.from_vkey(entry.previous_log_vkey)
                self._log_keys += tuple(k for k in (trusted, self.hub_keys.current) if k.vkey not in known)
            return
        if isinstance(entry, HotlinePolicyEntry | BackfillApprovedEntry):
            self._key_event_indices.append(index)
            self.failures += self.policies.apply(index, entry)
            return
        if isinstance(entry, KeyEventEntry):
            self.key_events += 1
            self._key_event_indices.append(index)
            self.policies.note_key_event(entry)
            self.failures += self.history.apply(index, entry)
            if entry.compromised_since is not None:
                self._compromised(index, entry, parse_timestamp(entry.compromised_since))
            return
        if isinstance(entry, SubmissionWithdrawnEntry):
            self._withdrawal(index, entry)
            return
        if not isinstance(entry, SubmissionEntry):  # a secure-aggregation round's entry (issue 18): re-added
            return  # round by round once the log is read (auditor.rounds), not entry by entry here
        self.submissions += 1
        accepted = self._submission(index, entry)
        if accepted is not None:
            self._note_accepted(accepted)

    def _note_accepted(self, accepted: AcceptedSubmission) -> None:
        self.history.record_use(accepted.key_id, index=accepted.index, at=accepted.received_at)
        self.policies.note_accepted(
            hotline_id=accepted.hotline_id,
            period=accepted.period,
            revision=accepted.revision,
            mechanism=accepted.mechanism,
            spent=accepted.spent,
        )
        self.accepted.append(accepted)
        self._by_index[accepted.index] = accepted
        self._by_payload[accepted.payload_hash] = accepted.index
        self._revisions.setdefault((accepted.hotline_id, accepted.period), {})[accepted.revision] = accepted.index

    def _submission(self, index: int, entry: SubmissionEntry) -> AcceptedSubmission | None:
        what = f"{entry.hotline_id} {entry.period} revision {entry.revision}"
        submission = T_(
            "{hotline} {period} revision {revision}",
            hotline=entry.hotline_id,
            period=entry.period,
            revision=entry.revision,
        )

        def fail(check: Check, message: str) -> None:
            found = T_("{submission}: {problem}", submission=submission, problem=message)
            self.failures.append(Failure(check, found, index=index, hotline_id=entry.hotline_id))

        received = parse_timestamp(entry.received_at)
        key = self.history.key_for(entry.hotline_id, entry.key_id, at=received)
        if isinstance(key, str):
            fail(Check.KEY, key)
            return None
        payload_bytes = b64decode(entry.payload, what="payload")
        try:
            payload = verify_submission_signature(payload_bytes, b64decode(entry.signature), key)
        except InvalidSignature:
            fail(Check.SIGNATURE, T_("the signature does not verify with key {key}", key=entry.key_id))
            return None
        except ProtocolError as e:
            fail(Check.PAYLOAD, T_("the signed payload is not valid: {error}", error=str(e)))
            return None
        if payload_hash(payload_bytes) != entry.payload_hash:
            fail(Check.PAYLOAD, T_("payload_hash {hash} is not the hash of the payload", hash=entry.payload_hash))
            return None
        differ = [
            T_(message, theirs=repr(theirs), ours=repr(ours))
            for message, theirs, ours in (
                (N_("hotline {theirs} (entry says {ours})"), payload.hotline_id, entry.hotline_id),
                (N_("period {theirs} (entry says {ours})"), payload.period, entry.period),
                (N_("revision {theirs} (entry says {ours})"), payload.revision, entry.revision),
            )
            if theirs != ours
        ]
        if differ:
            fail(Check.PAYLOAD, T_("the signed payload names another {fields}", fields=Joined(differ)))
            return None
        taxonomy = self._taxonomies(payload.taxonomy.id, payload.taxonomy.hash)
        if isinstance(taxonomy, str):
            fail(Check.PAYLOAD, taxonomy)
            return None
        try:
            check_payload(payload, taxonomy, now=received)
        except ProtocolError as e:
            fail(Check.PAYLOAD, T_("the payload breaks a taxonomy rule: {error}", error=str(e)))
            return None
        repeat = self._repeat(entry)
        if repeat is not None:
            fail(Check.PAYLOAD, repeat)
            return None
        try:
            self.policies.check(payload, taxonomy)
        except Implausible as e:
            reason = plausibility_reason(e, str(e).removeprefix(f"{what}: "))  # fail() names the submission
            fail(
                Check.PLAUSIBILITY,
                T_(
                    "{rule} (limit {limit}, found {value}): {reason}",
                    rule=e.rule,
                    limit=e.limit,
                    value=e.value,
                    reason=reason,
                ),
            )
            return None
        return AcceptedSubmission(
            index=index,
            hotline_id=entry.hotline_id,
            key_id=entry.key_id,
            period=entry.period,
            revision=entry.revision,
            received_at=received,
            mechanism=payload.privacy.mechanism,
            payload_hash=entry.payload_hash,
            scales=MappingProxyType({noise.table: noise.scale for noise in payload.privacy.tables}),
            spent=payload.privacy.spent,
        )

    def _withdrawal(self, index: int, entry: SubmissionWithdrawnEntry) -> None:
        what = T_(
            "withdrawal of entry {entry} ({hotline} {period} revision {revision})",
            entry=entry.leaf_index,
            hotline=entry.hotline_id,
            period=entry.period,
            revision=entry.revision,
        )

        def fail(message: str) -> None:
            found = T_("{submission}: {problem}", submission=what, problem=message)
            self.failures.append(Failure(Check.WITHDRAWAL, found, index=index, hotline_id=entry.hotline_id))

        try:
            verify_withdrawal(entry, self._log_keys)
        except InvalidSignature:
            fail(
                T_(
                    "the hub's signature does not verify with its log key (key ID {key}): it withdraws nothing",
                    key=entry.log_key_id,
                )
            )
            return
        target = self._by_index.get(entry.leaf_index)
        if target is None:
            fail(
                T_(
                    "entry {entry} is not an earlier accepted submission, so there is nothing to withdraw",
                    entry=entry.leaf_index,
                )
            )
            return
        stated = (entry.hotline_id, entry.key_id, entry.period, entry.revision, entry.payload_hash)
        if stated != (target.hotline_id, target.key_id, target.period, target.revision, target.payload_hash):
            fail(
                T_(
                    "it describes another submission than entry {entry} ({hotline} {period} revision {revision}, "
                    "key {key}, {hash}): it withdraws nothing",
                    entry=entry.leaf_index,
                    hotline=target.hotline_id,
                    period=target.period,
                    revision=target.revision,
                    key=target.key_id,
                    hash=target.payload_hash,
                )
            )
            return
        earlier = self.withdrawn.get(entry.leaf_index)
        if earlier is not None:
            fail(T_("entry {entry} was already withdrawn by entry {earlier}", entry=entry.leaf_index, earlier=earlier))
            return
        if parse_timestamp(entry.withdrawn_at) < target.received_at:
            fail(
                T_(
                    "dated {dated}, before the submission was received ({received}): it withdraws nothing",
                    dated=entry.withdrawn_at,
                    received=format_timestamp(target.received_at),
                )
            )
            return
        self.withdrawn[entry.leaf_index] = index

    def _compromised(self, index: int, event: KeyEventEntry, since: datetime) -> None:
        """A revocation naming ``compromised_since``: every submission signed since then must be withdrawn."""
        missed = [
            s.index
            for s in self.accepted
            if s.key_id == event.key_id and s.received_at >= since and s.index not in self.withdrawn
        ]
        if missed:
            listed: str = ", ".join(map(str, missed[:20]))
            if len(missed) > 20:
                listed = T_("{listed} and {more} more", listed=listed, more=len(missed) - 20)
            self.failures.append(
                Failure(
                    Check.WITHDRAWAL,
                    T_(
                        "revokes key {key} as compromised since {since}, but entries {listed} signed with it since "
                        "then were not withdrawn before the revocation: they still count",
                        key=event.key_id,
                        since=event.compromised_since,
                        listed=listed,
                    ),
                    index=index,
                    hotline_id=event.hotline_id,
                )
            )

    def _repeat(self, entry: SubmissionEntry) -> str | None:
        """Why the entry repeats an accepted one (and is not accepted itself), or ``None``."""
        earlier = self._by_payload.get(entry.payload_hash)
        if earlier is not None:
            return T_("the same payload was already logged as entry {earlier}", earlier=earlier)
        revisions = self._revisions.get((entry.hotline_id, entry.period), {})
        if entry.revision in revisions:
            earlier = revisions[entry.revision]
            return T_(
                "revision {revision} was already logged, with other content, as entry {earlier}",
                revision=entry.revision,
                earlier=earlier,
            )
        newest = max(revisions, default=0)
        if entry.revision < newest:
            return T_(
                "logged after revision {newest} (entry {entry}): a correction carries a higher revision",
                newest=newest,
                entry=revisions[newest],
            )
        return None


#: What each plausibility rule (``protocol.plausibility.RULES``) says, in the auditor's words, from the rule's
#: limit and the value found: the protocol's English sentence is kept in English; the other languages say these.
_PLAUSIBILITY: Final = {
    "measure": N_(
        "the release is accounted in {value}, which the hotline's policy does not cap (it caps {limit}); the operator "
        "must log a policy with a {value} cap first"
    ),
    "first_period": N_(
        "the period {value} is before {limit}, the first period the hotline reports; the operator must approve a "
        "backfill of it (tipshare-hub hotline backfill) before it is accepted"
    ),
    "revision": N_("the release is revision {value}, but the next revision of its period is {limit}"),
    "noise_floor": N_(
        "a table has noise of scale {value}, below the floor of {limit} that the hotline's period cap allows for its "
        "sensitivity"
    ),
    "period_cap": N_("the release declares a spend of {value}, over the hotline's period cap of {limit}"),
    "year_cap": N_("the release would bring the year's spend to {value}, over the hotline's year cap of {limit}"),
    "cell_bound": N_(
        "a table has a cell of {value}, outside {limit}, more than the hotline's maximum monthly volume can release; "
        "if the hotline sees more, the operator must log a policy with a larger maximum monthly volume"
    ),
    "table_bound": N_(
        "a table sums to {value}, outside {limit}, more than the hotline's maximum monthly volume can release; if the "
        "hotline sees more, the operator must log a policy with a larger maximum monthly volume"
    ),
}


def plausibility_reason(error: Implausible, english: str) -> str:
    """Why a release is implausible: ``english`` (the protocol's sentence) that other languages say from the
    rule, its limit and the value found."""
    msgid = _PLAUSIBILITY.get(error.rule)
    if msgid is None:
        return english
    return Text(msgid, {"limit": error.limit, "value": error.value}, english=english)
