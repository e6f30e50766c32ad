"""Counted words that agree with their count: "1 window", "2 windows", never "window(s)"."""

from __future__ import annotations

__all__ = ["agree", "plural"]


def agree(count: int, word: str, many: str | None = None) -> str:
    """`word` for exactly one, else its plural (`many`, or `word` + "s")."""
    return word if count == 1 else many or f"{word}s"


def plural(count: int, word: str, many: str | None = None) -> str:
    """The count and its noun in agreement: `plural(1, "window")` is "1 window"."""
    return f"{count} {agree(count, word, many)}"
