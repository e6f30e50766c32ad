"""Drive PyPI's python-quickbooks and intuit-oauth against a sandbox; print what they got.

Run with the peers' interpreter: `python python_quickbooks_client.py '<json settings>'`.
Only base URLs are changed: intuit-oauth reads the sandbox's discovery document (its
`environment` argument accepts a discovery URL), and `QuickBooks.api_url_v3` points at
the sandbox. Nothing of the installed libraries is patched.
"""

import json
import sys
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from urllib.parse import parse_qs, urlsplit

import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from quickbooks import QuickBooks
from quickbooks.cdc import change_data_capture
from quickbooks.objects.company_info import CompanyInfo
from quickbooks.objects.invoice import Invoice

PAGE = 100


def authorize(auth_client):
    """The browser step of `auth login`, followed by hand: the redirect carries the code."""
    url = auth_client.get_authorization_url([Scopes.ACCOUNTING], state_token="peer-state")
    redirect = requests.get(url, allow_redirects=False, timeout=30)
    query = parse_qs(urlsplit(redirect.headers["Location"]).query)
    assert query["state"] == ["peer-state"], query
    auth_client.get_bearer_token(query["code"][0], realm_id=query["realmId"][0])
    return query["realmId"][0]


def main():
    settings = json.loads(sys.argv[1])
    auth_client = AuthClient(
        settings["client_id"],
        settings["client_secret"],
        "http://localhost:8400/callback",
        environment=settings["discovery_url"],
    )
    authorized_realm = authorize(auth_client)
    auth_client.include_refresh_token_hard_expires_in = True
    auth_client.refresh(refresh_token=settings["refresh_token"])

    qb = QuickBooks(
        auth_client=auth_client,
        refresh_token=auth_client.refresh_token,
        company_id=settings["realm_id"],
        minorversion=75,
    )
    qb.api_url_v3 = settings["base_url"] + "/v3"

    count = Invoice.count(qb=qb)
    invoices = []
    position = 1
    while True:
        page = Invoice.where(
            "TxnDate >= '2000-01-01'",
            order_by="Id",
            start_position=position,
            max_results=PAGE,
            qb=qb,
        )
        invoices.extend(json.loads(invoice.to_json()) for invoice in page)
        if len(page) < PAGE:
            break
        position += PAGE

    company = CompanyInfo.get(settings["realm_id"], qb=qb)
    since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S%z")
    cdc = change_data_capture([Invoice], since, qb=qb)
    report = qb.get_report(
        "ProfitAndLoss",
        {"start_date": "2025-01-01", "end_date": "2025-01-31", "summarize_column_by": "Days"},
    )
    print(
        json.dumps(
            {
                "authorized_realm": authorized_realm,
                "refresh_token": auth_client.refresh_token,
                # intuit-oauth reads the hard expiry from 1.2.7 on; older versions lack it.
                "hard_expires_in": getattr(auth_client, "x_refresh_token_hard_expires_in", None),
                "versions": {name: version(name) for name in ("intuit-oauth", "python-quickbooks")},
                "count": count,
                "invoices": invoices,
                "company_name": company.CompanyName,
                "cdc": [json.loads(obj.to_json()) for obj in cdc.Invoice],
                "report_columns": len(report["Columns"]["Column"]),
            }
        )
    )


if __name__ == "__main__":
    main()
