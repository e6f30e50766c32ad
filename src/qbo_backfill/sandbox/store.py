"""Records of one entity in one realm: generated base rows plus live changes, and queries.

Base rows live in sorted arrays (see the generate package); created, updated and deleted
records live in small dicts that shadow them. Filters on Id, MetaData.CreateTime, TxnDate and
MetaData.LastUpdatedTime use bisect on a sorted index; other predicates scan.
"""

from __future__ import annotations

import bisect
import copy
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import orjson

from qbo_backfill.sandbox import clock
from qbo_backfill.sandbox.catalog import EntityInfo, FieldSpec, FieldType
from qbo_backfill.sandbox.generate import BaseData
from qbo_backfill.sandbox.querylang import Condition, ParsedQuery
from qbo_backfill.sandbox.store_filters import (
    KeyView,
    bounds,
    flag_reader,
    payload_value,
    sort_key,
    test,
)

__all__ = ["EntityStore", "RecordNotFoundError"]

_CACHE_SIZE = 6
_RANGE_OPS = ("=", "<", ">", "<=", ">=")
_ACTIVE = FieldSpec("Active", FieldType.BOOL, ("Active",))
_ID = FieldSpec("Id", FieldType.ID, ("Id",))


class RecordNotFoundError(KeyError):
    """No live record with that Id."""


class Overlay(Protocol):
    """Fields computed from other records (balances), written into a record when served."""

    def apply(self, entity: str, record: dict[str, Any]) -> dict[str, Any]: ...

    def stale(self, entity: str) -> frozenset[int] | None: ...


