"""Registration mails: the verification link, and the notice that someone tried to sign up
again with an address that already has an account."""

from __future__ import annotations

from urllib.parse import quote

from services.common.mailer import EmailMessage
from services.common.settings import Settings


def verification_mail(settings: Settings, to: str, token: str | None) -> EmailMessage:
    if not token:
        raise ValueError("a verification mail needs a token")
    link = f"{settings.public_url.rstrip('/')}/verify-email?token={quote(token)}"
    return EmailMessage(
        to=to,
        subject="Confirm your e-mail address",
        text=(
            "Welcome to ADX CORE.\n\n"
            f"Confirm your e-mail address by opening this link:\n\n{link}\n\n"
            "The link works once. If you did not sign up, ignore this mail: the unconfirmed "
            "account is removed automatically.\n"
        ),
    )


def registration_attempt_mail(settings: Settings, to: str, token: str | None) -> EmailMessage:
    del token  # nothing to confirm: the address already has an account
    reset = f"{settings.public_url.rstrip('/')}/reset-password"
    return EmailMessage(
        to=to,
        subject="Someone tried to sign up with your e-mail address",
        text=(
            "Someone just tried to create an ADX CORE account with this e-mail address, "
            "which already has one. Nothing was changed.\n\n"
            "If it was you, sign in instead; if you forgot your password, reset it here:\n\n"
            f"{reset}\n\n"
            "If it was not you, you can ignore this mail.\n"
        ),
    )
