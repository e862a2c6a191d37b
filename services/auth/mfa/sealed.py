"""What the MFA secrets are sealed for on their way through the ``mfa_setup`` workflow: the TOTP
seed and its ``otpauth://`` URI (setup -> the secret update -> the route), the activation code
(the route -> the activate update -> verify_totp) and the recovery codes (enable_mfa -> the
activate update -> the route). Each is bound to its kind and its user, so a sealed value lifted
from one history opens for no other user and as no other kind (services/common/sealing.py)."""

from __future__ import annotations

from services.common.sealing import Sealer, SealError, sealer_for
from services.common.settings import Settings
from workflows.auth.contracts import AuthError
from workflows.common.errors import business_error

TOTP_SECRET = "totp-secret"  # noqa: S105 - a purpose name
OTPAUTH_URI = "otpauth-uri"
TOTP_CODE = "totp-code"
RECOVERY_CODE = "recovery-code"


def purpose(kind: str, user_id: str) -> str:
    return f"mfa:{kind}:{user_id}"


class MfaSeals:
    """Seal and open one user's MFA values (raw values of runs from before sealing pass)."""

    def __init__(self, settings: Settings, user_id: str) -> None:
        self._sealer: Sealer = sealer_for(settings)
        self._user_id = str(user_id)

    def seal(self, kind: str, value: str) -> str:
        return self._sealer.seal(value, purpose(kind, self._user_id))

    def open(self, kind: str, value: str) -> str:
        try:
            return self._sealer.unseal_or_raw(value, purpose(kind, self._user_id))
        except SealError as error:
            raise business_error(
                AuthError.INVALID_INPUT, f"the sealed {kind} cannot be opened"
            ) from error
