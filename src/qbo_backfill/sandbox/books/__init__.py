"""The sandbox's books: a chart of accounts, and every transaction's balanced postings.

`model` holds the shapes the report endpoints read (`Books`, `Entry`, `Posting`,
`OpenItem`); the ledger that computes them from the company's records lives beside it.
"""
