"""The security and compliance suite (issue 13): the tests `make security` runs, marked
``security`` at collection (tests/conftest.py). One list, so what the suite covers is read here:

- the JWT and session attack set (forged, expired, ``alg`` confusion, replayed and stolen tokens,
  brute force, service-to-service tokens, SSO ID tokens);
- the cross-tenant matrices (every service's, RLS leak tests, run scope), plus any test anywhere
  whose name says it crosses tenants;
- schemathesis over every service's OpenAPI and over the gateway's GraphQL schema;
- the erasure check (GDPR journey: the person is in no schema, blob store, Redis key or run) and
  what keeps secrets and personal data out of histories and logs.

A path listed here that no longer exists fails tests/platform/test_security_suite.py, so a move
cannot silently shrink the suite."""

from __future__ import annotations

import re

SECURITY_SUITE: dict[str, str] = {
    # the JWT / session attack set
    "tests/auth/sessions/test_token_attacks.py": "JWT attacks",
    "tests/auth/sessions/test_brute_force.py": "JWT attacks",
    "tests/auth/sessions/test_key_rotation.py": "JWT attacks",
    "tests/auth/sessions/test_refresh_rotation.py": "JWT attacks",
    "tests/auth/sessions/test_gateway_auth.py": "JWT attacks",
    "tests/auth/sso/test_sso_id_token.py": "JWT attacks",
    "tests/auth/registration/test_pre_hijack.py": "JWT attacks",
    "tests/platform/test_service_authentication.py": "JWT attacks",
    "tests/platform/test_security_context.py": "JWT attacks",
    "tests/platform/test_sealing.py": "JWT attacks",
    # the cross-tenant matrices
    "tests/tenant/http/test_cross_tenant.py": "cross-tenant",
    "tests/user/test_cross_tenant.py": "cross-tenant",
    "tests/file/test_cross_tenant.py": "cross-tenant",
    "tests/file/sharing/test_sharing_isolation.py": "cross-tenant",
    "tests/workflow/graphql/test_run_scope.py": "cross-tenant",
    "tests/platform/test_row_level_security.py": "cross-tenant",
    "tests/platform/test_blobs.py": "cross-tenant",
    # schemathesis: every OpenAPI and the GraphQL schema
    "tests/platform/test_schemathesis.py": "schemathesis",
    "tests/platform/test_openapi_problems.py": "schemathesis",
    # compliance: the erasure check, secrets and personal data out of histories and logs
    "tests/workflow/compliance/test_gdpr_journey.py": "compliance",
    "tests/workflow/compliance/test_erasure.py": "compliance",
    "tests/auth/test_secrets_out_of_histories.py": "compliance",
    "tests/platform/test_planted_secrets.py": "compliance",
    "tests/platform/test_log_redaction.py": "compliance",
}

#: A test anywhere whose name says it acts across tenants belongs to the cross-tenant matrix.
CROSS_TENANT_NAME = re.compile(r"cross_tenant|other_tenant|another_tenant|foreign_tenant")


def in_security_suite(nodeid: str) -> bool:
    path, _, name = nodeid.partition("::")
    return path in SECURITY_SUITE or bool(CROSS_TENANT_NAME.search(name))
