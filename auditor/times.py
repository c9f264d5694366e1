# SPDX-License-Identifier: Apache-2.0
"""Entry times along the log never go back: an entry dated before an earlier entry was backdated.

Every log entry carries the moment the hub recorded it: ``received_at`` (a submission) or ``effective_at`` (a key
event; :data:`TIME_FIELDS`, the first one an entry has). The hub takes that moment while it holds the log's writer
lock, and never earlier than the entry before (:meth:`hub.services.log.TransparencyLog.entry_time`), so along the
log the times are non-decreasing. An entry dated before the latest time logged before it was backdated: a
submission claimed "on time", or a key event moved before the submissions it should have stopped, say. It is a
failure of check ``entry-time`` naming both entries (the entry itself is still checked on its other merits).

>>> times = EntryTimes()
>>> times.check(0, "2026-10-05T10:00:00Z") is None, times.check(1, "2026-10-05T10:00:00Z") is None
(True, True)
>>> times.check(2, "2026-10-01T09:00:00Z").message[:57]
'dated 2026-10-01T09:00:00Z, before entry 1 (2026-10-05T10'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from auditor.findings import Check, Failure
from auditor.i18n import T_
from protocol.errors import ProtocolError
from protocol.messages import LogEntry, parse_timestamp

__all__ = ["TIME_FIELDS", "EntryTimes", "LatestTime", "entry_time"]

#: The field that holds an entry's own time, by preference (a new entry kind carries one of them).
TIME_FIELDS: Final = ("received_at", "effective_at", "withdrawn_at")


@dataclass(frozen=True, slots=True)
class LatestTime:
    """The latest entry time seen so far, and the entry that carries it."""

    index: int
    at: str

    def text(self) -> str:
        """``<index> <timestamp>``, as the state DIR keeps it."""
        return f"{self.index} {self.at}"

    @classmethod
    def from_text(cls, text: str) -> LatestTime:
        index, _, at = text.partition(" ")
        parse_timestamp(at)
        return cls(int(index), at)


def entry_time(entry: LogEntry) -> str | None:
    """The entry's own time (``YYYY-MM-DDTHH:MM:SSZ``), or ``None`` for a kind that carries none."""
    for name in TIME_FIELDS:
        value = getattr(entry, name, None)
        if isinstance(value, str):
            return value
    return None


class EntryTimes:
    """Checks entry times in log order (``latest``: where an earlier run left off)."""

    def __init__(self, latest: LatestTime | None = None) -> None:
        self.latest = latest

    def check(self, index: int, at: str | None, *, hotline_id: str | None = None) -> Failure | None:
        """The failure of entry ``index`` dated ``at``, if it goes back; else ``None`` (it may be the new latest)."""
        if at is None:
            return None
        try:
            moment = parse_timestamp(at)
        except ProtocolError:
            return None  # an entry that parsed carries a valid timestamp; nothing to order otherwise
        latest = self.latest
        if latest is not None and moment < parse_timestamp(latest.at):
            return Failure(
                Check.TIME,
                T_(
                    "dated {at}, before entry {entry} ({entry_at}): entry times along the log never go back, so this "
                    "entry was backdated",
                    at=at,
                    entry=latest.index,
                    entry_at=latest.at,
                ),
                index=index,
                hotline_id=hotline_id,
            )
        self.latest = LatestTime(index, at)
        return None
