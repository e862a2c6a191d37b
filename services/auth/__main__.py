"""``python -m services.auth [--mode http|worker|both]``."""

from services.auth.service import SPEC
from services.common.runner import main

main(SPEC)
