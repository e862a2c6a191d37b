"""The password-reset mail: a single-use link that expires within minutes."""

from __future__ import annotations

from urllib.parse import quote

from services.common.mailer import EmailMessage
from services.common.settings import Settings


def reset_mail(settings: Settings, to: str, token: str | None) -> EmailMessage:
    if not token:
        raise ValueError("a reset mail needs a token")
    link = f"{settings.public_url.rstrip('/')}/reset-password?token={quote(token)}"
    return EmailMessage(
        to=to,
        subject="Reset your password",
        text=(
            "Someone (hopefully you) asked to reset the password of your ADX CORE account.\n\n"
            f"Choose a new password here:\n\n{link}\n\n"
            "The link works once and expires soon. Resetting signs you out everywhere. "
            "If you did not ask for this, ignore this mail: your password stays as it is.\n"
        ),
    )
