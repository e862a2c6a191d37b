"""Outgoing e-mail behind one ``Mailer`` interface: a file outbox by default, SMTP in production."""

from __future__ import annotations

import asyncio
import email.message
import email.policy
import email.utils
import hashlib
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import aiosmtplib

from services.common.logging import get_logger
from services.common.settings import Settings

_log = get_logger(__name__)

#: An SMTP exchange that takes longer than this is a failure the caller may retry.
SMTP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class EmailMessage:
    """One mail to one recipient. ``dedup_key`` (e.g. the workflow step that sends it) fixes the
    Message-ID, so a resend after a crash carries the same id and mail clients can fold it."""

    to: str
    subject: str
    text: str
    html: str | None = None
    dedup_key: str | None = None


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


def _domain(address: str) -> str:
    return email.utils.parseaddr(address)[1].rpartition("@")[2] or "localhost"


def to_mime(message: EmailMessage, sender: str) -> email.message.EmailMessage:
    # Lines up to RFC 5322's 998 characters: a long link stays one intact 7bit line instead of
    # being quoted-printable-wrapped (readable in the outbox, copyable by hand).
    mime = email.message.EmailMessage(policy=email.policy.default.clone(max_line_length=998))
    mime["From"] = sender
    mime["To"] = message.to
    mime["Subject"] = message.subject
    mime["Date"] = email.utils.formatdate(localtime=False)
    unique = (
        hashlib.sha256(message.dedup_key.encode()).hexdigest()[:32]
        if message.dedup_key
        else uuid.uuid4().hex
    )
    mime["Message-ID"] = f"<{unique}@{_domain(sender)}>"
    mime.set_content(message.text)
    if message.html is not None:
        mime.add_alternative(message.html, subtype="html")
    return mime


def _log_sent(event: str, message: EmailMessage, **extra: object) -> None:
    # Never the body (it carries links with secrets) nor the full address (personal data).
    _log.info(event, to_domain=_domain(message.to), subject=message.subject, **extra)


class OutboxMailer:
    """Development and tests: each mail becomes an ``.eml`` file in ``directory``."""

    def __init__(self, directory: Path, sender: str) -> None:
        self.directory = directory
        self.sender = sender

    def _write(self, data: bytes) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.directory / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
        # Written under a temporary name and renamed, so a reader never sees half a mail.
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
        return path

    async def send(self, message: EmailMessage) -> None:
        data = bytes(to_mime(message, self.sender))
        path = await asyncio.to_thread(self._write, data)
        _log_sent("mail_written_to_outbox", message, file=path.name)


@dataclass(frozen=True)
class SmtpMailer:
    """Production: hand each mail to an SMTP server (optionally STARTTLS and login)."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout: float = SMTP_TIMEOUT_SECONDS

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            to_mime(message, self.sender),
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            # Explicit either way: no silent opportunistic upgrade, no silent downgrade.
            start_tls=self.starttls,
            timeout=self.timeout,
        )
        _log_sent("mail_sent_via_smtp", message)


def mailer_from_settings(settings: Settings) -> Mailer:
    if settings.mail_backend == "smtp":
        return SmtpMailer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.mail_from,
            username=settings.smtp_username,
            password=(
                settings.smtp_password.get_secret_value() if settings.smtp_password else None
            ),
            starttls=settings.smtp_starttls,
        )
    return OutboxMailer(settings.outbox_dir(), settings.mail_from)
