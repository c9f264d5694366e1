# SPDX-License-Identifier: Apache-2.0
"""The hub's web application: ``create_app(settings)`` builds it; nothing happens at import time.

>>> from hub.app import create_app            # doctest: +SKIP
>>> app = create_app(Settings(data_dir=...))  # an initialised hub (``tipshare-hub init``)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from hub.context import HubContext
from hub.dashboard import install_dashboard
from hub.problems import install_problem_handlers
from hub.routes import admin, audit, identity, operations, stats, submissions
from hub.settings import Settings

__all__ = ["create_app"]

DESCRIPTION = """
The tipshare hub merges hotlines' differentially private monthly releases into regional statistics.

* **Hotlines** submit sealed, signed releases to `POST /v1/submissions` and get a receipt from the transparency log.
* **Coordinators** read statistics (`/v1/stats/{table}`) and reporting completeness, every estimate with its
  95% interval.
* **Auditors** read the signed checkpoint, log entries, proofs and stored submissions, and verify everything offline.
* **Operators** enroll hotlines, manage keys and tokens under `/v1/admin`.

Errors are RFC 9457 problem details (`application/problem+json`).
"""


def create_app(settings: Settings | None = None, *, context: HubContext | None = None) -> FastAPI:
    """Build the app for an initialised hub (its database and keys must exist)."""
    context = context or HubContext.open(settings or Settings())
    app = FastAPI(
        title="tipshare hub",
        version="1",
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.hub = context
    install_problem_handlers(app)
    for router in (identity.router, submissions.router, stats.router, admin.router, audit.router, operations.router):
        app.include_router(router)
    install_dashboard(app)

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        context.metrics.request_observed(
            method=request.method, route=path, status=response.status_code, seconds=time.perf_counter() - started
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app
