"""Writing to PostgreSQL: connections, page preparation, raw tables, the ledger."""
