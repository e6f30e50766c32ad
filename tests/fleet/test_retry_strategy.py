"""The fleet's retry strategy: what is retried, how often, and when a budget reopens."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from procrastinate import exceptions
from procrastinate.jobs import Job

from qbo_backfill.errors import (
    ConfigError,
    ForbiddenError,
    QueryRejected,
    ReauthorizeError,
    ThrottledError,
    TransientApiError,
)
from qbo_backfill.fleet.budget import BudgetReached, month_of, next_month
from qbo_backfill.fleet.jobs import MAX_ATTEMPTS, FleetRetry
from qbo_backfill.fleet.work import ChunkBusy


def _job(attempts: int) -> Job:
    return Job(
        id=1,
        queue="q",
        lock=None,
        queueing_lock=None,
        task_name="t",
        task_kwargs={},
        attempts=attempts,
    )


@pytest.mark.parametrize(
    "error",
    [
        TransientApiError("5xx"),
        ThrottledError("429"),
        ChunkBusy("held"),
        psycopg.OperationalError("gone"),
        exceptions.ConnectorException(),
    ],
)
def test_transient_failures_are_retried_until_the_last_attempt(error: BaseException) -> None:
    strategy = FleetRetry()
    assert strategy.get_retry_decision(exception=error, job=_job(0)) is not None
    assert strategy.get_retry_decision(exception=error, job=_job(MAX_ATTEMPTS - 2)) is not None
    assert strategy.get_retry_decision(exception=error, job=_job(MAX_ATTEMPTS - 1)) is None


@pytest.mark.parametrize(
    "error",
    [
        ReauthorizeError("invalid_grant"),
        ConfigError("bad"),
        QueryRejected("400"),
        ForbiddenError("403"),
        ValueError("a bug"),
    ],
)
def test_what_cannot_pass_fails_at_once(error: BaseException) -> None:
    assert FleetRetry().get_retry_decision(exception=error, job=_job(0)) is None


def test_a_reached_budget_waits_for_next_month_whatever_the_attempts() -> None:
    decision = FleetRetry().get_retry_decision(
        exception=BudgetReached("reached"), job=_job(MAX_ATTEMPTS + 3)
    )
    assert decision is not None
    assert decision.retry_at is not None
    assert decision.retry_at > datetime.now(UTC)
    assert (decision.retry_at.day, decision.retry_at.hour, decision.retry_at.minute) == (1, 0, 0)


def test_months_roll_over_at_the_year_end() -> None:
    december = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    assert month_of(december).isoformat() == "2026-12-01"
    assert next_month(december) == datetime(2027, 1, 1, tzinfo=UTC)
