"""Loader: copy Customer into qb_customer, taken whole.

Customer is a list entity: it has no TxnDate, so every record, inactive ones included, is
copied in one window; start_date and end_date are checked but do not apply. Pages stream
straight into PostgreSQL, so the block returns figures, never the records.
"""

from pandas import DataFrame

from qbo_backfill.integrations import mage as qbo_mage

if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def ingest_customer(*args, **kwargs) -> DataFrame:
    """Per-chunk figures: window, pages, rows extracted/inserted/updated, rows in table."""
    return DataFrame(qbo_mage.ingest('Customer', kwargs))
