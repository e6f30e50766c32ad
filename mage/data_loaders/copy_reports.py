"""Loader: copy Intuit's reports (P&L, balance sheet, trial balance, ledger, aging, ...)
month by month into qb_report through the library, splitting answers cut short.

Payloads go straight into PostgreSQL; stored months cost no call on a second run. Returns
one row of figures per report and basis.
"""

from pandas import DataFrame

from qbo_backfill.integrations import mage as qbo_mage

if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def copy_reports(*args, **kwargs) -> DataFrame:
    """Per report and basis: calls, periods stored, empty months, splits."""
    return DataFrame(qbo_mage.copy_reports_block(kwargs))
