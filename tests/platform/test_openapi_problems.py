"""services/common/openapi.py: every error of an OpenAPI document is problem+json with the
ProblemDetails schema and the headers the error handlers send, and what the app really answers
matches it (tests/platform/test_schemathesis.py checks the real services end to end)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from services.common.errors import NotFoundError, install_error_handlers
from services.common.openapi import PROBLEM_JSON, PROBLEM_REF, document_problems, problems


class Body(BaseModel):
    name: str


def app() -> FastAPI:
    application = FastAPI()
    install_error_handlers(application)

    @application.post("/things", responses=problems({409: "Exists"}, 401))
    async def create(body: Body) -> dict[str, str]:
        return {"name": body.name}

    @application.get("/things/{thing_id}", responses={404: {"description": "No such thing"}})
    async def read(thing_id: int) -> dict[str, int]:
        raise NotFoundError("no such thing")

    @application.get("/ready", responses={503: {"description": "Down", "model": Body}})
    async def ready() -> dict[str, str]:
        return {}

    document_problems(application)
    return application


def responses(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return document["paths"][path][method]["responses"]  # type: ignore[no-any-return]


def test_every_error_is_problem_json_with_its_headers() -> None:
    document = app().openapi()

    create = responses(document, "post", "/things")
    assert {"200", "400", "401", "409", "413", "422", "503"} <= create.keys()
    for status in ("400", "401", "409", "413", "422", "503"):
        assert create[status]["content"] == {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}
    assert create["409"]["description"] == "Exists"
    assert create["401"]["headers"]["WWW-Authenticate"]["required"] is True
    assert create["503"]["headers"]["Retry-After"]["required"] is False
    read = responses(document, "get", "/things/{thing_id}")
    assert read["404"]["description"] == "No such thing"
    assert read["404"]["content"][PROBLEM_JSON]["schema"]["$ref"] == PROBLEM_REF
    assert read["422"]["content"][PROBLEM_JSON]["schema"]["$ref"] == PROBLEM_REF
    assert "requestBody" not in document["paths"]["/things/{thing_id}"]["get"]
    assert "400" not in read and "413" not in read  # no body, no body errors
    # A response with a body of its own keeps it.
    ready = responses(document, "get", "/ready")
    assert PROBLEM_JSON not in ready["503"]["content"]
    schemas = document["components"]["schemas"]
    assert {"ProblemDetails", "ValidationIssue"} <= schemas.keys()
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas


async def test_the_answers_match_the_document() -> None:
    transport = httpx.ASGITransport(app=app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        invalid = await client.post("/things", json={"name": 1})
        missing = await client.get("/things/7")
        wrong_method = await client.delete("/things")

    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == PROBLEM_JSON
    assert invalid.json()["errors"][0]["loc"] == ["body", "name"]
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM_JSON
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"  # RFC 9110: a 405 names what is allowed
