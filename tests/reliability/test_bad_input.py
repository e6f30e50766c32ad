"""Bad input: property-based CLI arguments and configuration. Every case exits 2 with one
`error:` line, no traceback, no request and nothing written."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.helpers import REPO, run_cli
from tests.reliability.harness import record_figures

from qbo_backfill.entities import resolve_entity
from qbo_backfill.errors import ConfigError
from qbo_backfill.ui import cli

pytestmark = pytest.mark.db

# Nothing listens here: a request would fail with exit 1, never the 2 the tests expect.
DEAD_URL = "http://127.0.0.1:9"
EXAMPLES = int(os.environ.get("QBO_BAD_INPUT_EXAMPLES", "60"))

valid_date = st.dates().map(lambda d: d.isoformat())
bad_int_text = st.one_of(
    st.integers(max_value=0).map(str),
    st.text(alphabet="abcxyz-+. ", min_size=1, max_size=8).filter(
        lambda t: not t.strip().isdigit()
    ),
)


def _bad_date(text: str) -> bool:
    from datetime import date

    try:
        date.fromisoformat(text.strip())
    except ValueError:
        return True
    return False


not_a_date = st.text(max_size=20).filter(_bad_date)


def _unknown_entity(name: str) -> bool:
    try:
        resolve_entity(name)
    except ConfigError:
        return True
    return False


@pytest.fixture(scope="module")
def base_env(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("bad-input-home")
    return {
        "QBO_CLIENT_ID": "client",
        "QBO_CLIENT_SECRET": "secret-value",
        "QBO_REALM_ID": "123",
        "QBO_REFRESH_TOKEN": "refresh-value",
        "QBO_API_BASE_URL": DEAD_URL,
        "QBO_TOKEN_URL": DEAD_URL + "/token",
        "QBO_DATABASE_URL": database_url,
        "QBO_SCHEMA": "bad_input_never_created",
        "QBO_HOME": str(home),
        # Should an input be wrongly accepted, the run fails fast (exit 1) instead of retrying.
        "QBO_RETRY_ATTEMPTS": "1",
        "QBO_REQUEST_TIMEOUT_SECONDS": "1",
    }


@pytest.fixture(autouse=True)
def _no_write(database_url: str) -> Iterator[None]:
    yield
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'bad_input_never_created'"
        ).fetchone()
    assert row == (0,), "a bad input created the schema"


def _run(
    argv: list[str], env: dict[str, str], capsys: pytest.CaptureFixture[str], tmp: Path
) -> str:
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("QBO_", "PG_")):
                mp.delenv(name)
        for name, value in env.items():
            mp.setenv(name, value)
        mp.chdir(tmp)  # no .env of the checkout
        code = cli.run(argv)
    out, err = capsys.readouterr()
    assert code == 2, (argv, code, out, err)
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, (argv, err)
    assert lines[0].startswith("error: "), (argv, err)
    return lines[0]


def _case(kind: str) -> None:
    """One figure line per input tried (QBO_RELIABILITY_FIGURES); the docs count them."""
    record_figures("bad-input", {"kind": kind})


Refuse = Callable[..., str]


@pytest.fixture
def refuse(base_env: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Refuse:
    """`refuse(kind, argv, **env)`: the CLI refuses argv (with env added) in one line."""

    def check(kind: str, argv: list[str], **env: str) -> str:
        _case(kind)
        return _run(argv, base_env | env, capsys, tmp_path)

    return check


SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@SETTINGS
@given(start=st.one_of(not_a_date, valid_date), end=st.one_of(not_a_date, valid_date))
def test_dates(
    start: str,
    end: str,
    refuse: Refuse,
) -> None:
    from datetime import date

    valid = not (_bad_date(start) or _bad_date(end))
    if valid and date.fromisoformat(start.strip()) < date.fromisoformat(end.strip()):
        return  # a valid window is not bad input
    refuse("dates", ["backfill", "Invoice", "--start", start, "--end", end])


@SETTINGS
@given(days=bad_int_text.filter(lambda t: t.strip().lower() != "auto"))
def test_chunk_days(days: str, refuse: Refuse) -> None:
    refuse("chunk_days", ["backfill", "Invoice", f"--chunk-days={days}"])


@SETTINGS
@given(
    size=st.one_of(st.integers(max_value=0), st.integers(min_value=1001)).map(str) | bad_int_text
)
def test_page_size(size: str, refuse: Refuse) -> None:
    refuse("page_size", ["backfill", "Invoice", f"--page-size={size}"])


@SETTINGS
@given(
    name=st.text(min_size=1, max_size=30)
    .filter(_unknown_entity)
    .filter(lambda n: not n.startswith("-") and "\x00" not in n)
)
def test_entity_names(name: str, refuse: Refuse) -> None:
    refuse("entity", ["backfill", name])


@SETTINGS
@given(
    variable=st.sampled_from(["QBO_API_BASE_URL", "QBO_TOKEN_URL", "QBO_AUTHORIZE_URL"]),
    url=st.one_of(
        st.text(max_size=30).filter(lambda t: t.strip() and "://" not in t),
        st.sampled_from(
            [
                "ftp://host",
                "file:///etc/passwd",
                "http://",
                "javascript:alert(1)",
                "//host/path",
                "https:/x",
            ]
        ),
    ).filter(lambda t: "\x00" not in t),
)
def test_urls(
    variable: str,
    url: str,
    refuse: Refuse,
) -> None:
    refuse("urls", ["backfill", "Invoice"], **{variable: url})


def _too_long_for_postgres(name: str) -> bool:
    """Over NAMEDATALEN-1 = 63 bytes (UTF-8, as read: stripped), PostgreSQL truncates."""
    return len(name.strip().encode("utf-8")) > 63 and "\x00" not in name


@SETTINGS
@given(schema=st.text(min_size=22, max_size=90).filter(_too_long_for_postgres))
@example(schema="é" * 63)  # 63 characters, 126 bytes
@example(schema="a" * 62 + "é")  # 63 characters, 64 bytes
def test_schema_names(schema: str, refuse: Refuse) -> None:
    # Over 63 bytes PostgreSQL would truncate the name silently: refused instead.
    # (NUL cannot travel in an environment variable: see the next test.)
    refuse("schema", ["backfill", "Invoice"], QBO_SCHEMA=schema)


@pytest.mark.parametrize(
    ("schema", "accepted"),
    [
        pytest.param("a" * 63, True, id="63-ascii"),
        pytest.param("é" * 31 + "a", True, id="32-chars-63-bytes"),
        pytest.param("é" * 32, False, id="32-chars-64-bytes"),
        pytest.param("€" * 21, True, id="21-chars-63-bytes"),
        pytest.param("€" * 22, False, id="22-chars-66-bytes"),
    ],
)
def test_schema_names_are_limited_in_bytes(schema: str, accepted: bool) -> None:
    from qbo_backfill.settings import Settings

    if accepted:
        assert Settings.load({"schema": schema}, environ={}, dotenv_path=None).schema == schema
    else:
        with pytest.raises(ConfigError, match="63 bytes"):
            Settings.load({"schema": schema}, environ={}, dotenv_path=None)


def test_schema_with_nul_is_refused() -> None:
    from qbo_backfill.settings import Settings

    with pytest.raises(ConfigError, match="schema"):
        Settings.load({"schema": "a\x00b"}, environ={}, dotenv_path=None)


@SETTINGS
@given(
    variable=st.sampled_from(
        [
            "QBO_MAX_IN_FLIGHT",
            "QBO_REQUESTS_PER_MINUTE",
            "QBO_RETRY_ATTEMPTS",
            "QBO_BACKOFF_SECONDS",
            "QBO_THROTTLE_WAIT_SECONDS",
            "QBO_REQUEST_TIMEOUT_SECONDS",
            "QBO_ENVIRONMENT",
            "QBO_REALM_ID",
            "QBO_DATABASE_URL",
        ]
    ),
    value=st.text(alphabet="-abc,.;'\"xyz ", min_size=1, max_size=12).filter(
        lambda t: t.strip() and t.strip().lower() not in ("sandbox", "production")
    ),
)
def test_configuration_values(
    variable: str,
    value: str,
    refuse: Refuse,
) -> None:
    refuse("configuration", ["backfill", "Invoice"], **{variable: value})


@SETTINGS
@given(
    realm=st.text(min_size=1, max_size=12).filter(
        lambda t: (
            t.strip() and not t.strip().isdigit() and not t.startswith("-") and "\x00" not in t
        )
    )
)
def test_realm_flag(realm: str, refuse: Refuse) -> None:
    refuse("realm", ["backfill", "Invoice", "--realm", realm])


@pytest.mark.parametrize(
    "args",
    [
        ["backfill", "Invoice", "--start", "2025-13-01"],
        ["backfill", "NotAnEntity"],
        ["backfill", "Invoice", "--page-size", "0"],
        ["backfill", "Invoice", "--chunk-days", "-3"],
        ["backfill", "Invoice", "--no-such-option"],
    ],
)
def test_a_real_process_says_one_line_too(
    args: list[str], base_env: dict[str, str], tmp_path: Path
) -> None:
    env = base_env | {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO / "src")}
    result = run_cli(args, env, tmp_path, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    _case("subprocess")
