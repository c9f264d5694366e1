# SPDX-License-Identifier: Apache-2.0
"""The hotlines' key history, rebuilt from the key events in the log alone.

Every enrolment, rotation and revocation is a log entry (:class:`~protocol.messages.KeyEventEntry`), so the
auditor needs nothing from the hub's database to know which key was valid when:

* ``key_enrolled``: the key is valid from ``effective_at`` (a new hotline, or one whose keys were all revoked);
* ``key_rotated``: the new key is valid from ``effective_at``; the previous key, which must be the hotline's
  current one, stops being valid at ``effective_at``;
* ``key_revoked``: the key is invalid from ``effective_at``.

Events are applied in log order, so a submission is judged against the history the log held *before* it, which
is what the hub consulted when it accepted it. :meth:`KeyHistory.apply` names every event the hub would never
write (a reused key, a key id that is not its key's, a rotation of a key that is not current, a revocation of
an unknown key) and every end of validity that is backdated before a submission already logged with that key.

>>> from datetime import UTC, datetime
>>> from protocol.crypto import SigningKey
>>> from protocol.messages import KeyEventEntry
>>> key = SigningKey(bytes(32)).verify_key
>>> history = KeyHistory()
>>> history.apply(0, KeyEventEntry(type="log_entry", version="tipshare/1", kind="key_enrolled",
...     hotline_id="la-strada-ua", key_id=key.key_id, public_key=key.to_text(), display_name="La Strada",
...     country="UA", effective_at="2026-01-05T10:00:00Z"))
[]
>>> history.key_for("la-strada-ua", key.key_id, at=datetime(2026, 2, 1, tzinfo=UTC)) == key
True
>>> history.key_for("la-strada-ua", key.key_id, at=datetime(2026, 1, 1, tzinfo=UTC))
'key ... of la-strada-ua only became valid at 2026-01-05T10:00:00Z, after the entry was received (2026-01-01T00:00:00Z)'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from auditor.findings import Check, Failure
from auditor.i18n import T_
from protocol.crypto import VerifyKey
from protocol.errors import MalformedMessage
from protocol.messages import KeyEventEntry, format_timestamp, parse_timestamp
from protocol.period import Period

__all__ = ["HotlineWindows", "KeyHistory", "KeyRecord"]


@dataclass(slots=True)
class KeyRecord:
    """One hotline key and its validity, as the log tells it so far."""

    hotline_id: str
    key: VerifyKey
    introduced_index: int
    valid_from: datetime
    #: When a rotation replaced it (exclusive), and that rotation's entry.
    valid_until: datetime | None = None
    #: When it was revoked (invalid from then on), and why.
    revoked_at: datetime | None = None
    reason: str | None = None
    #: The last submission accepted with this key: ``(entry index, received at)``.
    last_used: tuple[int, datetime] | None = None

    @property
    def key_id(self) -> str:
        return self.key.key_id

    @property
    def current(self) -> bool:
        """Neither rotated out nor revoked (the hub's "current key")."""
        return self.valid_until is None and self.revoked_at is None

    @property
    def window(self) -> tuple[datetime, datetime | None]:
        """``[valid_from, end)``, ``end`` the earlier of rotation and revocation (``None``: still valid)."""
        ends = [moment for moment in (self.valid_until, self.revoked_at) if moment is not None]
        return self.valid_from, min(ends, default=None)


@dataclass(slots=True)
class _Hotline:
    id: str
    display_name: str
    country: str
    key_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class HotlineWindows:
    """A hotline, its country, the ``[from, until)`` windows in which it held a valid key, and the
    ``reporting_from`` its latest logged policy declares (``None``: none declared)."""

    id: str
    country: str
    windows: tuple[tuple[datetime, datetime | None], ...]
    reporting_from: str | None = None
    #: Its name as enrolled (the completeness grid's ``hotline_name``).
    display_name: str = ""

    def expected_in(self, period: str) -> bool:
        """True if it is expected to report ``period``, reports aside: every month from ``reporting_from`` on
        when declared (whatever its keys), else a month one of its keys was valid in (the hub's rule)."""
        if self.reporting_from is not None:
            return period >= self.reporting_from  # YYYY-MM: text order is month order
        return self.enrolled_during(period)

    def enrolled_during(self, period: str) -> bool:
        """True if one of its keys was valid at some instant of the month ``period`` (``YYYY-MM``)."""
        month = Period.parse(period)
        start, end = month.start, month.end
        return any(begin < end and (until is None or until > start) for begin, until in self.windows)


class KeyHistory:
    """Hotlines and their keys, built by applying key events in log order."""

    def __init__(self) -> None:
        self._keys: dict[str, KeyRecord] = {}
        self._hotlines: dict[str, _Hotline] = {}
        self._events: list[tuple[int, KeyEventEntry]] = []
        self.enrolments = 0
        self.rotations = 0
        self.revocations = 0

    @classmethod
    def replay(cls, events: Iterable[tuple[int, KeyEventEntry]]) -> KeyHistory:
        """The history after ``events`` (problems are not reported again)."""
        history = cls()
        for index, event in events:
            history.apply(index, event)
        return history

    @property
    def events(self) -> tuple[tuple[int, KeyEventEntry], ...]:
        """Every event applied, with its log index."""
        return tuple(self._events)

    def apply(self, index: int, event: KeyEventEntry) -> list[Failure]:
        """Apply one key event (entry ``index``); return what is wrong with it (it is applied where it can be)."""
        self._events.append((index, event))
        problems: list[str] = []
        try:
            key = VerifyKey.from_text(event.public_key)
        except MalformedMessage as e:
            return [
                self._failure(
                    index, event, T_("{kind} event names no valid public key: {error}", kind=event.kind, error=str(e))
                )
            ]
        if key.key_id != event.key_id:
            return [
                self._failure(
                    index,
                    event,
                    T_("{kind} event: key id {key} is not its key's id", kind=event.kind, key=event.key_id),
                )
            ]
        at = parse_timestamp(event.effective_at)
        if event.kind == "key_revoked":
            self.revocations += 1
            problems += self._revoke(index, event, key, at)
        else:
            if event.kind == "key_rotated":
                self.rotations += 1
                problems += self._retire(index, event, at)
            else:
                self.enrolments += 1
            problems += self._introduce(index, event, key, at)
        return [self._failure(index, event, problem) for problem in problems]

    def key_for(self, hotline_id: str, key_id: str, *, at: datetime) -> VerifyKey | str:
        """The key a submission names if it was valid for its hotline ``at`` its receipt; else why not."""
        if hotline_id not in self._hotlines:
            return T_(
                "hotline {hotline} was never enrolled: no key event for it precedes the entry", hotline=hotline_id
            )
        record = self._keys.get(key_id)
        if record is None or record.hotline_id != hotline_id:
            return T_(
                "key {key} is not enrolled for hotline {hotline} in the log before the entry",
                key=key_id,
                hotline=hotline_id,
            )
        received = format_timestamp(at)
        if record.valid_from > at:
            return T_(
                "key {key} of {hotline} only became valid at {valid_from}, after the entry was received ({received})",
                key=key_id,
                hotline=hotline_id,
                valid_from=format_timestamp(record.valid_from),
                received=received,
            )
        if record.revoked_at is not None and record.revoked_at <= at:
            return T_(
                "key {key} of {hotline} was revoked at {revoked_at} ({reason}), not after the entry was received "
                "({received})",
                key=key_id,
                hotline=hotline_id,
                revoked_at=format_timestamp(record.revoked_at),
                reason=record.reason,
                received=received,
            )
        if record.valid_until is not None and record.valid_until <= at:
            return T_(
                "key {key} of {hotline} was replaced by a rotation at {valid_until}, not after the entry was received "
                "({received})",
                key=key_id,
                hotline=hotline_id,
                valid_until=format_timestamp(record.valid_until),
                received=received,
            )
        return record.key

    def record_use(self, key_id: str, *, index: int, at: datetime) -> None:
        """Note that entry ``index``, received ``at``, was accepted with ``key_id`` (to catch backdated ends)."""
        record = self._keys[key_id]
        if record.last_used is None or record.last_used[1] < at:
            record.last_used = (index, at)

    def country_of(self, hotline_id: str) -> str | None:
        hotline = self._hotlines.get(hotline_id)
        return None if hotline is None else hotline.country

    def hotlines(self) -> list[HotlineWindows]:
        """Every hotline the log enrolled, with its key windows, by country and id."""
        return [
            HotlineWindows(
                id=h.id,
                country=h.country,
                display_name=h.display_name,
                windows=tuple(sorted((self._keys[k].window for k in h.key_ids), key=lambda w: w[0])),
            )
            for h in sorted(self._hotlines.values(), key=lambda h: (h.country, h.id))
        ]

    def keys_of(self, hotline_id: str) -> list[KeyRecord]:
        hotline = self._hotlines.get(hotline_id)
        return [] if hotline is None else [self._keys[k] for k in hotline.key_ids]

    # ------------------------------------------------------------------ applying events

    def _introduce(self, index: int, event: KeyEventEntry, key: VerifyKey, at: datetime) -> list[str]:
        problems: list[str] = []
        if key.key_id in self._keys:
            owner = self._keys[key.key_id].hotline_id
            return [
                T_(
                    "key {key} was already enrolled (for {owner}); every hotline key must be new",
                    key=key.key_id,
                    owner=owner,
                )
            ]
        hotline = self._hotlines.get(event.hotline_id)
        if hotline is None:
            hotline = self._hotlines[event.hotline_id] = _Hotline(event.hotline_id, event.display_name, event.country)
            if event.kind == "key_rotated":
                problems.append(
                    T_("rotates a key of hotline {hotline}, which the log never enrolled", hotline=event.hotline_id)
                )
        elif hotline.country != event.country:
            problems.append(
                T_(
                    "moves hotline {hotline} from country {country} to {new}",
                    hotline=hotline.id,
                    country=hotline.country,
                    new=event.country,
                )
            )
        if event.kind == "key_enrolled":
            current = [k for k in hotline.key_ids if self._keys[k].current]
            if current:
                problems.append(
                    T_(
                        "enrols a second current key for {hotline} while key {key} is valid (a new key for an "
                        "enrolled hotline is a rotation naming the key it replaces)",
                        hotline=hotline.id,
                        key=current[0],
                    )
                )
        self._keys[key.key_id] = KeyRecord(hotline_id=hotline.id, key=key, introduced_index=index, valid_from=at)
        hotline.key_ids.append(key.key_id)
        return problems

    def _retire(self, index: int, event: KeyEventEntry, at: datetime) -> list[str]:
        previous = self._keys.get(event.previous_key_id or "")
        if previous is None or previous.hotline_id != event.hotline_id:
            return [
                T_(
                    "replaces key {key}, which is not a key of {hotline}",
                    key=event.previous_key_id,
                    hotline=event.hotline_id,
                )
            ]
        if not previous.current:
            return [
                T_(
                    "replaces key {key} of {hotline}, which was no longer its current key",
                    key=previous.key_id,
                    hotline=event.hotline_id,
                )
            ]
        previous.valid_until = at
        return self._backdated(index, previous, at)

    def _revoke(self, index: int, event: KeyEventEntry, key: VerifyKey, at: datetime) -> list[str]:
        record = self._keys.get(event.key_id)
        if record is None:
            return [T_("revokes key {key}, which the log never enrolled", key=event.key_id)]
        if record.hotline_id != event.hotline_id or record.key != key:
            return [
                T_(
                    "revokes key {key} as a key of {hotline}, but it belongs to {owner}",
                    key=event.key_id,
                    hotline=event.hotline_id,
                    owner=record.hotline_id,
                )
            ]
        if record.revoked_at is not None:
            return [
                T_(
                    "revokes key {key} again (it was revoked at {revoked_at})",
                    key=event.key_id,
                    revoked_at=format_timestamp(record.revoked_at),
                )
            ]
        record.revoked_at = at
        record.reason = event.reason
        return self._backdated(index, record, at)

    def _backdated(self, index: int, record: KeyRecord, at: datetime) -> list[str]:
        if record.last_used is None or record.last_used[1] <= at:
            return []
        used_index, used_at = record.last_used
        return [
            T_(
                "ends key {key} at {at}, before entry {entry} signed with it was received ({received}) and logged: "
                "the end of validity is backdated",
                key=record.key_id,
                at=format_timestamp(at),
                entry=used_index,
                received=format_timestamp(used_at),
            )
        ]

    @staticmethod
    def _failure(index: int, event: KeyEventEntry, problem: str) -> Failure:
        return Failure(Check.KEY_HISTORY, problem, index=index, hotline_id=event.hotline_id)
