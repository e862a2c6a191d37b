"""The invitation mail, and the mailer the routes send it with (a dependency tests replace)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from services.common.mailer import EmailMessage, Mailer, mailer_from_settings
from services.common.resources import Resources


def invitation_mail(
    public_url: str, to: str, tenant_name: str, role: str, token: str, days: int
) -> EmailMessage:
    link = f"{public_url.rstrip('/')}/invitations/accept?token={quote(token)}"
    decline = f"{public_url.rstrip('/')}/invitations/decline?token={quote(token)}"
    return EmailMessage(
        to=to,
        subject=f"You are invited to join {tenant_name} on ADX CORE",
        text=(
            f"You have been invited to join {tenant_name} on ADX CORE as {role}.\n\n"
            f"Accept the invitation (sign in or create an account first):\n\n{link}\n\n"
            f"The link works once and expires in {days} days. Not interested? Decline:\n\n"
            f"{decline}\n\nIf you did not expect this mail, you can ignore it.\n"
        ),
    )


def get_mailer(request: Request) -> Mailer:
    """The process's mailer (one per app: the outbox or SMTP, from the settings)."""
    resources: Resources = request.app.state.resources
    mailer: Mailer | None = resources.extensions.get("tenant.mailer")
    if mailer is None:
        mailer = resources.extensions["tenant.mailer"] = mailer_from_settings(resources.settings)
    return mailer


MailerDep = Annotated[Mailer, Depends(get_mailer)]
