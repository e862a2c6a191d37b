"""``python -m services.tenant [--mode http|worker|both]``."""

from services.common.runner import main
from services.tenant.service import SPEC

main(SPEC)
