"""What the books read of a company: its records as stored, without derived fields.

The books compute `Balance`, `CurrentBalance` and `QtyOnHand`; they must read records
without them (a record's derived fields come from the books, not the other way round).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

__all__ = ["RecordSource", "StoreLike", "StoreSource", "txn_day"]


class StoreLike(Protocol):
    """The part of an entity store the books use."""

    version: int
    on_touch: Callable[[], None] | None

    def live_ids(self) -> list[int]: ...

    def raw(self, record_id: int) -> dict[str, Any]: ...

    def generated_raw(self, record_id: int) -> dict[str, Any] | None: ...

    def generated_facts(self, record_id: int) -> Any | None: ...


class RecordSource(Protocol):
    """A company's records, as the books read them."""

    def version(self, entities: tuple[str, ...] | None = None) -> int: ...

    def ids(self, entity: str) -> list[int]: ...

    def raw(self, entity: str, record_id: int) -> dict[str, Any] | None: ...

    def opening_qty(self, item_id: int) -> Decimal: ...

    def facts(self, entity: str, record_id: int) -> Any | None: ...


class StoreSource:
    """A `RecordSource` over a company's entity stores."""

    def __init__(self, stores: Mapping[str, StoreLike]) -> None:
        self.stores = stores
        self._memo: dict[tuple[str, ...] | None, int] = {}
        for store in stores.values():
            store.on_touch = self._memo.clear

    def version(self, entities: tuple[str, ...] | None = None) -> int:
        """Grows whenever a record of these entities (default: any) changes. Asked for every
        record served, so the sum is kept until a store changes."""
        known = self._memo.get(entities)
        if known is None:
            names = self.stores if entities is None else entities
            known = sum(self.stores[name].version for name in names if name in self.stores)
            self._memo[entities] = known
        return known

    def ids(self, entity: str) -> list[int]:
        store = self.stores.get(entity)
        return store.live_ids() if store is not None else []

    def raw(self, entity: str, record_id: int) -> dict[str, Any] | None:
        """The record as stored, or None when it does not exist (deleted, never made)."""
        store = self.stores.get(entity)
        if store is None:
            return None
        try:
            return store.raw(record_id)
        except KeyError:
            return None

    def facts(self, entity: str, record_id: int) -> Any | None:
        """A generated, unchanged record's money facts, read without building it."""
        store = self.stores.get(entity)
        return store.generated_facts(record_id) if store is not None else None

    def opening_qty(self, item_id: int) -> Decimal:
        """An inventory item's starting quantity: the QtyOnHand it was generated with (an
        item created through the admin API starts with none)."""
        store = self.stores.get("Item")
        record = store.generated_raw(item_id) if store is not None else None
        value = (record or {}).get("QtyOnHand")
        return Decimal(str(value)) if isinstance(value, (int, float)) else Decimal(0)


def txn_day(record: dict[str, Any], fallback: date) -> date:
    """A record's TxnDate (the day it posts on), or `fallback` when it has none."""
    value = record.get("TxnDate")
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return fallback
    return fallback
