"""Runtime variables of the Mage blocks: validated once, with one clear message each."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from qbo_backfill.entities import resolve_entity
from qbo_backfill.errors import ConfigError
from qbo_backfill.integrations.mage.variables import (
    RunVariables,
    check_runtime_vars_json,
    parse_run_variables,
)
from qbo_backfill.windows import ExtractWindow

INVOICE = resolve_entity("Invoice")
CUSTOMER = resolve_entity("Customer")
YEAR_2025 = {"start_date": "2025-01-01", "end_date": "2026-01-01"}
NO_ARGV: list[str] = []


def parse(variables: dict[str, Any], entity: Any = INVOICE) -> RunVariables:
    return parse_run_variables(variables, entity, argv=NO_ARGV)


def test_defaults_are_the_seeds_weekly_chunks_and_pages_of_100() -> None:
    run = parse(YEAR_2025)
    assert run == RunVariables(ExtractWindow(date(2025, 1, 1), date(2026, 1, 1)), 7, 100, False)


def test_the_end_date_is_exclusive_and_the_log_line_says_so() -> None:
    run = parse({"start_date": "2025-01-01", "end_date": "2025-04-01"})
    assert run.window == ExtractWindow(date(2025, 1, 1), date(2025, 4, 1))
    line = run.describe(INVOICE)
    assert "[2025-01-01, 2025-04-01)" in line
    assert "exclusive" in line
    assert "last day copied is 2025-03-31" in line


def test_the_seeds_spanish_names_are_the_same_variables() -> None:
    run = parse({"fecha_inicio": "2025-01-01", "fecha_fin": "2026-01-01"})
    assert run.window == parse(YEAR_2025).window


def test_both_names_given_must_agree() -> None:
    same = parse(YEAR_2025 | {"fecha_fin": "2026-01-01"})
    assert same.window == parse(YEAR_2025).window
    with pytest.raises(ConfigError, match=r"end_date and fecha_fin .* differ"):
        parse(YEAR_2025 | {"fecha_fin": "2025-12-31"})


def test_typed_values_from_json_and_dates_from_yaml() -> None:
    run = parse(
        {"start_date": date(2025, 1, 1), "end_date": date(2026, 1, 1), "chunk_days": 14}
        | {"page_size": "1000", "force": True}
    )
    assert (run.chunk_days, run.page_size, run.force) == (14, 1000, True)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"end_date": "2026-01-01"}, "Invoice needs .* start_date missing"),
        ({"start_date": "2025-01-01"}, "Invoice needs .* end_date missing"),
        ({}, "start_date and end_date missing"),
        ({"start_date": "", "end_date": "2026-01-01"}, "start_date missing"),
        (YEAR_2025 | {"end_date": "2025-13-01"}, "end_date must be a date as YYYY-MM-DD"),
        (YEAR_2025 | {"start_date": "20250101"}, "start_date must be a date"),
        (YEAR_2025 | {"start_date": "01/01/2025"}, "start_date must be a date"),
        (YEAR_2025 | {"start_date": 20250101}, "start_date must be a date"),
        (
            YEAR_2025 | {"start_date": datetime(2025, 1, 1, 12)},
            "not a time",
        ),
        ({"start_date": "2025-02-01", "end_date": "2025-02-01"}, "must be after start_date"),
        ({"start_date": "2025-02-01", "end_date": "2025-01-01"}, "must be after start_date"),
        (YEAR_2025 | {"chunk_days": 0}, "chunk_days must be a whole number from 1"),
        (YEAR_2025 | {"chunk_days": -7}, "chunk_days must be a whole number"),
        (YEAR_2025 | {"chunk_days": "seven"}, "chunk_days must be a whole number"),
        (YEAR_2025 | {"chunk_days": 7.5}, "chunk_days must be a whole number"),
        (YEAR_2025 | {"chunk_days": True}, "chunk_days must be a whole number"),
        (YEAR_2025 | {"chunk_days": "auto"}, "chunk_days must be a whole number"),
        (YEAR_2025 | {"page_size": 1001}, "page_size must be a whole number from 1 to 1000"),
        (YEAR_2025 | {"page_size": 0}, "page_size must be a whole number"),
        (YEAR_2025 | {"force": "maybe"}, "force must be true or false"),
    ],
)
def test_bad_values_fail_with_one_clear_message(variables: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(variables)


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("False", False), ("0", False)])
def test_force_accepts_words(text: str, expected: bool) -> None:
    assert parse(YEAR_2025 | {"force": text}).force is expected


def test_a_list_entity_is_copied_whole_and_takes_no_dates() -> None:
    run = parse({}, CUSTOMER)
    assert run.window is None
    assert run.options(CUSTOMER).window == ExtractWindow.whole()
    assert "copied whole" in run.describe(CUSTOMER)


def test_a_list_entity_still_rejects_a_malformed_date() -> None:
    with pytest.raises(ConfigError, match="start_date must be a date"):
        parse({"start_date": "yesterday"}, CUSTOMER)


def test_mage_passes_other_keys_which_are_ignored() -> None:
    run = parse(YEAR_2025 | {"execution_date": datetime.now(UTC), "logger": object()})
    assert run.chunk_days == 7


@pytest.mark.parametrize(
    "argv",
    [
        ["mage", "run", "mage", "qb_invoice_backfill", "--runtime-vars", '{"start_date": '],
        ["mage", "run", "mage", "qb_invoice_backfill", "--runtime-vars={'start_date': 1}"],
        ["mage", "run", "mage", "qb_invoice_backfill", "--runtime-vars"],
    ],
)
def test_malformed_runtime_vars_json_is_refused(argv: list[str]) -> None:
    with pytest.raises(ConfigError, match="--runtime-vars is not valid JSON"):
        check_runtime_vars_json(argv)
    with pytest.raises(ConfigError, match="default variables"):
        parse_run_variables(YEAR_2025, INVOICE, argv=argv)


def test_runtime_vars_must_be_an_object() -> None:
    with pytest.raises(ConfigError, match="must be a JSON object"):
        check_runtime_vars_json(["mage", "run", "--runtime-vars", "[1, 2]"])


@pytest.mark.parametrize(
    "argv",
    [
        ["mage", "run", "mage", "qb_item_backfill"],
        ["mage", "run", "mage", "qb_item_backfill", "--runtime-vars", '{"page_size": 50}'],
        ["mage", "start", "mage"],
    ],
)
def test_well_formed_or_absent_runtime_vars_pass(argv: list[str]) -> None:
    check_runtime_vars_json(argv)
