"""The routing rule (``resolvers/routing.py``) checked against the schema: every mutation is
classified; a mutation that spans services answers a ``WorkflowRun`` (it starts a workflow, or
the owning service's route does); a direct one calls exactly the one service it names and never
Temporal. The resolvers are read as source (the functions of their own module they call
included), so a new service call in a direct mutation fails here before it ships."""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

from resolvers.routing import MUTATION_ROUTES, Direct, Workflow
from schema.schema import build_schema
from services.common.settings import ServiceName
from workflows.auth.contracts import AuthWorkflow
from workflows.compliance.contracts import GDPR_ERASURE, GDPR_EXPORT
from workflows.file.contracts import FileWorkflow
from workflows.reconciliation.contracts import DATA_MIGRATION
from workflows.tenant.contracts import TenantWorkflow
from workflows.user.contracts import UserWorkflow

SCHEMA = build_schema(mask_errors=False)
MUTATIONS = SCHEMA._schema.mutation_type.fields  # type: ignore[union-attr]
WORKFLOW_NAMES = {
    value
    for names in (AuthWorkflow, TenantWorkflow, UserWorkflow)
    for key, value in vars(names).items()
    if key.isupper() and isinstance(value, str)
} | {DATA_MIGRATION, GDPR_EXPORT, GDPR_ERASURE}
WORKFLOW_NAMES |= {FileWorkflow.FILE_MIGRATION, FileWorkflow.FILE_SHARING}
#: What only a resolver that starts or talks to a workflow itself refers to.
TEMPORAL_MARKS = {"temporal", "start_workflow", "start_sign_up", "get_workflow_handle"}


def resolver_of(name: str) -> Callable[..., Any]:
    definition = MUTATIONS[name].extensions["strawberry-definition"]
    return definition.base_resolver.wrapped_func  # type: ignore[no-any-return]


#: ``context.service(ServiceName.x, ...)``, ``services.of(ServiceName.x, ...)``,
#: ``services.client(ServiceName.x)``: a call to service x.
SERVICE_CALLS = {"service", "of", "client"}


#: ``started_run(info, ServiceName.x, ...)`` (resolvers/workflow_runs.py): a call to service x
#: (its one call; the rest of it reads Temporal).
STARTED_RUN = "started_run"


def _named_service(node: ast.expr) -> set[ServiceName]:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        if node.value.id == "ServiceName":
            return {ServiceName(node.attr)}
    return set()


def _service_called(call: ast.Call) -> set[ServiceName]:
    func, args = call.func, call.args
    if isinstance(func, ast.Name) and func.id == STARTED_RUN and len(args) > 1:
        return _named_service(args[1])
    if not (isinstance(func, ast.Attribute) and func.attr in SERVICE_CALLS and args):
        return set()
    return _named_service(args[0])


def referenced(func: Callable[..., Any]) -> tuple[set[ServiceName], set[str]]:
    """The services a resolver calls and the names/attributes it refers to, following the
    functions of its own module that it calls."""
    module = sys.modules[func.__module__]
    services: set[ServiceName] = set()
    names: set[str] = set()
    seen: set[str] = set()
    todo = [func]
    while todo:
        current = todo.pop()
        if current.__name__ in seen:
            continue
        seen.add(current.__name__)
        tree = ast.parse(textwrap.dedent(inspect.getsource(current)))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                services.update(_service_called(node))
            if isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.Name):
                names.add(node.id)
                local = getattr(module, node.id, None)
                if inspect.isfunction(local) and local.__module__ == module.__name__:
                    todo.append(local)
    return services, names


def test_every_mutation_is_classified_and_nothing_else() -> None:
    assert set(MUTATIONS) - set(MUTATION_ROUTES) == set(), "classify it in resolvers/routing.py"
    assert set(MUTATION_ROUTES) - set(MUTATIONS) == set(), "no such mutation in the schema"


@pytest.mark.parametrize(
    "name", sorted(n for n, r in MUTATION_ROUTES.items() if isinstance(r, Workflow))
)
def test_a_mutation_spanning_services_answers_its_workflow_run(name: str) -> None:
    route = MUTATION_ROUTES[name]
    assert isinstance(route, Workflow)
    assert route.workflow in WORKFLOW_NAMES
    assert len(route.spans) > 1 or route.reason
    assert str(MUTATIONS[name].type) == "WorkflowRun!", f"{name} must answer its WorkflowRun"
    services, names = referenced(resolver_of(name))
    if route.started_by is None:  # the gateway starts it: no service call first
        assert names & TEMPORAL_MARKS, f"{name} starts no workflow"
        assert services == set(), f"{name} calls {services} before starting its workflow"
    else:  # the owning service's route starts it; the gateway calls that service only
        assert services == {route.started_by}, services
        assert route.started_by in route.spans


@pytest.mark.parametrize(
    "name", sorted(n for n, r in MUTATION_ROUTES.items() if isinstance(r, Direct))
)
def test_a_direct_mutation_calls_its_one_service_and_no_workflow(name: str) -> None:
    route = MUTATION_ROUTES[name]
    assert isinstance(route, Direct)
    assert str(MUTATIONS[name].type) != "WorkflowRun!", f"{name} answers a run: a Workflow route"
    services, names = referenced(resolver_of(name))
    assert services == {route.service}, (
        f"{name} calls {sorted(services)}: a mutation that spans services is a workflow"
    )
    assert not names & TEMPORAL_MARKS, f"{name} talks to Temporal: classify it as a Workflow"


def test_the_check_catches_a_direct_mutation_that_spans_services() -> None:
    """The checker itself: a resolver calling two services is seen as doing so."""

    async def resolve_bad(info: Any) -> bool:
        await info.context.service(ServiceName.auth).send("POST", "/auth/x")
        await info.context.service(ServiceName.user).send("POST", "/users/x")
        return True

    services, _ = referenced(resolve_bad)
    assert services == {ServiceName.auth, ServiceName.user}
