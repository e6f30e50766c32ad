"""`qbo-backfill ... --help`: every listed summary reads whole, never cut by click."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from qbo_backfill.sandbox.cli import sandbox_group
from qbo_backfill.ui.cli import cli

SRC = Path(__file__).resolve().parents[2] / "src"
# The command line as `main` assembles it (the sandbox group is added at start).
TOP = click.Group(commands={**cli.commands, "sandbox": sandbox_group})


def _groups() -> list[tuple[str, ...]]:
    """Every group's path of names, the top one (the empty path) first."""
    found: list[tuple[tuple[str, ...], click.Group]] = [((), TOP)]
    for path, group in found:
        for name, command in sorted(group.commands.items()):
            if isinstance(command, click.Group):
                found.append(((*path, name), command))
    return [path for path, _ in found]


def _group(path: tuple[str, ...]) -> click.Group:
    group = TOP
    for name in path:
        command = group.commands[name]
        assert isinstance(command, click.Group)
        group = command
    return group


def _help(path: tuple[str, ...], width: int) -> str:
    env = os.environ | {"COLUMNS": str(width), "PYTHONPATH": str(SRC)}
    result = subprocess.run(
        [sys.executable, "-m", "qbo_backfill", *path, "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _listed(help_text: str) -> dict[str, str]:
    """name -> summary in the `Commands:` section, wrapped lines joined."""
    section = help_text.split("Commands:\n", 1)[1]
    listed: dict[str, str] = {}
    name = ""
    for line in section.splitlines():
        if match := re.match(r"^  (\S+)\s+(.*)$", line):
            name = match.group(1)
            listed[name] = match.group(2).strip()
        elif line.strip() and name:
            listed[name] += " " + line.strip()
    return listed


def _summary(command: click.Command) -> str:
    """The summary its author wrote: `short_help`, else the help's first paragraph (which
    must then be one sentence, short enough for click to show whole)."""
    text = command.short_help or (command.help or "").split("\n\n", 1)[0]
    return " ".join(inspect.cleandoc(text).split())


def test_the_walk_finds_every_group() -> None:
    assert _groups() == [(), ("auth",), ("db",), ("fleet",), ("sandbox",), ("webhooks",)]


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("path", _groups(), ids=lambda p: " ".join(p) or "qbo-backfill")
def test_every_summary_in_help_reads_whole(path: tuple[str, ...], width: int) -> None:
    group = _group(path)
    listed = _listed(_help(path, width))
    assert set(listed) == set(group.commands)
    for name, shown in listed.items():
        command = group.commands[name]
        where = " ".join([*path, name])
        assert shown == _summary(command), f"{where}: shown as {shown!r}"
        assert shown.endswith("."), f"{where}: {shown!r}"
        assert not shown.endswith("..."), f"{where}: {shown!r}"
        assert shown.count("(") == shown.count(")"), f"{where}: {shown!r}"
