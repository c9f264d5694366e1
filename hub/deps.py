# SPDX-License-Identifier: Apache-2.0
"""Dependencies of the routes: the hub context, database sessions, and who is calling.

* :data:`ReadSessionDep` — a consistent read snapshot, closed before the response is sent.
* :data:`WriteSessionDep` — the request's single writer transaction: committed **before** the response is sent
  (so an acknowledged submission is durable), rolled back on any error; at most one per worker at a time.
* :func:`authenticate` — the bearer-token check of the web layer (:func:`require`, the body gate of
  :mod:`hub.auth_gate`, the access log of :mod:`hub.access_edge`), in a read transaction of its own.
* :func:`require` — a bearer token with one of the given roles (the only place ``HTTPException``-like auth
  failures originate). The OpenAPI document shows it as the ``HubToken`` bearer scheme, each route's security
  requirement listing the roles it accepts (OpenAPI 3.1 allows role names there for non-OAuth schemes).
"""

# No ``from __future__ import annotations`` here: FastAPI reads the annotation of the closure in :func:`require`,
# which names that call's roles, so it must be evaluated where they are in scope.

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from hub.context import HubContext
from hub.db import read_session, write_session
from hub.errors import Forbidden, Unauthorized
from hub.services.log import TransparencyLog
from hub.services.registry import Registry
from hub.services.tokens import Principal, Role, TokenService

__all__ = [
    "ContextDep",
    "LogDep",
    "ReadRegistryDep",
    "ReadSessionDep",
    "RegistryDep",
    "WriteSessionDep",
    "authenticate",
    "get_context",
    "require",
]


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


def _log(context: ContextDep, session: ReadSessionDep) -> TransparencyLog:
    return TransparencyLog(session, signer=context.log_signer)


#: The transparency log, read in the request's snapshot.
LogDep = Annotated[TransparencyLog, Depends(_log)]


def _registry(context: ContextDep, session: WriteSessionDep) -> Registry:
    return Registry.open(context, session)


def _read_registry(context: ContextDep, session: ReadSessionDep) -> Registry:
    return Registry.open(context, session)


#: Hotlines and keys in the request's writer transaction (enrolments, rotations, revocations).
RegistryDep = Annotated[Registry, Depends(_registry)]
#: Hotlines and keys, read in the request's snapshot.
ReadRegistryDep = Annotated[Registry, Depends(_read_registry)]


def authenticate(context: HubContext, token: str) -> Principal:
    """The principal of a bearer token at the hub's clock, or :class:`Unauthorized`
    (:meth:`~hub.services.tokens.TokenService.authenticate`, which never says which check failed)."""
    with read_session(context.sessions) as session:
        return TokenService(session).authenticate(token, now=context.clock())


#: ``Authorization: Bearer <token>``, parsed by FastAPI (scheme case-insensitive, token stripped); ``None`` when
#: the header is missing, empty or of another scheme, so that :func:`require` answers with a problem detail.
_BEARER = HTTPBearer(
    scheme_name="HubToken",
    bearerFormat="tsh_<base64url>",
    description="A token issued by the hub's operator (`tipshare-hub token create` or `POST /v1/admin/tokens`). "
    "Each route's security requirement lists the roles whose tokens it accepts.",
    auto_error=False,
)


def require(*roles: Role) -> Callable[..., Principal]:
    """A dependency that authenticates the bearer token and checks its role."""

    def dependency(
        request: Request,
        context: ContextDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER, scopes=list(roles))],
    ) -> Principal:
        if credentials is None:
            raise Unauthorized("this route needs an `Authorization: Bearer <token>` header")
        principal = authenticate(context, credentials.credentials)
        request.state.principal = principal  # before the role check: a refused probe is recorded (access log)
        if principal.role not in roles:
            raise Forbidden(f"a {principal.role} token cannot use this route (it needs: {', '.join(roles)})")
        return principal

    return dependency