class EntityStore:
    """One entity's records in one realm."""

    def __init__(self, info: EntityInfo, base: BaseData | None = None) -> None:
        self.info = info
        self.base = base
        self.base_count = base.count if base else 0
        self.changed: dict[int, dict[str, Any]] = {}  # Id -> record (created or updated)
        self.changed_lut: dict[int, float] = {}
        self.deleted: dict[int, float] = {}  # Id -> when it was deleted
        self._buried: dict[int, dict[str, Any]] = {}  # a deleted changed record, for restore
        self.next_id = self.base_count + 1
        self.version = 0
        self._cache: OrderedDict[tuple[Any, ...], Sequence[int]] = OrderedDict()
        self.overlay: Overlay | None = None
        self.on_touch: Callable[[], None] | None = None  # told of every change

    # ---- reading single records -------------------------------------------------------
    def exists(self, record_id: int) -> bool:
        """Whether a live (not deleted) record has this Id."""
        if record_id in self.deleted:
            return False
        return record_id in self.changed or 1 <= record_id <= self.base_count

    def get(self, record_id: int) -> dict[str, Any]:
        """The full record as served (derived fields set), a fresh copy;
        RecordNotFoundError if absent or deleted."""
        return self._derive(self.raw(record_id))

    def raw(self, record_id: int) -> dict[str, Any]:
        """The record as stored, derived fields as they were when it was made or changed."""
        if not self.exists(record_id):
            raise RecordNotFoundError(record_id)
        if record_id in self.changed:
            return copy.deepcopy(self.changed[record_id])
        assert self.base is not None  # noqa: S101 - exists() checked the range
        return self.base.build(record_id - 1)

    def generated_raw(self, record_id: int) -> dict[str, Any] | None:
        """The record as the seed generated it (None for a created one)."""
        if self.base is None or not 1 <= record_id <= self.base_count:
            return None
        return self.base.build(record_id - 1)

    def generated_facts(self, record_id: int) -> Any | None:
        """What the books need of an unchanged generated record, without building it
        (`BaseData.money`); None when the entity has none or the record was changed."""
        base = self.base
        if base is None or base.money is None or not 1 <= record_id <= self.base_count:
            return None
        return None if self._shadowed(record_id) else base.money(record_id - 1)

    def _derive(self, record: dict[str, Any]) -> dict[str, Any]:
        return record if self.overlay is None else self.overlay.apply(self.info.name, record)

    def _build(self, pos: int) -> dict[str, Any]:
        assert self.base is not None  # noqa: S101 - only called with base data
        return self._derive(self.base.build(pos))

    def prerender(self) -> None:
        """Build and encode every generated record now, derived fields included."""
        if self.base is not None:
            self.base.rendered = [orjson.dumps(self._build(pos)) for pos in range(self.base_count)]

    def live_ids(self) -> list[int]:
        """Every live Id (inactive included), ascending."""
        return self.all_ids()

    def all_ids(self) -> list[int]:
        """Every live Id, inactive included, ascending."""
        ids = [
            i
            for i in range(1, self.base_count + 1)
            if i not in self.deleted and i not in self.changed
        ]
        ids.extend(i for i in self.changed if i not in self.deleted)
        ids.sort()
        return ids

    # ---- changes --------------------------------------------------------------------
    def _touch(self) -> None:
        self.version += 1
        self._cache.clear()
        if self.on_touch is not None:
            self.on_touch()

    def put(self, record: dict[str, Any]) -> None:
        """Store a created or updated record (its Id and MetaData already set)."""
        record_id = int(record["Id"])
        self.changed[record_id] = record
        self.changed_lut[record_id] = clock.parse_timestamp(record["MetaData"]["LastUpdatedTime"])
        self.deleted.pop(record_id, None)
        self._buried.pop(record_id, None)
        self.next_id = max(self.next_id, record_id + 1)
        self._touch()

    def delete(self, record_id: int, when: float) -> None:
        """Delete a record; CDC reports it as a tombstone from now on."""
        if not self.exists(record_id):
            raise RecordNotFoundError(record_id)
        record = self.changed.pop(record_id, None)
        if record is not None:
            self._buried[record_id] = record
        self.changed_lut.pop(record_id, None)
        self.deleted[record_id] = when
        self._touch()

    def last_version(self, record_id: int) -> dict[str, Any]:
        """The record as it was when deleted; RecordNotFoundError unless it is deleted."""
        if record_id not in self.deleted:
            raise RecordNotFoundError(record_id)
        if record_id in self._buried:
            return copy.deepcopy(self._buried[record_id])
        assert self.base is not None  # noqa: S101 - only generated or changed records are deleted
        return self.base.build(record_id - 1)

    def _shadowed(self, record_id: int) -> bool:
        return record_id in self.changed or record_id in self.deleted

    # ---- queries --------------------------------------------------------------------
    def query_rows(self, query: ParsedQuery) -> Sequence[int]:
        """Rows (Id - 1) matching the query's WHERE, in its ORDER, cached per store version."""
        key = (*query.result_key(), query.mentions_active)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        conditions = list(query.conditions)
        if self.info.has_active and not query.mentions_active:
            conditions.append(Condition(_ACTIVE, "=", (True,)))
        order = list(query.order) or [(_ID, False)]
        result = self._execute(conditions, order)
        if isinstance(result, list):
            # An array is compact and invisible to the garbage collector; a list of a
            # million ints would be scanned on every full collection.
            result = array("i", result)
        self._cache[key] = result
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return result

    def page(self, rows: Sequence[int], start: int, size: int) -> list[dict[str, Any]]:
        """Full records for rows[start-1 : start-1+size]."""
        return [self.get(row + 1) for row in rows[start - 1 : start - 1 + size]]

    def page_to_encode(self, rows: Sequence[int], start: int, size: int) -> list[Any]:
        """The same records, to be encoded as they are: a generated record that was built
        ahead (`prerender`) and never changed comes as its encoded bytes."""
        rendered = self.base.rendered if self.base is not None else None
        stale = self.overlay.stale(self.info.name) if self.overlay is not None else frozenset()
        if rendered is None or stale is None:
            return self.page(rows, start, size)
        return [
            self.get(row + 1)
            if self._shadowed(row + 1) or row + 1 in stale
            else orjson.Fragment(rendered[row])
            for row in rows[start - 1 : start - 1 + size]
        ]

    def _execute(
        self, conditions: list[Condition], order: list[tuple[FieldSpec, bool]]
    ) -> Sequence[int]:
        positions, index_name, consumed = self._candidates(conditions)
        rest = [c for c in conditions if id(c) not in consumed]
        base_rows = self._filter_base(positions, rest)
        extra = [
            rid - 1
            for rid, rec in self.changed.items()
            if rid not in self.deleted
            and all(test(c.op, payload_value(rec, c.field), c.values) for c in conditions)
        ]
        first, first_desc = order[0]
        simple = not extra and all(f.name == "Id" and d == first_desc for f, d in order[1:])
        first_index = self._index_of(first)
        if not simple or first_index is None:
            return self._sort([*base_rows, *extra], order)
        ordered: Sequence[int]
        if first_index == index_name:
            ordered = base_rows  # already in this index's order: a range or an array slice
        elif first_index == "natural":
            ordered = base_rows if isinstance(base_rows, range) else sorted(base_rows)
        elif isinstance(base_rows, range) and len(base_rows) == self.base_count:
            ordered = self._perm(first_index)  # every row: the index is the answer
        else:
            ordered = self._in_index_order(first_index, base_rows)
        return ordered[::-1] if first_desc else ordered

    def _in_index_order(self, index: str, rows: Sequence[int]) -> list[int]:
        """Rows re-ordered by a permutation index: one pass over it, no comparisons."""
        assert self.base is not None  # noqa: S101
        marks = bytearray(self.base_count)
        for row in rows:
            marks[row] = 1
        return [row for row in self._perm(index) if marks[row]]

    def _perm(self, index: str) -> array[int]:
        assert self.base is not None  # noqa: S101
        return self.base.txn_perm if index == "txn" else self.base.lut_perm

    def _index_of(self, spec: FieldSpec) -> str | None:
        """Which sorted index serves this field: natural (Id order), txn, lut, or none."""
        if self.base is None:
            return None
        if spec.name in ("Id", "MetaData.CreateTime"):
            return "natural"
        if spec.name == "TxnDate" and self.base.txn is not None:
            return "txn"
        if spec.name == "MetaData.LastUpdatedTime":
            return "lut"
        return None

    def _candidates(
        self, conditions: list[Condition]
    ) -> tuple[Sequence[int], str | None, set[int]]:
        """Base positions worth testing (narrowest bisect range), its index, conditions used."""
        if self.base is None or not self.base_count:
            return (), None, set()
        best: tuple[int, str | None, Sequence[int], set[int]] = (
            self.base_count + 1,
            None,
            range(self.base_count),
            set(),
        )
        by_field: dict[str, list[Condition]] = {}
        for cond in conditions:
            if self._index_of(cond.field) and cond.op in _RANGE_OPS:
                by_field.setdefault(cond.field.name, []).append(cond)
        for conds in by_field.values():
            index = self._index_of(conds[0].field)
            assert index is not None  # noqa: S101 - filtered above
            lo, hi = self._range(index, conds)
            if hi - lo < best[0]:
                best = (hi - lo, index, self._slice(index, lo, hi), {id(c) for c in conds})
        return best[2], best[1], best[3]

    def _keys(self, index: str, field_name: str) -> tuple[Callable[[int], Any], int]:
        """The key at rank r of an index, and the number of ranks."""
        base = self.base
        assert base is not None  # noqa: S101 - only called with base data
        if index == "natural":
            if field_name == "Id":
                return (lambda r: r + 1), base.count
            return base.create.__getitem__, base.count
        if index == "txn":
            txn, perm = base.txn, base.txn_perm
            assert txn is not None  # noqa: S101
            return (lambda r: txn[perm[r]]), base.count
        lut, perm = base.lut, base.lut_perm
        return (lambda r: lut[perm[r]]), base.count

    def _range(self, index: str, conds: list[Condition]) -> tuple[int, int]:
        key, count = self._keys(index, conds[0].field.name)
        view = KeyView(key, count)
        low, low_incl, high, high_incl = bounds(conds) or (None, True, None, True)
        lo = (
            0
            if low is None
            else (bisect.bisect_left(view, low) if low_incl else bisect.bisect_right(view, low))
        )
        hi = (
            count
            if high is None
            else (bisect.bisect_right(view, high) if high_incl else bisect.bisect_left(view, high))
        )
        return lo, max(lo, hi)

    def _slice(self, index: str, lo: int, hi: int) -> Sequence[int]:
        if index == "natural":
            return range(lo, hi)
        return self._perm(index)[lo:hi]

    def _filter_base(self, positions: Sequence[int], conditions: list[Condition]) -> Sequence[int]:
        """Base rows among `positions` that pass the conditions and are not shadowed."""
        if self.base is None:
            return []
        shadow = bool(self.changed or self.deleted)
        if not conditions and not shadow:
            return positions
        tests = [(self._accessor(c.field), c.op, c.values) for c in conditions]
        out: list[int] = []
        append = out.append
        for pos in positions:
            if shadow and self._shadowed(pos + 1):
                continue
            if all(test(op, get(pos), values) for get, op, values in tests):
                append(pos)
        return out

    def _accessor(self, spec: FieldSpec) -> Callable[[int], Any]:
        """Reads one field of a base row, from a column when there is one."""
        base = self.base
        assert base is not None  # noqa: S101
        columns: dict[str, Callable[[int], Any] | None] = {
            "Id": lambda pos: pos + 1,
            "MetaData.CreateTime": base.create.__getitem__,
            "MetaData.LastUpdatedTime": base.lut.__getitem__,
            "TxnDate": base.txn.__getitem__ if base.txn is not None else None,
            "Active": flag_reader(base.active) if base.active is not None else None,
            **base.fast_fields,
        }
        column = columns.get(spec.name)
        if column is not None:
            return column
        build = self._build
        return lambda pos: payload_value(build(pos), spec)

    def _value_of(self, row: int, spec: FieldSpec) -> Any:
        record = self.changed.get(row + 1)
        if record is not None:
            return payload_value(self._derive(copy.deepcopy(record)), spec)
        return self._accessor(spec)(row)

    def _sort(self, rows: list[int], order: list[tuple[FieldSpec, bool]]) -> list[int]:
        """Stable multi-key sort; ties fall back to Id in the first field's direction."""
        rows.sort(reverse=order[0][1])
        for spec, desc in reversed(order):
            if spec.name == "Id":
                rows.sort(reverse=desc)
                continue
            values = {row: self._value_of(row, spec) for row in rows}
            rows.sort(key=lambda row: sort_key(values[row]), reverse=desc)
        return rows

    # ---- change data capture ---------------------------------------------------------
    def changed_since(self, since: float) -> Iterator[tuple[float, dict[str, Any]]]:
        """(LastUpdatedTime, record or tombstone) of everything changed at or after `since`."""
        if self.base is not None and self.base_count:
            lut, perm = self.base.lut, self.base.lut_perm
            lo = bisect.bisect_left(KeyView(lambda r: lut[perm[r]], self.base_count), since)
            for rank in range(lo, self.base_count):
                pos = perm[rank]
                if not self._shadowed(pos + 1):
                    yield float(lut[pos]), self._build(pos)
        for record_id, when in self.changed_lut.items():
            if when >= since:
                yield when, self._derive(copy.deepcopy(self.changed[record_id]))
        for record_id, when in self.deleted.items():
            if when >= since:
                stamp = clock.format_local(int(when))
                yield (
                    when,
                    {
                        "Id": str(record_id),
                        "status": "Deleted",
                        "domain": "QBO",
                        "MetaData": {"LastUpdatedTime": stamp},
                    },
                )
