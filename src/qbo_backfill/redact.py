"""Defence in depth for secrets: every known secret value is replaced before text leaves
the process through logs or the command line's error line."""

from __future__ import annotations

import logging

_SECRETS: set[str] = set()
MASK = "**********"


def register(values: list[str]) -> None:
    """Remember secret values (at least 4 characters) to scrub from any output."""
    _SECRETS.update(v for v in values if len(v) >= 4)


def forget_all() -> None:
    """For tests: start again with no registered secrets."""
    _SECRETS.clear()


def scrub(text: str) -> str:
    """The text with every registered secret value masked."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that masks registered secrets in the formatted message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            record.msg = scrub(record.getMessage())
            record.args = None
        return True
