"""`python -m qbo_backfill.sandbox serve ...`: the sandbox as a separate process."""

from qbo_backfill.sandbox.cli import sandbox_group

if __name__ == "__main__":
    sandbox_group(prog_name="python -m qbo_backfill.sandbox")
