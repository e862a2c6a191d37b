"""The GDPR export rate limit: at most ``ADX_COMPLIANCE_EXPORTS_PER_PERSON`` export requests per
person in a moving window of ``ADX_COMPLIANCE_EXPORT_LIMIT_WINDOW_SECONDS`` (Redis, the
``limits`` library, shared by every replica). An export gathers everything the person holds in
every service and streams their files into one archive: the limit keeps one account (or a
stolen session) from making the platform do that in a loop. Beyond it a 429 problem with
``Retry-After`` (GraphQL ``RATE_LIMITED``); the counter is keyed on the user id."""

from __future__ import annotations

from limits import RateLimitItemPerSecond

from services.common.errors import RateLimitedError
from services.common.resources import Resources
from storage.rate_windows import moving_windows, seconds_until_room

_EXPORTS = "gdpr-exports"


class TooManyExportsError(RateLimitedError):
    type = "https://adx.dev/problems/too-many-exports"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many data export requests; try again in {retry_after} seconds.", retry_after
        )


async def admit_export(resources: Resources, user_id: str) -> None:
    """Count one export request of ``user_id``; ``TooManyExportsError`` once the window is full."""
    settings = resources.settings
    item = RateLimitItemPerSecond(
        settings.compliance_exports_per_person, settings.compliance_export_limit_window_seconds
    )
    limiter = moving_windows(resources.redis, resources.redis_keys("workflow", "limits"))
    if await limiter.hit(item, _EXPORTS, user_id):
        return
    raise TooManyExportsError(await seconds_until_room(limiter, item, _EXPORTS, user_id))
