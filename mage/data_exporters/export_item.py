"""Exporter: reconcile qb_item with QuickBooks in its one window; fail on a mismatch.

Item is taken whole, inactive records included: this block counts every Item in the
source again and compares it with the rows ingest_item extracted and the rows in the
database (the seed's "DB entries vs loaded").
"""

from pandas import DataFrame

from qbo_backfill.integrations import mage as qbo_mage

if 'data_exporter' not in globals():
    from mage_ai.data_preparation.decorators import data_exporter


@data_exporter
def export_item(chunks: DataFrame, *args, **kwargs) -> DataFrame:
    """Per window: source count, rows extracted, rows in the database, matched."""
    return DataFrame(qbo_mage.reconcile('Item', kwargs))
