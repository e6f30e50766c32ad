"""The error tree, grouped by what the caller should do next.

    BackfillError                   anything raised on purpose (exit 1)
    ├── ConfigError                 fix the input or configuration, run again (exit 2)
    ├── ReauthorizeError            the user must re-authorize (exit 3)
    ├── RunFailedError              chunks failed after retries, or a mismatch (exit 1)
    └── ApiError                    QBO answered with an error (`retryable`: try again?)
        ├── TransientApiError       retried with backoff: 5xx, timeouts, truncated bodies
        │   ├── ThrottledError      429: wait as the server says, or 60 s
        │   └── AccessTokenRejected 401: refresh the access token once, then retry
        ├── QueryRejected           400: the query is wrong; never retried
        ├── ReportTooDense          504 on a report: ask for a shorter period, not again
        └── ForbiddenError          403: the app may not read this company

Every error that reaches the command line becomes one line and one exit code:
0 done; 1 the run failed; 2 bad input or configuration; 3 the user must re-authorize.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_REAUTHORIZE = 3


class BackfillError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code = EXIT_RUN_FAILED


class ConfigError(BackfillError):
    """Bad input or configuration: fix it and run again (exit 2)."""

    exit_code = EXIT_BAD_INPUT


class ReauthorizeError(BackfillError):
    """The refresh token or client credentials were refused: re-authorize (exit 3)."""

    exit_code = EXIT_REAUTHORIZE


class RunFailedError(BackfillError):
    """Chunks failed after their retries, or reconciliation found a mismatch (exit 1)."""


class ApiError(BackfillError):
    """QBO answered with an error. `retryable` says whether trying again may help."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        intuit_tid: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.intuit_tid = intuit_tid
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = [super().__str__()]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(f"code {self.code}")
        if self.intuit_tid:
            parts.append(f"intuit_tid {self.intuit_tid}")
        return "; ".join(parts)


class TransientApiError(ApiError):
    """5xx, timeouts, resets, truncated bodies: worth retrying with backoff."""

    retryable = True


class ThrottledError(TransientApiError):
    """HTTP 429 (or a ThrottleExceeded Fault): wait as the server says, or 60 s."""


class AccessTokenRejected(TransientApiError):
    """HTTP 401 on a data call: refresh the access token once, then retry."""


class QueryRejected(ApiError):
    """HTTP 400 / a ValidationFault: the query itself is wrong; never retried."""


class ForbiddenError(ApiError):
    """HTTP 403: the app may not read this company (wrong keys or environment)."""


class ReportTooDense(ApiError):
    """HTTP 504 on a report (fault 6002): the request is too dense; the same request would
    fail again, so it is not retried: the caller asks for a shorter period."""
