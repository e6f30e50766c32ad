"""`python -m bench`: the scenarios of the performance issues, one table row each.

Every scenario runs the local sandbox as a separate process and the backfill as a
subprocess, into a fresh schema of the PostgreSQL named by --database-url (default: the
server on 127.0.0.1:5432, database test). Rows go to stdout as a Markdown table; each
scenario's JSON goes to bench/out/. `--smoke` runs tiny sizes in seconds (CI).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

import psycopg

from bench import (
    at_limits,
    one_company,
    peers_churn,
    peers_side_by_side,
    raw_speed,
    sync_day,
    typed_views,
    wide_range,
)
from bench.harness import DEFAULT_DATABASE_URL, HEADER, OUT, Row, table_line


@dataclass(frozen=True)
class Sizes:
    limits_invoices: int
    peer_invoices: int
    raw_invoices: int
    loader_pages: int
    memory_small: int
    latency_ms: float
    jitter_ms: float
    sync_invoices: int = 100_000  # scenario 7
    wide_invoices: int = 20_000  # scenario 6
    peers_wide_invoices: int = 60_000  # scenario 8
    wide_latency_ms: float = 175  # 100-250 ms
    wide_jitter_ms: float = 75
    churn_invoices: int = 3_000  # scenario 11
    views_invoices: int = 1_000_000  # scenario 12 (grown in SQL from views_seed backfilled)
    views_seed: int = 5_000
    smoke: bool = False

    def latency(self) -> dict[str, float]:
        """The sandbox's added latency for most scenarios."""
        return {"latency_ms": self.latency_ms, "jitter_ms": self.jitter_ms}

    def wide_latency(self) -> dict[str, float]:
        """The wider latency of the long-range scenarios (6 and 8)."""
        return {"latency_ms": self.wide_latency_ms, "jitter_ms": self.wide_jitter_ms}


FULL = Sizes(200_000, 20_000, 1_000_000, 100, 100_000, 250, 50)
SMOKE = Sizes(
    3_000, 1_000, 5_000, 3, 2_000, 20, 5, 3_000, 2_000, 1_000, 20, 5, 1_000, 2_000, 500, True
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds (CI)")
    parser.add_argument(
        "--only",
        default="1,2,3,4,5,6,7,8,9,10,12",
        help="scenarios to run, e.g. 1,4 (default: all but 11, the peers after a churn)",
    )
    parser.add_argument(
        "--views-invoices",
        type=int,
        help="invoices of scenario 12 (default 1,000,000; 2,000 with --smoke)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("QBO_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL for the raw tables (a fresh schema per scenario)",
    )
    parser.add_argument(
        "--no-install",
        action="store_true",
        help="do not create the peers' virtual environments (a missing one is reported)",
    )
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    if args.views_invoices:
        sizes = replace(sizes, views_invoices=args.views_invoices)
    wanted = {int(n) for n in args.only.split(",") if n.strip()}
    tag = "-smoke" if args.smoke else ""
    print(_machine(args.database_url))
    print(table_line(HEADER))
    print(table_line(["---"] * len(HEADER)), flush=True)
    tables = []
    for row in _rows(args.database_url, sizes, wanted, install=not (args.smoke or args.no_install)):
        row.save(tag)
        print(table_line(row.cells()), flush=True)
        if row.number == 11:
            tables.append(peers_churn.table(row))
    for text in tables:
        print(f"\n{text}")
    print(f"\nJSON per scenario in {OUT.relative_to(OUT.parent.parent)}/")
    return 0


def _rows(url: str, sizes: Sizes, wanted: set[int], *, install: bool) -> Iterator[Row]:
    for numbers, scenario in SCENARIOS:
        if wanted & numbers:
            yield from (
                row for row in scenario(url, sizes, wanted, install) if row.number in wanted
            )


@dataclass(frozen=True)
class OneRow:
    """A scenario of one row, called as `run(url, invoices=..., **latency, install=...)`."""

    run: Callable[..., Row]
    invoices: Callable[[Sizes], int]
    latency: Callable[[Sizes], dict[str, float]] | None = Sizes.latency  # None: its own
    install: bool = False  # whether it takes the peers' `install`

    def __call__(self, url: str, sizes: Sizes, wanted: set[int], install: bool) -> Iterable[Row]:
        options: dict[str, object] = {**self.latency(sizes)} if self.latency else {}
        if self.install:
            options["install"] = install
        yield self.run(url, invoices=self.invoices(sizes), **options)


def _at_limits(url: str, sizes: Sizes, wanted: set[int], install: bool) -> Iterable[Row]:
    return at_limits.run(url, invoices=sizes.limits_invoices, **sizes.latency())


def _raw_speed(url: str, sizes: Sizes, wanted: set[int], install: bool) -> Iterable[Row]:
    raw_row, rss = raw_speed.run(url, invoices=sizes.raw_invoices, sample_pages=sizes.loader_pages)
    yield raw_row
    if 5 in wanted:  # measured against 3's peak, so 3 runs for it either way
        yield raw_speed.memory_row(
            url, small=sizes.memory_small, large=sizes.raw_invoices, large_rss_mb=rss
        )


def _one_company(url: str, sizes: Sizes, wanted: set[int], install: bool) -> Iterable[Row]:
    return one_company.rows(url, wanted, smoke=sizes.smoke)


def _typed_views(url: str, sizes: Sizes, wanted: set[int], install: bool) -> Iterable[Row]:
    seed = min(sizes.views_seed, sizes.views_invoices)
    yield typed_views.run(url, invoices=sizes.views_invoices, seed_invoices=seed)


# The scenarios by number. Numbers that one entry yields are measured together (5 reuses
# 3's peak memory); an entry runs when any of its numbers is wanted, and only the wanted
# rows are shown.
SCENARIOS: tuple[tuple[set[int], Callable[[str, Sizes, set[int], bool], Iterable[Row]]], ...] = (
    ({1, 4}, _at_limits),
    ({2}, OneRow(peers_side_by_side.run, lambda s: s.peer_invoices, install=True)),
    ({3, 5}, _raw_speed),
    ({6}, OneRow(wide_range.run_default_command, lambda s: s.wide_invoices, Sizes.wide_latency)),
    ({7}, OneRow(sync_day.run, lambda s: s.sync_invoices)),
    (
        {8},
        OneRow(
            wide_range.run_peers_defaults,
            lambda s: s.peers_wide_invoices,
            Sizes.wide_latency,
            install=True,
        ),
    ),
    ({9, 10}, _one_company),
    ({11}, OneRow(peers_churn.run, lambda s: s.churn_invoices, latency=None, install=True)),
    ({12}, _typed_views),
)


def _machine(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"machine: {os.cpu_count()} cores, {memory_gb:.0f} GB, Python {platform.python_version()}, "
        f"PostgreSQL {row[0] if row else '?'}, {time.strftime('%Y-%m-%d %H:%M %Z')}\n"
    )


if __name__ == "__main__":
    sys.exit(main())
