"""Intuit's webhooks: signed notifications of changes, turned into fleet syncs (webhooks.md)."""
