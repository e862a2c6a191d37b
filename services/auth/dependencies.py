"""FastAPI dependencies of the auth service: its runtime and the caller's client info (the
principal is ``services.common.principal.PrincipalDep``, as in every service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.auth.runtime import AuthRuntime
from services.auth.sessions import ClientInfo
from services.common.client_ip import client_ip as forwarded_client_ip


# The dependencies are ``async def`` although they never await: FastAPI runs a plain ``def``
# dependency in a worker thread, i.e. two thread hops per request for nothing.
async def get_runtime(request: Request) -> AuthRuntime:
    return request.app.state.auth  # type: ignore[no-any-return]


def client_ip(request: Request) -> str | None:
    return forwarded_client_ip(request, request.app.state.auth.settings.trusted_proxies)


async def get_client(request: Request) -> ClientInfo:
    return ClientInfo(ip=client_ip(request), user_agent=request.headers.get("user-agent"))


RuntimeDep = Annotated[AuthRuntime, Depends(get_runtime)]
ClientDep = Annotated[ClientInfo, Depends(get_client)]
