"""The Mage project in `mage/`: pipelines of thin blocks, and one-time triggers that validate."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml

from qbo_backfill.entities import resolve_entity
from qbo_backfill.integrations.mage.variables import parse_run_variables

PROJECT = Path(__file__).resolve().parents[2] / "mage"
PIPELINES = {
    "qb_invoice_backfill": "Invoice",
    "qb_item_backfill": "Item",
    "qb_customer_backfill": "Customer",
}
FOLDERS = {"custom": "custom", "data_loader": "data_loaders", "data_exporter": "data_exporters"}
ALLOWED_IMPORTS = {"pandas", "qbo_backfill.integrations", "mage_ai.data_preparation.decorators"}
MAX_BLOCK_LINES = 25


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def pipeline(name: str) -> dict[str, Any]:
    data: dict[str, Any] = load(PROJECT / "pipelines" / name / "metadata.yaml")
    return data


def block_file(block: dict[str, Any]) -> Path:
    return PROJECT / FOLDERS[block["type"]] / f"{block['uuid']}.py"


def triggers(name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = load(PROJECT / "pipelines" / name / "triggers.yaml")["triggers"]
    return found


@pytest.mark.parametrize(("name", "entity"), PIPELINES.items())
def test_each_pipeline_is_token_check_then_ingest_then_export(name: str, entity: str) -> None:
    meta = pipeline(name)
    assert meta["uuid"] == meta["name"] == name
    chain = [(b["uuid"], b["type"], b["upstream_blocks"]) for b in meta["blocks"]]
    table = entity.lower()
    assert chain == [
        ("qb_tokens_checker", "custom", []),
        (f"ingest_{table}", "data_loader", ["qb_tokens_checker"]),
        (f"export_{table}", "data_exporter", [f"ingest_{table}"]),
    ]
    for block in meta["blocks"]:
        assert block_file(block).is_file(), block_file(block)


def block_files() -> list[Path]:
    return sorted({block_file(b) for name in PIPELINES for b in pipeline(name)["blocks"]})


@pytest.mark.parametrize("path", block_files(), ids=lambda p: p.stem)
def test_blocks_are_a_few_lines_that_call_the_library(path: Path) -> None:
    source = path.read_text()
    tree = ast.parse(source)
    assert len(source.splitlines()) <= MAX_BLOCK_LINES
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= ALLOWED_IMPORTS, imported
    assert "qbo_mage." in source
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert len(functions) == 1
    assert len(functions[0].body) == 2  # its docstring and one `return qbo_mage.<call>`


@pytest.mark.parametrize("path", block_files(), ids=lambda p: p.stem)
def test_blocks_keep_the_decorator_mage_passes_in(path: Path) -> None:
    """Mage runs a block file with its own decorator (the one that registers the block
    function) in the file's globals; importing Mage's plain decorator unconditionally would
    replace it, and Mage would find no function to run. So the import stays guarded."""
    tree = ast.parse(path.read_text())
    guards = [n for n in tree.body if isinstance(n, ast.If)]
    assert len(guards) == 1, "one `if '<decorator>' not in globals():` guard"
    (imported,) = guards[0].body
    assert isinstance(imported, ast.ImportFrom)
    assert imported.module == "mage_ai.data_preparation.decorators"
    (decorator,) = (alias.name for alias in imported.names)
    assert ast.unparse(guards[0].test) == f"{decorator!r} not in globals()"
    (function,) = (n for n in tree.body if isinstance(n, ast.FunctionDef))
    assert [ast.unparse(d) for d in function.decorator_list] == [decorator]
    unguarded = [
        n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == imported.module
    ]
    assert unguarded == []


@pytest.mark.parametrize("entity", PIPELINES.values())
def test_the_blocks_say_how_their_entity_is_copied(entity: str) -> None:
    """Invoice is cut into windows by TxnDate; Customer and Item are list entities, taken
    whole with inactive records: each block's docstring says which."""
    table = entity.lower()
    whole = resolve_entity(entity).date_field is None
    for folder, prefix in (("data_loaders", "ingest"), ("data_exporters", "export")):
        doc = ast.get_docstring(ast.parse((PROJECT / folder / f"{prefix}_{table}.py").read_text()))
        assert doc is not None
        text = " ".join(doc.split())
        assert f"qb_{table}" in text
        if whole:
            assert "inactive" in text
            assert "window" in text
        else:
            assert "by TxnDate" in text or "of TxnDate" in text
            assert "chunk_days" in text


@pytest.mark.parametrize("entity", PIPELINES.values())
def test_the_blocks_name_their_entity(entity: str) -> None:
    table = entity.lower()
    for folder, prefix in (("data_loaders", "ingest"), ("data_exporters", "export")):
        source = (PROJECT / folder / f"{prefix}_{table}.py").read_text()
        call = {"ingest": "ingest", "export": "reconcile"}[prefix]
        assert f"qbo_mage.{call}('{entity}', kwargs)" in source


@pytest.mark.parametrize(("name", "entity"), PIPELINES.items())
def test_triggers_are_one_time_inactive_and_their_variables_validate(
    name: str, entity: str
) -> None:
    found = triggers(name)
    assert found
    assert len({t["name"] for t in found}) == len(found)
    for trigger in found:
        assert trigger["schedule_type"] == "time"
        assert trigger["schedule_interval"] == "@once"
        assert trigger["status"] == "inactive"  # enabled on purpose, one at a time
        assert trigger["settings"]["skip_if_previous_running"] is True
        parse_run_variables(trigger["variables"], resolve_entity(entity), argv=[])


def test_invoice_triggers_cover_2025_in_distinct_ranges_without_overlap() -> None:
    windows = sorted(
        parse_run_variables(t["variables"], resolve_entity("Invoice"), argv=[]).window
        for t in triggers("qb_invoice_backfill")
    )
    assert len(windows) >= 2
    assert str(windows[0].start) == "2025-01-01"
    assert str(windows[-1].end) == "2026-01-01"
    for before, after in itertools.pairwise(windows):
        assert before.end == after.start  # the end date is exclusive: no gap, no day twice


def test_what_mage_writes_at_run_time_is_never_committed() -> None:
    ignored = set((PROJECT / ".gitignore").read_text().split())
    assert {"secrets/", "mage-ai.db", ".variables/", "mage_data/", ".logs/"} <= ignored
