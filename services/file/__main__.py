"""``python -m services.file [--mode http|worker|both]``."""

from services.common.runner import main
from services.file.service import SPEC

main(SPEC)
