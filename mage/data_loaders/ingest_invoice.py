"""Loader: copy Invoice into qb_invoice, window by window.

Invoice is a transaction: start_date (inclusive) to end_date (exclusive) is cut by TxnDate
into chunks of chunk_days, each committed with its ledger row, so a run that stopped
resumes at its first open chunk. Returns one row of figures per chunk, never the records.
"""

from pandas import DataFrame

from qbo_backfill.integrations import mage as qbo_mage

if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def ingest_invoice(*args, **kwargs) -> DataFrame:
    """Per-chunk figures: window, pages, rows extracted/inserted/updated, rows in table."""
    return DataFrame(qbo_mage.ingest('Invoice', kwargs))
