# SPDX-License-Identifier: Apache-2.0
"""The API reference at ``/docs``: Swagger UI served from the hub's own installed files, never from a CDN.

>>> install_docs(app)   # doctest: +SKIP  (create_app does this unless TIPSHARE_HUB_DOCS=false)

FastAPI's default ``/docs`` page loads Swagger UI from a CDN at a floating version with no integrity check: a
third party's script would run on the hub's origin (where the dashboard's session cookie lives), and the page is
blank offline. Here the page, its starter script and Swagger UI's own files (from the ``swagger-ui-bundle-v2``
distribution, pinned in ``pyproject.toml``) all come from the hub, under the dashboard's Content-Security-Policy
(:data:`hub.dashboard.pages.CONTENT_SECURITY_POLICY`: scripts, styles and images from the hub only, no inline
script).
"""

from __future__ import annotations

from html import escape
from typing import Final

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from hub.dashboard.pages import secure

__all__ = ["ASSETS_PATH", "DOCS_PATH", "install_docs"]

DOCS_PATH: Final = "/docs"
ASSETS_PATH: Final = "/docs/assets"
_STARTER: Final = """\
// Starts Swagger UI on the hub's OpenAPI document (its address is in the page, so no inline script is needed).
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapi,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
"""
_PAGE: Final = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - API reference</title>
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{docs}/start.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (the page), ``/docs/start.js`` and ``/docs/assets/*`` (Swagger UI's files)."""

    def base(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get(DOCS_PATH, include_in_schema=False)
    def docs_page(request: Request) -> Response:
        prefix = base(request)
        html = _PAGE.format(
            title=escape(app.title),
            assets=escape(prefix + ASSETS_PATH),
            docs=escape(prefix + DOCS_PATH),
            openapi=escape(prefix + (app.openapi_url or "/openapi.json")),
        )
        return secure(HTMLResponse(html))

    @app.get(f"{DOCS_PATH}/start.js", include_in_schema=False)
    def docs_starter() -> Response:
        return secure(Response(_STARTER, media_type="text/javascript"))

    app.mount(ASSETS_PATH, StaticFiles(directory=swagger_ui_path), name="docs-assets")
