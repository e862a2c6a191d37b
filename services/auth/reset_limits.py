"""Limits on password-reset *requests* (moving windows in Redis, by the ``limits`` library).

- Per client address: beyond ``ADX_AUTH_RESET_REQUESTS_PER_CLIENT`` requests a 429 — stops one
  client from mail-bombing many addresses or probing for accounts at speed.
- Per e-mail address: beyond ``ADX_AUTH_RESET_MAILS_PER_ADDRESS`` started resets no further
  reset runs (so no mails) start, but the answer stays the same. The counter is keyed on what
  was typed, whether or not an account exists, so neither the answer nor its timing tells
  anything about accounts.

Completing a reset and logging in are never limited here: the owner can always finish a reset
whose mail arrived, however many requests others made.
"""

from __future__ import annotations

from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.strategies import MovingWindowRateLimiter

from services.common.errors import RateLimitedError
from services.common.resources import Resources
from storage.rate_windows import moving_windows, seconds_until_room
from workflows.auth.contracts import address_digest

_CLIENT = "reset-client"
_ADDRESS = "reset-address"


class TooManyResetRequestsError(RateLimitedError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many password-reset requests from this address; try again in "
            f"{retry_after} seconds.",
            retry_after,
        )


@dataclass(frozen=True)
class ResetRequestLimits:
    limiter: MovingWindowRateLimiter
    per_client: RateLimitItem
    per_address: RateLimitItem

    @classmethod
    def build(cls, resources: Resources) -> ResetRequestLimits:
        settings = resources.settings
        window = settings.auth_reset_limit_window_seconds
        return cls(
            limiter=moving_windows(resources.redis, resources.redis_keys("auth", "limits")),
            per_client=RateLimitItemPerSecond(settings.auth_reset_requests_per_client, window),
            per_address=RateLimitItemPerSecond(settings.auth_reset_mails_per_address, window),
        )

    async def admit_client(self, client: str | None) -> None:
        """Count one request of ``client``; 429 (with Retry-After) once its window is full."""
        if not client:
            return
        if await self.limiter.hit(self.per_client, _CLIENT, client):
            return
        raise TooManyResetRequestsError(
            await seconds_until_room(self.limiter, self.per_client, _CLIENT, client)
        )

    async def address_has_room(self, email: str) -> bool:
        """Whether another reset run (and mail) may start for ``email`` (normalised)."""
        return await self.limiter.test(self.per_address, _ADDRESS, address_digest(email))

    async def count_started(self, email: str) -> None:
        await self.limiter.hit(self.per_address, _ADDRESS, address_digest(email))
