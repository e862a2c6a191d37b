"""``python -m services.user [--mode http|worker|both]``."""

from services.common.runner import main
from services.user.service import SPEC

main(SPEC)
