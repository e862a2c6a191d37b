"""Helpers for the e-mail flows (registration, password reset): a real SMTP sink, outbox
readers, and auth + user workers / auth API clients on a private task-queue prefix with their
own settings (e.g. SMTP instead of the outbox)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import ssl
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from email.message import EmailMessage as MimeMessage
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from temporalio.client import WorkflowHandle

from services.auth.service import SPEC as AUTH
from services.auth.service import create_auth_app
from services.common.resources import Resources
from services.common.settings import Settings
from services.common.temporal import build_worker
from services.devstack.ports import free_port
from services.user.service import SPEC as USER
from tests.history_files import HISTORIES, tamper
from tests.in_process import in_process_client


@dataclass
class ReceivedMail:
    envelope_to: list[str]
    message: MimeMessage
    login: str | None

    @property
    def to(self) -> str:
        return str(self.message["To"])

    @property
    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        assert body is not None
        return str(body.get_content())  # type: ignore[attr-defined]


@dataclass
class _Collector:
    mails: list[ReceivedMail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        data = session.auth_data
        login = data.login.decode() if isinstance(data, LoginPassword) else None
        with self.lock:
            self.mails.append(ReceivedMail(list(envelope.rcpt_tos), message, login))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


class SmtpSink:
    """A real SMTP server (aiosmtpd, its own thread) on a free port that keeps every mail."""

    def __init__(
        self,
        username: str | None = None,
        password: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.collector = _Collector()
        self.username, self.password = username, password
        self.port = free_port()
        self.controller = Controller(
            self.collector,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate if username else None,
            auth_required=bool(username),
            auth_require_tls=False,
            tls_context=tls,
            require_starttls=tls is not None,
        )

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any):  # type: ignore[no-untyped-def]
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.username
            and data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.controller.stop()

    def to(self, address: str) -> list[ReceivedMail]:
        with self.collector.lock:
            return [m for m in self.collector.mails if address in m.envelope_to]

    async def wait_for(
        self, address: str, count: int = 1, timeout: float = 30
    ) -> list[ReceivedMail]:
        deadline = time.monotonic() + timeout
        while len(mails := self.to(address)) < count:
            assert time.monotonic() < deadline, f"no mail for {address} within {timeout}s"
            await asyncio.sleep(0.05)
        return mails


def outbox_mails(settings: Settings, address: str) -> list[MimeMessage]:
    """Every mail the outbox mailer wrote for ``address``, oldest first."""
    directory = settings.outbox_dir()
    found = []
    for path in sorted(directory.glob("*.eml")) if directory.exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] == address:
            found.append(message)
    return found  # type: ignore[return-value]


async def wait_for_outbox(
    settings: Settings, address: str, count: int = 1, timeout: float = 30
) -> list[MimeMessage]:
    deadline = time.monotonic() + timeout
    while len(mails := outbox_mails(settings, address)) < count:
        assert time.monotonic() < deadline, f"no outbox mail for {address} within {timeout}s"
        await asyncio.sleep(0.05)
    return mails


def plain_text(message: MimeMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


def link_token(text: str, path: str) -> str:
    """The token of the ``<public_url><path>?token=...`` link in a mail body."""
    match = re.search(re.escape(path) + r"\?token=([A-Za-z0-9_\-%]+)", text)
    assert match, f"no {path} link in the mail:\n{text}"
    return match.group(1)


async def record_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    """With ``ADX_RECORD_HISTORIES=1``: commit this run as ``<name>.json`` for the replay tests,
    plus the tampered ``<name>.broken.json`` that must fail to replay."""
    if os.environ.get("ADX_RECORD_HISTORIES") != "1":
        return
    history = (await handle.fetch_history()).to_json()
    (HISTORIES / f"{name}.json").write_text(history)
    (HISTORIES / f"{name}.broken.json").write_text(tamper(history))


# runtime_for() caches one runtime per Resources object by id(); keeping every copy alive
# keeps a later copy from reusing an id (and getting a runtime with other settings).
_KEEP_ALIVE: list[Resources] = []


def with_settings(resources: Resources, **overrides: Any) -> Resources:
    copy = replace(resources, settings=resources.settings.model_copy(update=overrides))
    _KEEP_ALIVE.append(copy)
    return copy


@asynccontextmanager
async def private_workers(
    auth_resources: Resources, user_resources: Resources, **overrides: Any
) -> AsyncIterator[Resources]:
    """Auth and user workers on a fresh task-queue prefix whose settings carry ``overrides``;
    yields the auth resources for apps that start workflows on that prefix."""
    prefix = f"p{uuid.uuid4().hex[:8]}"
    auth = with_settings(auth_resources, task_queue_prefix=prefix, **overrides)
    user = with_settings(user_resources, task_queue_prefix=prefix, **overrides)
    workers = [
        build_worker(
            resources.temporal,
            resources.settings,
            task_queue=resources.settings.task_queue(spec.name),
            workflows=spec.workflows,
            activities=spec.activities(resources),
        )
        for spec, resources in ((AUTH, auth), (USER, user))
    ]
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        yield auth
    finally:
        await asyncio.gather(*(worker.shutdown() for worker in workers))
        await asyncio.gather(*tasks, return_exceptions=True)


@asynccontextmanager
async def auth_api(resources: Resources, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The auth API in-process over ``resources`` (plus setting overrides), from a random IP."""
    app = create_auth_app(with_settings(resources, **overrides) if overrides else resources)
    async with in_process_client(app, base_url="http://auth") as client:
        yield client
