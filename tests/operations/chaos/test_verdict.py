"""The verdict's counts catch what they are there to catch, on the chaos stack's real data: a
mail written twice, a failed run that left its tenant, a run Temporal does not know."""

from __future__ import annotations

import shutil
import uuid

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bench.chaos.ledger import count_effects, read_mail
from bench.chaos.runs import NOT_FOUND, stack_client, wait_closed
from bench.chaos.stack import ChaosStack
from bench.mixed_load import LoadTarget
from workflows.tenant.tenant_provisioning import tenant_provisioning_workflow_id

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]


async def _a_provisioned_tenant(stack: ChaosStack, tenant_id: str) -> tuple[str, str]:
    url = make_url(stack.database_url)
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        row = await connection.fetchrow(
            "SELECT slug, name FROM tenants.tenants WHERE id = $1", uuid.UUID(tenant_id)
        )
    finally:
        await connection.close()
    assert row is not None
    return row["slug"], row["name"]


async def test_the_ledger_counts_a_mail_written_twice_and_a_tenant_left_behind(
    chaos_stack: ChaosStack, chaos_target: LoadTarget
) -> None:
    slug, name = await _a_provisioned_tenant(chaos_stack, chaos_target.accounts[0].tenant_id)
    run = tenant_provisioning_workflow_id(slug)

    clean = await count_effects(chaos_stack, {run: "COMPLETED"})
    assert (clean.duplicates, clean.incomplete, clean.residue) == ([], [], [])
    assert clean.figures["welcome_mails"] == 1

    welcome = next(
        path
        for path in sorted(chaos_stack.outbox_dir.glob("*.eml"))
        if read_mail(path).subject == f"Your workspace {name} is ready"
    )
    copy = welcome.with_name(f"copy-{welcome.name}")
    shutil.copyfile(welcome, copy)
    try:
        doubled = await count_effects(chaos_stack, {run: "COMPLETED"})
    finally:
        copy.unlink()
    assert any("written 2 times" in d for d in doubled.duplicates), doubled.duplicates
    assert any("sent 2 times" in d for d in doubled.duplicates), doubled.duplicates

    as_failed = await count_effects(chaos_stack, {run: "FAILED"})
    assert any(run in r for r in as_failed.residue), as_failed.residue


async def test_a_run_temporal_does_not_know_is_counted_lost(chaos_stack: ChaosStack) -> None:
    client = await stack_client(chaos_stack)
    census = await wait_closed(client, [f"never-started-{uuid.uuid4().hex}"], within=2)
    assert census.counts() == {NOT_FOUND: 1}
