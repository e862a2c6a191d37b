"""Who a workflow acts for: a sealed security context that travels in a Temporal header from the
starter through the workflow to its activities, and the checks activities make against it.

The header is encrypted and authenticated with the payload codec (AES-GCM), and an unsealed one is
refused, so only a holder of the payload key (our services) can mint a context. See
docs/security-context.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import wraps
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import structlog
from temporalio import activity
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError

from services.common.codec import ENCODING
from storage.acting import Actor, current_actor
from workflows.common.errors import business_error

if TYPE_CHECKING:
    from services.common.tokens import Principal

HEADER_KEY = "adx-security-context"
#: ``ApplicationError.type`` of every refusal: non-retryable, a retry cannot change who acts.
SECURITY_CONTEXT_DENIED = "SecurityContextDenied"
#: Roles that may change a tenant's memberships (``require_tenant``).
TENANT_ADMIN_ROLES = frozenset({"owner", "admin"})
_MAX_FIELD = 200
_MAX_ROLES = 20
#: Temporal's default limit on workflow ids.
_MAX_WORKFLOW_ID = 1000

P = ParamSpec("P")
R = TypeVar("R")


class ActorKind(StrEnum):
    user = "user"
    #: Nobody signed in: sign-up, password reset, SSO sign-in.
    anonymous = "anonymous"
    #: The platform itself: CLI, schedules, maintenance.
    system = "system"


class InvalidSecurityContextError(ValueError):
    """A header that is not a sealed, well-formed security context."""


@dataclass(frozen=True)
class SecurityContext:
    actor: ActorKind
    user_id: str | None = None
    tenant_id: str | None = None
    roles: tuple[str, ...] = field(default_factory=tuple)
    session_id: str | None = None
    #: The HTTP request that started the work, to follow it through the logs.
    request_id: str | None = None
    #: For ``system``: what acts (``cli``, a job name); free text, for logs and audit.
    origin: str | None = None

    def __post_init__(self) -> None:
        if (self.actor == ActorKind.user) != (self.user_id is not None):
            raise InvalidSecurityContextError("a user context, and only that, names a user")
        if self.actor != ActorKind.user and (self.tenant_id or self.roles or self.session_id):
            raise InvalidSecurityContextError("only a user context has a tenant, roles, session")
        if len(self.roles) > _MAX_ROLES:
            raise InvalidSecurityContextError("too many roles")
        texts = [self.user_id, self.tenant_id, self.session_id, self.request_id, self.origin]
        if any(len(t) > _MAX_FIELD for t in [*texts, *self.roles] if t is not None):
            raise InvalidSecurityContextError("security context field too long")

    @classmethod
    def for_user(
        cls,
        user_id: str,
        *,
        tenant_id: str | None = None,
        roles: Collection[str] = (),
        session_id: str | None = None,
        request_id: str | None = None,
    ) -> SecurityContext:
        return cls(
            ActorKind.user,
            user_id=user_id,
            tenant_id=tenant_id,
            roles=tuple(sorted(set(roles))),
            session_id=session_id,
            request_id=request_id if request_id is not None else _request_id(),
        )

    @classmethod
    def for_principal(cls, principal: Principal) -> SecurityContext:
        """The caller of an authenticated request, as its verified access token states it."""
        return cls.for_user(
            principal.user_id,
            tenant_id=principal.tenant_id,
            roles=principal.roles,
            session_id=principal.session_id,
        )

    @classmethod
    def for_caller(cls, principal: Principal | None) -> SecurityContext:
        """The signed-in caller, or anonymous when nobody is signed in."""
        return cls.for_principal(principal) if principal else cls.anonymous()

    @classmethod
    def anonymous(cls, *, request_id: str | None = None) -> SecurityContext:
        return cls(ActorKind.anonymous, request_id=request_id or _request_id())

    @classmethod
    def system(cls, origin: str) -> SecurityContext:
        return cls(ActorKind.system, origin=origin, request_id=_request_id())

    def acts_for(self, user_id: str) -> bool:
        """The platform, or this very user."""
        return self.actor == ActorKind.system or (
            self.actor == ActorKind.user and _same_id(self.user_id, user_id)
        )

    def _fields(self, detail: str, value: str | None) -> dict[str, Any]:
        fields = {
            "actor": self.actor.value,
            "actor_user_id": self.user_id,
            detail: value,
            "actor_origin": self.origin,
            "origin_request_id": self.request_id,
        }
        return {k: v for k, v in fields.items() if v is not None}

    def log_fields(self) -> dict[str, Any]:
        return self._fields("actor_tenant_id", self.tenant_id)

    def audit_fields(self) -> dict[str, Any]:
        """Stored with audit events: who acted, and the request that started it."""
        return self._fields("actor_session_id", self.session_id)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["actor"] = self.actor.value
        data["roles"] = list(self.roles)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> SecurityContext:
        if not isinstance(data, dict):
            raise InvalidSecurityContextError("security context must be an object")
        try:
            actor = ActorKind(data["actor"])
            texts = {
                name: _optional_text(data.get(name))
                for name in ("user_id", "tenant_id", "session_id", "request_id", "origin")
            }
            roles = data.get("roles") or []
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                raise InvalidSecurityContextError("roles must be a list of strings")
        except (KeyError, ValueError) as error:
            raise InvalidSecurityContextError(f"malformed security context: {error}") from error
        return cls(actor, roles=tuple(roles), **texts)


def _optional_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InvalidSecurityContextError("security context fields are strings")


def _same_id(a: str | None, b: str | None) -> bool:
    """Ids compare as UUIDs when both are (case and braces do not matter), else as text."""
    if a is None or b is None:
        return False
    try:
        return uuid.UUID(a) == uuid.UUID(b)
    except ValueError:
        return a == b


def _request_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("request_id")
    return str(value) if value is not None else None


# --- the current context --------------------------------------------------------------------

_current: ContextVar[SecurityContext | None] = ContextVar("adx_security_context", default=None)


def current_context() -> SecurityContext | None:
    return _current.get()


class acting_as:  # used like a function: ``with acting_as(ctx):``
    """Run a block (``with``) or an async function (decorator) under ``context``: workflows
    started and signalled meanwhile carry it, and so do their activities."""

    def __init__(self, context: SecurityContext | None) -> None:
        self.context = context
        self._tokens: list[tuple[Token[SecurityContext | None], Token[Actor | None]]] = []

    def __enter__(self) -> SecurityContext | None:
        # The audit trail (storage) reads the actor from a variable of its own: set both here.
        self._tokens.append((_current.set(self.context), current_actor.set(self.context)))
        return self.context

    def __exit__(self, *_: object) -> None:
        own, actor = self._tokens.pop()
        current_actor.reset(actor)
        _current.reset(own)

    def __call__(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with acting_as(self.context):
                return await fn(*args, **kwargs)

        return wrapper


@contextmanager
def bound_to_logs(context: SecurityContext | None) -> Iterator[None]:
    """The actor's ids in every log line written inside the block."""
    fields = context.log_fields() if context else {"actor": "none"}
    with structlog.contextvars.bound_contextvars(**fields):
        yield


