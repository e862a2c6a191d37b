"""Auth's set-password links of a bulk import batch (``auth.bulk_mail_password_links``, the step of
``bulk_password_links``): a reset link mailed to each account the batch created that has no
password, once (a retried step mails nobody twice), bound to the calling run; accounts made
otherwise, or with a password, get none; only that flow may ask. The links run end to end
(mailed, redeemed through ``POST /auth/password-reset/confirm``): ``test_bulk_import.py``."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.auth.bulk_import.activities import BulkImportAccountActivities
from services.auth.bulk_import.password_links import BulkPasswordLinkActivities
from services.auth.opaque import hash_token
from services.auth.runtime import AuthRuntime
from services.common.security_context import SecurityContext, acting_as
from storage.auth.models import OneTimeToken
from storage.db import transaction
from tests.auth.mail_flows import link_token, outbox_mails, plain_text
from tests.auth.users import create_user
from workflows.auth.bulk_import_contracts import (
    AccountRow,
    EnsureAccountsInput,
    MailPasswordLinksInput,
)
from workflows.auth.contracts import TokenPurpose

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_each_new_account_gets_one_link_bound_to_the_run(auth_runtime: AuthRuntime) -> None:
    tag = uuid.uuid4().hex[:10]
    new = [f"link{i}-{tag}@example.com" for i in range(3)]
    known = await create_user(auth_runtime)  # has a password: no link
    accounts_key = f"bulk-user-operation-{tag}:run:rows:0:0:accounts"
    env = ActivityEnvironment()
    links = BulkPasswordLinkActivities(auth_runtime)
    with acting_as(SecurityContext.system("test")):
        made = await env.run(
            BulkImportAccountActivities(auth_runtime).bulk_ensure_accounts,
            EnsureAccountsInput(
                [AccountRow(i, email) for i, email in enumerate(new)], accounts_key
            ),
        )
        ids = [o.user_id or "" for o in made.outcomes]
        ask = MailPasswordLinksInput([*ids, str(known.id)], accounts_key, 3600, f"links-{tag}")
        first = await env.run(links.bulk_mail_password_links, ask)
        again = await env.run(links.bulk_mail_password_links, ask)  # a retried step

    assert (first.mailed, again.mailed) == (3, 3)
    settings = auth_runtime.resources.settings
    mails = {email: outbox_mails(settings, email) for email in new}
    assert [len(m) for m in mails.values()] == [1, 1, 1], "one mail each, not one per attempt"
    assert outbox_mails(settings, known.email) == []
    async with transaction(auth_runtime.resources.database) as db:
        tokens = {
            row.user_id: row
            for row in await db.scalars(
                select(OneTimeToken).where(OneTimeToken.idempotency_key.startswith(f"links-{tag}:"))
            )
        }
    assert {str(u) for u in tokens} == set(ids)
    for email, user_id in zip(new, ids, strict=True):
        raw = link_token(plain_text(mails[email][0]), "/reset-password")
        token = tokens[uuid.UUID(user_id)]
        # Only the hash is kept, bound to the run that mails it (which redeems it).
        assert token.token_hash == hash_token(raw) and token.token_hash != raw
        assert token.purpose == TokenPurpose.password_reset
        assert token.workflow_id == env.info.workflow_id


async def test_links_only_for_a_bulk_imports_accounts_and_flow(auth_runtime: AuthRuntime) -> None:
    tag = uuid.uuid4().hex[:10]
    email = f"elsewhere-{tag}@example.com"
    env = ActivityEnvironment()
    with acting_as(SecurityContext.system("test")):
        made = await env.run(
            BulkImportAccountActivities(auth_runtime).bulk_ensure_accounts,
            EnsureAccountsInput([AccountRow(1, email)], f"other-flow-{tag}"),
        )
        user_id = made.outcomes[0].user_id or ""
        links = BulkPasswordLinkActivities(auth_runtime)
        # An account key that is no bulk import's: refused.
        with pytest.raises(ApplicationError) as not_bulk:
            await env.run(
                links.bulk_mail_password_links,
                MailPasswordLinksInput([user_id], f"other-flow-{tag}", 3600, f"l-{tag}"),
            )
        # Another batch's key: the account is not among its new accounts, nothing mailed.
        other = await env.run(
            links.bulk_mail_password_links,
            MailPasswordLinksInput(
                [user_id], f"bulk-user-operation-{tag}:r:rows:0:0:accounts", 3600, f"m-{tag}"
            ),
        )
    # A user's own context, outside the links flow: refused.
    with acting_as(SecurityContext.for_user(user_id, tenant_id=str(uuid.uuid4()))):
        with pytest.raises(ApplicationError) as outside:
            await env.run(
                links.bulk_mail_password_links,
                MailPasswordLinksInput(
                    [user_id], f"bulk-user-operation-{tag}:r:rows:0:0:accounts", 3600, f"n-{tag}"
                ),
            )
    assert not_bulk.value.type == outside.value.type == "SecurityContextDenied"
    assert other.mailed == 0
    assert outbox_mails(auth_runtime.resources.settings, email) == []
