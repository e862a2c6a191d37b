"""Bad input shared by the auth endpoints' tests."""

from __future__ import annotations

from tests.problems import malformed

# Bodies that are not a usable JSON object at all; every JSON endpoint must reject them.
MALFORMED = malformed("email", "a@example.com")
