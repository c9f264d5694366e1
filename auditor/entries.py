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
   and its revision is higher than every earlier one of its (hotline, period) — as the hub's ingest rules demand.

Each failure is recorded (:class:`~auditor.findings.Failure`, naming the entry, hotline and check) and the
entry is left out of the statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from auditor.findings import Check, Failure
from auditor.keys import KeyHistory
from protocol.crypto import payload_hash, verify_submission_signature
from protocol.errors import InvalidSignature, ProtocolError
from protocol.messages import KeyEventEntry, SubmissionEntry, b64decode, parse_log_entry, parse_timestamp
from protocol.taxonomy import Taxonomy
from protocol.validation import check_payload

__all__ = ["AcceptedSubmission", "EntryChecker", "TaxonomySource"]

#: ``(taxonomy id, content hash) -> Taxonomy``, or a sentence saying why it cannot be had.
TaxonomySource = Callable[[str, str], Taxonomy | str]


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
    #: The noise scale of each released table (decimal strings, as signed).
    scales: Mapping[str, str] = field(hash=False)


class EntryChecker:
    """Checks entries handed to it in log order; collects failures and accepted submissions."""

    def __init__(self, taxonomies: TaxonomySource) -> None:
        self._taxonomies = taxonomies
        self.history = KeyHistory()
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

    def check(self, index: int, data: bytes) -> None:
        """Check entry ``index`` (its leaf data)."""
        if index < self.next_index:
            raise ValueError(f"entry {index} handed to the checker after entry {self.next_index - 1}")
        self.next_index = index + 1
        self.checked += 1
        try:
            entry = parse_log_entry(data)
        except ProtocolError as e:
            self.failures.append(Failure(Check.ENTRY, f"not a tipshare/1 log entry: {e}", index=index))
            return
        if isinstance(entry, KeyEventEntry):
            self.key_events += 1
            self.failures += self.history.apply(index, entry)
            return
        self.submissions += 1
        accepted = self._submission(index, entry)
        if accepted is not None:
            self.history.record_use(accepted.key_id, index=index, at=accepted.received_at)
            self.accepted.append(accepted)

    def _submission(self, index: int, entry: SubmissionEntry) -> AcceptedSubmission | None:
        what = f"{entry.hotline_id} {entry.period} revision {entry.revision}"

        def fail(check: Check, message: str) -> None:
            self.failures.append(Failure(check, f"{what}: {message}", index=index, hotline_id=entry.hotline_id))

        received = parse_timestamp(entry.received_at)
        key = self.history.key_for(entry.hotline_id, entry.key_id, at=received)
        if isinstance(key, str):
            fail(Check.KEY, key)
            return None
        payload_bytes = b64decode(entry.payload, what="payload")
        try:
            payload = verify_submission_signature(payload_bytes, b64decode(entry.signature), key)
        except InvalidSignature:
            fail(Check.SIGNATURE, f"the signature does not verify with key {entry.key_id}")
            return None
        except ProtocolError as e:
            fail(Check.PAYLOAD, f"the signed payload is not valid: {e}")
            return None
        if payload_hash(payload_bytes) != entry.payload_hash:
            fail(Check.PAYLOAD, f"payload_hash {entry.payload_hash} is not the hash of the payload")
            return None
        differ = [
            f"{name} {theirs!r} (entry says {ours!r})"
            for name, theirs, ours in (
                ("hotline", payload.hotline_id, entry.hotline_id),
                ("period", payload.period, entry.period),
                ("revision", payload.revision, entry.revision),
            )
            if theirs != ours
        ]
        if differ:
            fail(Check.PAYLOAD, "the signed payload names another " + ", ".join(differ))
            return None
        taxonomy = self._taxonomies(payload.taxonomy.id, payload.taxonomy.hash)
        if isinstance(taxonomy, str):
            fail(Check.PAYLOAD, taxonomy)
            return None
        try:
            check_payload(payload, taxonomy, now=received)
        except ProtocolError as e:
            fail(Check.PAYLOAD, f"the payload breaks a taxonomy rule: {e}")
            return None
        repeat = self._repeat(index, entry)
        if repeat is not None:
            fail(Check.PAYLOAD, repeat)
            return None
        return AcceptedSubmission(
            index=index,
            hotline_id=entry.hotline_id,
            key_id=entry.key_id,
            period=entry.period,
            revision=entry.revision,
            received_at=received,
            mechanism=payload.privacy.mechanism,
            scales=MappingProxyType({noise.table: noise.scale for noise in payload.privacy.tables}),
        )

    def _repeat(self, index: int, entry: SubmissionEntry) -> str | None:
        """Why the entry repeats an accepted one (and is not accepted itself), or ``None``; records it otherwise."""
        earlier = self._by_payload.get(entry.payload_hash)
        if earlier is not None:
            return f"the same payload was already logged as entry {earlier}"
        revisions = self._revisions.setdefault((entry.hotline_id, entry.period), {})
        if entry.revision in revisions:
            earlier = revisions[entry.revision]
            return f"revision {entry.revision} was already logged, with other content, as entry {earlier}"
        newest = max(revisions, default=0)
        if entry.revision < newest:
            return f"logged after revision {newest} (entry {revisions[newest]}): a correction carries a higher revision"
        self._by_payload[entry.payload_hash] = index
        revisions[entry.revision] = index
        return None
