"""Loader: bring every copied entity up to date (changes, voids, deletes) through the library.

Rows stream straight into PostgreSQL; each entity commits with its cursor, so this block
returns one row of figures per entity, never the records themselves.
"""

from pandas import DataFrame

from qbo_backfill.integrations import mage as qbo_mage

if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def sync_company(*args, **kwargs) -> DataFrame:
    """Per entity: path, inserted, updated, deleted, reactivated, API calls, new cursor."""
    return DataFrame(qbo_mage.sync(kwargs))
