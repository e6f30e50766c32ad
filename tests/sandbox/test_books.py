"""The sandbox keeps books: every entry balances, the balance sheet holds at month ends, and
what the API serves (balances, open amounts, quantities) equals what the postings say, also
after edits, voids and deletes made through the admin API (records read over HTTP)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from qbo_backfill.sandbox import Sandbox
from qbo_backfill.sandbox.books.company_books import CompanyBooks
from qbo_backfill.sandbox.books.model import Basis, Books, Entry
from qbo_backfill.sandbox.books.rules import post
from qbo_backfill.sandbox.books.sales_facts import post_sale

if TYPE_CHECKING:
    from tests.sandbox.conftest import Api

COMPANIES = {
    "default-seed": {"other_records": 30},
    "seed-7-two-realms": {"seed": 7, "realms": 2, "invoices": 500, "other_records": 60},
    "more-payments-than-invoices": {"seed": 3, "invoices": 40, "other_records": 120},
    "invoices-only": {"other_records": 0},
}
FAR = date(2100, 1, 1)


def _books(sb: Sandbox, realm: str | None = None) -> CompanyBooks:
    return sb.state.companies[realm or sb.info.realm_id].books


def _cents(value: Any) -> int:
    return round(Decimal(str(value)) * 100)


def _net(entries: list[Entry]) -> dict[int, Decimal]:
    out: dict[int, Decimal] = defaultdict(Decimal)
    for entry in entries:
        for posting in entry.postings:
            out[posting.account_id] += posting.amount
    return out


def _month_ends(first: date, last: date) -> list[date]:
    ends, day = [], first.replace(day=1)
    while day <= last:
        following = (day + timedelta(days=32)).replace(day=1)
        ends.append(following - timedelta(days=1))
        day = following
    return ends


@pytest.mark.parametrize("fields", COMPANIES.values(), ids=list(COMPANIES))
def test_every_entry_balances_and_the_balance_sheet_holds(
    make_sandbox: Callable[..., Sandbox], fields: dict[str, Any]
) -> None:
    sb = make_sandbox(**fields)
    for realm in sb.info.realm_ids:
        books: Books = _books(sb, realm)
        kinds = {a.id: a.classification for a in books.accounts()}
        for basis in Basis:
            entries = list(books.entries(basis, None, None))
            assert entries
            for entry in entries:
                assert sum(p.amount for p in entry.postings) == 0, entry
                assert all(p.account_id in kinds for p in entry.postings), entry
            keys = [(e.txn_date, e.txn_type, e.txn_id) for e in entries]
            assert keys == sorted(keys)
            assert _net(entries) == dict(books.net_by_account(basis, None, None))
            first, last = entries[0].txn_date, entries[-1].txn_date
            for end in _month_ends(first, last):
                _assert_balance_sheet(books, basis, kinds, end)


def _assert_balance_sheet(books: Books, basis: Basis, kinds: dict[int, str], end: date) -> None:
    """Assets = liabilities + equity + earnings of earlier years (retained) + this year's,
    each side computed from the postings dated up to `end` (month end)."""
    upto = _net(list(books.entries(basis, None, end)))
    assert upto == dict(books.net_by_account(basis, None, end))
    this_year = _net(list(books.entries(basis, date(end.year, 1, 1), end)))
    side: dict[str, Decimal] = defaultdict(Decimal)
    for account, amount in upto.items():
        side[kinds[account]] += amount
    earnings = -sum(
        (v for k, v in this_year.items() if kinds[k] in ("Revenue", "Expense")), Decimal(0)
    )
    retained = -(side["Revenue"] + side["Expense"]) - earnings
    assert side["Asset"] == -side["Liability"] - side["Equity"] + retained + earnings


def test_derived_fields_equal_the_postings(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    api = make_api(make_sandbox(other_records=40))
    _assert_derived_fields(api)


def _all(api: Api, entity: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while True:
        page = api.rows(
            f"SELECT * FROM {entity} ORDERBY Id STARTPOSITION {len(rows) + 1} MAXRESULTS 1000"
        )
        rows.extend(page)
        if len(page) < 1000:
            return rows


def _all_lists(api: Api, entity: str) -> list[dict[str, Any]]:
    return api.rows(f"SELECT * FROM {entity} WHERE Active IN (true, false) MAXRESULTS 1000")


def _assert_derived_fields(api: Api) -> None:
    """Served balances against sums over the books' postings and the served payments."""
    books = _books(api.sb)
    entries = list(books.entries(Basis.ACCRUAL, None, None))
    net = _net(entries)
    chart = {a.id: a for a in books.accounts()}
    for account in _all_lists(api, "Account"):
        kind = chart[int(account["Id"])].classification
        own = net.get(int(account["Id"]), Decimal(0))
        shown = {"Asset": own, "Liability": -own, "Equity": -own}.get(kind, Decimal(0))
        assert _cents(account["CurrentBalance"]) == _cents(shown), account["Name"]
    by_name: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    for entry in entries:
        for p in entry.postings:
            if p.name is not None and chart[p.account_id].account_type == "Accounts Receivable":
                by_name[("Customer", p.name.id)] += p.amount
            if p.name is not None and chart[p.account_id].account_type == "Accounts Payable":
                by_name[("Vendor", p.name.id)] -= p.amount
    for entity in ("Customer", "Vendor"):
        for party in _all_lists(api, entity):
            assert _cents(party["Balance"]) == _cents(by_name[(entity, int(party["Id"]))])
    for payer, document in (("Payment", "Invoice"), ("BillPayment", "Bill")):
        paid: dict[str, int] = defaultdict(int)
        for payment in _all(api, payer):
            for line in payment["Line"]:
                for link in line.get("LinkedTxn", []):
                    paid[link["TxnId"]] += _cents(line["Amount"])
        open_total = 0
        for record in _all(api, document):
            expected = _cents(record["TotalAmt"]) - paid.get(record["Id"], 0)
            assert _cents(record["Balance"]) == expected, (document, record["Id"])
            open_total += expected
        side = books.open_receivables(FAR) if document == "Invoice" else books.open_payables(FAR)
        assert _cents(sum(i.open_balance for i in side if i.txn_type == document)) == open_total
    receivable = sum(i.open_balance for i in books.open_receivables(FAR))
    assert receivable == net.get(84, Decimal(0))
    payable = sum(i.open_balance for i in books.open_payables(FAR))
    assert payable == -net.get(33, Decimal(0))


