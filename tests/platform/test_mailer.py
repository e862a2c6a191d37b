"""The Mailer: outbox files, SMTP against a real sink (aiosmtpd), and the ``auth.send_email``
activity that sends each mail step once."""

from __future__ import annotations

import asyncio
import email
import email.policy
import ipaddress
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
import structlog
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.auth.accounts.activities import AccountActivities
from services.auth.runtime import runtime_for
from services.common import mailer as mailer_module
from services.common.mailer import (
    EmailMessage,
    OutboxMailer,
    SmtpMailer,
    mailer_from_settings,
)
from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import Settings
from services.devstack.ports import free_port
from tests.auth.mail_flows import SmtpSink, plain_text
from workflows.auth.contracts import MailTemplate, SendEmailInput

SENDER = "ADX CORE <no-reply@adx.test>"


# --- the mailers --------------------------------------------------------------------------------


def secret_mail(to: str) -> tuple[EmailMessage, str]:
    token = f"tok-{uuid.uuid4().hex}"
    link = f"https://app.example/verify-email?token={token}"
    return (
        EmailMessage(
            to=to,
            subject="Confirm your e-mail address",
            text=f"open {link}",
            html=f'<a href="{link}">confirm</a>',
            dedup_key="wf-1:run-1:mail",
        ),
        token,
    )


async def test_outbox_writes_one_eml_per_mail_and_logs_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mail, token = secret_mail("ada@example.com")
    mailer = OutboxMailer(tmp_path / "outbox", SENDER)

    with structlog.testing.capture_logs() as logs:
        # Loggers cache their processors on first use (services/common/logging.py): one that
        # an earlier test already used would bypass the capture, so the mailer gets a fresh one.
        monkeypatch.setattr(mailer_module, "_log", structlog.get_logger(mailer_module.__name__))
        await mailer.send(mail)
        await mailer.send(mail)

    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2 and not list((tmp_path / "outbox").glob("*.tmp"))
    assert files[0].stat().st_mode & 0o077 == 0, "outbox mails carry secrets: owner-only"
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert (parsed["To"], parsed["From"], parsed["Subject"]) == (
        "ada@example.com",
        SENDER,
        "Confirm your e-mail address",
    )
    assert token in plain_text(parsed)  # type: ignore[arg-type]
    assert parsed.get_body(preferencelist=("html",)) is not None
    # The same dedup key, the same Message-ID: a resent copy can be recognised.
    again = email.message_from_bytes(files[1].read_bytes(), policy=email.policy.default)
    assert parsed["Message-ID"] == again["Message-ID"]
    assert parsed["Message-ID"].endswith("@adx.test>")
    assert [entry["event"] for entry in logs] == ["mail_written_to_outbox"] * 2
    logged = repr(logs)
    assert token not in logged and "ada@example.com" not in logged and "open " not in logged
    assert logs[0]["to_domain"] == "example.com"


async def test_mails_without_a_dedup_key_get_distinct_ids(tmp_path: Path) -> None:
    mailer = OutboxMailer(tmp_path, SENDER)
    mail = EmailMessage(to="b@example.com", subject="s", text="t")
    await mailer.send(mail)
    await mailer.send(mail)
    ids = {
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Message-ID"]
        for p in tmp_path.glob("*.eml")
    }
    assert len(ids) == 2


NO_TLS_AUTH = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@NO_TLS_AUTH
async def test_smtp_mailer_delivers_to_a_real_server_with_login() -> None:
    mail, token = secret_mail("grace@example.com")
    with SmtpSink(username="mailer", password="s3cret-pw") as sink:
        mailer = SmtpMailer(
            host="127.0.0.1",
            port=sink.port,
            sender=SENDER,
            username="mailer",
            password="s3cret-pw",
        )
        await mailer.send(mail)
        [received] = await sink.wait_for("grace@example.com")

    assert received.login == "mailer"
    assert received.message["Subject"] == "Confirm your e-mail address"
    assert received.message["From"] == SENDER
    assert token in received.text
    assert "s3cret-pw" not in repr(mailer), "the SMTP password must not show in reprs"


@NO_TLS_AUTH
async def test_smtp_mailer_fails_loudly_on_wrong_login_and_unreachable_server() -> None:
    mail, _ = secret_mail("x@example.com")
    with SmtpSink(username="mailer", password="right") as sink:
        wrong = SmtpMailer(
            host="127.0.0.1", port=sink.port, sender=SENDER, username="mailer", password="wrong"
        )
        with pytest.raises(aiosmtplib.SMTPAuthenticationError):
            await wrong.send(mail)
        assert sink.to("x@example.com") == []
    nobody = SmtpMailer(host="127.0.0.1", port=free_port(), sender=SENDER, timeout=5)
    with pytest.raises(aiosmtplib.SMTPException):
        await nobody.send(mail)


