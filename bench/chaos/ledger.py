"""What the load's runs wrote, counted by business key: the ``createTenant`` runs of
``bench/mixed_load.py`` (``tenant_provisioning``: a tenant, its owner's membership, default roles,
a storage policy, a directory entry, a storage-marker blob, a welcome mail). A completed run must
have each exactly once; a failed run must have left none (it compensated); nothing may exist twice.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from bench.chaos.stack import ChaosStack
from workflows.file.tenant_storage_contracts import PREFIX_MARKER
from workflows.tenant.provisioning_contracts import storage_prefix
from workflows.tenant.tenant_provisioning import tenant_provisioning_workflow_id

#: Rows per business key: (figure name, table, key columns). Each key must occur at most once.
KEYED_ROWS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("memberships", "tenants.memberships", ("tenant_id", "user_id")),
    ("roles", "tenants.roles", ("tenant_id", "name")),
    ("storage_policies", "files.storage_policies", ("tenant_id",)),
    ("directory_entries", "users.directory", ("tenant_id", "user_id")),
)
_WELCOME_SUBJECT = "Your workspace {name} is ready"  # services/tenant/provisioning/steps.py


def slug_of(workflow_id: str) -> str | None:
    prefix = tenant_provisioning_workflow_id("")
    return workflow_id.removeprefix(prefix) if workflow_id.startswith(prefix) else None


@dataclass
class Mail:
    message_id: str
    to: str
    subject: str


def read_mail(path: Path) -> Mail:
    with path.open("rb") as handle:
        message = email.message_from_binary_file(handle, policy=email.policy.default)
    return Mail(str(message["Message-ID"]), str(message["To"]), str(message["Subject"]))


def read_outbox(directory: Path) -> list[Mail]:
    """Every mail the outbox holds (``*.eml``; a ``.tmp`` is a write in progress, not a mail)."""
    return [read_mail(p) for p in sorted(directory.glob("*.eml"))] if directory.is_dir() else []


def _blob_counts(root: Path, tenant_ids: list[str]) -> tuple[dict[str, int], int]:
    """Marker blobs per tenant prefix, and half-written blobs (temp files) anywhere."""
    markers = {
        tenant_id: int((root / storage_prefix(tenant_id) / PREFIX_MARKER).is_file())
        for tenant_id in tenant_ids
    }
    partial = (
        sum(1 for p in root.rglob("*") if p.is_file() and ".tmp" in p.name) if root.is_dir() else 0
    )
    return markers, partial


@dataclass
class Ledger:
    """Counts per run (``per_run``) and the problems found (``duplicates``, ``incomplete``,
    ``residue``: each a list of human-readable findings)."""

    figures: dict[str, Any] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    residue: list[str] = field(default_factory=list)


async def _connect(database_url: str) -> asyncpg.Connection:
    url = make_url(database_url)
    return await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
    )


async def count_effects(stack: ChaosStack, statuses: Mapping[str, str]) -> Ledger:
    """Count what the runs in ``statuses`` (workflow id -> close status) left behind."""
    ledger = Ledger()
    slugs = {wid: slug for wid in statuses if (slug := slug_of(wid)) is not None}
    connection = await _connect(stack.database_url)
    try:
        tenants = await connection.fetch(
            "SELECT slug, id::text AS id, status, name FROM tenants.tenants WHERE slug = ANY($1)",
            list(slugs.values()),
        )
        by_slug: dict[str, list[asyncpg.Record]] = {}
        for row in tenants:
            by_slug.setdefault(row["slug"], []).append(row)
        tenant_ids = [row["id"] for row in tenants]
        keyed: dict[str, Counter[str]] = {}
        for figure, table, columns in KEYED_ROWS:
            rows = await connection.fetch(
                f"SELECT tenant_id::text AS tenant_id, count(*) AS n, "  # noqa: S608 - constants
                f"count(*) - count(DISTINCT ({', '.join(columns)})) AS extra "
                f"FROM {table} WHERE tenant_id = ANY($1::uuid[]) GROUP BY tenant_id",
                tenant_ids,
            )
            keyed[figure] = Counter({row["tenant_id"]: row["n"] for row in rows})
            for row in rows:
                if row["extra"]:
                    ledger.duplicates.append(
                        f"{figure}: {row['extra']} extra in {row['tenant_id']}"
                    )
    finally:
        await connection.close()

    markers, partial_blobs = await asyncio.to_thread(_blob_counts, stack.blob_dir, tenant_ids)
    mails = await asyncio.to_thread(read_outbox, stack.outbox_dir)
    by_message_id = Counter(mail.message_id for mail in mails)
    by_recipient_subject = Counter((mail.to, mail.subject) for mail in mails)
    for message_id, n in by_message_id.items():
        if n > 1:
            ledger.duplicates.append(f"mail {message_id} written {n} times")
    subjects = {mail.subject for mail in mails}
    welcome_subjects = {_WELCOME_SUBJECT.format(name=row["name"]) for row in tenants}
    for (to, subject), n in by_recipient_subject.items():
        if n > 1 and subject in welcome_subjects:  # one tenant, one welcome (any Message-ID)
            ledger.duplicates.append(f"mail {subject!r} to {to} sent {n} times")

    welcome_mails = 0
    for wid, slug in slugs.items():
        status = statuses[wid]
        rows = by_slug.get(slug, [])
        if len(rows) > 1:
            ledger.duplicates.append(f"tenant {slug}: {len(rows)} rows")
        if status == "COMPLETED":
            if len(rows) != 1 or rows[0]["status"] != "active":
                ledger.incomplete.append(f"{wid} completed without one active tenant")
                continue
            tenant = rows[0]
            welcome = _WELCOME_SUBJECT.format(name=tenant["name"]) in subjects
            welcome_mails += welcome
            missing = [f for f, counts in keyed.items() if not counts[tenant["id"]]]
            missing += [] if markers.get(tenant["id"]) else ["storage marker blob"]
            if missing:
                ledger.incomplete.append(f"{wid} completed without {', '.join(missing)}")
        elif status == "FAILED" and rows:
            ledger.residue.append(f"{wid} failed but its tenant {rows[0]['id']} remains")

    counts = Counter(statuses.values())
    ledger.figures = {
        "tenants": len(tenants),
        **{figure: sum(c.values()) for figure, c in keyed.items()},
        "storage_marker_blobs": sum(markers.values()),
        "partial_blobs": partial_blobs,
        "welcome_mails": welcome_mails,
        "completed_runs_without_welcome_mail": counts["COMPLETED"] - welcome_mails,
        "outbox_mails": len(mails),
        "duplicates": len(ledger.duplicates),
    }
    return ledger
