"""The security suite's list (tests/security_suite.py) names files that exist and hold tests, and
collection marks what it lists (``in_security_suite``, which tests/conftest.py applies): a moved or renamed test file fails here instead of
silently leaving `make security`."""

from __future__ import annotations

from tests.security_suite import SECURITY_SUITE, in_security_suite
from tests.support import ROOT


def test_every_listed_file_exists_and_holds_tests() -> None:
    for path in SECURITY_SUITE:
        text = (ROOT / path).read_text()
        assert "def test_" in text, f"{path} holds no test"


def test_in_security_suite_reads_paths_and_names() -> None:
    assert in_security_suite("tests/auth/sessions/test_token_attacks.py::test_x")
    assert in_security_suite("tests/file/test_tus.py::test_a_cross_tenant_offset_is_refused")
    assert not in_security_suite("tests/file/test_tus.py::test_resume")
