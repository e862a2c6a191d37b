"""The mail that tells a recipient about a share: the file's name, the access, and where to
open it (the app for a member, role or tenant share; the link itself for a link share)."""

from __future__ import annotations

from datetime import datetime

from services.common.mailer import EmailMessage


def share_mail(
    to: str,
    file_name: str,
    permission: str,
    url: str,
    *,
    password: bool,
    expires_at: datetime | None,
    dedup_key: str,
) -> EmailMessage:
    lines = [f'"{file_name}" has been shared with you on ADX CORE ({permission}).', "", url, ""]
    if password:
        lines.append("The link asks for a password: the person who shared it will tell you.")
    if expires_at is not None:
        lines.append(f"Access ends on {expires_at:%Y-%m-%d %H:%M} UTC.")
    lines.append("If you did not expect this mail, you can ignore it.")
    return EmailMessage(
        to=to,
        subject=f'A file was shared with you: "{file_name[:80]}"',
        text="\n".join(lines) + "\n",
        dedup_key=dedup_key,
    )
