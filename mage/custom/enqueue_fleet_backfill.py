"""Enqueue a fleet backfill: a plan job per company and entity; the workers copy them.

Runtime variables: entities (comma-separated), start_date, end_date, realms (optional).
"""

from qbo_backfill.integrations import mage as qbo_mage

if 'custom' not in globals():
    from mage_ai.data_preparation.decorators import custom


@custom
def enqueue_fleet_backfill(*args, **kwargs) -> dict:
    """Companies, jobs enqueued, already waiting, already done."""
    return qbo_mage.enqueue_fleet(kwargs)
