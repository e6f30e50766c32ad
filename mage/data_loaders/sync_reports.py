"""Loader: ask again for the months of the copied reports that can still change (the
current and previous month; variable report_months for more) through the library.

Payloads go straight into PostgreSQL (qb_report); a closed month whose report changed is
recorded, not silently overwritten. Returns one row of figures per report and basis.
"""

from pandas import DataFrame

from qbo_backfill.integrations import mage as qbo_mage

if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def sync_reports(*args, **kwargs) -> DataFrame:
    """Per report and basis: periods stored, splits, changed closed periods, API calls."""
    return DataFrame(qbo_mage.sync_reports(kwargs))
