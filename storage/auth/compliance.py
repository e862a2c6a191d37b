"""The auth schema's side of the GDPR procedures: one person's rows as JSON (secrets left out),
their erasure, and operators' legal holds (``auth.legal_holds``)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

#: Per section, the query of one person's rows (``:uid``) as JSON objects. Secrets (password and
#: token hashes, TOTP secrets, recovery codes) are never exported: only that they exist.
EXPORT_QUERIES: dict[str, str] = {
    "account": "SELECT to_jsonb(c) - 'password_hash' - 'idempotency_key' "
    "|| jsonb_build_object('has_password', c.password_hash IS NOT NULL) "
    "FROM auth.credentials c WHERE c.id = :uid",
    "sessions": "SELECT jsonb_build_object('id', s.id, 'tenant_id', s.tenant_id, 'created_at', "
    "s.created_at, 'expires_at', s.expires_at, 'last_seen_at', s.last_seen_at, 'revoked_at', "
    "s.revoked_at, 'revoked_reason', s.revoked_reason, 'auth_methods', s.auth_methods, "
    "'user_agent', s.user_agent, 'ip', s.ip) FROM auth.sessions s WHERE s.user_id = :uid "
    "ORDER BY s.created_at",
    "mfa": "SELECT jsonb_build_object('totp_confirmed_at', t.confirmed_at, 'recovery_codes_left', "
    "(SELECT count(*) FROM auth.recovery_codes r WHERE r.user_id = :uid AND r.used_at IS NULL)) "
    "FROM auth.totp_secrets t WHERE t.user_id = :uid",
    "sso_identities": "SELECT to_jsonb(i) FROM auth.sso_identities i WHERE i.user_id = :uid",
    "tenant_claims": "SELECT to_jsonb(p) FROM auth.principal_claims p WHERE p.user_id = :uid",
    "one_time_tokens": "SELECT jsonb_build_object('purpose', o.purpose, 'created_at', "
    "o.created_at, 'expires_at', o.expires_at, 'used_at', o.used_at) "
    "FROM auth.one_time_tokens o WHERE o.user_id = :uid",
    "audit_events": "SELECT to_jsonb(a) FROM auth.audit_events a WHERE a.user_id = :uid "
    "ORDER BY a.at",
}


async def export_rows(db: AsyncSession, user_id: uuid.UUID) -> dict[str, list[Any]]:
    return {
        section: list((await db.execute(text(query), {"uid": user_id})).scalars())
        for section, query in EXPORT_QUERIES.items()
    }


async def subject(db: AsyncSession, user_id: uuid.UUID) -> tuple[str | None, str | None]:
    """(the account's address or None, the reason of a legal hold or None)."""
    email = await db.scalar(
        text("SELECT email FROM auth.credentials WHERE id = :uid"), {"uid": user_id}
    )
    hold = await db.scalar(
        text("SELECT reason FROM auth.legal_holds WHERE user_id = :uid"), {"uid": user_id}
    )
    return email, hold


async def set_hold(db: AsyncSession, user_id: uuid.UUID, reason: str, set_by: uuid.UUID) -> None:
    await db.execute(
        text(
            "INSERT INTO auth.legal_holds (user_id, reason, set_by) VALUES (:uid, :reason, :by) "
            "ON CONFLICT (user_id) DO UPDATE SET reason = EXCLUDED.reason, set_by = EXCLUDED.set_by"
        ),
        {"uid": user_id, "reason": reason, "by": set_by},
    )


async def release_hold(db: AsyncSession, user_id: uuid.UUID) -> bool:
    result = await db.execute(
        text("DELETE FROM auth.legal_holds WHERE user_id = :uid RETURNING user_id"),
        {"uid": user_id},
    )
    return result.first() is not None


async def erase(db: AsyncSession, user_id: uuid.UUID, email: str) -> dict[str, int]:
    """Everything auth holds about the person: the account with its sessions, tokens, MFA and
    SSO links (cascading from ``credentials``), claims; audit entries naming them (by id or
    address) are kept for the record but anonymised. Idempotent: a second call counts zeros."""
    uid = str(user_id)
    counts: dict[str, int] = {}

    async def run(name: str, sql: str, **params: Any) -> None:
        result = await db.execute(text(sql), {"uid": user_id, **params})
        counts[name] = len(result.fetchall())

    await run(
        "audit_events_anonymised",
        "UPDATE auth.audit_events SET user_id = NULL, session_id = NULL, ip = NULL, "
        "detail = jsonb_build_object('anonymised', true) "
        "WHERE user_id = :uid OR detail::text LIKE :pattern OR detail::text ILIKE :email "
        "RETURNING id",
        pattern=f"%{uid}%",
        # No address: a pattern no text holds.
        email=f"%{_like(email)}%" if email else "\x00",
    )
    await run("sessions", "DELETE FROM auth.sessions WHERE user_id = :uid RETURNING id")
    await run("sso_identities", "DELETE FROM auth.sso_identities WHERE user_id = :uid RETURNING id")
    await run("tenant_claims", "DELETE FROM auth.principal_claims WHERE user_id = :uid RETURNING 1")
    await run("credentials", "DELETE FROM auth.credentials WHERE id = :uid RETURNING id")
    return counts


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def event_recorded(db: AsyncSession, event: str, detail: dict[str, Any]) -> bool:
    """Whether an audit event with this name and (at least) this detail exists: a retried step
    records its event once."""
    found = await db.scalar(
        text(
            "SELECT 1 FROM auth.audit_events WHERE event = :event AND detail @> "
            "CAST(:detail AS jsonb) LIMIT 1"
        ),
        {"event": event, "detail": json.dumps(detail)},
    )
    return found is not None
