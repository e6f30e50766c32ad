"""The Mage block that ends `qb_sync`: a money check (`verify --money`) of the months the
sync touched. The first check of a company covers all its months; later ones the months
whose transactions the copy wrote or deleted since the last check (the open months'
reports were just asked for again by `sync_reports`, so they are not asked for twice).
A difference fails the block, the transactions named in its log."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from qbo_backfill.errors import RunFailedError
from qbo_backfill.integrations.mage.blocks import one_line_errors, run_to_end
from qbo_backfill.integrations.mage.log import BlockLog, block_log
from qbo_backfill.integrations.mage.secrets import load_settings
from qbo_backfill.load.moneyrecord import MoneyResult
from qbo_backfill.run.money import MoneyOptions, touched_since_last_check, verify_money
from qbo_backfill.run.reportplan import open_from
from qbo_backfill.run.session import open_session
from qbo_backfill.settings import Settings

__all__ = ["NAMED_IN_LOG", "check_money"]

NAMED_IN_LOG = 20


def check_money(
    variables: Mapping[str, Any], *, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """One row per month checked (the figures of `verify --money`); raises BlockFailed
    naming the first differing transactions when any month disagrees."""
    log = block_log(variables)
    with one_line_errors():
        result = run_to_end(_check(settings or load_settings()))
        _log(log, result)
        if not result.ok:
            raise RunFailedError(_failure(result))
    return [m.as_dict() for m in result.months]


async def _check(settings: Settings) -> MoneyResult:
    async with open_session(settings) as session:
        checked, touched = await touched_since_last_check(session)
        if checked and touched is None:  # nothing changed since the last check
            touched = open_from(datetime.now(UTC).date(), 2)
        options = MoneyOptions(start=touched, refresh_open=False)
        return await verify_money(session, options)


def _log(log: BlockLog, result: MoneyResult) -> None:
    for month in result.months:
        if not month.agreed:
            log.warning_line(
                f"{month.month:%Y-%m}: source {month.source_count} ({month.source_total}), "
                f"copy {month.copy_count} ({month.copy_total}): {month.missing} missing, "
                f"{month.extra} extra, {month.amounts_differing} amounts and "
                f"{month.dates_differing} dates differ"
            )
    for diff in result.differences[:NAMED_IN_LOG]:
        log.warning_line(_named(diff.as_dict()))
    for row in [*result.not_adding_up, *result.open_balances]:
        log.warning_line(", ".join(f"{k} {v}" for k, v in row.items()))
    agreeing = sum(m.agreed for m in result.months)
    log.line(
        f"money check {result.first}..{result.last}: {agreeing} of {len(result.months)} months"
        f" agree, {len(result.differences)} transactions differ; {result.calls} API calls"
    )


def _failure(result: MoneyResult) -> str:
    """The block's one line: how many differ, the first three named."""
    named = "; ".join(_named(d.as_dict()) for d in result.differences[:3])
    failed = "; ".join(result.reports_failed)
    return (
        f"money check: {len(result.differences)} transactions differ"
        + (f": {named}" if named else "")
        + f"; {len(result.not_adding_up)} report lines do not add up, "
        f"{len(result.open_balances)} open balances differ"
        + (f"; reports not copied: {failed}" if failed else "")
    )


def _named(d: dict[str, Any]) -> str:
    return (
        f"{d['kind']} {d['type']} {d['id']} (number {d['number'] or '-'}): source "
        f"{d['source_date'] or '-'} {d['source_amount'] or '-'}, copy {d['copy_date'] or '-'}"
        f" {d['copy_amount'] or '-'}"
    )
