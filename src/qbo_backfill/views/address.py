"""`address`: every address the records embed (BillAddr, ShipAddr, ...), one row per
address Id, as Fivetran's `address` table that `billing_address_id` and friends point to.

QBO gives an embedded address an `Id`; the same Id may be embedded in several records (a
customer's address copied onto its invoices), so the view keeps one row per (realm, Id):
the newest copy of a live record, else the newest copy."""

from __future__ import annotations

from psycopg import sql

from qbo_backfill.entities import CATALOG
from qbo_backfill.views.casts import cast
from qbo_backfill.views.definition import RawTables, ViewDefinition
from qbo_backfill.views.generate import empty_select, walk
from qbo_backfill.views.model import BOOKKEEPING, ColumnType, columns

# Which records embed addresses, and where.
EMBEDDED: dict[str, tuple[str, ...]] = {
    "Customer": ("BillAddr", "ShipAddr"),
    "Vendor": ("BillAddr",),
    "Employee": ("PrimaryAddr",),
    "Invoice": ("BillAddr", "ShipAddr"),
    "Estimate": ("BillAddr", "ShipAddr"),
    "SalesReceipt": ("BillAddr", "ShipAddr"),
    "CreditMemo": ("BillAddr", "ShipAddr"),
    "RefundReceipt": ("BillAddr", "ShipAddr"),
    "PurchaseOrder": ("ShipAddr", "VendorAddr"),
    "Purchase": ("RemitToAddr",),
    "CompanyInfo": ("CompanyAddr", "LegalAddr", "CustomerCommunicationAddr"),
}
COLUMNS = columns(
    """
    line_1                  Line1                     text
    line_2                  Line2                     text
    line_3                  Line3                     text
    line_4                  Line4                     text
    line_5                  Line5                     text
    city                    City                      text
    country                 Country                   text
    country_sub_division_code CountrySubDivisionCode  text
    postal_code             PostalCode                text
    latitude                Lat                       text
    longitude               Long                      text
    """
)
COLUMN_TYPES = (("id", ColumnType.TEXT), *((c.name, c.type) for c in COLUMNS), *BOOKKEEPING)


def _branch(table: sql.Composable, fields: tuple[str, ...], realm: str | None) -> sql.Composed:
    """The addresses of one raw table: one row per embedded address that has an Id."""
    values = sql.SQL(", ").join(
        sql.SQL("({})").format(walk(sql.SQL("r.payload"), f)) for f in fields
    )
    address = sql.SQL("a.value")
    items: list[sql.Composable] = [
        sql.SQL("{} AS id").format(cast(walk(address, "Id"), ColumnType.TEXT))
    ]
    items += [
        sql.SQL("{} AS {}").format(cast(walk(address, c.path), c.type), sql.Identifier(c.name))
        for c in COLUMNS
    ]
    items += [
        sql.SQL("r.realm_id, r.ingested_at_utc AS _fivetran_synced"),
        sql.SQL("(r.deleted_at_utc IS NOT NULL) AS _fivetran_deleted"),
    ]
    query = sql.SQL(
        "SELECT {items} FROM {table} AS r CROSS JOIN LATERAL (VALUES {values}) AS a(value) "
        "WHERE jsonb_typeof(a.value) = 'object' AND a.value ->> 'Id' IS NOT NULL"
    ).format(items=sql.SQL(", ").join(items), table=table, values=values)
    if realm is not None:
        query += sql.SQL(" AND r.realm_id = {}").format(sql.Literal(realm))
    return query


def _build(raw: RawTables, realm: str | None) -> sql.Composable:
    branches: list[sql.Composable] = []
    for name, fields in EMBEDDED.items():
        table = raw.get(CATALOG[name].table_name)
        if table is not None:
            branches.append(_branch(table, fields, realm))
    if not branches:
        return empty_select(list(COLUMN_TYPES))
    names = sql.SQL(", ").join(sql.Identifier(n) for n, _ in COLUMN_TYPES)
    return sql.SQL(
        "SELECT DISTINCT ON (realm_id, id) {names} FROM ({union}) AS addresses "
        "ORDER BY realm_id, id, _fivetran_deleted, _fivetran_synced DESC"
    ).format(names=names, union=sql.SQL(" UNION ALL ").join(branches))


ADDRESS = ViewDefinition(
    name="address",
    tables=tuple(CATALOG[name].table_name for name in EMBEDDED),
    columns=COLUMN_TYPES,
    build=_build,
    entity_names=tuple(EMBEDDED),
)
