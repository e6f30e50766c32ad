"""`--other-records` / `SandboxConfig.other_records`: the size of every other entity."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from qbo_backfill.sandbox import SandboxConfig
from qbo_backfill.sandbox.cli import sandbox_group


def test_the_option_is_documented_and_checked() -> None:
    help_text = CliRunner().invoke(sandbox_group, ["serve", "--help"]).output
    assert "--other-records" in help_text
    bad = CliRunner().invoke(sandbox_group, ["serve", "--port", "0", "--other-records", "-1"])
    assert bad.exit_code == 2
    assert "other_records must be >= 0" in bad.output


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, 100),  # 2000 invoices / 20
        ({"invoices": 300}, 15),
        ({"invoices": 1_000_000}, 500),  # the default's ceiling
        ({"invoices": 0}, 0),
        ({"other_records": 7}, 7),
        ({"other_records": 0}, 0),
    ],
)
def test_default_follows_the_invoices(fields: dict[str, int], expected: int) -> None:
    assert SandboxConfig(**fields).other_count() == expected


def test_other_records_need_customers_and_items() -> None:
    with pytest.raises(ValueError, match="at least one customer and one item"):
        SandboxConfig(customers=0, invoices=0, other_records=5).validate()
