# SPDX-License-Identifier: Apache-2.0
"""Picking up the entry checks from a state DIR: what earlier runs concluded, or why every entry is checked again.

The conclusions (:class:`auditor.entries.Conclusions`) name the entries that were key events; those are parsed
again from the verified entries the state DIR holds, so the key history is rebuilt exactly as the earlier runs
built it (:meth:`auditor.entries.EntryChecker.resume`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from auditor.entries import EntryChecker, RegistryEvent, TaxonomySource
from auditor.errors import StateError
from auditor.i18n import N_, T_
from auditor.state import StateStore
from auditor.times import EntryTimes, LatestTime, entry_time
from protocol.errors import ProtocolError
from protocol.messages import BackfillApprovedEntry, HotlinePolicyEntry, KeyEventEntry, parse_log_entry, parse_timestamp
from protocol.note import NoteVerifier

__all__ = ["Resumed", "resume_checks"]


@dataclass(frozen=True, slots=True)
class Resumed:
    """A checker ready for the entries after ``next_index``, and what the auditor should be told about it."""

    checker: EntryChecker
    #: Entries whose checks come from the state DIR (0: none), and how many checks that was.
    next_index: int
    checked: int
    notices: tuple[str, ...]


def resume_checks(
    store: StateStore, taxonomies: TaxonomySource, *, recheck: bool = False, log_keys: Sequence[NoteVerifier] = ()
) -> Resumed:
    """The checker in the state the saved conclusions describe (a new one with ``recheck`` or without them);
    ``log_keys`` verify the withdrawals it checks."""
    held = store.entry_count()
    if store.upgraded_from is not None:
        notice = T_(
            "the state DIR was written by an older tipshare-audit (state format {format}), which kept no (or "
            "incomplete) entry checks: all {held} entries it holds are checked again in this run, and later runs "
            "check only new entries",
            format=store.upgraded_from,
            held=held,
        )
        return Resumed(EntryChecker(taxonomies, log_keys=log_keys), 0, 0, (notice,))
    if recheck:  # whatever was saved (even a damaged copy) is replaced when this run saves
        return Resumed(EntryChecker(taxonomies, log_keys=log_keys), 0, 0, ())
    saved = store.conclusions()
    if saved is None:
        notices = (
            T_("the state DIR holds {held} entries but no entry checks: all of them are checked again", held=held),
        )
        return Resumed(EntryChecker(taxonomies, log_keys=log_keys), 0, 0, notices if held else ())
    events: list[tuple[int, RegistryEvent]] = []
    for index in saved.key_event_indices:
        try:
            entry = parse_log_entry(store.entry(index) or b"")
        except ProtocolError as e:
            raise _corrupt(
                T_("entry {index}, saved as a key event, does not parse: {error}", index=index, error=e)
            ) from e
        if not isinstance(entry, KeyEventEntry | HotlinePolicyEntry | BackfillApprovedEntry):
            raise _corrupt(T_("entry {index} is saved as a key event but is a {kind}", index=index, kind=entry.kind))
        events.append((index, entry))
    checker = EntryChecker.resume(taxonomies, saved, events, log_keys=log_keys)
    if saved.latest_time is None and saved.next_index > 0:  # saved before entry times were checked
        checker.times = EntryTimes(_latest_time(store, saved.next_index))
    return Resumed(checker, saved.next_index, saved.checked, ())


def _latest_time(store: StateStore, stop: int) -> LatestTime | None:
    """The latest entry time before ``stop``, read from the entries held (once, for conclusions saved without it)."""
    latest: LatestTime | None = None
    for index, data in store.iter_entries(0, stop):
        try:
            at = entry_time(parse_log_entry(data))
        except ProtocolError:
            continue
        if at is not None and (latest is None or parse_timestamp(at) >= parse_timestamp(latest.at)):
            latest = LatestTime(index, at)
    return latest


def _corrupt(problem: str) -> StateError:
    return StateError(
        T_("the state DIR is corrupt: {problem}", problem=problem),
        hint=N_("Run verify with --recheck to check every entry again."),
    )
