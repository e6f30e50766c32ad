"""One basis of a company's books, kept in compact columns.

A million invoices post about five million lines: as Python objects they would take
gigabytes, so entries and postings live in typed arrays (about 25 bytes a posting and 55 an
entry), with names, descriptions and memos interned; `Entry` objects are made only while
iterating.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from qbo_backfill.sandbox.books.model import Entry, NameRef, Posting
from qbo_backfill.sandbox.books.rules import Posted, Raw

__all__ = ["Ledger"]

_TYPES = (
    "Bill",
    "BillPayment",
    "CreditCardPayment",
    "CreditMemo",
    "Deposit",
    "Invoice",
    "Item",
    "JournalEntry",
    "Payment",
    "Purchase",
    "RefundReceipt",
    "SalesReceipt",
    "Transfer",
    "VendorCredit",
)  # sorted: an entry's rank in this tuple orders it within a day
_TYPE_CODE = {name: code for code, name in enumerate(_TYPES)}


class _Interned:
    """Strings (or names) stored once, referred to by index; index 0 is the empty one."""

    def __init__(self, empty: object) -> None:
        self.values: list[object] = [empty]
        self.index: dict[object, int] = {empty: 0}

    def add(self, value: object) -> int:
        code = self.index.get(value)
        if code is None:
            code = self.index[value] = len(self.values)
            self.values.append(value)
        return code


class Ledger:
    """Entries of one basis, ordered by (TxnDate, type, Id) once `finish` has run."""

    def __init__(self) -> None:
        self.e_type, self.e_id, self.e_day = array("b"), array("i"), array("i")
        self.e_total, self.e_doc, self.e_memo = array("q"), array("q"), array("i")
        self.e_name, self.e_due, self.e_first = array("i"), array("i"), array("q")
        self.p_acct, self.p_cents, self.p_line = array("i"), array("q"), array("i")
        self.p_kind, self.p_desc, self.p_name = array("b"), array("i"), array("i")
        self.texts = _Interned("")
        self.names = _Interned(None)
        self.kinds = _Interned("")
        self.docs: list[str] = []  # DocNumbers that are not plain numbers
        self.order = array("i")
        self.days = array("i")  # TxnDate ordinal of each entry, in `order`
        self.totals: dict[int, int] = {}  # account -> net debit cents, every date (finish)
        self._last_name: NameRef | None = None
        self._last_code = 0

    def __len__(self) -> int:
        return len(self.e_id)

    def add(self, txn_type: str, txn_id: int, day: date, doc: str, posted: Posted) -> None:
        """Append one transaction's entry and postings."""
        self.e_type.append(_TYPE_CODE[txn_type])
        self.e_id.append(txn_id)
        self.e_day.append(day.toordinal())
        self.e_total.append(posted.total)
        self.e_doc.append(self._doc(doc))
        self.e_memo.append(self.texts.add(posted.memo))
        self._last_name, self._last_code = posted.name, self.names.add(posted.name)
        self.e_name.append(self._last_code)
        self.e_due.append(posted.due.toordinal() if posted.due else 0)
        self.e_first.append(len(self.p_acct))
        for raw in posted.postings:
            self._posting(raw)

    def add_like(self, other: Ledger, index: int, postings: list[Raw]) -> None:
        """Append the entry `other` holds at `index`, with other postings (cash basis)."""
        self.e_type.append(other.e_type[index])
        self.e_id.append(other.e_id[index])
        self.e_day.append(other.e_day[index])
        self.e_total.append(other.e_total[index])
        code = other.e_doc[index]
        self.e_doc.append(code if code >= -1 else self._doc(other.doc_text(code)))
        self.e_memo.append(self.texts.add(other.texts.values[other.e_memo[index]]))
        self.e_name.append(self.names.add(other.names.values[other.e_name[index]]))
        self.e_due.append(other.e_due[index])
        self.e_first.append(len(self.p_acct))
        for raw in postings:
            self._posting(raw)

    def _posting(self, raw: Raw) -> None:
        self.p_acct.append(raw.account)
        self.p_cents.append(raw.cents)
        self.p_line.append(-1 if raw.line is None else raw.line)
        self.p_kind.append(self.kinds.add(raw.kind))
        self.p_desc.append(self.texts.add(raw.desc))
        name = raw.name
        if name is not self._last_name:  # an entry's postings share one name object
            self._last_name, self._last_code = name, self.names.add(name)
        self.p_name.append(self._last_code)

    def _doc(self, doc: str) -> int:
        """A DocNumber as a number when it is a plain one (no leading zero), else a
        negative index into `docs`; -1 for none."""
        if not doc:
            return -1
        if doc.isdigit() and doc[0] != "0" and len(doc) < 18:
            return int(doc)
        self.docs.append(doc)
        return -1 - len(self.docs)

    def finish(self) -> None:
        """Sort the entries by (TxnDate, type, Id); sum each account's postings."""
        self.e_first.append(len(self.p_acct))
        totals: dict[int, int] = dict.fromkeys(self.p_acct, 0)
        for account, amount in zip(self.p_acct, self.p_cents, strict=True):
            totals[account] += amount
        self.totals = totals
        types, ids, days = self.e_type, self.e_id, self.e_day
        keys = array("q", ((days[i] << 36) | (types[i] << 31) | ids[i] for i in range(len(ids))))
        self.order = array("i", sorted(range(len(ids)), key=keys.__getitem__))
        self.days = array("i", (days[i] for i in self.order))

    # ---- reading ---------------------------------------------------------------------
    def entries(self, start: date | None, end: date | None) -> Iterator[Entry]:
        """Entries dated in [start, end], in order."""
        lo = 0 if start is None else bisect.bisect_left(self.days, start.toordinal())
        hi = len(self.days) if end is None else bisect.bisect_right(self.days, end.toordinal())
        for rank in range(lo, hi):
            yield self.entry(self.order[rank])

    def entry(self, index: int) -> Entry:
        """The entry stored at `index` (insertion order)."""
        first, last = self.e_first[index], self.e_first[index + 1]
        postings = tuple(self._posting_at(i) for i in range(first, last))
        return Entry(
            txn_type=_TYPES[self.e_type[index]],
            txn_id=self.e_id[index],
            doc_number=self.doc_text(self.e_doc[index]),
            txn_date=date.fromordinal(self.e_day[index]),
            name=self.name_at(self.e_name[index]),
            memo=str(self.texts.values[self.e_memo[index]]),
            total=Decimal(self.e_total[index]) / 100,
            postings=postings,
        )

    def _posting_at(self, i: int) -> Posting:
        line = self.p_line[i]
        return Posting(
            account_id=self.p_acct[i],
            amount=Decimal(self.p_cents[i]) / 100,
            line_index=None if line < 0 else line,
            kind=str(self.kinds.values[self.p_kind[i]]),
            description=str(self.texts.values[self.p_desc[i]]),
            name=self.name_at(self.p_name[i]),
        )

    def name_at(self, code: int) -> NameRef | None:
        value = self.names.values[code]
        return value if isinstance(value, NameRef) else None

    def doc_text(self, code: int) -> str:
        if code == -1:
            return ""
        return str(code) if code >= 0 else self.docs[-code - 2]

    def raw_postings(self, index: int) -> list[Raw]:
        """The postings of the entry at `index`, as rules made them (for the cash basis)."""
        first, last = self.e_first[index], self.e_first[index + 1]
        return [
            Raw(
                self.p_acct[i],
                self.p_cents[i],
                None if self.p_line[i] < 0 else self.p_line[i],
                str(self.kinds.values[self.p_kind[i]]),
                str(self.texts.values[self.p_desc[i]]),
                self.name_at(self.p_name[i]),
            )
            for i in range(first, last)
        ]

    def type_of(self, index: int) -> str:
        return _TYPES[self.e_type[index]]

    def due(self, index: int) -> date | None:
        return date.fromordinal(self.e_due[index]) if self.e_due[index] else None

    def by_name(self, accounts: set[int]) -> dict[tuple[int, int], int]:
        """Net debit cents per (account, name code), for the postings on `accounts`."""
        out: dict[tuple[int, int], int] = {}
        for account, code, amount in zip(self.p_acct, self.p_name, self.p_cents, strict=True):
            if account in accounts and code:
                key = (account, code)
                out[key] = out.get(key, 0) + amount
        return out

    def net_by_account(self, start: date | None, end: date | None) -> dict[int, int]:
        """Net debit cents per account over the entries dated in [start, end]."""
        lo = 0 if start is None else bisect.bisect_left(self.days, start.toordinal())
        hi = len(self.days) if end is None else bisect.bisect_right(self.days, end.toordinal())
        if lo == 0 and hi == len(self.days):
            return dict(self.totals)
        out: dict[int, int] = {}
        first, accts, amounts = self.e_first, self.p_acct, self.p_cents
        for rank in range(lo, hi):
            index = self.order[rank]
            for i in range(first[index], first[index + 1]):
                out[accts[i]] = out.get(accts[i], 0) + amounts[i]
        return out
