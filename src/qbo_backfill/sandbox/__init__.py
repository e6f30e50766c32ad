"""A local stand-in for the QuickBooks Online API, served over real HTTP on loopback.

`Sandbox(SandboxConfig(...))` runs it in-process; `qbo-backfill sandbox serve` (or
`python -m qbo_backfill.sandbox serve`) runs it in the foreground. See docs/sandbox.md.
"""

from qbo_backfill.sandbox.config import SandboxConfig, SandboxInfo, client_env
from qbo_backfill.sandbox.faults import FAULT_KINDS, FaultSpec
from qbo_backfill.sandbox.runner import Sandbox, serve_forever

__all__ = [
    "FAULT_KINDS",
    "FaultSpec",
    "Sandbox",
    "SandboxConfig",
    "SandboxInfo",
    "client_env",
    "serve_forever",
]
