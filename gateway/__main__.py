"""``python -m gateway``: the GraphQL gateway on port 8080 (HTTP only; no worker)."""

from gateway.service import SPEC
from services.common.runner import main

main(SPEC)
