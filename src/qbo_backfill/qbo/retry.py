"""The one retry policy, for the API client and Intuit's token endpoint alike.

Only what is named is retried (an `ApiError` whose `retryable` says so: 5xx, timeouts, 429,
a refused access token); attempts and total time are both bounded; a server's wait hint
(`Retry-After`) wins, and a 429 without one waits Intuit's 60 s. A 400 and an
`invalid_grant` are never retried.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenacity import RetryCallState, retry_if_exception, stop_after_attempt, stop_after_delay

from qbo_backfill.errors import AccessTokenRejected, ApiError, ThrottledError
from qbo_backfill.settings import Settings

__all__ = ["MAX_RETRY_SECONDS", "RetryPolicy"]

# Bound on the total time one call may spend retrying, whatever the attempt count.
MAX_RETRY_SECONDS = 15 * 60


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; from the settings (QBO_RETRY_ATTEMPTS, ...)."""

    attempts: int = 5
    backoff_seconds: float = 1.0
    throttle_wait_seconds: float = 60.0
    max_total_seconds: float = MAX_RETRY_SECONDS

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            settings.retry_attempts, settings.backoff_seconds, settings.throttle_wait_seconds
        )

    @staticmethod
    def retryable(error: BaseException) -> bool:
        """Only errors that say trying again may help."""
        return isinstance(error, ApiError) and error.retryable

    def wait_seconds(self, state: RetryCallState) -> float:
        """The wait before the next attempt: the server's hint, 60 s for a 429, none after
        a refused access token (it was just refreshed), else exponential backoff."""
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, ThrottledError):
            hint = error.retry_after
            return hint if hint is not None else self.throttle_wait_seconds
        if isinstance(error, AccessTokenRejected):
            return 0.0
        return self.backoff_seconds * 2**state.attempt_number

    def tenacity_arguments(
        self, before_sleep: Callable[[RetryCallState], None] | None = None
    ) -> dict[str, Any]:
        """Keyword arguments for tenacity's `Retrying` / `AsyncRetrying`."""
        return {
            "retry": retry_if_exception(self.retryable),
            "stop": stop_after_attempt(self.attempts) | stop_after_delay(self.max_total_seconds),
            "wait": self.wait_seconds,
            "before_sleep": before_sleep,
            "reraise": True,
        }
