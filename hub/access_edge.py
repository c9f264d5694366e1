# SPDX-License-Identifier: Apache-2.0
"""The access log at the hub's edge: what the ``observe`` middleware of :mod:`hub.app` calls.

* :func:`refuse_long_query`: a query string longer than :data:`~hub.services.access_log.MAX_QUERY_CHARS` is
  refused (414 ``query_too_long``) before any route runs, and the refusal is recorded when the caller's token or
  dashboard session is valid (the route never ran, so the caller is identified here).
* :func:`record_access`: write a request's record (with its parsed question and request id) before its answer goes
  out; withhold the answer (503) if it cannot be written.
"""

from __future__ import annotations

import logging

from fastapi import Request, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from hub.context import HubContext
from hub.dashboard.auth import SESSION_COOKIE, cookie_name, cookies_of, principal_for_session
from hub.db import read_session, write_session
from hub.deps import authenticate
from hub.errors import HubError
from hub.problems import problem_response
from hub.services.access_log import MAX_QUERY_CHARS, AccessLogService
from hub.services.access_question import parse_question
from hub.services.tokens import Principal
from protocol.access_chain import access_log_signer

__all__ = ["record_access", "refuse_long_query"]

_log = logging.getLogger("tipshare.hub")


async def refuse_long_query(context: HubContext, request: Request) -> Response | None:
    """A 414 problem for a query over the cap (recorded if the caller is authenticated); ``None`` otherwise."""
    length = len(request.url.query)
    if length <= MAX_QUERY_CHARS:
        return None
    response = problem_response(
        414,
        "query_too_long",
        "Query too long",
        f"the query string is {length} characters; the hub accepts at most {MAX_QUERY_CHARS}: ask a narrower "
        "question, or several",
    )
    principal = await run_in_threadpool(_identify, context, request)
    if principal is None:
        return response
    return await record_access(context, request, principal, response)


def _identify(context: HubContext, request: Request) -> Principal | None:
    """The principal of the request's bearer token or dashboard session, ``None`` if neither is valid."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    cookie = request.cookies.get(cookie_name(request, SESSION_COOKIE))
    if scheme.lower() == "bearer" and token.strip():
        try:
            return authenticate(context, token.strip())
        except HubError:
            return None
    if cookie:
        with read_session(context.sessions) as session:
            found = principal_for_session(session, cookies_of(request), cookie, now=context.clock())
        return found[0] if found is not None else None
    return None


async def record_access(context: HubContext, request: Request, principal: Principal, response: Response) -> Response:
    """Write the access record before the answer goes out; withhold the answer if it cannot be written."""
    request_id = getattr(request.state, "request_id", None)
    question = parse_question(request.url.path, request.url.query, countries=principal.countries)
    every = context.settings.access_sign_every

    def write() -> None:
        with write_session(context.sessions) as session:
            AccessLogService(session).record(
                principal,
                method=request.method,
                # As sent (percent-encoded, like the query): a decoded path may hold NUL, which PostgreSQL refuses.
                path=(request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1"),
                query=request.url.query,
                status=response.status_code,
                now=context.clock(),
                question=question,
                request_id=request_id if isinstance(request_id, str) else None,
                signer=access_log_signer(context.origin, context.keys.log) if every else None,
                checkpoint_every=every,
            )

    try:
        await run_in_threadpool(write)
    except SQLAlchemyError as e:
        _log.error("access log not written, answer withheld (%s %s): %s", request.method, request.url.path, e)
        return problem_response(
            503,
            "access_log_unavailable",
            "Access log unavailable",
            "this answer is withheld because the hub could not record the request in its access log; try again later",
        )
    return response
