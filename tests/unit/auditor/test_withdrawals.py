# SPDX-License-Identifier: Apache-2.0
"""The auditor's view of withdrawals: from the log alone, checked, kept in the state DIR, applied per tree size."""

from __future__ import annotations

from pathlib import Path

from auditor.entries import EntryChecker
from auditor.resume import resume_checks
from auditor.state import StateStore
from protocol.crypto import SigningKey, payload_hash
from protocol.merkle import leaf_hash
from protocol.messages import PROTOCOL_VERSION, KeyEventEntry, format_timestamp
from protocol.note import NoteSigner
from protocol.taxonomy import builtin_taxonomy
from protocol.withdrawal import sign_withdrawal
from tests.support.auditkit import submission_entry, utc
from tests.support.releases import make_release

HOTLINE = "ua-a"
PERIOD = "2026-09"


class _Log:
    """A log written by hand: enrolment, two revisions of one month, then whatever a test appends."""

    def __init__(self) -> None:
        self.taxonomy = builtin_taxonomy(1)  # v1 releases may hold one small table
        self.hub = NoteSigner("hub.example.org/log", SigningKey.generate())
        self.key = SigningKey.generate()
        public = self.key.verify_key
        enrolment = KeyEventEntry(
            type="log_entry",
            version=PROTOCOL_VERSION,
            kind="key_enrolled",
            hotline_id=HOTLINE,
            key_id=public.key_id,
            public_key=public.to_text(),
            display_name="A",
            country="UA",
            effective_at="2026-08-20T10:00:00Z",
        )
        self.entries: list[bytes] = [enrolment.canonical_bytes()]
        self.hashes: list[str] = []
        for revision, day in ((1, 5), (2, 10)):
            payload = make_release(
                self.taxonomy, self.key, hotline_id=HOTLINE, period=PERIOD, revision=revision, tables=("contacts",)
            )
            self.hashes.append(payload_hash(payload.canonical_bytes()))
            self.entries.append(
                submission_entry(payload, key=self.key, received_at=utc(2026, 10, day)).canonical_bytes()
            )

    def withdraw(self, leaf_index: int, *, signer: NoteSigner | None = None, revision: int = 2) -> int:
        entry = sign_withdrawal(
            signer or self.hub,
            leaf_index=leaf_index,
            hotline_id=HOTLINE,
            key_id=self.key.verify_key.key_id,
            period=PERIOD,
            revision=revision,
            payload_hash=self.hashes[revision - 1],
            reason="sent with a stolen key",
            withdrawn_at=format_timestamp(utc(2026, 10, 12)),
        )
        self.entries.append(entry.canonical_bytes())
        return len(self.entries) - 1

    def checker(self) -> EntryChecker:
        checker = EntryChecker(lambda _id, _hash: self.taxonomy, log_keys=[self.hub.verifier])
        for index, data in enumerate(self.entries):
            checker.check(index, data)
        return checker


def test_a_withdrawal_takes_the_submission_out_from_its_entry_on() -> None:
    log = _Log()
    at = log.withdraw(2)

    checker = log.checker()

    assert checker.failures == []
    assert checker.withdrawn == {2: at}
    second = next(s for s in checker.accepted if s.revision == 2)
    assert checker.counts(second, at)  # a checkpoint before the withdrawal still counted it
    assert not checker.counts(second, at + 1)


def test_withdrawals_that_are_forged_repeated_or_aimed_at_nothing_withdraw_nothing() -> None:
    log = _Log()
    forged = log.withdraw(2, signer=NoteSigner("hub.example.org/log", SigningKey.generate()))
    nothing = log.withdraw(0)  # the enrolment
    wrong = log.withdraw(1, revision=2)  # entry 1 is revision 1
    first = log.withdraw(2)
    again = log.withdraw(2)

    checker = log.checker()

    assert checker.withdrawn == {2: first}
    messages = {f.index: f.message for f in checker.failures}
    assert {f.check for f in checker.failures} == {"withdrawal"}
    assert set(messages) == {forged, nothing, wrong, again}
    assert "signature does not verify" in messages[forged]
    assert "entry 0 is not an earlier accepted submission" in messages[nothing]
    assert "describes another submission than entry 1" in messages[wrong]
    assert f"already withdrawn by entry {first}" in messages[again]


def test_withdrawals_are_kept_in_the_state_dir_and_resumed(tmp_path: Path) -> None:
    log = _Log()
    at = log.withdraw(2)
    checker = log.checker()
    with StateStore.open(tmp_path / "state") as store:
        store.add_entries((i, leaf_hash(data), data) for i, data in enumerate(log.entries))
        store.save_conclusions(checker.conclusions())
        store.commit()
    with StateStore.open(tmp_path / "state") as store:
        resumed = resume_checks(store, lambda _id, _hash: log.taxonomy, log_keys=[log.hub.verifier])

    assert resumed.checker.withdrawn == {2: at}
    again = log.withdraw(2)
    resumed.checker.check(again, log.entries[again])
    assert [f.index for f in resumed.checker.failures] == [again]
