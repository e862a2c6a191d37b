"""GraphiQL served with its vendored JS/CSS from the gateway itself (no CDN, works offline)."""

from __future__ import annotations

import functools
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope
from strawberry.fastapi import GraphQLRouter
from strawberry.http.ides import get_graphql_ide_html

__all__ = [
    "ASSETS_DIR",
    "GRAPHIQL_ASSETS_PATH",
    "OfflineGraphQLRouter",
    "graphiql_html",
    "mount_graphiql",
    "referenced_assets",
]

GRAPHIQL_ASSETS_PATH = "/graphiql-assets"
"""URL prefix under which the vendored assets are served (see :func:`mount_graphiql`)."""

ASSETS_DIR = Path(__file__).resolve().parent / "static" / "graphiql"
"""Vendored files, laid out like unpkg: ``<pkg>@<version>/<path>``."""

_CDN_URL = re.compile(r"https://unpkg\.com/(?P<path>[^\"'\s<>]+)")
_CACHE_CONTROL = "public, max-age=31536000, immutable"  # asset paths carry their version


class _AssetCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.assets: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        url = attributes.get("src") or (attributes.get("href") if tag == "link" else None)
        if url and not url.startswith("data:"):
            self.assets.append((url, attributes.get("integrity")))


def referenced_assets(html: str) -> list[tuple[str, str | None]]:
    """``(url, integrity)`` of every ``src=`` and ``<link href=>`` in ``html`` (data: excluded)."""
    collector = _AssetCollector()
    collector.feed(html)
    collector.close()
    return collector.assets


def _local_url(match: re.Match[str]) -> str:
    path = match.group("path")
    file = (ASSETS_DIR / path).resolve()
    if not file.is_relative_to(ASSETS_DIR) or not file.is_file():
        raise RuntimeError(
            f"GraphiQL asset https://unpkg.com/{path} is not vendored in {ASSETS_DIR}; "
            "strawberry's template changed: vendor it (see README.md there)"
        )
    return f"{GRAPHIQL_ASSETS_PATH}/{path}"


@functools.cache
def graphiql_html() -> str:
    """Strawberry's GraphiQL page with every unpkg URL pointing at the vendored assets."""
    html = _CDN_URL.sub(_local_url, get_graphql_ide_html(graphql_ide="graphiql"))
    external = [
        url for url, _ in referenced_assets(html) if not url.startswith(f"{GRAPHIQL_ASSETS_PATH}/")
    ]
    if external or "unpkg" in html:
        raise RuntimeError(f"GraphiQL page still references a CDN: {external or 'unpkg'}")
    return html


class _ImmutableStaticFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = _CACHE_CONTROL
        return response


def mount_graphiql(app: FastAPI) -> None:
    """Serve the vendored GraphiQL assets at :data:`GRAPHIQL_ASSETS_PATH`."""
    graphiql_html()  # fail at startup, not on the first page view, if an asset is missing
    app.mount(
        GRAPHIQL_ASSETS_PATH,
        _ImmutableStaticFiles(directory=ASSETS_DIR),
        name="graphiql-assets",
    )


class OfflineGraphQLRouter(GraphQLRouter[Any, Any]):
    """``GraphQLRouter`` whose GraphiQL page loads its assets from :func:`mount_graphiql`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.graphql_ide not in (None, "graphiql"):
            raise ValueError(f"only GraphiQL is vendored, not {self.graphql_ide!r}")
        if self.graphql_ide:
            graphiql_html()

    @property
    def graphql_ide_html(self) -> str:
        return graphiql_html()

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(self.graphql_ide_html)
