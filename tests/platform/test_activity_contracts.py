"""Typed activity contracts (``workflows/common/contracts.py``): an implementation with other
types than its contract is refused at import time, a wrong call or implementation is a mypy
error, and every activity a worker registers is one declared contract."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from mypy import api as mypy_api
from temporalio import activity

from services.auth.accounts.activities import AccountActivities
from services.auth.mfa.activities import MfaActivities
from services.auth.password_reset.activities import PasswordResetActivities
from services.auth.principal.activities import PrincipalActivities
from services.auth.registration.activities import RegistrationActivities
from services.auth.sso.activities import SsoActivities
from services.user.activities import UserActivities
from tests.support import ROOT
from workflows.auth import contracts as auth_contracts
from workflows.auth import mfa_contracts, principal_contracts, sso_contracts
from workflows.common.contracts import ActivityContract, ContractMismatchError
from workflows.user import contracts as user_contracts

REPO = ROOT


@dataclass
class PingInput:
    text: str


@dataclass
class PingOutput:
    echo: str


PING = ActivityContract("test.ping", "test", PingInput, PingOutput)


def test_an_implementation_with_the_contracts_types_is_registered_under_its_name() -> None:
    class Activities:
        @PING.implement
        async def ping(self, input: PingInput) -> PingOutput:
            return PingOutput(input.text)

    @PING.implement
    async def ping(input: PingInput) -> PingOutput:
        return PingOutput(input.text)

    for implementation in (Activities().ping, ping):
        definition = activity._Definition.from_callable(implementation)
        assert definition is not None and definition.name == "test.ping"


def test_a_contract_refuses_an_implementation_of_another_input_type() -> None:
    with pytest.raises(ContractMismatchError, match=r"input is PingOutput.*says PingInput"):

        class Activities:
            @PING.implement  # type: ignore[arg-type]
            async def ping(self, input: PingOutput) -> PingOutput:
                return input


def test_a_contract_refuses_an_implementation_of_another_result_type() -> None:
    with pytest.raises(ContractMismatchError, match=r"returns PingInput.*says PingOutput"):

        @PING.implement  # type: ignore[arg-type]
        async def ping(input: PingInput) -> PingInput:
            return input


def test_a_contract_refuses_an_unannotated_or_many_argument_implementation() -> None:
    with pytest.raises(ContractMismatchError, match="input is"):

        @PING.implement
        async def untyped(input):  # type: ignore[no-untyped-def]
            return PingOutput("")

    with pytest.raises(ContractMismatchError, match="exactly one input"):

        @PING.implement  # type: ignore[call-overload]
        async def two(input: PingInput, other: PingInput) -> PingOutput:
            return PingOutput("")


def test_every_activity_is_a_declared_contract_with_its_types() -> None:
    declared = {
        value.name: value
        for module in (
            auth_contracts,
            mfa_contracts,
            sso_contracts,
            principal_contracts,
            user_contracts,
        )
        for value in vars(module).values()
        if isinstance(value, ActivityContract)
    }
    implemented = {
        definition.name or "": function
        for cls in (
            AccountActivities,
            RegistrationActivities,
            PasswordResetActivities,
            MfaActivities,
            SsoActivities,
            PrincipalActivities,
            UserActivities,
        )
        for function in vars(cls).values()
        if (definition := activity._Definition.from_callable(function)) is not None
    }

    assert set(implemented) == set(declared), "an activity without a contract, or the reverse"
    for name, function in implemented.items():
        declared[name].check(function)
        assert declared[name].service == name.split(".")[0], f"{name}: on another service"


SNIPPET = """
from workflows.auth.contracts import (
    CREATE_CREDENTIALS,
    CreateCredentialsInput,
    CreateCredentialsOutput,
    DeleteCredentialsInput,
)


async def workflow_step() -> None:
    created = await CREATE_CREDENTIALS.execute(
        CreateCredentialsInput(user_id="u", email="e", password=None, idempotency_key="k")
    )
    ok: bool = created.created
    await CREATE_CREDENTIALS.execute(DeleteCredentialsInput(user_id="u", idempotency_key="k"))  # L1
    wrong: str = created.created  # L2


class Activities:
    @CREATE_CREDENTIALS.implement
    async def right(self, input: CreateCredentialsInput) -> CreateCredentialsOutput:
        return CreateCredentialsOutput(user_id=input.user_id, created=True)

    @CREATE_CREDENTIALS.implement  # L3
    async def wrong(self, input: DeleteCredentialsInput) -> CreateCredentialsOutput:
        return CreateCredentialsOutput(user_id=input.user_id, created=True)
"""


def test_mypy_reports_a_wrong_input_result_or_implementation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = textwrap.dedent(SNIPPET)
    snippet = tmp_path / "contract_snippet.py"
    snippet.write_text(source)
    marked = {
        f"L{n}": i + 1
        for i, line in enumerate(source.splitlines())
        for n in (1, 2, 3)
        if line.rstrip().endswith(f"# L{n}")
    }
    monkeypatch.chdir(REPO)  # so mypy finds the project's packages and its config

    # A cache of its own: the project's .mypy_cache may hold this module from another run's
    # temporary path, and mypy would report that path's lines.
    cache = tmp_path / "mypy-cache"
    stdout, stderr, status = mypy_api.run(
        [str(snippet), "--show-error-codes", "--cache-dir", str(cache)]
    )

    assert status == 1, f"mypy found nothing wrong:\n{stdout}{stderr}"
    lines = {
        int(row.split(":")[1]): row for row in stdout.splitlines() if row.startswith(str(snippet))
    }
    assert "arg-type" in lines.get(marked["L1"], ""), f"wrong input not reported:\n{stdout}"
    assert "assignment" in lines.get(marked["L2"], ""), f"wrong result not reported:\n{stdout}"
    assert marked["L3"] in lines, f"wrong implementation not reported:\n{stdout}"
    assert set(lines) == set(marked.values()), f"unexpected mypy errors:\n{stdout}"
