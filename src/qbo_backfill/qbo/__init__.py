"""Talking to QuickBooks Online: query text, the async API client, request pacing."""