# --- the header -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SealedContext:
    """What a header holds: the context, the workflow id it was sealed for (the *root* of the
    work: children and continue-as-new carry the same header) and when it was sealed. The
    activity interceptor accepts it only in that workflow, or a descendant of it, started within
    ``MAX_START_DELAY`` of ``issued_at`` (see ``security_interceptor``)."""

    context: SecurityContext
    workflow_id: str
    issued_at: datetime


#: How far the start of the root workflow may lie from the sealing of its header (either way:
#: client and server clocks differ a little). A header copied out of a history is useless for a
#: start later than this, even with the same workflow id.
MAX_START_DELAY = timedelta(minutes=5)


async def seal(
    context: SecurityContext,
    converter: DataConverter,
    *,
    workflow_id: str,
    issued_at: datetime | None = None,
) -> Payload:
    """The header payload for work on ``workflow_id``: JSON, then encrypted by the payload
    codec (``issued_at`` defaults to now; tests pass another to forge a stale header)."""
    if not workflow_id or len(workflow_id) > _MAX_WORKFLOW_ID:
        raise InvalidSecurityContextError("a security context is sealed for one workflow id")
    issued = issued_at or datetime.now(UTC)
    data = {**context.to_dict(), "bound_workflow_id": workflow_id, "issued_at": issued.isoformat()}
    payload = converter.payload_converter.to_payload(data)
    if converter.payload_codec is None:
        raise InvalidSecurityContextError("a security context is only sent encrypted")
    return (await converter.payload_codec.encode([payload]))[0]


