"""GraphiQL page references only vendored assets, which exist and match their SRI hashes."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
import pytest
import strawberry
from fastapi import FastAPI

from gateway.graphiql import (
    ASSETS_DIR,
    GRAPHIQL_ASSETS_PATH,
    OfflineGraphQLRouter,
    graphiql_html,
    mount_graphiql,
    referenced_assets,
)

HTML_ACCEPT = {"Accept": "text/html"}


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


def _local_path(url: str) -> str:
    assert url.startswith(f"{GRAPHIQL_ASSETS_PATH}/"), url
    return url.removeprefix(f"{GRAPHIQL_ASSETS_PATH}/")


def test_html_has_no_external_asset_urls() -> None:
    html = graphiql_html()
    assert "unpkg" not in html
    # Independent of referenced_assets(): no src=/href= attribute points off-site.
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.IGNORECASE)
    urls = [url for url, _ in referenced_assets(html)]
    assert len(urls) == 7  # react, react-dom, js-cookie, graphiql js+css, explorer js+css
    assert all(url.startswith(f"{GRAPHIQL_ASSETS_PATH}/") for url in urls)


def test_html_keeps_same_path_subscription_url() -> None:
    html = graphiql_html()
    assert 'const fetchURL = window.location.href.split("?")[0];' in html
    assert "subscriptionUrl = httpUrlToWebSockeUrl(fetchURL)" in html


def test_every_referenced_asset_is_vendored() -> None:
    for url, _ in referenced_assets(graphiql_html()):
        assert (ASSETS_DIR / _local_path(url)).is_file(), url


@pytest.mark.parametrize("url_and_integrity", referenced_assets(graphiql_html()), ids=str)
def test_sri_hash_matches_vendored_file(url_and_integrity: tuple[str, str | None]) -> None:
    url, integrity = url_and_integrity
    assert integrity is not None and integrity.startswith("sha384-"), url
    digest = hashlib.sha384((ASSETS_DIR / _local_path(url)).read_bytes()).digest()
    assert f"sha384-{base64.b64encode(digest).decode()}" == integrity


def test_every_vendored_package_has_a_license() -> None:
    packages = {
        "/".join(_local_path(url).split("/")[: 2 if url.count("@") > 1 else 1])
        for url, _ in referenced_assets(graphiql_html())
    }
    assert packages == {
        "react@18.2.0",
        "react-dom@18.2.0",
        "js-cookie@3.0.5",
        "graphiql@3.8.3",
        "@graphiql/plugin-explorer@1.0.2",
    }
    for package in packages:
        assert (ASSETS_DIR / package / "LICENSE").is_file(), package


async def test_gateway_serves_page_and_assets() -> None:
    app = FastAPI()
    app.include_router(OfflineGraphQLRouter(strawberry.Schema(Query)), prefix="/graphql")
    mount_graphiql(app)
    async with _client(app) as client:
        page = await client.get("/graphql", headers=HTML_ACCEPT)
        assert page.status_code == 200
        assert page.text == graphiql_html()
        for url, _ in referenced_assets(page.text):
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert asset.content == (ASSETS_DIR / _local_path(url)).read_bytes()
            assert "immutable" in asset.headers["cache-control"]
            expected_type = "text/css" if url.endswith(".css") else "javascript"
            assert expected_type in asset.headers["content-type"], url
        missing = await client.get(f"{GRAPHIQL_ASSETS_PATH}/graphiql@3.8.3/nope.js")
        assert missing.status_code == 404
        result = await client.post("/graphql", json={"query": "{ hello }"})
        assert result.json() == {"data": {"hello": "world"}}


async def test_router_without_ide_and_with_unvendored_ide() -> None:
    app = FastAPI()
    app.include_router(
        OfflineGraphQLRouter(strawberry.Schema(Query), graphql_ide=None), prefix="/graphql"
    )
    async with _client(app) as client:
        page = await client.get("/graphql", headers=HTML_ACCEPT)
        assert "graphiql" not in page.text.lower()
    with pytest.raises(ValueError, match="only GraphiQL"):
        OfflineGraphQLRouter(strawberry.Schema(Query), graphql_ide="apollo-sandbox")
