"""The pages the mailed links open: ``/verify-email`` and ``/reset-password`` (``ADX_PUBLIC_URL``
points the mails at them; a real frontend replaces them by serving those paths itself).

Small static pages with their own script and stylesheet, served from the gateway (no CDN, work
offline) and finishing the action through the public GraphQL API (``verifyEmail``,
``confirmPasswordReset``, ``requestPasswordReset``) like any client would.

The link token is a credential, so:

- the server never handles it: the page's script reads it from the address bar (fragment, or
  the query the mails use) and at once replaces the address and its history entry with the bare
  path (``history.replaceState``); the query of a page request is dropped before routing, and
  the page paths are not traced (``services.common.tracing.UNTRACED_URLS``);
- ``Referrer-Policy: no-referrer`` (header, meta and on the fetch), so the token never travels
  in a ``Referer``; ``Cache-Control: no-store``;
- a strict CSP: nothing but this origin's own script, style and GraphQL endpoint, no inline
  script or style, no framing, no form submission (the scripts submit through ``fetch``),
  Trusted Types enforced (the scripts only ever set ``textContent``).
"""

from __future__ import annotations

import functools
from pathlib import Path

from fastapi import FastAPI
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["PAGES", "PAGES_ASSETS_PATH", "SECURITY_HEADERS", "mount_pages"]

PAGES_DIR = Path(__file__).resolve().parent / "static" / "pages"
PAGES_ASSETS_PATH = "/pages-assets"
#: URL path -> HTML file in PAGES_DIR.
PAGES = {"/verify-email": "verify-email.html", "/reset-password": "reset-password.html"}

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self'",
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@functools.cache
def _html(name: str) -> str:
    return (PAGES_DIR / name).read_text(encoding="utf-8")


class _Assets(StaticFiles):
    """The pages' script and stylesheet with the same headers (and never cached)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


class _DropPageQuery:
    """The query of a page request (the link token) is not kept for routing, handlers, logs or
    metrics: the page never needs it server-side, its script reads it in the browser."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") in PAGES and scope.get("query_string"):
            scope = {**scope, "query_string": b""}
        await self.app(scope, receive, send)


def _page(name: str):  # type: ignore[no-untyped-def]
    async def page() -> HTMLResponse:
        return HTMLResponse(_html(name), headers=SECURITY_HEADERS)

    return page


def mount_pages(app: FastAPI) -> None:
    """Serve the link pages and their assets on ``app``."""
    for path, name in PAGES.items():
        _html(name)  # fail at startup, not on the first click, if a page is missing
        app.add_api_route(
            path,
            _page(name),
            methods=["GET"],
            response_class=HTMLResponse,
            include_in_schema=False,
            name=name.removesuffix(".html"),
        )
    # Public by design, like /graphql: whoever opens a mailed link has no access token; the
    # link token is the credential, and only the GraphQL mutation the page calls spends it.
    pages = {id(route) for route in app.routes if getattr(route, "path", None) in PAGES}
    app.state.public_routes = frozenset(getattr(app.state, "public_routes", set()) | pages)
    app.mount(PAGES_ASSETS_PATH, _Assets(directory=PAGES_DIR), name="pages-assets")
    app.add_middleware(_DropPageQuery)
