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
from dataclasses import dataclass

import psycopg

from bench import (
    at_limits,
    one_company,
    peers_churn,
    peers_side_by_side,
    raw_speed,
    sync_day,
    wide_range,
)
from bench.harness import DEFAULT_DATABASE_URL, HEADER, OUT, table_line


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


FULL = Sizes(200_000, 20_000, 1_000_000, 100, 100_000, 250, 50)
SMOKE = Sizes(3_000, 1_000, 5_000, 3, 2_000, 20, 5, 3_000, 2_000, 1_000, 20, 5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds (CI)")
    parser.add_argument(
        "--only",
        default="1,2,3,4,5,6,7,8,9,10",
        help="scenarios to run, e.g. 1,4 (default: all but 11, the peers after a churn)",
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


def _rows(url: str, sizes: Sizes, wanted: set[int], *, install: bool):  # type: ignore[no-untyped-def]
    if wanted & {1, 4}:
        rows = at_limits.run(
            url,
            invoices=sizes.limits_invoices,
            latency_ms=sizes.latency_ms,
            jitter_ms=sizes.jitter_ms,
        )
        yield from (r for r in rows if r.number in wanted)
    if 2 in wanted:
        yield peers_side_by_side.run(
            url,
            invoices=sizes.peer_invoices,
            latency_ms=sizes.latency_ms,
            jitter_ms=sizes.jitter_ms,
            install=install,
        )
    if wanted & {3, 5}:
        raw_row, rss = raw_speed.run(
            url, invoices=sizes.raw_invoices, sample_pages=sizes.loader_pages
        )
        if 3 in wanted:
            yield raw_row
        if 5 in wanted:
            yield raw_speed.memory_row(
                url, small=sizes.memory_small, large=sizes.raw_invoices, large_rss_mb=rss
            )
    wide = {"latency_ms": sizes.wide_latency_ms, "jitter_ms": sizes.wide_jitter_ms}
    if 6 in wanted:
        yield wide_range.run_default_command(url, invoices=sizes.wide_invoices, **wide)
    if 7 in wanted:
        yield sync_day.run(
            url,
            invoices=sizes.sync_invoices,
            latency_ms=sizes.latency_ms,
            jitter_ms=sizes.jitter_ms,
        )
    if 8 in wanted:
        yield wide_range.run_peers_defaults(
            url, invoices=sizes.peers_wide_invoices, install=install, **wide
        )
    if wanted & {9, 10}:
        yield from one_company.rows(url, wanted, smoke=sizes is SMOKE)
    if 11 in wanted:
        yield peers_churn.run(url, invoices=sizes.churn_invoices, install=install)


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
