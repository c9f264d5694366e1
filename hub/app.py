# SPDX-License-Identifier: Apache-2.0
"""The hub's web application: ``create_app(settings)`` builds it; nothing happens at import time.

>>> from hub.app import create_app            # doctest: +SKIP
>>> app = create_app(Settings(data_dir=...))  # an initialised hub (``tipshare-hub init``)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Final

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from hub.access_edge import record_access, refuse_long_query
from hub.auth_gate import TokenGateMiddleware
from hub.context import HubContext
from hub.dashboard import install_dashboard
from hub.dashboard.auth import SESSION_COOKIE
from hub.docs import install_docs
from hub.errors import RateLimited
from hub.limits import BodyLimitMiddleware
from hub.problems import error_response, install_problem_handlers
from hub.rate_buckets import DatabaseRateLimiter
from hub.ratelimit import Limiter, Rate, RateLimiter, policies, request_class, source_key
from hub.request_id import RequestIdMiddleware
from hub.routes import (
    access,
    admin,
    audit,
    checkpoint,
    estimates,
    handovers,
    hotline_policies,
    identity,
    operations,
    rounds,
    sdmx,
    stats,
    submissions,
    withdrawals,
)
from hub.server_logs import AccessLogMiddleware
from hub.services.access_log import should_record
from hub.services.tokens import Principal
from hub.settings import Settings

__all__ = ["create_app"]

DESCRIPTION = """
The tipshare hub merges hotlines' differentially private monthly releases into regional statistics.

* **Hotlines** submit sealed, signed releases to `POST /v1/submissions` and get a receipt from the transparency log.
* **Coordinators** ask questions (`/v1/estimates/{unit}`: answered from every released table that can answer
  them, combined by least squares) and read reporting completeness, every estimate with its 95% interval;
  auditors and experts also read each table on its own (`/v1/stats/{table}`).
* **Auditors** read the signed checkpoint, log entries, proofs and stored submissions, and verify everything offline;
  they also read the access log of every coordinator request (`/v1/audit/access-log`).
* **Operators** enroll hotlines, manage keys and tokens under `/v1/admin`.

Errors are RFC 9457 problem details (`application/problem+json`). Requests are rate-limited per source address,
per token and per hotline: a `429` carries `Retry-After` (seconds).
"""

_log = logging.getLogger("tipshare.hub")
#: HSTS for responses sent over HTTPS (behind a TLS proxy that sets X-Forwarded-Proto): two years, subdomains too.
STRICT_TRANSPORT_SECURITY: Final = "max-age=63072000; includeSubDomains"


def create_app(settings: Settings | None = None, *, context: HubContext | None = None) -> FastAPI:
    """Build the app for an initialised hub (its database and keys must exist)."""
    context = context or HubContext.open(settings or Settings())
    app = FastAPI(
        title="tipshare hub",
        version="1",
        description=DESCRIPTION,
        docs_url=None,  # hub.docs serves /docs from the hub's own files (TIPSHARE_HUB_DOCS)
        redoc_url=None,
        openapi_url="/openapi.json",
        responses={414: {"description": "The query string is longer than the hub accepts (2,000 characters)"}},
    )
    app.state.hub = context
    install_problem_handlers(app)
    routers = (
        identity,
        checkpoint,
        handovers,
        submissions,
        stats,
        estimates,
        admin,
        hotline_policies,
        withdrawals,
        audit,
        access,
        operations,
        sdmx,
        rounds,
    )
    for module in routers:
        app.include_router(module.router)
    install_dashboard(app)
    settings = context.settings
    if settings.docs:
        install_docs(app)
    # Inside ``observe`` (rate limits, metrics, headers): a token check before any body is read, then body caps.
    app.add_middleware(TokenGateMiddleware, context=context, openapi=app.openapi)
    app.add_middleware(
        BodyLimitMiddleware, submission_bytes=settings.max_body_bytes, other_bytes=settings.max_request_bytes
    )
    rates, hotline_rate = policies(
        submissions=settings.rate_submissions,
        queries=settings.rate_queries,
        audit=settings.rate_audit,
        admin=settings.rate_admin,
        per_hotline=settings.rate_hotline,
    )
    app.state.rate_limiter = (
        RateLimiter() if settings.rate_limit_store == "memory" else DatabaseRateLimiter(context.engine)
    )
    app.state.hotline_rate = hotline_rate if settings.rate_limits else None

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await _rate_limited(request) if settings.rate_limits else None
        if response is None:
            response = await refuse_long_query(context, request)
        if response is None:
            response = await call_next(request)
            principal = getattr(request.state, "principal", None)
            if isinstance(principal, Principal) and should_record(principal, request.url.path, response.status_code):
                response = await record_access(context, request, principal, response)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        context.metrics.request_observed(
            method=request.method, route=path, status=response.status_code, seconds=time.perf_counter() - started
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
        if request.url.scheme == "https":
            response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
        return response

    async def _rate_limited(request: Request) -> Response | None:
        kind = request_class(request.method, request.url.path)
        if kind is None:
            return None
        limiter: Limiter = request.app.state.rate_limiter
        policy = rates[kind]
        source = source_key(request.client.host if request.client else None)
        buckets: list[tuple[Hashable, Rate]] = [((kind, "source", source), policy.per_source)]
        if (credential := _credential(request)) is not None:
            buckets.append(((kind, "credential", credential), policy.per_credential))
        wait = await run_in_threadpool(limiter.take_many, buckets)  # the database's buckets: off the event loop
        if wait is None:
            return None
        context.metrics.request_limited(kind)
        return error_response(
            RateLimited(
                f"too many {kind} requests from this address or credential; try again in {wait} s", retry_after=wait
            )
        )

    app.add_middleware(AccessLogMiddleware)  # inside the request id: each access line carries it
    app.add_middleware(RequestIdMiddleware)  # added last, so it is outermost: every answer carries its id
    return app


def _credential(request: Request) -> str | None:
    """A digest of the request's bearer token or dashboard session cookie (never the secret itself)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    secret = token.strip() if scheme.lower() == "bearer" else ""
    if not secret:
        secret = request.cookies.get(SESSION_COOKIE) or request.cookies.get(f"__Host-{SESSION_COOKIE}") or ""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest() if secret else None
