"""docs/typed-views.md lists every view and column as the declarations have them."""

from __future__ import annotations

from tests.helpers import REPO

from qbo_backfill.views.reference import markdown


def test_the_reference_in_the_docs_is_the_declarations() -> None:
    text = (REPO / "docs" / "typed-views.md").read_text(encoding="utf-8")
    assert markdown() in text, "regenerate: python -c 'from qbo_backfill.views.reference ...'"