def self_signed(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for 127.0.0.1 and the certificate a client must trust."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context, cert_path


async def test_starttls_encrypts_and_never_silently_downgrades(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mail, token = secret_mail("tls@example.com")
    context, cert = self_signed(tmp_path)
    # The client verifies the server certificate against the trust store; trust ours.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    with SmtpSink(tls=context) as sink:
        plain = SmtpMailer(host="127.0.0.1", port=sink.port, sender=SENDER)
        with pytest.raises(aiosmtplib.SMTPResponseException):
            await plain.send(mail)  # the server demands STARTTLS first
        secure = SmtpMailer(host="127.0.0.1", port=sink.port, sender=SENDER, starttls=True)
        await secure.send(mail)
        [received] = await sink.wait_for("tls@example.com")
    assert token in received.text

    with SmtpSink() as no_tls:
        wants_tls = SmtpMailer(host="127.0.0.1", port=no_tls.port, sender=SENDER, starttls=True)
        with pytest.raises(aiosmtplib.SMTPException):
            await wants_tls.send(mail)
        assert no_tls.to("tls@example.com") == [], "sent in clear text despite smtp_starttls"


def test_mailer_from_settings_picks_the_backend(settings: Settings) -> None:
    outbox = mailer_from_settings(settings)
    assert isinstance(outbox, OutboxMailer) and outbox.directory == settings.outbox_dir()

    smtp = mailer_from_settings(
        settings.model_copy(
            update={
                "mail_backend": "smtp",
                "smtp_host": "mail.example",
                "smtp_port": 2525,
                "smtp_username": "u",
                "smtp_password": Settings(smtp_password="p").smtp_password,  # type: ignore[arg-type]
                "smtp_starttls": True,
            }
        )
    )
    assert smtp == SmtpMailer(
        host="mail.example",
        port=2525,
        sender=settings.mail_from,
        username="u",
        password="p",
        starttls=True,
    )


# --- auth.send_email ----------------------------------------------------------------------------


class FlakyMailer:
    """Fails the first ``failures`` sends, then delivers to ``inner``."""

    def __init__(self, inner: SmtpMailer, failures: int) -> None:
        self.inner, self.failures = inner, failures

    async def send(self, message: EmailMessage) -> None:
        if self.failures:
            self.failures -= 1
            raise aiosmtplib.SMTPServerDisconnected("connection dropped")
        await self.inner.send(message)


@pytest.fixture
def as_the_platform() -> Iterator[None]:
    """The send_email tests call the activity directly, as the platform (who else may send
    what: tests/platform/test_activity_rules.py)."""
    with acting_as(SecurityContext.system("test")):
        yield


def send_input(to: str, key: str) -> SendEmailInput:
    return SendEmailInput(
        to=to, template=MailTemplate.verify_email, token="t" * 43, idempotency_key=key
    )


@pytest.mark.usefixtures("as_the_platform")
async def test_send_email_sends_each_step_once(auth_resources: Resources) -> None:
    to = f"once-{uuid.uuid4().hex[:8]}@example.com"
    key = f"wf-{uuid.uuid4().hex}:run:mail"
    with SmtpSink() as sink:
        smtp = SmtpMailer(host="127.0.0.1", port=sink.port, sender=SENDER)
        activities = AccountActivities(runtime_for(auth_resources), mailer=FlakyMailer(smtp, 1))
        env = ActivityEnvironment()

        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            await env.run(activities.send_email, send_input(to, key))  # attempt 1 fails
        first = await env.run(activities.send_email, send_input(to, key))  # the retry sends
        again = await env.run(activities.send_email, send_input(to, key))  # a late retry
        other = await env.run(activities.send_email, send_input(to, key + "-2"))
        await sink.wait_for(to, count=2)
        await asyncio.sleep(0.3)

        assert (first.sent, again.sent, other.sent) == (True, False, True)
        assert len(sink.to(to)) == 2, "a failed attempt must not block, a done one not repeat"
        assert "/verify-email?token=" + "t" * 43 in sink.to(to)[0].text


@pytest.mark.usefixtures("as_the_platform")
async def test_send_email_refuses_while_another_attempt_holds_the_claim(
    auth_resources: Resources,
) -> None:
    to = f"claim-{uuid.uuid4().hex[:8]}@example.com"
    key = f"wf-{uuid.uuid4().hex}:run:mail"
    gate = asyncio.Event()

    class SlowMailer:
        sent = 0

        async def send(self, message: EmailMessage) -> None:
            await gate.wait()
            SlowMailer.sent += 1

    activities = AccountActivities(runtime_for(auth_resources), mailer=SlowMailer())
    env = ActivityEnvironment()
    first = asyncio.create_task(env.run(activities.send_email, send_input(to, key)))
    await asyncio.sleep(0.2)
    with pytest.raises(ApplicationError) as in_flight:
        await env.run(activities.send_email, send_input(to, key))
    gate.set()
    assert (await first).sent and SlowMailer.sent == 1
    assert in_flight.value.type == "MailInFlight" and not in_flight.value.non_retryable


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"template": "no-such-template"}, id="unknown-template"),
        pytest.param({"to": "not an address"}, id="bad-address"),
        pytest.param({"token": None}, id="verification-without-token"),
    ],
)
@pytest.mark.usefixtures("as_the_platform")
async def test_send_email_rejects_bad_input_for_good(
    auth_resources: Resources, bad: dict[str, Any]
) -> None:
    activities = AccountActivities(runtime_for(auth_resources))
    request = replace(send_input("ok@example.com", f"k-{uuid.uuid4().hex}"), **bad)
    with pytest.raises(ApplicationError) as error:
        await ActivityEnvironment().run(activities.send_email, request)
    assert error.value.non_retryable and error.value.type == "InvalidInput"
