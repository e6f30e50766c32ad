"""One QBO company (realm): a store per entity, and the changes the admin API makes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qbo_backfill.sandbox import clock
from qbo_backfill.sandbox.books.company_books import CompanyBooks
from qbo_backfill.sandbox.books.derived import DERIVED_ENTITIES, DerivedFields
from qbo_backfill.sandbox.books.ripple import Before, Ripple
from qbo_backfill.sandbox.books.source import StoreSource
from qbo_backfill.sandbox.catalog import CATALOG
from qbo_backfill.sandbox.generate import CompanyData
from qbo_backfill.sandbox.generate.lists import default_chart
from qbo_backfill.sandbox.store import EntityStore, RecordNotFoundError

__all__ = ["Company", "NotVoidableError", "RecordNotFoundError"]

_PROTECTED = ("Id", "SyncToken", "MetaData", "domain")
_VOIDED_AMOUNTS = ("TotalAmt", "Balance", "Amount", "UnappliedAmt", "RemainingCredit")
_NOT_VOIDABLE = frozenset({"TimeActivity"})  # no money to void


class NotVoidableError(ValueError):
    """Only transactions that move money can be voided."""


# (realm, entity, record id, operation as QBO's webhooks name it, epoch of the change)
ChangeListener = Callable[[str, str, int, str, float], None]


class Company:
    """All entities of one realm, generated from the seed and changed at run time."""

    def __init__(self, realm: str, data: CompanyData, prerender: bool = False) -> None:
        self.realm = realm
        self.stores = {
            name: EntityStore(info, data.bases.get(name)) for name, info in CATALOG.items()
        }
        self.stores["CompanyInfo"].put(data.company_info)
        for entity, record in data.singletons.items():
            self.stores[entity].put(record)
        self.books = CompanyBooks(StoreSource(self.stores), default_chart)
        self.derived = DerivedFields(self.books)
        self.ripple = Ripple(self.books)
        for entity in DERIVED_ENTITIES:
            self.stores[entity].overlay = self.derived
        for name, base in data.bases.items():
            base.build_indexes()  # now, so the first query of a run does not pay for them
            if prerender:
                self.stores[name].prerender()
        if prerender:
            self.derived.snapshot()
        self.listener: ChangeListener | None = None  # told of every change (webhooks)

    def _changed(self, entity: str, record_id: int, operation: str, now: float) -> None:
        if self.listener is not None:
            self.listener(self.realm, entity, record_id, operation, now)

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
        before = self.ripple.before(entity, int(record["Id"]), None, record)
        store.put(record)
        self._changed(entity, int(record["Id"]), "Create", now)
        self._ripple(before, now)
        return store.get(int(record["Id"]))

    def update(
        self,
        entity: str,
        record_id: int,
        patch: dict[str, Any],
        now: float,
        operation: str = "Update",
    ) -> dict[str, Any]:
        """Merge `patch` into a record, bump SyncToken and LastUpdatedTime."""
        store = self.store(entity)
        old = store.get(record_id)
        record = {**old, **{k: v for k, v in patch.items() if k not in _PROTECTED}}
        before = self.ripple.before(entity, record_id, old, record)
        _bump(record, now)
        store.put(record)
        self._changed(entity, record_id, operation, now)
        self._ripple(before, now)
        return store.get(record_id)

    def delete(
        self, entity: str, record_id: int, now: float, *, hard: bool = False
    ) -> dict[str, Any] | None:
        """Delete as QBO does: a list record with `Active` becomes inactive (an update,
        returned); anything else, or any record with `hard`, is gone (CDC: a tombstone)."""
        if self.store(entity).info.has_active and not hard:
            return self.update(entity, record_id, {"Active": False}, now, "Delete")
        before = self.ripple.before(entity, record_id, self.store(entity).raw(record_id), None)
        self.store(entity).delete(record_id, now)
        self._changed(entity, record_id, "Delete", now)
        self._ripple(before, now)
        return None

    def void(self, entity: str, record_id: int, now: float) -> dict[str, Any]:
        """Void a transaction: amounts 0, "Voided" in PrivateNote, as an ordinary update."""
        store = self.store(entity)
        if store.info.kind != "transaction" or entity in _NOT_VOIDABLE:
            raise NotVoidableError(entity)
        return self.update(entity, record_id, _voided(store.get(record_id)), now, "Void")

    def restore(self, entity: str, record_id: int, now: float) -> dict[str, Any]:
        """Undo a delete: a deleted record comes back under its Id (or an inactive list
        record becomes active), with SyncToken and LastUpdatedTime bumped."""
        store = self.store(entity)
        if record_id not in store.deleted:
            record = store.get(record_id)
            if store.info.has_active and record.get("Active") is False:
                return self.update(entity, record_id, {"Active": True}, now)
            raise RecordNotFoundError(record_id)
        record = store.last_version(record_id)
        before = self.ripple.before(entity, record_id, None, record)
        _bump(record, now)
        store.put(record)
        self._changed(entity, record_id, "Create", now)
        self._ripple(before, now)
        return store.get(record_id)

    def _ripple(self, before: Before | None, now: float) -> None:
        """Update the records whose balances the change moved, as QBO does (they reach
        queries by LastUpdatedTime and CDC like any change)."""
        for entity, ids in self.ripple.after(before).items():
            store = self.store(entity)
            for record_id in sorted(ids):
                if store.exists(record_id):
                    moved = store.raw(record_id)
                    _bump(moved, now)
                    store.put(moved)
                    self._changed(entity, record_id, "Update", now)


def _bump(record: dict[str, Any], now: float) -> None:
    """What every change does: SyncToken + 1, LastUpdatedTime now."""
    record["SyncToken"] = str(int(record.get("SyncToken") or 0) + 1)
    meta = dict(record.get("MetaData") or {})
    meta["LastUpdatedTime"] = clock.format_local(int(now))
    record["MetaData"] = meta


def _voided(record: dict[str, Any]) -> dict[str, Any]:
    """The patch that voids a transaction (QBO keeps it, zeroed; it has no void status)."""
    patch: dict[str, Any] = {
        key: 0 for key in _VOIDED_AMOUNTS if isinstance(record.get(key), (int, float))
    }
    lines = record.get("Line")
    if isinstance(lines, list):
        patch["Line"] = [{**line, "Amount": 0} if "Amount" in line else line for line in lines]
    if isinstance(record.get("TxnTaxDetail"), dict):
        patch["TxnTaxDetail"] = {**record["TxnTaxDetail"], "TotalTax": 0}
    patch["PrivateNote"] = "Voided"
    return patch
