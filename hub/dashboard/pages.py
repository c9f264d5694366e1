# SPDX-License-Identifier: Apache-2.0
"""Rendering dashboard pages: Jinja2 templates (autoescaped) and the security headers every page carries.

>>> pages = Pages()                                                       # doctest: +SKIP
>>> response = pages.render(request, "trends.html", status=200, view=view)  # doctest: +SKIP

The Content-Security-Policy allows scripts, styles, images and connections from the hub itself only
(``script-src 'self'``: no inline script, no ``eval``), no framing and no form posts elsewhere. Chart data travels
in ``<script type="application/json">`` data islands, which the browser never executes; Jinja's ``tojson``
escapes ``<``, ``>``, ``&`` and quotes in them, so data cannot close the element.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from hub.dashboard import i18n
from hub.dashboard.labels import format_count, format_percent, number_symbols
from hub.dashboard.numbers import ranking_text
from hub.dashboard.views import status_text, utc_text

__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "Pages", "request_language", "secure"]

CONTENT_SECURITY_POLICY: Final = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
SECURITY_HEADERS: Final[Mapping[str, str]] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    # Same-origin, not no-referrer: under no-referrer browsers send `Origin: null` with the dashboard's own form
    # posts, which check_origin must then refuse. Nothing is sent to other origins either way.
    "Referrer-Policy": "same-origin",
}


def secure(response: Response) -> Response:
    """Add the dashboard's security headers to ``response`` (and return it)."""
    response.headers.update(SECURITY_HEADERS)
    return response


def _url(base: str, path: str, params: Iterable[tuple[str, str]] = ()) -> str:
    query = urlencode(list(params))
    return f"{base}{path}?{query}" if query else f"{base}{path}"


def request_language(request: Request) -> str:
    """The language ``request`` asks for: ``?lang=``, the language cookie, ``Accept-Language``, English."""
    return i18n.choose_language(
        query=request.query_params.get("lang"),
        cookie=request.cookies.get(i18n.COOKIE),
        accept_language=request.headers.get("accept-language"),
    )


def _switch_links(request: Request, base: str) -> list[tuple[str, str, str]]:
    """The language switcher: ``(code, name, url)``, each the page being shown with ``lang`` replaced."""
    kept = [(name, value) for name, value in request.query_params.multi_items() if name != "lang"]
    return [
        (code, name, _url(base, request.url.path.removeprefix(base) or "/", [*kept, ("lang", code)]))
        for code, name in i18n.LANGUAGES.items()
    ]


class Pages:
    """The dashboard's template environment."""

    def __init__(self) -> None:
        self._environment = Environment(
            loader=PackageLoader("hub.dashboard", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.i18n"],
        )
        self._environment.policies["ext.i18n.trimmed"] = True
        self._environment.install_gettext_callables(  # type: ignore[attr-defined]
            i18n.gettext, i18n.ngettext, newstyle=False
        )
        self._environment.globals.update(
            count=format_count,
            percent=format_percent,
            number_symbols=number_symbols,
            ranking_text=ranking_text,
            status_text=status_text,
            utc_text=utc_text,
        )

    def render(self, request: Request, template: str, *, status: int = 200, **context: Any) -> Response:
        base = str(request.scope.get("root_path", "")).rstrip("/")

        def url(path: str, params: Iterable[tuple[str, str]] = ()) -> str:
            return _url(base, path, params)

        language = request_language(request)
        with i18n.using(language):
            html = self._environment.get_template(template).render(
                base=base,
                url=url,
                path=request.url.path,
                lang=language,
                languages=_switch_links(request, base),
                **context,
            )
        response = HTMLResponse(html, status_code=status)
        if request.query_params.get("lang") in i18n.LANGUAGES:
            # Like the session cookie: HttpOnly, SameSite=Strict, Secure over HTTPS. It holds a language code only.
            response.set_cookie(
                i18n.COOKIE,
                language,
                max_age=365 * 24 * 3600,
                path="/",
                secure=request.url.scheme == "https",
                httponly=True,
                samesite="strict",
            )
        return secure(response)
