"""Generated data of every catalog entity, over HTTP: counts, paging, filters, references,
and that Customer, Item and Invoice payloads are exactly what they were before the other
entities existed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import date
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from qbo_backfill.sandbox import Sandbox, SandboxConfig, clock
from qbo_backfill.sandbox.catalog import CATALOG, CDC_EXCLUDED

if TYPE_CHECKING:
    from tests.sandbox.conftest import Api

UNLIMITED: dict[str, Any] = {
    "rate_limit_per_min": 0,
    "rate_limit_per_sec": 0,
    "max_in_flight": 0,
    "batch_limit_per_min": 0,
}
CONFIG: dict[str, Any] = {"customers": 40, "items": 12, "invoices": 400, "other_records": 60}
WITHOUT_DATA = {"ExchangeRate", "RecurringTransaction", "TaxClassification"}
TRANSACTIONS = sorted(n for n, info in CATALOG.items() if info.kind == "transaction")
LISTS_WITH_ACTIVE = sorted(n for n, info in CATALOG.items() if info.has_active)

# sha256 over the records (orjson, one per line, in Id order). MASKED: as served before the
# sandbox kept books, without the fields the books now derive (MONEY_FIELDS): the rest of
# the payloads other code's tests count on must never change. FINGERPRINTS: whole records
# as served now (their balances and quantities follow the postings; docs/sandbox.md).
MONEY_FIELDS = {
    "Customer": ("Balance", "BalanceWithJobs"),
    "Item": ("QtyOnHand",),
    "Invoice": ("Balance",),
    "CompanyInfo": (),
}
MASKED = {
    (42, 0): {
        "Customer": "f8f986f4dcef95b9c011b25061c7f63f4ca946fcc6d9026a67fb2e8d280e2093",
        "Item": "c4d65faf3e7a4b4164f028878ce1dd8339e4153bfc857c57155595e628a0a20f",
        "Invoice": "8d3e5d9a34b1a6e10eddaf6370dc4ce909059b09441fac7a4cad4bc94458978b",
        "CompanyInfo": "45b2e0d3b77c582c037d72f7ac03f5d87f876a1581284fbd478e4059f8b5530b",
    },
    (7, 1): {
        "Customer": "30a1c9bb34d10466d5acd539a163c0148e2d750822b6b704953c00f6cece7748",
        "Item": "7fe24d8434ea5b71ee484233375692e2cce7592f86ce4b0f5645d253140fa0fa",
        "Invoice": "2e8964a6e8e944a54f7ff34bd09778ab1e5b137f54c9d465c7c2558f482fc6d1",
        "CompanyInfo": "ab20cec42d8b9fd6ddecdb8cf3d28d80715a0eda033e8cc3bbd3a20b323c9f22",
    },
}
FINGERPRINTS = {
    (42, 0): {
        "Customer": (200, "d8201006d34d2a05394167d6111c08d47a55587a6228dd7ae0dd4ddf3509e015"),
        "Item": (50, "0e34cf5a7a50576aa218a6d6ee5283873e8ae146fb7a69b059595b6faeacc6f5"),
        "Invoice": (2000, "72b4e31e8972f634f84a705fe6f4473d858fcefc8b8c11639012f7ea2236869b"),
        "CompanyInfo": (1, "45b2e0d3b77c582c037d72f7ac03f5d87f876a1581284fbd478e4059f8b5530b"),
    },
    (7, 1): {
        "Customer": (40, "98240cdd13937d3aaebb51f6045c5e306fd57144571a85985b5a41232399522b"),
        "Item": (12, "06d5a09d5c67836941fa04dbd70814c8750e0bf6185dc42e341e77fb45650698"),
        "Invoice": (300, "68299cea012aed11d5a4506ce492e9c6e7c3de617a4ab556570d88ba83266554"),
        "CompanyInfo": (1, "ab20cec42d8b9fd6ddecdb8cf3d28d80715a0eda033e8cc3bbd3a20b323c9f22"),
    },
}
FINGERPRINT_CONFIGS: dict[tuple[int, int], dict[str, Any]] = {
    (42, 0): {},
    (7, 1): {"seed": 7, "realms": 2, "customers": 40, "items": 12, "invoices": 300},
}

# Which entity each kind of reference names (TaxCodeRef "NON" and CurrencyRef are codes).
REF_TARGETS = {
    "CustomerRef": "Customer",
    "VendorRef": "Vendor",
    "EmployeeRef": "Employee",
    "ItemRef": "Item",
    "ClassRef": "Class",
    "DepartmentRef": "Department",
    "SalesTermRef": "Term",
    "TermRef": "Term",
    "PaymentMethodRef": "PaymentMethod",
    "TaxRateRef": "TaxRate",
    "AgencyRef": "TaxAgency",
    **dict.fromkeys(
        (
            "AccountRef",
            "APAccountRef",
            "DepositToAccountRef",
            "ItemAccountRef",
            "IncomeAccountRef",
            "ExpenseAccountRef",
            "BankAccountRef",
            "CCAccountRef",
            "CreditCardAccountRef",
            "FromAccountRef",
            "ToAccountRef",
        ),
        "Account",
    ),
}
CODES = {"CurrencyRef", "TaxCodeRef", "HomeCurrency", "DefaultTerms"}
CONTAINERS = {"AttachableRef"}  # a list of objects that hold an EntityRef


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(**CONFIG, **UNLIMITED)) as sb:
        yield sb


@pytest.fixture
def data_api(sandbox: Sandbox, make_api: Callable[..., Api]) -> Api:
    return make_api(sandbox)


@pytest.fixture(scope="module")
def everything(sandbox: Sandbox) -> dict[str, dict[str, dict[str, Any]]]:
    """Every record of every entity, by entity and Id, from the admin API."""
    return {name: {r["Id"]: r for r in sandbox.records(name)} for name in CATALOG}


def _digest(records: list[dict[str, Any]]) -> str:
    return hashlib.sha256(b"\n".join(orjson.dumps(r) for r in records)).hexdigest()


def _masked(entity: str, records: list[dict[str, Any]]) -> str:
    """The digest of the records without the fields the books derive."""
    drop = MONEY_FIELDS.get(entity, ())
    return _digest([{k: v for k, v in r.items() if k not in drop} for r in records])


def _all_pages(api: Api, entity: str, where: str = "") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while True:
        page = api.rows(
            f"SELECT * FROM {entity} {where} ORDERBY Id STARTPOSITION {len(rows) + 1} MAXRESULTS 7"
        )
        rows.extend(page)
        if len(page) < 7:
            return rows


# ---- the first entities did not change ------------------------------------------------------
@pytest.mark.parametrize("case", sorted(FINGERPRINTS))
def test_customer_item_invoice_payloads_are_unchanged(case: tuple[int, int]) -> None:
    config = SandboxConfig(**{**FINGERPRINT_CONFIGS[case], **UNLIMITED})
    with Sandbox(config) as sb:
        realm = sb.info.realm_ids[case[1]]
        for entity, (count, digest) in FINGERPRINTS[case].items():
            records = sb.records(entity, realm)
            assert _masked(entity, records) == MASKED[case][entity], entity
            assert (len(records), _digest(records)) == (count, digest), entity


def test_other_entities_do_not_disturb_the_first_ones() -> None:
    digests = []
    for other in (0, 5, 300):
        config = SandboxConfig(**{**CONFIG, **UNLIMITED, "other_records": other})
        with Sandbox(config) as sb:
            digests.append([_masked(e, sb.records(e)) for e in ("Customer", "Item", "Invoice")])
            counts = {e: len(sb.records(e)) for e in ("Vendor", "Bill", "Payment")}
            assert all(counts.values()) == bool(other), counts
    assert digests[0] == digests[1] == digests[2]


def test_same_seed_same_data_other_seed_other_data() -> None:
    def snapshot(seed: int) -> dict[str, str]:
        config = SandboxConfig(**{**CONFIG, **UNLIMITED, "seed": seed})
        with Sandbox(config) as sb:
            return {entity: _digest(sb.records(entity)) for entity in CATALOG}

    first, again, other = snapshot(11), snapshot(11), snapshot(12)
    assert first == again
    changed = {e for e in CATALOG if first[e] != other[e]}
    assert {"Vendor", "Employee", "Bill", "Payment", "Deposit", "JournalEntry"} <= changed


# ---- every entity is served like Invoice and Customer --------------------------------------
@pytest.mark.parametrize("entity", sorted(CATALOG))
def test_every_entity_counts_match_paging(
    data_api: Api, entity: str, everything: dict[str, dict[str, dict[str, Any]]]
) -> None:
    held = everything[entity]
    assert bool(held) == (entity not in WITHOUT_DATA)
    count = data_api.count(f"SELECT COUNT(*) FROM {entity}")
    paged = _all_pages(data_api, entity)
    assert len(paged) == count
    assert len({r["Id"] for r in paged}) == count
    assert [int(r["Id"]) for r in paged] == sorted(int(r["Id"]) for r in paged)
    if entity == "Item":
        paged = [{**r, "Sku": held[r["Id"]]["Sku"]} for r in paged]  # Sku needs SELECT *, Sku
    assert all(held[r["Id"]] == r for r in paged)
    if CATALOG[entity].has_active:
        everyone = _all_pages(data_api, entity, "WHERE Active IN (true, false)")
        assert len(everyone) == len(held)
    else:
        assert count == len(held)


@pytest.mark.parametrize("entity", sorted(n for n in CATALOG if n not in WITHOUT_DATA))
def test_every_record_has_the_qbo_envelope(
    entity: str, everything: dict[str, dict[str, dict[str, Any]]]
) -> None:
    for record in everything[entity].values():
        assert record["domain"] == "QBO"
        assert record["sparse"] is False
        assert record["Id"].isdigit()
        assert record["SyncToken"].isdigit()
        meta = record["MetaData"]
        created = clock.parse_timestamp(meta["CreateTime"])
        assert created <= clock.parse_timestamp(meta["LastUpdatedTime"])
        if CATALOG[entity].has_active:
            assert isinstance(record["Active"], bool)
        if CATALOG[entity].kind == "transaction":
            assert date.fromisoformat(record["TxnDate"])
            assert "TotalAmt" in record or "Amount" in record or entity == "TimeActivity"


@pytest.mark.parametrize("entity", LISTS_WITH_ACTIVE)
def test_active_filtering_on_every_list(
    data_api: Api, entity: str, everything: dict[str, dict[str, dict[str, Any]]]
) -> None:
    held = everything[entity].values()
    active = sum(1 for r in held if r["Active"])
    assert data_api.count(f"SELECT COUNT(*) FROM {entity}") == active
    assert data_api.count(f"SELECT COUNT(*) FROM {entity} WHERE Active = true") == active
    inactive = data_api.count(f"SELECT COUNT(*) FROM {entity} WHERE Active = false")
    assert inactive == len(held) - active
    assert data_api.count(f"SELECT COUNT(*) FROM {entity} WHERE Active IN (true, false)") == len(
        held
    )
    if entity in ("Account", "Class", "Department", "PaymentMethod", "TaxCode", "Customer"):
        assert inactive > 0


@pytest.mark.parametrize("entity", TRANSACTIONS)
def test_date_and_metadata_filters_on_every_transaction(
    data_api: Api, entity: str, everything: dict[str, dict[str, dict[str, Any]]]
) -> None:
    held = list(everything[entity].values())
    days = sorted(r["TxnDate"] for r in held)
    assert "2024-01-01" <= days[0] <= days[-1] < "2026-01-01"
    middle = days[len(days) // 2]
    later = data_api.count(f"SELECT COUNT(*) FROM {entity} WHERE TxnDate >= '{middle}'")
    assert later == sum(1 for d in days if d >= middle)
    stamps = sorted(r["MetaData"]["LastUpdatedTime"] for r in held)
    cut = stamps[len(stamps) // 3]
    newer = data_api.rows(
        f"SELECT * FROM {entity} WHERE MetaData.LastUpdatedTime > '{cut}' "
        "ORDERBY MetaData.LastUpdatedTime MAXRESULTS 1000"
    )
    assert {r["Id"] for r in newer} == {
        r["Id"] for r in held if r["MetaData"]["LastUpdatedTime"] > cut
    }
    newest = data_api.rows(f"SELECT * FROM {entity} ORDERBY TxnDate DESC MAXRESULTS 3")
    assert [r["TxnDate"] for r in newest] == days[::-1][:3]


def test_batch_counts_every_transaction(data_api: Api) -> None:
    items = [{"bId": e, "Query": f"SELECT COUNT(*) FROM {e}"} for e in TRANSACTIONS]
    response = data_api.http.post(
        data_api.base + "/batch", json={"BatchItemRequest": items}, headers=data_api.headers()
    )
    answers = {
        a["bId"]: a["QueryResponse"]["totalCount"] for a in response.json()["BatchItemResponse"]
    }
    assert answers == {e: data_api.count(f"SELECT COUNT(*) FROM {e}") for e in TRANSACTIONS}
    assert all(answers.values())


def test_cdc_serves_every_entity_it_should(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_sandbox()
    served = [e for e in CATALOG if e not in CDC_EXCLUDED and e not in WITHOUT_DATA]
    since = sb.now().isoformat()
    for entity in served:
        sb.update(entity, sb.records(entity)[0]["Id"], {"PrivateNote": "touched"})
    body = make_api(sb).get("/cdc", entities=",".join(served), changedSince=since).json()
    groups = body["CDCResponse"][0]["QueryResponse"]
    assert [next(k for k in g if k[0].isupper()) for g in groups] == served
    assert all(len(g[name]) == 1 for g, name in zip(groups, served, strict=True))


# ---- references between records -------------------------------------------------------------
def _refs(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """(key, object) of every reference-like object inside a record."""
    if isinstance(value, dict):
        if key.endswith("Ref") or key == "LinkedTxn":
            yield key, value
        for k, v in value.items():
            yield from _refs(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item, key)


def _label(record: dict[str, Any]) -> str:
    for key in ("FullyQualifiedName", "DisplayName", "Name"):
        if key in record:
            return str(record[key])
    raise AssertionError(f"no name in {record['Id']}")


def test_references_resolve_to_existing_records(
    everything: dict[str, dict[str, dict[str, Any]]],
) -> None:
    checked: dict[str, int] = {}
    for entity, records in everything.items():
        for record in records.values():
            for key, ref in _refs(record):
                if key in CODES or key in CONTAINERS:
                    continue
                if key == "LinkedTxn":
                    target_entity, target_id = ref["TxnType"], ref["TxnId"]
                elif key == "EntityRef":
                    target_entity, target_id = ref["type"], ref["value"]
                elif key == "ParentRef":
                    target_entity, target_id = entity, ref["value"]
                else:
                    target_entity, target_id = REF_TARGETS[key], ref["value"]
                target = everything[target_entity].get(target_id)
                assert target is not None, (entity, record["Id"], key, ref)
                if "name" in ref:
                    assert ref["name"] == _label(target), (entity, record["Id"], key)
                checked[key] = checked.get(key, 0) + 1
    assert {"CustomerRef", "VendorRef", "LinkedTxn", "AccountRef", "EntityRef"} <= set(checked)


def test_payments_settle_earlier_invoices_of_their_customer(
    everything: dict[str, dict[str, dict[str, Any]]],
) -> None:
    for paid_entity, target_entity, party in (
        ("Payment", "Invoice", "CustomerRef"),
        ("BillPayment", "Bill", "VendorRef"),
    ):
        settled: dict[str, int] = {}
        for record in everything[paid_entity].values():
            if not record["Line"]:  # nothing open to apply to: an unapplied payment
                assert record.get("UnappliedAmt", record["TotalAmt"]) == record["TotalAmt"]
                continue
            (line,) = record["Line"]
            (link,) = line["LinkedTxn"]
            target = everything[target_entity][link["TxnId"]]
            assert link["TxnType"] == target_entity
            assert record[party] == target[party]
            assert record["TotalAmt"] == line["Amount"] <= target["TotalAmt"]
            settled[link["TxnId"]] = settled.get(link["TxnId"], 0) + round(line["Amount"] * 100)
        assert settled, paid_entity
        for target_id, cents in settled.items():  # never more than the document's total
            target = everything[target_entity][target_id]
            assert cents <= round(target["TotalAmt"] * 100)
            assert round(target["Balance"] * 100) == round(target["TotalAmt"] * 100) - cents
    deposited: set[tuple[str, str]] = set()
    for record in everything["Deposit"].values():
        assert record["TotalAmt"] == pytest.approx(sum(line["Amount"] for line in record["Line"]))
        for line in record["Line"]:
            for link in line.get("LinkedTxn", []):
                key = (link["TxnType"], link["TxnId"])
                assert key not in deposited  # a payment is deposited once
                deposited.add(key)
                assert line["Amount"] == everything[link["TxnType"]][link["TxnId"]]["TotalAmt"]
    assert deposited


def test_lines_add_up_and_journal_entries_balance(
    everything: dict[str, dict[str, dict[str, Any]]],
) -> None:
    for entity in ("Estimate", "SalesReceipt", "CreditMemo", "RefundReceipt"):
        for record in everything[entity].values():
            detail = [line for line in record["Line"] if line["DetailType"] != "SubTotalLineDetail"]
            assert record["TotalAmt"] == pytest.approx(sum(line["Amount"] for line in detail))
    for entity in ("Bill", "VendorCredit", "Purchase", "PurchaseOrder"):
        for record in everything[entity].values():
            assert record["TotalAmt"] == pytest.approx(
                sum(line["Amount"] for line in record["Line"])
            )
    for record in everything["JournalEntry"].values():
        sides = {"Debit": 0.0, "Credit": 0.0}
        for line in record["Line"]:
            sides[line["JournalEntryLineDetail"]["PostingType"]] += line["Amount"]
        assert sides["Debit"] == pytest.approx(sides["Credit"]) == pytest.approx(record["TotalAmt"])


def test_list_names_are_filterable(data_api: Api) -> None:
    for entity, field, value in (
        ("Vendor", "DisplayName", "Books by Bessie"),
        ("Account", "Name", "Checking"),
        ("Term", "Name", "Net 30"),
        ("TaxAgency", "DisplayName", "Arizona Dept. of Revenue"),
    ):
        rows = data_api.rows(f"SELECT * FROM {entity} WHERE {field} = '{value}'")
        assert [r[field] for r in rows] == [value], entity
