"""Loader: the money check that ends qb_sync (qbo-backfill verify --money) over the months
the sync touched, through the library.

Intuit's TransactionList against the copy, month by month; a difference fails the block
with the transactions named in its log. Returns one row of figures per month checked.
"""

from pandas import DataFrame

from qbo_backfill.integrations import mage as qbo_mage

if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def check_money(*args, **kwargs) -> DataFrame:
    """Per month: transactions and totals at the source and in the copy, residue, agreed."""
    return DataFrame(qbo_mage.check_money(kwargs))
