"""qbo-backfill: QuickBooks Online to PostgreSQL raw tables, idempotent and resumable."""

__version__ = "0.1.0"
