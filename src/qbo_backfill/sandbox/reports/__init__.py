"""The report endpoints (`GET /v3/company/{realm}/reports/{Name}`) computed from the books:
one module per report family, their parameters (`params`), JSON pieces (`shape`), cached
sums (`balances`), and the limits every computed answer meets (`limits`). Replayed
payloads are kept in the sandbox's state and served before any of this."""
