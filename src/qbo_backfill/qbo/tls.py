"""One TLS context per process for every API client.

Building one loads the system's CA bundle, about 25 ms of CPU: paid once per process, not
once per session, which matters when a fleet worker opens a session for every small job.
"""

from __future__ import annotations

import functools
import ssl

import httpx

__all__ = ["tls_context"]


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The verifying TLS context httpx would build, built once."""
    return httpx.create_ssl_context()
