"""A 405 names every method its path takes (RFC 9110 15.5.6), also when several routes declare
the same path with different methods (Starlette alone names only the first route's)."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.errors import install_error_handlers
from tests.in_process import in_process_client


def two_routes_one_path() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/things/{thing_id}")
    async def read(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    @app.patch("/things/{thing_id}")
    async def change(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    @app.post("/other")
    async def other() -> dict[str, str]:
        return {}

    return app


async def test_405_allow_lists_the_methods_of_every_route_on_the_path() -> None:
    async with in_process_client(two_routes_one_path()) as client:
        response = await client.delete("/things/1")
        assert response.status_code == 405
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["allow"] == "GET, PATCH"
        assert (await client.patch("/things/1")).status_code == 200

        other = await client.get("/other")
        assert other.status_code == 405
        assert other.headers["allow"] == "POST"
