"""Exporter: reconcile qb_invoice with QuickBooks, window by window; fail on a mismatch.

Each chunk_days window of TxnDate in start_date..end_date is counted in the source again and
compared with the rows ingest_invoice extracted and the rows in the database (the seed's
"DB entries vs loaded").
"""

from pandas import DataFrame

from qbo_backfill.integrations import mage as qbo_mage

if 'data_exporter' not in globals():
    from mage_ai.data_preparation.decorators import data_exporter


@data_exporter
def export_invoice(chunks: DataFrame, *args, **kwargs) -> DataFrame:
    """Per window: source count, rows extracted, rows in the database, matched."""
    return DataFrame(qbo_mage.reconcile('Invoice', kwargs))
