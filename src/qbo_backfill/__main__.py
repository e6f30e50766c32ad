"""`python -m qbo_backfill` is the command line."""

from qbo_backfill.ui.cli import main

main()
