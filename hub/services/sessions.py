# SPDX-License-Identifier: Apache-2.0
"""Ended dashboard sessions, in the database so that every worker refuses a signed-out cookie.

>>> sessions = EndedSessions(db_session)                                         # doctest: +SKIP
>>> sessions.end(nonce, token_id=7, expires_at=expiry, now=now)                  # doctest: +SKIP
>>> sessions.has_ended(nonce)                                                     # doctest: +SKIP
True

A session cookie is signed, not stored: without this table a copy of the cookie taken before sign-out would work
until it expired (8 hours). Sign-out records the session's nonce (hashed); :meth:`EndedSessions.has_ended` is
checked on every dashboard request. Rows whose cookie has expired anyway are pruned whenever a session ends.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from hub.models import EndedSession

__all__ = ["EndedSessions", "session_hash"]


def session_hash(nonce: str) -> str:
    """The key a session is recorded under: the SHA-256 of its nonce, in hex."""
    return hashlib.sha256(nonce.encode("utf-8")).hexdigest()


class EndedSessions:
    """Records and looks up signed-out dashboard sessions."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def end(self, nonce: str, *, token_id: int, expires_at: datetime, now: datetime) -> None:
        """Refuse the session with ``nonce`` from now on (idempotent); forget sessions that have expired."""
        self._session.execute(delete(EndedSession).where(EndedSession.expires_at <= now))
        key = session_hash(nonce)
        if self._session.get(EndedSession, key) is None:
            self._session.add(EndedSession(session_hash=key, token_id=token_id, ended_at=now, expires_at=expires_at))
        self._session.flush()

    def has_ended(self, nonce: str) -> bool:
        return self._session.get(EndedSession, session_hash(nonce)) is not None
