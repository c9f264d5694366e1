# SPDX-License-Identifier: Apache-2.0
"""Dependencies of the routes: the hub context, database sessions, and who is calling.

* :data:`ReadSessionDep` — a consistent read snapshot, closed before the response is sent.
* :data:`WriteSessionDep` — the request's single writer transaction: committed **before** the response is sent
  (so an acknowledged submission is durable), rolled back on any error; at most one per worker at a time.
* :func:`require` — a bearer token with one of the given roles (the only place ``HTTPException``-like auth
  failures originate).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from hub.context import HubContext
from hub.db import read_session, write_session
from hub.errors import Forbidden, Unauthorized
from hub.services.tokens import Principal, Role, TokenService

__all__ = ["ContextDep", "ReadSessionDep", "WriteSessionDep", "get_context", "require"]


def get_context(request: Request) -> HubContext:
    context: HubContext = request.app.state.hub
    return context


ContextDep = Annotated[HubContext, Depends(get_context)]


def _read_session(context: ContextDep) -> Iterator[Session]:
    with read_session(context.sessions) as session:
        yield session


def _write_session(context: ContextDep) -> Iterator[Session]:
    with write_session(context.sessions) as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(_read_session, scope="function")]
WriteSessionDep = Annotated[Session, Depends(_write_session, scope="function", max_concurrency=1)]


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("this route needs an `Authorization: Bearer <token>` header")
    return token.strip()


def require(*roles: Role) -> Callable[..., Principal]:
    """A dependency that authenticates the bearer token and checks its role."""

    def dependency(request: Request, context: ContextDep) -> Principal:
        token = _bearer_token(request)
        with read_session(context.sessions) as session:
            principal = TokenService(session).authenticate(token, now=context.clock())
        if principal.role not in roles:
            raise Forbidden(f"a {principal.role} token cannot use this route (it needs: {', '.join(roles)})")
        request.state.principal = principal
        return principal

    return dependency