def _entry(books: Books, basis: Basis, txn_type: str, txn_id: Any) -> Entry | None:
    found = [
        e
        for e in books.entries(basis, None, None)
        if (e.txn_type, e.txn_id) == (txn_type, int(txn_id))
    ]
    assert len(found) <= 1
    return found[0] if found else None


def _one(api: Api, entity: str, record_id: Any) -> dict[str, Any]:
    active = " AND Active IN (true, false)" if entity in ("Customer", "Item", "Account") else ""
    (record,) = api.rows(f"SELECT * FROM {entity} WHERE Id = '{record_id}'{active}")
    return record


def test_payment_edit_void_and_delete_reopen_and_close_the_invoice(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_sandbox(other_records=40)
    api, books = make_api(sb), _books(sb)
    payment = next(p for p in sb.records("Payment") if p["Line"])
    link = payment["Line"][0]["LinkedTxn"][0]
    invoice_id, customer_id = link["TxnId"], payment["CustomerRef"]["value"]
    amount = _cents(payment["TotalAmt"])

    def state() -> tuple[int, int, int]:
        return (
            _cents(_one(api, "Invoice", invoice_id)["Balance"]),
            _cents(_one(api, "Account", 84)["CurrentBalance"]),
            _cents(_one(api, "Customer", customer_id)["Balance"]),
        )

    settled = state()
    assert _entry(books, Basis.ACCRUAL, "Payment", payment["Id"]) is not None

    untouched = {
        (e, i): _one(api, e, i)["SyncToken"]
        for e, i in (
            ("Invoice", invoice_id),
            ("Customer", customer_id),
            ("Account", "84"),
            ("Account", "4"),
        )
    }
    sb.update("Payment", payment["Id"], {"PrivateNote": "a memo moves no money"})
    assert {(e, i): _one(api, e, i)["SyncToken"] for e, i in untouched} == untouched
    since = sb.now().isoformat(timespec="seconds")
    sb.void("Payment", payment["Id"])
    assert state() == tuple(value + amount for value in settled)
    # QBO updates what the payment moved, so LastUpdatedTime queries and CDC see it
    for (entity, record_id), token in untouched.items():
        moved = _one(api, entity, record_id)
        assert int(moved["SyncToken"]) == int(token) + 1, entity
    cdc = api.get("/cdc", entities="Invoice,Customer,Account", changedSince=since).json()
    changed = {
        (name, record["Id"])
        for answer in cdc["CDCResponse"][0]["QueryResponse"]
        for name, records in answer.items()
        if isinstance(records, list)
        for record in records
    }
    assert set(untouched) <= changed
    voided = _entry(books, Basis.ACCRUAL, "Payment", payment["Id"])
    assert voided is not None
    assert voided.postings == ()
    _assert_derived_fields(api)

    half = amount // 2
    sb.update(
        "Payment",
        payment["Id"],
        {
            "TotalAmt": half / 100,
            "PrivateNote": "",
            "Line": [{"Amount": half / 100, "LinkedTxn": [link]}],
        },
    )
    assert state() == tuple(value + amount - half for value in settled)
    edited = _entry(books, Basis.ACCRUAL, "Payment", payment["Id"])
    assert edited is not None
    assert {p.kind: _cents(p.amount) for p in edited.postings} == {
        "bank": half,
        "ar": -half,
    }
    _assert_derived_fields(api)

    sb.delete("Payment", payment["Id"])
    assert state() == tuple(value + amount for value in settled)
    assert _entry(books, Basis.ACCRUAL, "Payment", payment["Id"]) is None
    _assert_derived_fields(api)

    still_open = state()[0]
    new = sb.create(
        "Payment",
        {
            "CustomerRef": payment["CustomerRef"],
            "TotalAmt": (still_open + 1000) / 100,  # $10 more than is open: unapplied
            "Line": [{"Amount": still_open / 100, "LinkedTxn": [link]}],
        },
    )
    assert state()[0] == 0
    assert _one(api, "Payment", new["Id"])["UnappliedAmt"] == 10
    _assert_derived_fields(api)

    sb.delete("Invoice", invoice_id)  # the payment it had becomes a credit of its customer
    assert _one(api, "Payment", new["Id"])["UnappliedAmt"] == (still_open + 1000) / 100
    _assert_derived_fields(api)


def _service_item(api: Api) -> dict[str, Any]:
    return next(i for i in _all_lists(api, "Item") if i["Type"] == "Service")


def test_inventory_sales_post_cost_of_goods_sold(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_sandbox(other_records=10)
    api, books = make_api(sb), _books(sb)
    item = next(i for i in _all_lists(api, "Item") if i["Type"] == "Inventory")
    cost, qty_before = _cents(item["PurchaseCost"]), item["QtyOnHand"]
    asset_before = _cents(_one(api, "Account", 81)["CurrentBalance"])
    line = {
        "Amount": 3 * item["UnitPrice"],
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {
            "ItemRef": {"value": item["Id"]},
            "Qty": 3,
            "UnitPrice": item["UnitPrice"],
        },
    }
    invoice = sb.create(
        "Invoice",
        {
            "CustomerRef": {"value": "1"},
            "TxnDate": "2025-03-01",
            "TotalAmt": 3 * item["UnitPrice"],
            "Line": [line],
        },
    )
    for basis in Basis:  # QBO books the cost at the invoice's date on both bases
        entry = _entry(books, basis, "Invoice", invoice["Id"])
        assert entry is not None
        cost_postings = [p for p in entry.postings if p.kind == "inventory_cost"]
        assert {(p.account_id, _cents(p.amount)) for p in cost_postings} == {
            (80, 3 * cost),
            (81, -3 * cost),
        }
        assert all(p.line_index is None for p in cost_postings)  # no line of the invoice carries it
    assert _one(api, "Item", item["Id"])["QtyOnHand"] == qty_before - 3
    assert _cents(_one(api, "Account", 81)["CurrentBalance"]) == asset_before - 3 * cost

    sb.void("Invoice", invoice["Id"])
    assert _one(api, "Item", item["Id"])["QtyOnHand"] == qty_before
    assert _cents(_one(api, "Account", 81)["CurrentBalance"]) == asset_before


def test_discounts_and_sales_tax_post_to_their_accounts(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_sandbox(other_records=10)
    api, books = make_api(sb), _books(sb)
    item = _service_item(api)
    lines = [
        {
            "Amount": 100.0,
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": 1, "UnitPrice": 100.0},
        },
        {"Amount": 100.0, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}},
        {
            "Amount": 10.0,
            "DetailType": "DiscountLineDetail",
            "DiscountLineDetail": {
                "PercentBased": True,
                "DiscountPercent": 10,
                "DiscountAccountRef": {"value": "52"},
            },
        },
    ]
    invoice = sb.create(
        "Invoice",
        {
            "CustomerRef": {"value": "2"},
            "Line": lines,
            "TxnTaxDetail": {"TotalTax": 7.25},
            "TotalAmt": 97.25,
        },
    )
    entry = _entry(books, Basis.ACCRUAL, "Invoice", invoice["Id"])
    assert entry is not None
    assert sorted(
        (p.kind, p.account_id, _cents(p.amount), p.line_index) for p in entry.postings
    ) == [
        ("ar", 84, 9725, None),
        ("discount", 52, 1000, 2),
        ("line", 79, -10000, 0),
        ("tax", 76, -725, None),
    ]


def test_cash_basis_recognises_income_when_paid(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_sandbox(other_records=10)
    api, books = make_api(sb), _books(sb)
    item = _service_item(api)

    def line(amount: float, account: str) -> dict[str, Any]:
        detail = {"ItemRef": {"value": item["Id"]}, "Qty": 1, "ItemAccountRef": {"value": account}}
        return {
            "Amount": amount,
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": detail,
        }

    invoice = sb.create(
        "Invoice",
        {
            "CustomerRef": {"value": "3"},
            "TxnDate": "2025-02-01",
            "TotalAmt": 150.0,
            "Line": [line(100.0, "79"), line(50.0, "50")],
        },
    )
    assert _entry(books, Basis.CASH, "Invoice", invoice["Id"]) is None  # no cash moved yet
    link = {"TxnId": invoice["Id"], "TxnType": "Invoice"}
    payment = sb.create(
        "Payment",
        {
            "CustomerRef": {"value": "3"},
            "TxnDate": "2025-03-01",
            "TotalAmt": 70.0,
            "Line": [{"Amount": 60.0, "LinkedTxn": [link]}],
        },
    )
    cash = _entry(books, Basis.CASH, "Payment", payment["Id"])
    assert cash is not None
    assert cash.txn_date == date(2025, 3, 1)
    assert sorted((p.account_id, _cents(p.amount)) for p in cash.postings) == [
        (4, 7000),  # Undeposited Funds
        (50, -2000),  # a third of the invoice's Services line
        (66, -1000),  # the unapplied $10: Unapplied Cash Payment Income
        (79, -4000),  # two thirds of its product line
    ]
    accrual = _entry(books, Basis.ACCRUAL, "Payment", payment["Id"])
    assert accrual is not None
    assert sorted((p.account_id, _cents(p.amount)) for p in accrual.postings) == [
        (4, 7000),
        (84, -6000),
        (84, -1000),
    ]
    assert 84 not in books.net_by_account(Basis.CASH, None, None)  # no A/R on the cash basis
    assert 33 not in books.net_by_account(Basis.CASH, None, None)  # nor A/P


def test_the_default_basis_is_the_company_preference(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_sandbox(other_records=5)
    books = _books(sb)
    assert books.default_basis() is Basis.ACCRUAL
    prefs = sb.records("Preferences")[0]
    sb.update("Preferences", 1, {"ReportPrefs": {**prefs["ReportPrefs"], "ReportBasis": "Cash"}})
    assert books.default_basis() is Basis.CASH


def test_generated_transactions_post_by_their_rules(make_sandbox: Callable[..., Sandbox]) -> None:
    """One check per kind of generated transaction: which side its head account is on."""
    sb = make_sandbox(other_records=60)
    books = _books(sb)
    chart = {a.id: a for a in books.accounts()}
    heads = {
        "Invoice": ("ar", 1),
        "Bill": ("ap", -1),
        "VendorCredit": ("ap", 1),
        "CreditMemo": ("ar", -1),
    }
    heads |= {
        "SalesReceipt": ("bank", 1),
        "RefundReceipt": ("bank", -1),
        "BillPayment": ("bank", -1),
    }
    seen: dict[str, int] = defaultdict(int)
    records = {e: {r["Id"]: r for r in sb.records(e)} for e in ("Purchase", "BillPayment")}
    for entry in books.entries(Basis.ACCRUAL, None, None):
        seen[entry.txn_type] += 1
        if entry.txn_type in heads:
            kind, sign = heads[entry.txn_type]
            (head,) = [p for p in entry.postings if p.kind == kind]
            assert head.amount * sign == entry.total > 0
        if entry.txn_type == "Purchase":
            record = records["Purchase"][str(entry.txn_id)]
            (head,) = [p for p in entry.postings if p.kind == "bank"]
            assert (head.amount > 0) == record["Credit"]  # a credit (refund) comes back
            assert chart[head.account_id].account_type in ("Bank", "Credit Card")
        if entry.txn_type == "BillPayment":
            record = records["BillPayment"][str(entry.txn_id)]
            (head,) = [p for p in entry.postings if p.kind == "bank"]
            wanted = "Credit Card" if record["PayType"] == "CreditCard" else "Bank"
            assert chart[head.account_id].account_type == wanted
        if entry.txn_type == "Deposit":
            assert all(p.amount < 0 for p in entry.postings if p.kind == "line")
    for posting_type in (
        "Invoice",
        "Payment",
        "Deposit",
        "Bill",
        "BillPayment",
        "Purchase",
        "JournalEntry",
    ):
        assert seen[posting_type], posting_type
    assert {
        "Transfer",
        "CreditCardPayment",
        "SalesReceipt",
        "CreditMemo",
        "RefundReceipt",
        "VendorCredit",
    } <= set(seen)
    assert not {"Estimate", "PurchaseOrder", "TimeActivity"} & set(seen)
    credits = [r for r in records["Purchase"].values() if r["Credit"]]
    assert credits  # the generated data has card refunds


def test_prerendered_records_follow_changed_balances(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_sandbox(other_records=20, prerender=True)
    api = make_api(sb)
    payment = next(p for p in sb.records("Payment") if p["Line"])
    invoice_id = payment["Line"][0]["LinkedTxn"][0]["TxnId"]
    before = _cents(_one(api, "Invoice", invoice_id)["Balance"])
    sb.void("Payment", payment["Id"])
    served = [r for r in _all(api, "Invoice") if r["Id"] == invoice_id]
    assert _cents(served[0]["Balance"]) == before + _cents(payment["TotalAmt"])
    _assert_derived_fields(api)


def test_generated_invoices_post_the_same_from_facts_as_from_records(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    """The books read a generated invoice's money without building it; that shortcut must
    post exactly what the rules make of the served record."""
    sb = make_sandbox(other_records=10)
    company = sb.state.companies[sb.info.realm_id]
    store, ctx = company.store("Invoice"), company.books.rule_context()
    for record_id in store.live_ids():
        facts = store.generated_facts(record_id)
        record = store.raw(record_id)
        assert (facts.doc, facts.day.isoformat()) == (record["DocNumber"], record["TxnDate"])
        assert post_sale(facts, ctx) == post("Invoice", record, ctx)
    sb.update("Invoice", 1, {"PrivateNote": "changed"})
    assert store.generated_facts(1) is None  # a changed record is read whole


ODD = {
    "Payment": {"TotalAmt": "12.5", "Line": {"Amount": 1}, "CustomerRef": {"value": 7}},
    "Invoice": {
        "TotalAmt": "not a number",
        "DueDate": "2025-13-40",
        "TxnTaxDetail": [1],
        "Line": [
            {"Amount": 5, "LinkedTxn": {"TxnId": "1"}},
            "text",
            {"GroupLineDetail": {"Line": 3}},
        ],
    },
    "JournalEntry": {
        "Line": [{"Amount": 9.99, "JournalEntryLineDetail": {"PostingType": "Debit"}}]
    },
    "Deposit": {"TotalAmt": 3, "Line": [{"Amount": 5, "DepositLineDetail": {"AccountRef": "x"}}]},
    "Bill": {
        "TotalAmt": None,
        "Line": [{"Amount": 2, "ItemBasedExpenseLineDetail": {"ItemRef": {"value": "999"}}}],
    },
}


@pytest.mark.parametrize("entity", sorted(ODD))
def test_records_that_do_not_add_up_still_balance(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api], entity: str
) -> None:
    """The admin API takes records as they come; the books never break on one."""
    sb = make_sandbox(other_records=5)
    api, books = make_api(sb), _books(sb)
    created = sb.create(entity, ODD[entity])
    for basis in Basis:
        for entry in books.entries(basis, None, None):
            assert sum(p.amount for p in entry.postings) == 0
    assert _entry(books, Basis.ACCRUAL, entity, created["Id"]) is not None
    assert api.rows("SELECT * FROM Customer MAXRESULTS 5")  # the books build, served
    _assert_derived_fields_of_lists(api)


def _assert_derived_fields_of_lists(api: Api) -> None:
    net = _net(list(_books(api.sb).entries(Basis.ACCRUAL, None, None)))
    for account in _all_lists(api, "Account"):
        if account["Classification"] == "Asset":
            assert _cents(account["CurrentBalance"]) == _cents(net.get(int(account["Id"]), 0))


def test_a_voided_bill_payment_reopens_its_bill_and_the_vendor_balance(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_sandbox(other_records=40)
    api = make_api(sb)
    paid = next(p for p in sb.records("BillPayment") if p["Line"])
    bill_id = paid["Line"][0]["LinkedTxn"][0]["TxnId"]
    vendor_id, amount = paid["VendorRef"]["value"], _cents(paid["TotalAmt"])
    source = (paid.get("CheckPayment") or {}).get("BankAccountRef") or paid["CreditCardPayment"][
        "CCAccountRef"
    ]
    before = [
        _cents(_one(api, "Bill", bill_id)["Balance"]),
        _cents(_all_lists(api, "Vendor")[int(vendor_id) - 1]["Balance"]),
        _cents(_one(api, "Account", source["value"])["CurrentBalance"]),
    ]
    sb.void("BillPayment", paid["Id"])
    after = [
        _cents(_one(api, "Bill", bill_id)["Balance"]),
        _cents(_all_lists(api, "Vendor")[int(vendor_id) - 1]["Balance"]),
        _cents(_one(api, "Account", source["value"])["CurrentBalance"]),
    ]
    kind = _one(api, "Account", source["value"])["Classification"]
    # the bank gets the money back (an asset up); a card owes less (a liability down)
    paid_back = amount if kind == "Asset" else -amount
    assert after == [before[0] + amount, before[1] + amount, before[2] + paid_back]
    _assert_derived_fields(api)


def test_a_customer_balance_with_jobs_adds_its_sub_customers(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_sandbox(other_records=5)
    api = make_api(sb)
    parent = _all_lists(api, "Customer")[0]
    job = sb.create(
        "Customer",
        {"DisplayName": "A job", "Job": True, "ParentRef": {"value": parent["Id"]}},
    )
    sb.create(
        "Invoice",
        {"CustomerRef": {"value": job["Id"]}, "TotalAmt": 40.0, "Line": []},
    )
    served = _one(api, "Customer", parent["Id"])
    assert _cents(served["Balance"]) == _cents(parent["Balance"])
    assert _cents(served["BalanceWithJobs"]) == _cents(parent["BalanceWithJobs"]) + 4000
    assert _one(api, "Customer", job["Id"])["Balance"] == 40
