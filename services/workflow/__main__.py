"""``python -m services.workflow [--mode http|worker|both]``."""

from services.common.runner import main
from services.workflow.service import SPEC

main(SPEC)
