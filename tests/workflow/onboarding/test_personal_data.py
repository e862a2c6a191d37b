"""No personal data of the onboarded person in plaintext where Temporal keeps it: the histories of
``user_onboarding`` and its ``user_first_run`` child (payloads are encrypted by the codec), their
search attributes (stored unencrypted) and their workflow ids."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from temporalio.client import Client

from services.auth.runtime import AuthRuntime
from services.common.codec import ENCODING
from tests.auth.users import create_user
from tests.workflow.onboarding.stack import onboard, provisioned, request
from workflows.onboarding.user_onboarding import user_first_run_workflow_id

pytestmark = pytest.mark.timeout(120)


async def test_no_personal_data_in_histories_or_search_attributes(
    temporal: Client, onboarding_stack: Any, auth_runtime: AuthRuntime
) -> None:
    owner = await create_user(auth_runtime)
    marker = uuid.uuid4().hex[:10]
    email = f"secret-{marker}@example.com"
    given, family = f"Gwendolyn{marker}", f"Fairweather{marker}"
    async with onboarding_stack() as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
        input = request(tenant_id, owner.id, email, given_name=given, family_name=family)
        handle = await onboard(temporal, stack, input)
        await handle.result()
        child = temporal.get_workflow_handle(user_first_run_workflow_id(input.idempotency_key))
        texts = []
        for run in (handle, child):
            texts.append((await run.fetch_history()).to_json())
            described = await run.describe()
            texts.append(repr(described.typed_search_attributes))
            texts.append(repr(described.raw_description.workflow_execution_info))
            texts.append(run.id)
    everything = "\n".join(texts)
    assert marker not in everything, "personal data in plaintext where Temporal keeps it"
    # The payloads are there, encrypted by the codec (metadata base64 in the history's JSON).
    assert base64.b64encode(ENCODING).decode() in everything
