"""Shared test fixtures: where the recorded Binance data lives, fresh database paths."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


REPO_ROOT = Path(__file__).resolve().parents[1]

# Real recorded Binance frames and dumps: the trimmed copies in tests/data/ (see tests/data/SOURCES.txt), or the
# full copies in $BINANCE_DATA_DIR when it is set (same relative paths, same formats, more of each recording).
TRIMMED_DATA = Path(__file__).resolve().parent / "data"
BINANCE_DATA = Path(os.environ.get("BINANCE_DATA_DIR") or TRIMMED_DATA).resolve()


def binance_file(relative: str) -> Path:
    """Path of a recorded sample under tests/data/ (or $BINANCE_DATA_DIR); fails the test when it is absent."""
    path = BINANCE_DATA / relative
    if not path.exists():
        pytest.fail(f"recorded sample missing: {path} (tests/data/ is in the repo; BINANCE_DATA_DIR, when set, "
                    "must hold the full copies at the same relative paths)", pytrace=False)
    return path


def read_db(path: Path, read):
    """``read(conn)`` on a read-only connection to the tick database at ``path``, closed afterwards."""
    from pairdesk import store

    conn = store.open_reader(path)
    try:
        return read(conn)
    finally:
        conn.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A path for a fresh SQLite database file in the test's own directory."""
    return tmp_path / "ticks.db"


def _throwaway_pg_server():
    """Start a throwaway PostgreSQL 15 server, yield it, stop it; skip (saying why) without the binaries."""
    import pg_server as server_module

    reason = server_module.missing_reason()
    if reason:
        pytest.skip(f"PostgreSQL tests need a server: {reason}")
    server = server_module.start_server()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL 15 server for this test session (one per xdist worker; ``tests/pg_server.py``)."""
    yield from _throwaway_pg_server()


@pytest.fixture
def own_pg_server():
    """A throwaway PostgreSQL server of this test's own (one it may restart), stopped afterwards."""
    yield from _throwaway_pg_server()


@pytest.fixture
def pg_url(pg_server) -> str:
    """The URL of a fresh, empty PostgreSQL database on the session's server."""
    return pg_server.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path: Path) -> str:
    """A fresh tick database on each backend: a SQLite file path, then a PostgreSQL URL (as ``--db`` takes them)."""
    if request.param == "sqlite":
        return str(tmp_path / "ticks.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Each test file's group: ``make test-fast`` runs the unit tests (pure code and single real parts
# in this process: a SQLite file, an in-process exchange, AppTest), ``make test`` everything.
INTEGRATION_FILES = frozenset({
    "test_ingestor.py", "test_alert_monitor.py", "test_run_all.py", "test_import_replay.py", "test_api_server.py",
    "test_analytics_cli.py", "test_pause_resume.py",
    "test_api_schemathesis.py", "test_single_writer.py", "test_exchange_sim.py", "test_ingest_retries.py",
    "test_ingest_quotes.py", "test_exchange_sim_quotes.py", "test_quote_import_memory.py", "test_replay_finished.py",
    "test_sim_universe.py", "test_scan_process.py", "test_shards.py", "test_store_copy.py",
})
BROWSER_FILES = frozenset({"test_demo_browser.py", "test_pg_browser.py", "test_end_to_end.py", "test_end_to_end_alerts.py", "test_safe_browser.py",
                           "test_browser_url.py"})


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        name = item.path.name
        group = "browser" if name in BROWSER_FILES else "integration" if name in INTEGRATION_FILES else "unit"
        item.add_marker(getattr(pytest.mark, group))
