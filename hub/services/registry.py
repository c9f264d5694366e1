# SPDX-License-Identifier: Apache-2.0
"""Enrolled hotlines and their keys. Every change is also a transparency-log entry, so auditors can rebuild
the whole key history from the log alone.

Key validity: a key is valid from ``valid_from`` until it is rotated out (``valid_until``, exclusive) or revoked
(``revoked_at``). A submission is checked against the key valid at the moment the hub receives it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import BadRequest, Conflict, InvalidKey, KeyNotValid, NotFound, UnknownHotline, UnknownKey
from hub.models import Hotline, HotlineKey
from hub.services.log import Appended, TransparencyLog
from hub.services.policies import PolicyEvent, PolicyService, PolicyTerms, default_reporting_from
from protocol.crypto import AgreementPublicKey, VerifyKey
from protocol.errors import InvalidPublicKey, MalformedMessage
from protocol.messages import PROTOCOL_VERSION, KeyEventEntry, format_timestamp

if TYPE_CHECKING:
    from hub.context import HubContext

__all__ = ["HotlineSummary", "KeyEvent", "Registry"]


@dataclass(frozen=True, slots=True)
class KeyEvent:
    """An enrolment, rotation or revocation, and the log entry that records it."""

    hotline_id: str
    key_id: str
    appended: Appended
    #: At an enrolment that logged a policy: that policy entry (logged right after the key's).
    policy: PolicyEvent | None = None


@dataclass(frozen=True, slots=True)
class HotlineSummary:
    id: str
    display_name: str
    country: str
    enrolled_at: datetime
    keys: tuple[HotlineKey, ...]

    @property
    def current_key(self) -> HotlineKey | None:
        for key in self.keys:
            if key.valid_until is None and key.revoked_at is None:
                return key
        return None


def _parse_key(text: str) -> VerifyKey:
    try:
        return VerifyKey.from_text(text.strip())
    except InvalidPublicKey as e:
        raise InvalidKey(f"refused: {e}; ask the hotline for the line `tipshare-node init` printed") from e
    except MalformedMessage as e:
        raise BadRequest(
            f"not a hotline public key ({e}); it looks like ed25519:<base64>, as printed by `tipshare-node init`"
        ) from e


def _parse_sealing_key(text: str | None) -> str | None:
    """The canonical text of a share-sealing key (checked as an X25519 point), or ``None``."""
    if text is None or not text.strip():
        return None
    try:
        return AgreementPublicKey.from_text(text.strip()).to_text()
    except MalformedMessage as e:
        raise InvalidKey(
            f"refused: not a share-sealing key ({e}); it looks like x25519:<base64>, as `tipshare-node init` printed"
        ) from e


@dataclass(frozen=True, slots=True)
class _StoredKey:
    """A key as the database holds it, not parsed again: a key enrolled before keys were checked as points can
    still be revoked."""

    key_id: str
    text: str

    def to_text(self) -> str:
        return self.text


class Registry:
    """Hotlines and keys, bound to a session and the log; built by :meth:`open` (routes: ``hub.deps.RegistryDep``)."""

    def __init__(self, session: Session, log: TransparencyLog) -> None:
        self._session = session
        self._log = log

    @classmethod
    def open(cls, context: HubContext, session: Session, *, log: TransparencyLog | None = None) -> Registry:
        """The registry in ``session``, logging with the hub's log key (into ``log``, if the caller holds one)."""
        return cls(session, log if log is not None else TransparencyLog(session, signer=context.log_signer))

    def enroll(
        self,
        *,
        hotline_id: str,
        display_name: str,
        country: str,
        public_key: str,
        now: datetime,
        policy: PolicyTerms | None = None,
        deadline_days: int | None = None,
        sealing_key: str | None = None,
    ) -> KeyEvent:
        """Enroll a hotline and its first key; with ``policy``, log its policy (those terms over the defaults).
        Without, no policy entry is logged and the protocol's default policy applies until one is.

        With ``policy`` and the hub's ``deadline_days``, the policy declares the first month the hotline is expected
        to report: the terms' ``reporting_from``, else :func:`~hub.services.policies.default_reporting_from`.

        ``sealing_key`` (``x25519:<base64>``), the hotline's share-sealing key for secure aggregation, is logged
        with the key event and stored beside the key."""
        now = self._log.entry_time(now)  # never before the entry logged last
        if self._session.get(Hotline, hotline_id) is not None:
            raise Conflict(f"hotline {hotline_id} is already enrolled; use rotate-key to give it a new key")
        key = _parse_key(public_key)
        self._refuse_reused(key)
        sealing = _parse_sealing_key(sealing_key)
        hotline = Hotline(id=hotline_id, display_name=display_name, country=country, enrolled_at=now)
        event = self._event("key_enrolled", hotline, key, now=now, sealing_key=sealing)
        self._session.add(hotline)
        appended = self._log.append(event.canonical_bytes(), kind=event.kind, now=now)
        self._session.add(
            HotlineKey(
                key_id=key.key_id,
                hotline_id=hotline_id,
                public_key=key.to_text(),
                valid_from=now,
                log_index=appended.index,
                sealing_key=sealing,
            )
        )
        self._session.flush()
        if policy is not None:
            if policy.reporting_from is None and deadline_days is not None:
                first = default_reporting_from(now, deadline_days, first_period=policy.first_period)
                policy = replace(policy, reporting_from=first)
            logged = PolicyService(self._session, self._log).log_policy(hotline_id, policy, now=now)
            return KeyEvent(hotline_id=hotline_id, key_id=key.key_id, appended=appended, policy=logged)
        return KeyEvent(hotline_id=hotline_id, key_id=key.key_id, appended=appended)

    def rotate(self, *, hotline_id: str, public_key: str, now: datetime, sealing_key: str | None = None) -> KeyEvent:
        """A new key (and, with ``sealing_key``, a new share-sealing key; without, the hotline has none from now)."""
        now = self._log.entry_time(now)  # never before the entry logged last
        hotline = self._hotline(hotline_id)
        current = self._current_key(hotline_id)
        key = _parse_key(public_key)
        self._refuse_reused(key)
        sealing = _parse_sealing_key(sealing_key)
        if current is None:  # every key was revoked: the new key is an enrolment again
            event = self._event("key_enrolled", hotline, key, now=now, sealing_key=sealing)
        else:
            event = self._event(
                "key_rotated", hotline, key, now=now, previous_key_id=current.key_id, sealing_key=sealing
            )
        appended = self._log.append(event.canonical_bytes(), kind=event.kind, now=now)
        if current is not None:
            current.valid_until = now
        self._session.add(
            HotlineKey(
                key_id=key.key_id,
                hotline_id=hotline_id,
                public_key=key.to_text(),
                valid_from=now,
                log_index=appended.index,
                sealing_key=sealing,
            )
        )
        self._session.flush()
        return KeyEvent(hotline_id=hotline_id, key_id=key.key_id, appended=appended)

    def revoke(self, *, key_id: str, reason: str, now: datetime, compromised_since: datetime | None = None) -> KeyEvent:
        """Revoke a key now; ``compromised_since`` is logged with it (the withdrawals it requires come first, see
        :meth:`hub.services.withdrawals.Withdrawals.revoke_compromised`)."""
        now = self._log.entry_time(now)  # never before the entry logged last
        key = self._session.get(HotlineKey, key_id)
        if key is None:
            raise NotFound(f"no enrolled key has id {key_id}")
        if key.revoked_at is not None:
            raise Conflict(f"key {key_id} was already revoked at {format_timestamp(key.revoked_at)}")
        if not reason.strip():
            raise BadRequest("a revocation needs a reason auditors can read")
        hotline = self._hotline(key.hotline_id)
        event = self._event(
            "key_revoked", hotline, _StoredKey(key.key_id, key.public_key), now=now, reason=reason.strip()
        )
        if compromised_since is not None:
            event = event.model_copy(update={"compromised_since": format_timestamp(compromised_since)})
        appended = self._log.append(event.canonical_bytes(), kind=event.kind, now=now)
        key.revoked_at = now
        key.revoke_reason = reason.strip()
        self._session.flush()
        return KeyEvent(hotline_id=key.hotline_id, key_id=key.key_id, appended=appended)

    def hotlines(self) -> list[HotlineSummary]:
        hotlines = self._session.scalars(select(Hotline).order_by(Hotline.country, Hotline.id)).all()
        keys = self._session.scalars(select(HotlineKey).order_by(HotlineKey.valid_from)).all()
        by_hotline: dict[str, list[HotlineKey]] = {}
        for key in keys:
            by_hotline.setdefault(key.hotline_id, []).append(key)
        return [
            HotlineSummary(h.id, h.display_name, h.country, h.enrolled_at, tuple(by_hotline.get(h.id, ())))
            for h in hotlines
        ]

    def key_for_submission(self, hotline_id: str, key_id: str, *, now: datetime) -> VerifyKey:
        """The key a submission claims, if it belongs to that hotline and is valid at ``now``."""
        if self._session.get(Hotline, hotline_id) is None:
            raise UnknownHotline(f"hotline {hotline_id} is not enrolled at this hub")
        key = self._session.get(HotlineKey, key_id)
        if key is None or key.hotline_id != hotline_id:
            raise UnknownKey(f"key {key_id} is not enrolled for hotline {hotline_id}")
        if key.revoked_at is not None and key.revoked_at <= now:
            raise KeyNotValid(
                f"key {key_id} of hotline {hotline_id} was revoked; ask the hub operator to enroll a new key"
            )
        if key.valid_until is not None and key.valid_until <= now:
            raise KeyNotValid(
                f"key {key_id} of hotline {hotline_id} was replaced by a newer key; sign with the new key"
            )
        if key.valid_from > now:
            raise KeyNotValid(f"key {key_id} of hotline {hotline_id} is not valid yet")
        return VerifyKey.from_text(key.public_key)

    def hotline(self, hotline_id: str) -> Hotline:
        return self._hotline(hotline_id)

    def summary(self, hotline_id: str) -> HotlineSummary:
        """One enrolled hotline and its key history, as :meth:`hotlines` lists it (:class:`NotFound` if none)."""
        hotline = self._hotline(hotline_id)
        keys = self._session.scalars(
            select(HotlineKey).where(HotlineKey.hotline_id == hotline_id).order_by(HotlineKey.valid_from)
        ).all()
        return HotlineSummary(hotline.id, hotline.display_name, hotline.country, hotline.enrolled_at, tuple(keys))

    def sealing_key(self, hotline_id: str) -> str | None:
        """The hotline's current share-sealing key (that of its current key's event), or ``None``."""
        current = self._current_key(hotline_id)
        return None if current is None else current.sealing_key

    # ----------------------------------------------------------------------------------------- helpers

    def _hotline(self, hotline_id: str) -> Hotline:
        hotline = self._session.get(Hotline, hotline_id)
        if hotline is None:
            raise NotFound(f"hotline {hotline_id} is not enrolled")
        return hotline

    def _current_key(self, hotline_id: str) -> HotlineKey | None:
        return self._session.scalars(
            select(HotlineKey).where(
                HotlineKey.hotline_id == hotline_id,
                HotlineKey.valid_until.is_(None),
                HotlineKey.revoked_at.is_(None),
            )
        ).first()

    def _refuse_reused(self, key: VerifyKey) -> None:
        if self._session.get(HotlineKey, key.key_id) is not None:
            raise Conflict(f"key {key.key_id} is already enrolled; every hotline key must be new")

    def _event(
        self,
        kind: str,
        hotline: Hotline,
        key: VerifyKey | _StoredKey,
        *,
        now: datetime,
        previous_key_id: str | None = None,
        reason: str | None = None,
        sealing_key: str | None = None,
    ) -> KeyEventEntry:
        try:
            return KeyEventEntry(
                type="log_entry",
                version=PROTOCOL_VERSION,
                kind=kind,  # type: ignore[arg-type]
                hotline_id=hotline.id,
                key_id=key.key_id,
                public_key=key.to_text(),
                display_name=hotline.display_name,
                country=hotline.country,
                previous_key_id=previous_key_id,
                reason=reason,
                effective_at=format_timestamp(now),
                sealing_key=sealing_key,
            )
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in e.errors(include_url=False))
            raise BadRequest(f"the key event cannot be recorded: {problems}") from None
