"""`python -m qbo_backfill` is the command line."""

from qbo_backfill.cli import main

main()
