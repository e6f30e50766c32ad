"""One QBO company (realm): a store per entity, and the changes the admin API makes."""

from __future__ import annotations

from datetime import date
from typing import Any

from qbo_backfill.sandbox import clock
from qbo_backfill.sandbox.catalog import CATALOG, CDC_EXCLUDED
from qbo_backfill.sandbox.generate import CompanyData
from qbo_backfill.sandbox.store import EntityStore, RecordNotFoundError

__all__ = ["CDC_MAX_OBJECTS", "Company", "RecordNotFoundError"]

CDC_MAX_OBJECTS = 1000
_PROTECTED = ("Id", "SyncToken", "MetaData", "domain")


class Company:
    """All entities of one realm, generated from the seed and changed at run time."""

    def __init__(self, realm: str, data: CompanyData) -> None:
        self.realm = realm
        self.stores = {
            name: EntityStore(info, data.bases.get(name)) for name, info in CATALOG.items()
        }
        self.stores["CompanyInfo"].put(data.company_info)
        for entity, record in data.singletons.items():
            self.stores[entity].put(record)
        for base in data.bases.values():
            base.build_indexes()  # now, so the first query of a run does not pay for them

    def store(self, entity: str) -> EntityStore:
        """The store of an entity; KeyError for a name QBO does not know."""
        return self.stores[entity]

    @property
    def company_info(self) -> dict[str, Any]:
        """The CompanyInfo record."""
        return self.stores["CompanyInfo"].get(1)

    def create(self, entity: str, fields: dict[str, Any], now: float) -> dict[str, Any]:
        """A new record with the next Id, SyncToken "0" and MetaData stamped now."""
        store = self.store(entity)
        stamp = clock.format_local(int(now))
        record: dict[str, Any] = {k: v for k, v in fields.items() if k not in _PROTECTED}
        if store.info.kind == "transaction":
            today = clock.ordinal_to_iso(clock.local_date_ordinal(now))
            record.setdefault("TxnDate", today)
            record.setdefault("CurrencyRef", {"value": "USD", "name": "United States Dollar"})
        if store.info.has_active:
            record.setdefault("Active", True)
        record.update(
            {
                "domain": "QBO",
                "sparse": False,
                "Id": str(store.next_id),
                "SyncToken": "0",
                "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp},
            }
        )
        store.put(record)
        return store.get(int(record["Id"]))

    def update(
        self, entity: str, record_id: int, patch: dict[str, Any], now: float
    ) -> dict[str, Any]:
        """Merge `patch` into a record, bump SyncToken and LastUpdatedTime."""
        store = self.store(entity)
        record = store.get(record_id)
        record.update({k: v for k, v in patch.items() if k not in _PROTECTED})
        record["SyncToken"] = str(int(record.get("SyncToken") or 0) + 1)
        meta = dict(record.get("MetaData") or {})
        meta["LastUpdatedTime"] = clock.format_local(int(now))
        record["MetaData"] = meta
        store.put(record)
        return store.get(record_id)

    def delete(self, entity: str, record_id: int, now: float) -> None:
        """Delete a record; queries stop showing it and CDC shows a tombstone."""
        self.store(entity).delete(record_id, now)

    def cdc(
        self, entities: list[str], since: float
    ) -> tuple[list[tuple[str, list[dict[str, Any]]]], int]:
        """Changes since `since` per entity, oldest first, at most CDC_MAX_OBJECTS in all."""
        changes: list[tuple[float, int, str, dict[str, Any]]] = []
        for rank, entity in enumerate(entities):
            for when, record in self.store(entity).changed_since(since):
                changes.append((when, rank, entity, record))
        changes.sort(key=lambda c: (c[0], c[1], int(c[3]["Id"])))
        kept = changes[:CDC_MAX_OBJECTS]
        grouped: dict[str, list[dict[str, Any]]] = {entity: [] for entity in entities}
        for _, _, entity, record in kept:
            grouped[entity].append(record)
        return list(grouped.items()), len(changes)

    def income_by_day(self, first: date, last: date) -> dict[int, int]:
        """Invoice totals in cents per TxnDate in [first, last]."""
        return self.store("Invoice").amounts_by_day(first.toordinal(), last.toordinal())


def cdc_entity_error(entity: str) -> str | None:
    """Why CDC refuses an entity name, or None when it is served."""
    if entity not in CATALOG:
        return f"Metadata not found for Entity: {entity}"
    if entity in CDC_EXCLUDED:
        return f"Change data capture is not supported for {entity}"
    return None
