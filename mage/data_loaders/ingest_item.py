"""Loader: copy Item into qb_item, a list entity: one window, inactive records included."""

from pandas import DataFrame

from qbo_backfill.integrations import mage as qbo_mage

if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def ingest_item(*args, **kwargs) -> DataFrame:
    """Per-chunk figures: window, pages, rows extracted/inserted/updated, rows in table."""
    return DataFrame(qbo_mage.ingest('Item', kwargs))
