"""The evidence of a run: its model, SQL checks, and formats (JSON, CSV, HTML)."""
