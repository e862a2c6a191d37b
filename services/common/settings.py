"""Process settings: every knob is an ``ADX_``-prefixed environment variable with a documented default."""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)


class Environment(StrEnum):
    development = "development"
    test = "test"
    staging = "staging"
    production = "production"


class ServiceName(StrEnum):
    gateway = "gateway"
    auth = "auth"
    user = "user"
    file = "file"
    workflow = "workflow"
    tenant = "tenant"


#: Default HTTP port of each process (DESIGN.md section 2).
DEFAULT_PORTS: dict[ServiceName, int] = {
    ServiceName.gateway: 8080,
    ServiceName.auth: 8081,
    ServiceName.user: 8082,
    ServiceName.file: 8083,
    ServiceName.workflow: 8084,
    ServiceName.tenant: 8085,
}

#: PostgreSQL schema owned by each data-owning service (DESIGN.md section 3).
SERVICE_SCHEMAS: dict[ServiceName, str] = {
    ServiceName.auth: "auth",
    ServiceName.user: "users",
    ServiceName.file: "files",
    ServiceName.tenant: "tenants",
}

Port = Annotated[int, Field(ge=1, le=65535)]
ServiceUrl = Annotated[str, Field(pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")]
#: One http(s) base URL: scheme, host (a name, an IPv4 address or a bracketed IPv6 address), an
#: optional port and path; no query, fragment, user info or spaces.
SERVICE_URL_PATTERN = re.compile(
    r"^https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:(\d{1,5}))?(/[^\s?#@]*)?$"
)
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Where container platforms mount secret files (compose ``secrets:``, Kubernetes volumes).
DEFAULT_SECRETS_DIR = Path("/run/secrets")

#: Secrets without which a production process would fall back to generated development keys,
#: by the services that use them (every process talks to Temporal, so every one encrypts payloads).
PRODUCTION_SECRETS: dict[str, frozenset[ServiceName]] = {
    "payload_keys": frozenset(ServiceName),
    "auth_signing_keys": frozenset({ServiceName.auth}),
    "run_access_secret": frozenset({ServiceName.gateway}),
    "seal_keys": frozenset({ServiceName.auth, ServiceName.file}),
}

#: The application role's development password, refused in production.
DEV_DATABASE_APP_PASSWORD = "adx_app_dev_password"  # noqa: S105 (a known, refused default)

#: Services that send e-mail (and so care about ADX_MAIL_BACKEND).
MAIL_SENDERS = frozenset({ServiceName.auth})


def parse_networks(value: str) -> tuple[IPNetwork, ...]:
    """Comma-separated addresses and CIDR ranges; ``ValueError`` names the first bad entry."""
    networks = []
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=True))
        except ValueError as error:
            raise ValueError(f"{entry!r} is not an IP address or CIDR range ({error})") from None
    return tuple(networks)


def parse_service_urls(value: str) -> tuple[str, ...]:
    """Comma-separated http(s) base URLs of one service's instances (one URL may also be a DNS
    name resolving to several addresses); ``ValueError`` names the first bad entry. Trailing
    slashes are dropped; an empty entry or the same URL twice is refused."""
    urls: list[str] = []
    entries = [part.strip() for part in value.split(",")]
    for position, entry in enumerate(entries, start=1):
        if not entry:
            raise ValueError(f"entry {position} of {len(entries)} is empty (a stray comma?)")
        match = SERVICE_URL_PATTERN.match(entry)
        if match is None or (match.group(3) and not 0 < int(match.group(3)) < 65536):
            raise ValueError(
                f"entry {position} ({entry!r}) is not an http(s) base URL like "
                "http://host:8082 (no query, fragment or user info)"
            )
        url = entry.rstrip("/")
        if url in urls:
            raise ValueError(f"entry {position} ({entry!r}) is listed twice")
        urls.append(url)
    return tuple(urls)


def parse_nameservers(value: str) -> tuple[tuple[str, int], ...]:
    """``host:port`` items (``[v6]:port`` for IPv6), each host an IP address."""
    servers: list[tuple[str, int]] = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        host, sep, port = item.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{item!r} is not host:port")
        ipaddress.ip_address(host)  # ValueError for a name
        servers.append((host, int(port)))
    if not servers:
        raise ValueError("at least one name server")
    return tuple(servers)


