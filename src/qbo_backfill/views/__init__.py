"""Typed views over the raw tables, named and typed like Fivetran's QuickBooks schema
(docs/typed-views.md): declared as data (`model`, one module per side of the books), one
generator (`generate`, `casts`), one installer (`install`)."""
