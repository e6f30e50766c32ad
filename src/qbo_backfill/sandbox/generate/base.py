"""Shared machinery of the generated data: stable seeds, compact columns, envelopes, times.

A million invoices must fit in little memory, so a realm keeps only sorted arrays
(create time, last update, TxnDate, active flag) per entity and builds each record's JSON
from (seed, realm, entity, position) when it is served. The same inputs always give the
same records.
"""

from __future__ import annotations

import random
import zlib
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from qbo_backfill.sandbox import clock
from qbo_backfill.sandbox.generate.words import CITIES, STREETS

__all__ = [
    "DAY",
    "USD",
    "BaseData",
    "address",
    "envelope",
    "meta",
    "mix",
    "spread_list_times",
    "spread_txn_times",
]

DAY = 86400
USD = {"value": "USD", "name": "United States Dollar"}


def mix(*parts: object) -> int:
    """A stable integer from the parts (Python's hash() is salted per process)."""
    return zlib.crc32(":".join(map(str, parts)).encode()) * 1_000_003


@dataclass
class BaseData:
    """Generated records of one entity, by position; record Id = position + 1."""

    count: int
    create: array[int]
    lut: array[int]
    build: Callable[[int], dict[str, Any]]
    txn: array[int] | None = None
    active: bytearray | None = None
    fast_fields: dict[str, Callable[[int], Any]] = field(default_factory=dict)
    totals: Callable[[int], int] | None = None  # TotalAmt in cents, for reports
    # What the books need of a record, read without building it (invoices: see sales.py)
    money: Callable[[int], Any] | None = None
    rendered: list[bytes] | None = None  # every record's JSON, when built ahead (`prerender`)
    _lut_perm: array[int] | None = None
    _txn_perm: array[int] | None = None

    def prerender(self) -> None:
        """Build and encode every record now, so serving one costs a copy of its bytes."""
        self.rendered = [orjson.dumps(self.build(pos)) for pos in range(self.count)]

    def build_indexes(self) -> None:
        """Sort the permutation indexes (they are otherwise built on first use)."""
        _ = self.lut_perm
        if self.txn is not None:
            _ = self.txn_perm

    @property
    def lut_perm(self) -> array[int]:
        """Positions ordered by (LastUpdatedTime, Id)."""
        if self._lut_perm is None:
            lut = self.lut
            self._lut_perm = array("i", sorted(range(self.count), key=lut.__getitem__))
        return self._lut_perm

    @property
    def txn_perm(self) -> array[int]:
        """Positions ordered by (TxnDate, Id)."""
        if self._txn_perm is None:
            assert self.txn is not None  # noqa: S101 - only asked of transactions
            txn = self.txn
            self._txn_perm = array("i", sorted(range(self.count), key=txn.__getitem__))
        return self._txn_perm


def meta(create: int, lut: int) -> dict[str, str]:
    return {"CreateTime": clock.format_local(create), "LastUpdatedTime": clock.format_local(lut)}


def envelope(rng: random.Random, pos: int, create: array[int], lut: array[int]) -> dict[str, Any]:
    """The fields every QBO record carries: domain, sparse, Id, SyncToken, MetaData."""
    return {
        "domain": "QBO",
        "sparse": False,
        "Id": str(pos + 1),
        "SyncToken": _sync_token(rng, create[pos], lut[pos]),
        "MetaData": meta(create[pos], lut[pos]),
    }


def _sync_token(rng: random.Random, create: int, lut: int) -> str:
    return "0" if lut == create else str(rng.randint(1, 3))


def spread_list_times(
    rng: random.Random, count: int, start: int, span: int, end_cap: int
) -> tuple[array[int], array[int]]:
    """Create times nondecreasing by position; about a fifth were edited later."""
    create, lut = array("q"), array("q")
    step = span / max(count, 1)
    for pos in range(count):
        made = start + int((pos + rng.random()) * step)
        create.append(made)
        edited = rng.random() < 0.2
        lut.append(min(made + rng.randint(3600, 200 * DAY), end_cap) if edited else made)
    return create, lut


class UniqueNames:
    """Display names as QBO requires them, unique within an entity."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def claim(self, name: str, pos: int) -> str:
        """`name`, or `name N` (N the record's 1-based position) when `name` is taken."""
        display = name if name not in self._taken else f"{name} {pos + 1}"
        self._taken.add(display)
        return display


def address(rng: random.Random, addr_id: int) -> dict[str, str]:
    city, state, postal = rng.choice(CITIES)
    return {
        "Id": str(addr_id),
        "Line1": f"{rng.randint(10, 9999)} {rng.choice(STREETS)}",
        "City": city,
        "CountrySubDivisionCode": state,
        "PostalCode": postal,
    }


def spread_txn_times(
    key: int, count: int, start_day: int, end_day: int
) -> tuple[array[int], array[int], array[int]]:
    """Create times spread evenly over the period; TxnDate the same day or a little earlier."""
    rng = random.Random(key)
    start = clock.local_midnight_epoch(start_day)
    end = clock.local_midnight_epoch(end_day)
    step = (end - start) / max(count, 1)
    create, lut, txn = array("q"), array("q"), array("i")
    for pos in range(count):
        made = start + int((pos + rng.random()) * step)
        create.append(made)
        made_day = clock.local_date_ordinal(made)
        lag = 0 if rng.random() < 0.75 else rng.randint(1, 10)
        txn.append(max(made_day - lag, start_day))
        edited = rng.random() < 0.2
        lut.append(min(made + rng.randint(600, 45 * DAY), end - 1) if edited else made)
    return create, lut, txn