class Settings(BaseSettings):
    """All settings of an ADX CORE process. Field descriptions are the documentation (see README)."""

    model_config = SettingsConfigDict(
        env_prefix="ADX_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Environment = Field(
        Environment.development,
        description="Deployment environment: development, test, staging or production. "
        "Production switches logs to JSON and masks GraphQL errors.",
    )
    log_level: str = Field("INFO", description="Root log level (DEBUG, INFO, WARNING, ERROR).")
    log_json: bool | None = Field(
        None,
        description="Force JSON (true) or console (false) logs; default: JSON outside development.",
    )
    secrets_dir: Path | None = Field(
        None,
        description="Directory of secret files named like the variables (`ADX_PAYLOAD_KEYS`, "
        "...), e.g. a mounted Kubernetes Secret or compose `secrets:`; default `/run/secrets` "
        "when it exists. A variable wins over a file of the same name.",
    )
    data_dir: Path = Field(
        Path(".data"),
        description="Directory for local state: Temporal dev-server database, embedded PostgreSQL "
        "and Redis data, local blobs, development keys.",
    )

    # --- HTTP ------------------------------------------------------------------------------
    http_host: str = Field("127.0.0.1", description="Interface the HTTP server binds to.")
    http_port: Port | None = Field(
        None, description="HTTP port of this process; default: the service's port (8080-8085)."
    )
    gateway_port: Port = Field(8080, description="Port of the GraphQL gateway.")
    auth_port: Port = Field(8081, description="Port of the auth service.")
    user_port: Port = Field(8082, description="Port of the user service.")
    file_port: Port = Field(8083, description="Port of the file service.")
    workflow_port: Port = Field(8084, description="Port of the workflow service.")
    tenant_port: Port = Field(8085, description="Port of the tenant service.")
    service_host: str = Field(
        "127.0.0.1", description="Host the gateway uses to reach services (when no URL override)."
    )
    auth_service_url: str | None = Field(
        None,
        description="Base URL of the auth service, or a comma-separated list of its instances "
        "(a name resolving to several addresses counts as several); default "
        "http://<service host>:<auth port>.",
    )
    user_service_url: str | None = Field(
        None,
        description="Base URL(s) of the user service (a list, like the auth service's); "
        "default http://<service host>:<user port>.",
    )
    file_service_url: str | None = Field(
        None,
        description="Base URL(s) of the file service (a list, like the auth service's); "
        "default http://<service host>:<file port>.",
    )
    workflow_service_url: str | None = Field(
        None,
        description="Base URL(s) of the workflow service (a list, like the auth service's); "
        "default http://<service host>:<workflow port>.",
    )
    tenant_service_url: str | None = Field(
        None,
        description="Base URL(s) of the tenant service (a list, like the auth service's); "
        "default http://<service host>:<tenant port>.",
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest accepted request body in bytes (413 above)."
    )

    # --- Gateway ---------------------------------------------------------------------------
    rate_limit_enabled: bool = Field(
        True, description="Rate-limit /graphql per client and per tenant (HTTP and WebSocket)."
    )
    rate_limit_window_seconds: int = Field(
        60, ge=1, le=86400, description="Length of the moving window the request limits count in."
    )
    rate_limit_anonymous_requests: int = Field(
        120, ge=1, description="Requests per window from one client address without a valid token."
    )
    rate_limit_user_requests: int = Field(
        600, ge=1, description="Requests per window of one signed-in user (token `sub`)."
    )
    rate_limit_tenant_requests: int = Field(
        3000, ge=1, description="Requests per window of all users of one tenant (token `tid`)."
    )
    rate_limit_mutation_cost: int = Field(
        2, ge=1, le=100, description="How many requests one mutation counts as."
    )
    idempotency_ttl_seconds: int = Field(
        86400,
        ge=60,
        le=7 * 86400,
        description="How long an `Idempotency-Key` of a mutation keeps naming the run it started.",
    )
    graphql_persisted_queries_only: bool = Field(
        False,
        description="Execute registered persisted queries only (APQ hashes already stored, or "
        "listed in the operations manifest); a request with a new query text is refused.",
    )
    graphql_operations_manifest: Path | None = Field(
        None,
        description="JSON list of the operations (query texts) clients may send, registered as "
        "persisted queries when the gateway starts (for `ADX_GRAPHQL_PERSISTED_QUERIES_ONLY`).",
    )
    graphql_persisted_query_ttl_seconds: int = Field(
        7 * 86400,
        ge=60,
        description="How long an automatically persisted query stays stored after its last use.",
    )
    graphql_max_cost: int = Field(
        10_000,
        ge=1,
        description="Largest estimated cost of one operation: each field 1, times the page size "
        "(`first`) of every list around it.",
    )
    subscription_max_per_user: int = Field(
        10, ge=1, le=1000, description="Concurrent subscriptions one user may hold (gateway-wide)."
    )
    subscription_ping_seconds: float = Field(
        15,
        gt=0,
        le=300,
        description="How often the gateway pings an idle graphql-transport-ws socket.",
    )
    service_call_timeout_seconds: float = Field(
        5.0,
        gt=0,
        le=120,
        description="Longest wait of the gateway for one call to one service instance "
        "(connecting: at most 2 s of it).",
    )
    request_deadline_seconds: float = Field(
        10.0,
        gt=0,
        le=300,
        description="Overall deadline of one GraphQL request over HTTP: a service call it would "
        "still need after that fails at once as SERVICE_UNAVAILABLE (retries included).",
    )
    instance_check_seconds: float = Field(
        2.0,
        ge=0,
        le=300,
        description="How often the gateway checks each service instance's /health/ready (and "
        "resolves service names again); 0 switches the active check off.",
    )
    breaker_failure_threshold: int = Field(
        5,
        ge=1,
        le=1000,
        description="Consecutive failures to reach a service (or one instance) that open its "
        "circuit breaker.",
    )
    breaker_open_seconds: float = Field(
        2.0,
        gt=0,
        le=600,
        description="How long an open circuit fails calls at once before one trial call "
        "(half-open) decides whether it closes.",
    )
    retry_budget_percent: int = Field(
        20,
        ge=0,
        le=100,
        description="Retries of idempotent reads on another instance, as a share of the calls to "
        "a service (beyond a reserve of 10); 0 switches retries off. Writes are never retried.",
    )
    graphql_introspection: bool | None = Field(
        None,
        description="Answer GraphQL introspection (`__schema`, `__type`); default: on, except in "
        "production and staging.",
    )
    graphql_suggestions: bool | None = Field(
        None,
        description="Suggest names in GraphQL errors (\"Did you mean 'me'?\"), which reveals the "
        "schema; default: on, except in production and staging.",
    )
    graphiql: bool | None = Field(
        None,
        description="Serve the GraphiQL page and its assets at /graphql; default: on, except in "
        "production and staging.",
    )

    # --- Temporal --------------------------------------------------------------------------
    temporal_address: str = Field("127.0.0.1:7233", description="Temporal frontend host:port.")
    temporal_namespace: str = Field("adx-development", description="Temporal namespace.")
    temporal_tls: bool = Field(
        False, description="Use TLS to reach Temporal (implied by an API key)."
    )
    temporal_tls_cert: Path | None = Field(None, description="Client certificate (PEM) for mTLS.")
    temporal_tls_key: Path | None = Field(None, description="Client private key (PEM) for mTLS.")
    temporal_tls_ca: Path | None = Field(
        None, description="CA bundle (PEM) of the Temporal server."
    )
    temporal_api_key: SecretStr | None = Field(None, description="Temporal Cloud API key.")
    temporal_connect_attempts: int = Field(
        10, ge=1, le=100, description="Connection attempts before giving up at start-up."
    )
    temporal_connect_backoff_seconds: float = Field(
        0.5,
        gt=0,
        le=30,
        description="First back-off between connection attempts (doubles, max 5s).",
    )
    temporal_rpc_deadline_seconds: float = Field(
        3.0,
        gt=0,
        le=60,
        description="Longest one Temporal call of a request (gateway or service route: start, "
        "describe, query, signal) may take, retries included, before it answers "
        "SERVICE_UNAVAILABLE / 503. Workers are not bounded by it.",
    )
    task_queue_prefix: str = Field(
        "adx",
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        description="Prefix of task queue names (`<prefix>-auth` ...); tests use a unique one.",
    )
    worker_max_concurrent_activities: int = Field(
        100, ge=1, description="Activities a worker runs at once."
    )
    worker_max_concurrent_workflow_tasks: int = Field(
        100, ge=1, description="Workflow tasks a worker runs at once."
    )
    worker_graceful_shutdown_seconds: float = Field(
        30, ge=0, description="On shutdown, how long running activities may take to finish."
    )
    # Worker versioning (docs/workflow-versioning.md): with a build id the worker is one
    # version of a worker deployment; new runs go to the deployment's current version, a run
    # stays on the version it started on (pinned) until it closes.
    worker_build_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
        description="Build id of this worker's code (the image's git commit). Set: the worker "
        "is a version of its worker deployment (worker versioning); unset: unversioned.",
    )
    worker_deployment_name: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$",
        description="Worker deployment of this worker (with ADX_WORKER_BUILD_ID); default: its "
        "task queue (`adx-auth`, ...).",
    )
    worker_versioning_behavior: Literal["pinned", "auto_upgrade"] = Field(
        "pinned",
        description="A versioned worker's runs: `pinned` finish on the version they started "
        "on; `auto_upgrade` move to the current version at their next workflow task.",
    )
    worker_set_current: bool = Field(
        False,
        description="A versioned worker makes its version the deployment's current one once "
        "it polls (development and single-step rollouts; else `temporal worker deployment "
        "set-current-version`).",
    )

    # --- PostgreSQL ------------------------------------------------------------------------
    database_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/adx",
        description="Owner connection (runs migrations). Services connect as the application role.",
    )
    auth_database_url: str | None = Field(None, description="Owner URL for the auth schema.")
    user_database_url: str | None = Field(None, description="Owner URL for the users schema.")
    file_database_url: str | None = Field(None, description="Owner URL for the files schema.")
    tenant_database_url: str | None = Field(None, description="Owner URL for the tenants schema.")
    database_app_role: str = Field(
        "adx_app",
        pattern=r"^[a-z_][a-z0-9_]*$",
        description="Login role services use: no superuser, no BYPASSRLS, so row-level security holds.",
    )
    database_app_password: SecretStr = Field(
        SecretStr(DEV_DATABASE_APP_PASSWORD),
        description="Password of the application role (the development default is refused in "
        "production and staging).",
    )
    database_pool_size: int = Field(
        10, ge=1, le=200, description="Connection pool size per process."
    )

    # --- Redis -----------------------------------------------------------------------------
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL.")
    redis_prefix: str = Field(
        "adx",
        description="Prefix of every Redis key and channel (isolates stacks sharing a server).",
    )

    # --- Blobs -----------------------------------------------------------------------------
    blob_backend: str = Field(
        "local",
        pattern="^(local|s3)$",
        description="`local` (files under ADX_BLOB_DIR) or `s3` (AWS S3, MinIO, SeaweedFS, ...).",
    )
    blob_dir: Path | None = Field(
        None, description="Local blob store root; default <data_dir>/blobs."
    )
    blob_s3_bucket: str | None = Field(
        None,
        description="Bucket holding the blobs (required with ADX_BLOB_BACKEND=s3; with `local`, "
        "the `s3` store a tenant's files can be moved to by file_migration).",
    )
    blob_s3_endpoint_url: ServiceUrl | None = Field(
        None,
        description="S3 endpoint, e.g. `http://127.0.0.1:8333` (SeaweedFS) or "
        "`http://127.0.0.1:9000` (MinIO); unset: AWS S3 of ADX_BLOB_S3_REGION.",
    )
    blob_s3_region: str = Field("us-east-1", description="S3 region (signing and AWS endpoint).")
    blob_s3_access_key_id: str | None = Field(
        None,
        description="S3 access key id; unset: the AWS default credential chain "
        "(AWS_* variables, profile, instance or pod role).",
    )
    blob_s3_secret_access_key: SecretStr | None = Field(
        None, description="S3 secret access key (set together with the access key id)."
    )
    blob_s3_path_style: bool = Field(
        False,
        description="Path-style addressing (`endpoint/bucket/key`): needed by MinIO and "
        "SeaweedFS; AWS uses virtual-hosted style.",
    )
    blob_s3_multipart_threshold_mib: int = Field(
        16, ge=5, le=5120, description="Bodies larger than this (MiB) go up as multipart uploads."
    )
    blob_s3_part_size_mib: int = Field(
        8, ge=5, le=5120, description="Part size (MiB) of multipart uploads (S3 minimum: 5)."
    )

    @model_validator(mode="after")
    def _check_blob_backend(self) -> Settings:
        if self.blob_backend == "s3" and not self.blob_s3_bucket:
            raise ValueError("ADX_BLOB_S3_BUCKET is required when ADX_BLOB_BACKEND=s3")
        if bool(self.blob_s3_access_key_id) != bool(self.blob_s3_secret_access_key):
            raise ValueError(
                "ADX_BLOB_S3_ACCESS_KEY_ID and ADX_BLOB_S3_SECRET_ACCESS_KEY must be set together"
            )
        return self

    # --- Workflows -------------------------------------------------------------------------
    progress_poll_seconds: float = Field(
        0.25, gt=0, le=10, description="How often the progress relay queries a running workflow."
    )
    run_access_secret: SecretStr | None = Field(
        None,
        description="Secret signing workflow-run access tokens handed out by mutations; "
        "default: generated into <data_dir>/keys (development).",
    )
    subscription_max_seconds: float = Field(
        3600, gt=0, description="Longest a GraphQL subscription stays open."
    )

    payload_keys: SecretStr | None = Field(
        None,
        description="JSON list `[{kid, key}]` of base64 AES-256 keys encrypting Temporal payloads; "
        "the last one encrypts, all decrypt. Default: a key generated into <data_dir>/keys.",
    )
    seal_keys: SecretStr | None = Field(
        None,
        description="JSON list `[{kid, key}]` of base64 AES-256 keys sealing secrets (link "
        "tokens, TOTP and recovery codes, SSO grants and tokens) before they enter a workflow "
        "payload; not the payload keys, so codec operators cannot read them. The last one "
        "seals, all unseal. Default: a key generated into <data_dir>/keys (development).",
    )
    codec_operator_token: SecretStr | None = Field(
        None,
        description="Bearer token operators present to the codec endpoint (/codec on the "
        "workflow service). Unset: the endpoint is closed (403), see "
        "ADX_CODEC_OPEN_IN_DEVELOPMENT.",
    )
    codec_open_in_development: bool = Field(
        False,
        description="Development opt-out: the codec endpoint decrypts for anyone who reaches it "
        "(the `make run` Temporal UI cannot send a token). Refused unless ADX_ENV=development.",
    )
    codec_cors_origins: str = Field(
        "http://localhost:8088,http://127.0.0.1:8088",
        description="Origins (comma-separated) allowed to call the codec endpoint: the Temporal UI.",
    )

    # --- Workflow run management (docs/workflows.md) ---------------------------------------
    workflow_operator_user_ids: str = Field(
        "",
        description="User ids (comma-separated) of platform operators: they see and act on "
        "every tenant's workflow runs and alone may terminate one.",
    )
    workflow_batch_max_runs: int = Field(
        100, ge=1, le=1000, description="Most runs one batch cancel or retry acts on."
    )
    workflow_batch_rate_per_second: float = Field(
        10.0, gt=0, le=1000, description="Runs a batch operation acts on per second at most."
    )
    workflow_insights_refresh_seconds: float = Field(
        60.0,
        ge=0,
        description="How often the workflow service refreshes its run insight gauges on "
        "/metrics (0: only when insights are asked for).",
    )
    compliance_export_link_seconds: int = Field(
        7 * 24 * 3600,
        ge=1,
        le=30 * 24 * 3600,
        description="How long a GDPR export's mailed download link (and the archive) lives.",
    )
    compliance_erasure_grace_seconds: int = Field(
        30 * 24 * 3600,
        ge=0,
        le=90 * 24 * 3600,
        description="Grace period of a GDPR erasure: it may be cancelled until it ends.",
    )
    compliance_decision_seconds: int = Field(
        30 * 24 * 3600,
        ge=1,
        le=90 * 24 * 3600,
        description="How long a GDPR erasure waits for new owners of tenants the person alone "
        "owns before it gives up (cancelled).",
    )
    compliance_exports_per_person: int = Field(
        3,
        ge=1,
        le=1000,
        description="GDPR exports one person may request per ADX_COMPLIANCE_EXPORT_LIMIT_WINDOW_"
        "SECONDS (each gathers everything they own: beyond it a 429 / RATE_LIMITED).",
    )
    compliance_export_limit_window_seconds: int = Field(
        24 * 3600,
        ge=1,
        le=30 * 24 * 3600,
        description="The moving window of ADX_COMPLIANCE_EXPORTS_PER_PERSON.",
    )

    # --- Auth ------------------------------------------------------------------------------
    auth_issuer: str = Field("https://auth.adx.local", description="`iss` of every access token.")
    auth_audience: str = Field("adx", description="`aud` of every access token.")
    auth_access_token_seconds: int = Field(
        600, ge=30, le=900, description="Access-token lifetime (at most 15 minutes)."
    )
    auth_refresh_token_days: int = Field(
        30, ge=1, le=365, description="Idle lifetime of a refresh token (each use rotates it)."
    )
    auth_session_max_days: int = Field(
        90, ge=1, le=365, description="Absolute lifetime of a session, however often refreshed."
    )
    auth_refresh_reuse_seconds: float = Field(
        5,
        ge=0,
        le=60,
        description="Reuse interval: a refresh token presented again this soon after its rotation "
        "gets the same successor (two tabs refreshing at once) instead of revoking the session; "
        "0 disables.",
    )
    auth_signing_keys: SecretStr | None = Field(
        None,
        description="JSON list of Ed25519 signing keys `[{kid, private_key_pem, retired_at?}]`, "
        "newest active last; default: keys generated into <data_dir>/keys (development).",
    )
    auth_verification_hours: float = Field(
        48, gt=0, description="How long a new account may stay unverified before it is removed."
    )
    auth_reset_token_minutes: float = Field(
        15, gt=0, le=1440, description="Lifetime of a password-reset token."
    )
    auth_login_free_attempts: int = Field(
        5, ge=1, le=100, description="Failed logins per account or client before delays start."
    )
    auth_login_max_delay_seconds: int = Field(
        900, ge=1, description="Ceiling of the growing delay after repeated failed logins."
    )
    auth_reset_requests_per_client: int = Field(
        20,
        ge=1,
        description="Password-reset requests one client address may make per window; 429 above.",
    )
    auth_reset_mails_per_address: int = Field(
        3,
        ge=1,
        description="Password resets (mails) started per e-mail address per window; further "
        "requests get the same answer but send nothing.",
    )
    auth_reset_limit_window_seconds: int = Field(
        3600, ge=1, le=86400, description="Moving window of the two password-reset limits."
    )
    auth_signup_mails_per_address: int = Field(
        5,
        ge=1,
        description="Sign-up mails (link or notice) sent to one e-mail address per window of "
        "ADX_AUTH_RESET_LIMIT_WINDOW_SECONDS; further sign-ups get the same answer and a run "
        "that sends nothing.",
    )
    auth_mfa_token_seconds: int = Field(
        300, ge=30, le=900, description="Lifetime of the partial token that completes MFA."
    )
    auth_mfa_setup_seconds: float = Field(
        600, gt=0, le=86400, description="How long an MFA enrolment waits for its first code."
    )
    auth_sso_providers: str = Field(
        "[]",
        description="JSON list of OIDC providers `[{name, issuer, client_id, client_secret, "
        "redirect_uri, link_verified_email?}]`.",
    )
    trusted_proxies: str = Field(
        "127.0.0.1,::1",
        description="Comma-separated peer addresses or CIDR ranges (the gateway, a load "
        "balancer; e.g. `10.244.0.0/16` for a pod network) whose X-Forwarded-For is believed "
        "when throttling per client.",
    )
    public_url: str = Field(
        "http://localhost:8080", description="Public base URL used in links sent by e-mail."
    )

    # --- E-mail ----------------------------------------------------------------------------
    mail_backend: str = Field(
        "outbox", pattern="^(outbox|smtp)$", description="`outbox` (files + log) or `smtp`."
    )
    mail_from: str = Field("ADX CORE <no-reply@adx.local>", description="Sender of every e-mail.")
    smtp_host: str = Field("127.0.0.1", description="SMTP server host.")
    smtp_port: Port = Field(25, description="SMTP server port.")
    smtp_username: str | None = Field(None, description="SMTP user (optional).")
    smtp_password: SecretStr | None = Field(None, description="SMTP password (optional).")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")

    # --- Billing (docs/billing.md) ---------------------------------------------------------
    billing_provider: str = Field(
        "local",
        pattern="^(local|stripe)$",
        description="`local` (in-process, charges no one, confirms every plan change) or "
        "`stripe` (the Stripe API at ADX_STRIPE_API_BASE).",
    )
    stripe_api_key: SecretStr | None = Field(
        None, description="Stripe secret key `sk_...` (required with ADX_BILLING_PROVIDER=stripe)."
    )
    stripe_api_base: ServiceUrl | None = Field(
        None,
        description="Stripe API base URL; unset: https://api.stripe.com. `make run` points it "
        "at its localstripe emulator when ADX_BILLING_PROVIDER=stripe.",
    )
    stripe_webhook_secret: SecretStr | None = Field(
        None,
        description="Signing secret `whsec_...` of the Stripe webhook endpoint "
        "(POST /billing/webhooks/stripe); required with ADX_BILLING_PROVIDER=stripe.",
    )
    billing_payment_timeout_seconds: float = Field(
        900,
        gt=0,
        le=86400,
        description="How long a plan change waits for its payment to be confirmed before the "
        "old plan is restored.",
    )

    @model_validator(mode="after")
    def _check_billing(self) -> Settings:
        if self.billing_provider == "stripe" and not (
            self.stripe_api_key and self.stripe_webhook_secret
        ):
            raise ValueError(
                "ADX_STRIPE_API_KEY and ADX_STRIPE_WEBHOOK_SECRET are required when "
                "ADX_BILLING_PROVIDER=stripe"
            )
        return self

    # --- Tenants (docs/tenancy.md) ------------------------------------------------------------
    tenant_invitation_days: int = Field(
        7, ge=1, le=90, description="Days an invitation link stays valid (single use)."
    )
    tenant_deletion_grace_seconds: float = Field(
        30 * 24 * 3600,
        ge=0,
        le=365 * 24 * 3600,
        description="How long a scheduled tenant deletion waits (a resume cancels it) before "
        "the tenant's data is exported and erased.",
    )
    tenant_dns_nameservers: str = Field(
        "1.1.1.1:53,8.8.8.8:53",
        description="Comma-separated `host:port` name servers asked for a domain's "
        "`_adx-verification` TXT record (IP addresses; IPv6 as `[::1]:53`).",
    )
    tenant_dns_timeout_seconds: float = Field(
        3.0, gt=0, le=30, description="How long a domain verification waits for DNS answers."
    )

    @field_validator("tenant_dns_nameservers")
    @classmethod
    def _check_tenant_dns(cls, value: str) -> str:
        parse_nameservers(value)
        return value

    @property
    def tenant_dns_servers(self) -> tuple[tuple[str, int], ...]:
        return parse_nameservers(self.tenant_dns_nameservers)

    # --- Users: bulk operations (docs/users.md) -------------------------------------------
    user_bulk_batch_size: int = Field(
        100, ge=1, le=1000, description="Rows a bulk user operation reads and records at once."
    )
    user_bulk_parallelism: int = Field(
        10, ge=1, le=100, description="Rows of a bulk user operation running at once."
    )
    user_bulk_rows_per_run: int = Field(
        2000,
        ge=1,
        le=100_000,
        description="Rows one run of a bulk user operation handles before it continues as new.",
    )

    # --- Files (docs/files.md) -------------------------------------------------------------
    file_max_direct_upload_mib: int = Field(
        25,
        ge=1,
        le=1024,
        description="Largest file the direct upload (POST /files) takes, in MiB; larger files "
        "go through the resumable tus endpoint (/uploads/tus).",
    )
    file_max_tus_upload_gib: int = Field(
        50, ge=1, le=5120, description="Largest file a tus upload may declare, in GiB."
    )
    file_tus_dir: Path | None = Field(
        None,
        description="Where unfinished tus uploads wait (one folder per tenant); default "
        "<data_dir>/tus.",
    )
    file_clamd_address: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9.-]+:[0-9]{1,5}$",
        description="host:port of ClamAV's clamd (TCP). Unset: uploads are not scanned and say "
        "so (scan verdict not_scanned, logged); set but unreachable: uploads wait in scanning.",
    )
    file_clamd_timeout_seconds: float = Field(
        120, gt=0, le=3600, description="Longest one clamd scan may take before it is retried."
    )
    file_signed_url_seconds: int = Field(
        900,
        ge=10,
        le=7 * 24 * 3600,
        description="Default lifetime of a signed download URL (a caller may ask for less).",
    )
    file_upload_plan_seconds: int = Field(
        86400,
        ge=5,
        le=7 * 24 * 3600,
        description="How long an upload planned by createUpload (POST /uploads) waits for its "
        "bytes: its file_upload run, started then, ends 'expired' after it; the quota it holds "
        "lapses too.",
    )
    file_processing_max_pixels: int = Field(
        50_000_000,
        ge=1,
        le=1_000_000_000,
        description="Largest image (width x height, read from its header before any decode) "
        "file_processing makes thumbnails of; a larger one is recorded as a refused "
        "decompression bomb and the file stays ready.",
    )
    file_processing_max_mib: int = Field(
        100,
        ge=1,
        le=4096,
        description="Largest file (MiB) file_processing reads to make thumbnails of; larger "
        "files are recorded as refused.",
    )
    file_purge_retention_seconds: int = Field(
        30 * 24 * 3600,
        ge=1,
        le=10 * 365 * 24 * 3600,
        description="How long a soft-deleted file is kept (blob, thumbnails, quota) before "
        "file_purge removes it for good.",
    )

    # --- Observability ---------------------------------------------------------------------
    otel_exporter: str = Field(
        "none",
        pattern="^(none|console|otlp|file)$",
        description="Where OpenTelemetry spans go: `none` (tracing off, nothing instrumented), "
        "`console` (stdout), `otlp` (OTLP/HTTP collector) or `file` (JSON lines).",
    )
    otel_endpoint: str | None = Field(
        None,
        description="OTLP/HTTP traces URL (e.g. `http://127.0.0.1:4318/v1/traces`); default: "
        "the standard `OTEL_EXPORTER_OTLP_*` variables, else localhost:4318.",
    )
    otel_file: Path | None = Field(
        None,
        description="File the `file` exporter appends spans to; default `<data dir>/traces.jsonl`.",
    )
    otel_sample_ratio: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Share of new traces recorded (a trace starts at an inbound request or "
        "activity); spans follow their parent's decision.",
    )
    metrics_port: Port | None = Field(
        None,
        description="Port serving `/metrics` (the process's HTTP series when it has an app, and "
        "its Temporal SDK series) in every mode, on `ADX_HTTP_HOST`; the HTTP port then has no "
        "`/metrics` (404). Unset (development convenience): `/metrics` is on the HTTP port and "
        "`--mode worker` serves none. Set it in production (deploy/ uses 9464).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Variables (and ``.env``) first, then files in the secrets directory."""
        if getattr(file_secret_settings, "secrets_dir", None) is None:  # no ``_secrets_dir=``
            directory = _secrets_directory()
            file_secret_settings = SecretsSettingsSource(
                settings_cls, secrets_dir=directory if directory and directory.is_dir() else None
            )
        return init_settings, env_settings, dotenv_settings, file_secret_settings

    @field_validator("secrets_dir")
    @classmethod
    def _check_secrets_dir(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"{value} is not a directory")
        return value

    @field_validator(
        "auth_service_url",
        "user_service_url",
        "file_service_url",
        "workflow_service_url",
        "tenant_service_url",
    )
    @classmethod
    def _service_urls(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return ",".join(parse_service_urls(value))

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: str) -> str:
        parse_networks(value)
        return value

    @model_validator(mode="after")
    def _check_codec_opt_out(self) -> Settings:
        if self.codec_open_in_development and self.env != Environment.development:
            raise ValueError(
                "ADX_CODEC_OPEN_IN_DEVELOPMENT=true is allowed only with ADX_ENV=development"
            )
        return self

    @model_validator(mode="after")
    def _check_tls(self) -> Settings:
        if bool(self.temporal_tls_cert) != bool(self.temporal_tls_key):
            raise ValueError("ADX_TEMPORAL_TLS_CERT and ADX_TEMPORAL_TLS_KEY must be set together")
        return self

    # --- derived ---------------------------------------------------------------------------
    @property
    def is_production(self) -> bool:
        return self.env in (Environment.production, Environment.staging)

    @property
    def json_logs(self) -> bool:
        return self.log_json if self.log_json is not None else self.env != Environment.development

    def port_of(self, service: ServiceName) -> int:
        return int(getattr(self, f"{service.value}_port"))

    def service_urls(self, service: ServiceName) -> tuple[str, ...]:
        """The instances of ``ADX_<SERVICE>_SERVICE_URL`` if set, else ``ADX_SERVICE_HOST`` and
        the service's port."""
        override = getattr(self, f"{service.value}_service_url", None)
        if override:
            return parse_service_urls(str(override))
        return (f"http://{self.service_host}:{self.port_of(service)}",)

    def service_url(self, service: ServiceName) -> str:
        """The first of ``service_urls`` (for a caller that needs one address)."""
        return self.service_urls(service)[0]

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.trusted_proxies)

    def production_problems(self, service: ServiceName) -> dict[str, str]:
        """Settings ``service`` may not leave to their development fallbacks in production or
        staging, by variable name (empty in development and test)."""
        if not self.is_production:
            return {}
        problems = {
            f"ADX_{name.upper()}": f"required when ADX_ENV={self.env.value} (development "
            "secrets are generated per process, so replicas would not share them)"
            for name, users in PRODUCTION_SECRETS.items()
            if service in users and getattr(self, name) is None
        }
        if service in SERVICE_SCHEMAS:
            problems.update(self.database_role_problems())
        if service in MAIL_SENDERS and "mail_backend" not in self.model_fields_set:
            problems["ADX_MAIL_BACKEND"] = (
                "set `smtp` (or `outbox` explicitly to keep mails in files, undelivered)"
            )
        if service == ServiceName.tenant and "billing_provider" not in self.model_fields_set:
            problems["ADX_BILLING_PROVIDER"] = (
                "set `stripe` (or `local` explicitly: plan changes then charge nobody)"
            )
        return problems

    def database_role_problems(self) -> dict[str, str]:
        """The application role's password may not be the development default in production
        (``adx migrate`` sets it, the services log in with it)."""
        if self.is_production and (
            self.database_app_password.get_secret_value() == DEV_DATABASE_APP_PASSWORD
        ):
            return {"ADX_DATABASE_APP_PASSWORD": "the development default is not allowed"}
        return {}

    def outbox_in_production(self, service: ServiceName) -> bool:
        """An explicitly chosen file outbox where mails should be delivered (warned at start)."""
        return self.is_production and service in MAIL_SENDERS and self.mail_backend == "outbox"

    def task_queue(self, service: ServiceName) -> str:
        return f"{self.task_queue_prefix}-{service.value}"

    def owner_database_url(self, service: ServiceName) -> str:
        override = getattr(self, f"{service.value}_database_url", None)
        return override or self.database_url

    def schema_owner_urls(self) -> dict[str, str]:
        """Each data-owning service's schema and its owner URL, in ``SERVICE_SCHEMAS`` order
        (what ``adx migrate`` walks: ``storage.migrate``)."""
        return {
            schema: self.owner_database_url(service) for service, schema in SERVICE_SCHEMAS.items()
        }

    def app_database_url(self, service: ServiceName) -> str:
        """The owner URL with the application role's credentials swapped in."""
        from sqlalchemy.engine import make_url

        url = make_url(self.owner_database_url(service))
        return url.set(
            username=self.database_app_role,
            password=self.database_app_password.get_secret_value(),
        ).render_as_string(hide_password=False)

    def blob_root(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"

    def tus_root(self) -> Path:
        return self.file_tus_dir or self.data_dir / "tus"

    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        name = "ADX_" + "_".join(str(p) for p in item["loc"] if isinstance(p, str)).upper()
        lines.append(f"  {name if name != 'ADX_' else '(settings)'}: {item['msg']}")
    return "invalid settings:\n" + "\n".join(lines)


class SettingsError(SystemExit):
    """Raised at start-up when a setting is invalid; the message names the setting."""


def _secrets_directory() -> Path | None:
    configured = os.environ.get("ADX_SECRETS_DIR")
    if configured:
        return Path(configured)
    return DEFAULT_SECRETS_DIR if DEFAULT_SECRETS_DIR.is_dir() else None


def check_production_settings(settings: Settings, services: Iterable[ServiceName]) -> None:
    """Stop the process (exit 2) when production lacks a secret a development fallback would
    otherwise generate (a replica with its own generated key cannot read the others' payloads
    or tokens) or leaves the mail backend at its development default."""
    problems: dict[str, str] = {}
    for service in services:
        problems.update(settings.production_problems(service))
    stop_on_production_problems(problems)


def stop_on_production_problems(problems: dict[str, str]) -> None:
    """Exit 2 listing ``problems`` (variable → why), if there are any."""
    if problems:
        lines = "\n".join(f"  {name}: {why}" for name, why in sorted(problems.items()))
        print(f"invalid settings for production:\n{lines}", file=sys.stderr)
        raise SettingsError(2)


def load_settings() -> Settings:
    """Read settings from the environment; exit the process with a clear message when invalid."""
    try:
        return Settings()
    except ValidationError as error:
        message = _describe(error)
        print(message, file=sys.stderr)
        raise SettingsError(2) from error
