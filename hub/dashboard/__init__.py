# SPDX-License-Identifier: Apache-2.0
"""The coordinators' dashboard, served by the hub at ``/``, and the SDMX-CSV export API.

>>> app = create_app(settings)   # doctest: +SKIP
>>> install_dashboard(app)       # doctest: +SKIP  (create_app does this)

Server-rendered HTML (Jinja2, autoescaped) with charts drawn in the browser by uPlot, which ships inside this
package (``static/vendor/uplot``): pages load nothing from any other site, so the dashboard works on restricted
networks and no third party learns who looks at what. Every chart has a table with the same numbers and their
intervals, for keyboards, screen readers and small screens.

Modules: :mod:`~hub.dashboard.signin` (sign-in and sign-out), :mod:`~hub.dashboard.auth` (the session cookie and who
is signed in), :mod:`~hub.dashboard.routes` (the views and their exports), :mod:`~hub.dashboard.api` (SDMX-CSV for
API clients), :mod:`~hub.dashboard.queries` (the views' forms: the questions they ask ``GET /v1/estimates``),
:mod:`~hub.dashboard.pivot` (the custom table's question, cells and totals), :mod:`~hub.dashboard.params` (reading
query parameters), :mod:`~hub.dashboard.views` (what each view shows), :mod:`~hub.dashboard.numbers` (one estimate
with its interval, flags and rank), :mod:`~hub.dashboard.labels` (country names, code labels and numbers),
:mod:`~hub.dashboard.pages` (templates and security headers), :mod:`~hub.dashboard.session` and
:mod:`~hub.dashboard.secret` (signed cookies and their key).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from hub.context import HubContext
from hub.dashboard import api, routes, signin
from hub.dashboard.auth import SESSION_COOKIE, SignInRequired, clear_cookie
from hub.dashboard.pages import Pages, secure
from hub.dashboard.secret import load_or_create_session_secret
from hub.dashboard.session import SessionCookies

__all__ = ["STATIC_DIR", "install_dashboard"]

#: The dashboard's stylesheet, scripts (charts, searchable filters), icon and the vendored chart library.
STATIC_DIR = Path(__file__).parent / "static"


def install_dashboard(app: FastAPI) -> None:
    """Add the dashboard (``/``, ``/login``, the views, ``/static``) and the SDMX-CSV API routes to the hub's app.

    Reads (or creates) the session secret in the hub's keys directory.
    """
    context: HubContext = app.state.hub
    app.state.dashboard_cookies = SessionCookies(load_or_create_session_secret(context.settings.keys_dir))
    app.state.dashboard_pages = Pages()
    app.include_router(api.router)
    app.include_router(signin.router)
    app.include_router(routes.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")
    app.add_exception_handler(SignInRequired, _sign_in)


async def _sign_in(request: Request, _error: Exception) -> Response:
    """Send someone without a valid session to the sign-in page, coming back to this view afterwards."""
    base = str(request.scope.get("root_path", "")).rstrip("/")
    path = request.url.path.removeprefix(base) if base else request.url.path
    target = path + (f"?{request.url.query}" if request.url.query else "")
    location = f"{base}/login" if request.method != "GET" else f"{base}/login?next={quote(target, safe='')}"
    response = secure(RedirectResponse(location, status_code=303))
    clear_cookie(request, response, SESSION_COOKIE)
    return response
