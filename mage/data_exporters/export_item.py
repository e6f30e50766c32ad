"""Exporter: reconcile qb_item (one window, inactive records included); fail on a mismatch."""

from pandas import DataFrame

from qbo_backfill.integrations import mage as qbo_mage

if 'data_exporter' not in globals():
    from mage_ai.data_preparation.decorators import data_exporter


@data_exporter
def export_item(chunks: DataFrame, *args, **kwargs) -> DataFrame:
    """Per window: source count, rows extracted, rows in the database, matched."""
    return DataFrame(qbo_mage.reconcile('Item', kwargs))
