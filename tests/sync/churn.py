"""Seeded changes at the sandbox for the sync tests, and exact comparisons of the raw tables
with the sandbox afterwards (live rows = the source; deleted rows marked, payload kept)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from qbo_backfill.sandbox import Sandbox


@dataclass
class Churn:
    """What a churn did, per entity: Ids hard-deleted (and not restored since)."""

    deleted: dict[str, set[int]] = field(default_factory=dict)
    changes: int = 0

    def note_delete(self, entity: str, record_id: int) -> None:
        self.deleted.setdefault(entity, set()).add(record_id)
        self.changes += 1


def churn(sb: Sandbox, seed: int, size: int = 10, churned: Churn | None = None) -> Churn:
    """Creates, updates, deactivations, hard deletes, voids, an undo, and an invoice dated
    after the backfill's window: `size` of most kinds, chosen by a seeded generator."""
    rng = random.Random(seed)
    done = churned or Churn()
    invoices = sorted(int(r["Id"]) for r in sb.records("Invoice"))
    customers = sorted(int(r["Id"]) for r in sb.records("Customer"))
    picked = rng.sample(invoices, 3 * size)
    for record_id in picked[:size]:
        sb.update("Invoice", record_id, {"PrivateNote": f"edited {rng.random():.6f}"})
    for record_id in picked[size : 2 * size]:
        sb.void("Invoice", record_id)
    for record_id in picked[2 * size :]:
        sb.delete("Invoice", record_id)
        done.note_delete("Invoice", record_id)
    undo = picked[-1]
    sb.restore("Invoice", undo)  # deleted, then back: must end live
    done.deleted["Invoice"].discard(undo)
    for record_id in rng.sample(customers, size):
        sb.delete("Customer", record_id)  # a list record: made inactive, an update
    gone = rng.choice(customers)
    sb.delete("Customer", gone, hard=True)
    done.note_delete("Customer", gone)
    for n in range(size):
        sb.create("Customer", {"DisplayName": f"New {seed}-{n}", "Active": True})
    sb.create(
        "Invoice",
        {"TxnDate": "2026-06-01", "CustomerRef": {"value": str(customers[0])}, "TotalAmt": 5},
    )
    item = rng.choice(sorted(int(r["Id"]) for r in sb.records("Item")))
    sb.update("Item", item, {"Description": f"changed {seed}"})
    done.changes += 5 * size + 4
    return done


@dataclass
class Difference:
    entity: str
    missing: list[int] = field(default_factory=list)
    extra: list[int] = field(default_factory=list)
    different: list[int] = field(default_factory=list)
    unmarked: list[int] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not (self.missing or self.extra or self.different or self.unmarked)


def live_rows(database_url: str, schema: str, entity: str) -> dict[int, Any]:
    return _rows(database_url, schema, entity, "deleted_at_utc IS NULL")


def deleted_rows(database_url: str, schema: str, entity: str) -> dict[int, Any]:
    return _rows(database_url, schema, entity, "deleted_at_utc IS NOT NULL")


def _rows(database_url: str, schema: str, entity: str, where: str) -> dict[int, Any]:
    table = sql.Identifier(schema, f"qb_{entity.lower()}")
    query = sql.SQL("SELECT id, payload FROM {} WHERE ").format(table) + sql.SQL(where)
    with psycopg.connect(database_url) as conn:
        return {int(r[0]): r[1] for r in conn.execute(query).fetchall()}


def compare(
    sb: Sandbox, database_url: str, schema: str, entity: str, deleted: set[int] | None = None
) -> Difference:
    """Live rows against the sandbox's records (whole payloads); every Id in `deleted` is
    marked deleted with a payload."""
    source = {int(r["Id"]): r for r in sb.records(entity)}
    live = live_rows(database_url, schema, entity)
    marked = deleted_rows(database_url, schema, entity)
    diff = Difference(entity)
    diff.missing = sorted(set(source) - set(live))
    diff.extra = sorted(set(live) - set(source))
    diff.different = sorted(i for i in set(source) & set(live) if source[i] != live[i])
    diff.unmarked = sorted(i for i in deleted or set() if not marked.get(i))
    return diff


def raw_writes(database_url: str, schema: str, entities: list[str]) -> int:
    """A fingerprint of the raw tables' rows: changes whenever any row is written."""
    total = 0
    with psycopg.connect(database_url) as conn:
        for entity in entities:
            table = sql.Identifier(schema, f"qb_{entity.lower()}")
            row = conn.execute(
                sql.SQL(
                    "SELECT coalesce(sum(hashtext(xmin::text || ctid::text)), 0) FROM {}"
                ).format(table)
            ).fetchone()
            total += int(row[0]) if row else 0
    return total