async def unseal(payload: Payload, converter: DataConverter) -> SealedContext:
    """Refuses anything not encrypted with one of our payload keys (the codec would pass a
    plaintext payload through, and a plaintext context could be written by anyone) and any
    context not bound to a workflow id and a time."""
    if payload.metadata.get("encoding") != ENCODING or converter.payload_codec is None:
        raise InvalidSecurityContextError("the security context header is not sealed")
    try:
        (plain,) = await converter.payload_codec.decode([payload])
        data = converter.payload_converter.from_payload(plain)
    except InvalidSecurityContextError:
        raise
    except Exception as error:  # a wrong key, a tampered payload, bad JSON: all "not ours"
        raise InvalidSecurityContextError(
            f"the security context header cannot be read: {type(error).__name__}"
        ) from error
    context = SecurityContext.from_dict(data)
    workflow_id, issued = data.get("bound_workflow_id"), data.get("issued_at")
    if not isinstance(workflow_id, str) or not workflow_id or not isinstance(issued, str):
        raise InvalidSecurityContextError("the security context is not bound to a workflow")
    try:
        issued_at = datetime.fromisoformat(issued)
    except ValueError as error:
        raise InvalidSecurityContextError("the security context has a bad issue time") from error
    if issued_at.tzinfo is None:
        raise InvalidSecurityContextError("the security context has a bad issue time")
    return SealedContext(context, workflow_id, issued_at)


# --- checks in activities -------------------------------------------------------------------


def denied(message: str) -> ApplicationError:
    return business_error(SECURITY_CONTEXT_DENIED, message)


def require_context() -> SecurityContext:
    """The context of the running activity; refused when the workflow was started without one."""
    context = _current.get()
    if context is None:
        raise denied(
            "no security context: start this workflow through the platform's services "
            "(acting_as), not with a bare Temporal client"
        )
    return context


def require_user_or_system(user_id: str) -> SecurityContext:
    """Only the platform, or the user ``user_id`` themself, may act on this user's account."""
    context = require_context()
    if not context.acts_for(user_id):
        raise denied(f"the {context.actor.value} context may not act for this user")
    return context


def require_tenant(tenant_id: str, *, roles: Collection[str]) -> SecurityContext:
    """Only the platform, or a user signed in to ``tenant_id`` holding one of ``roles``."""
    context = require_context()
    if context.actor == ActorKind.system:
        return context
    if context.actor != ActorKind.user or not _same_id(context.tenant_id, tenant_id):
        raise denied(f"the {context.actor.value} context may not change this tenant")
    if not set(context.roles) & set(roles):
        raise denied(f"changing this tenant needs one of the roles {sorted(roles)}")
    return context


# --- where an activity runs: the workflow run and the flow it belongs to ---------------------


def this_run_prefix() -> str:
    """``<workflow id>:<run id>:``: how our workflows begin every idempotency key (``self._key``).
    A key (stored with a row) that begins with it was written by this very run of the running
    activity; the ids come from the server with the activity task, not from the workflow."""
    info = activity.info()
    return f"{info.workflow_id}:{info.workflow_run_id}:"


def require_run_scoped(context: SecurityContext, key: str) -> None:
    """Outside ``system``, a step's idempotency key must belong to this run: what it writes then
    names the run that wrote it, which later checks rely on (``created by this run``)."""
    if context.actor != ActorKind.system and not key.startswith(this_run_prefix()):
        raise denied("the idempotency key does not belong to this workflow run")


def require_flow(context: SecurityContext, *workflow_types: str) -> None:
    """Outside ``system``, only workflows of these types may run the activity (the type is the
    one the server started the run as)."""
    if context.actor != ActorKind.system and activity.info().workflow_type not in workflow_types:
        raise denied(f"only {sorted(workflow_types)} may run {activity.info().activity_type}")


def require_flow_step(key: str, *workflow_types: str) -> SecurityContext:
    """The usual check of a workflow step's activity: a security context, run by one of
    ``workflow_types``, writing under this run's idempotency ``key`` (``system`` passes the last
    two). Returns the context for further checks."""
    context = require_context()
    require_flow(context, *workflow_types)
    require_run_scoped(context, key)
    return context
