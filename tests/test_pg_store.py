"""The store on both backends: the same rows in, the same numbers out (SQLite file and PostgreSQL)."""
from __future__ import annotations

import time

import pytest

from pairdesk import store
from pairdesk.store import partitions

DAY0 = 1_764_547_200_000  # 2025-12-01 00:00 UTC


def _trades(ids, symbol="BTCUSDT", start=DAY0):
    return [(symbol, i, start + i * 37, 100.0 + (i * 7919 % 101) / 10, 0.001 * (1 + i % 13), i % 2) for i in ids]


def _everything(db: str) -> dict:
    conn = store.open_reader(db)
    try:
        return {
            "bars": store.read_bars_1s(conn, "BTCUSDT").to_dict("list"),
            "trades": store.read_trades(conn, "BTCUSDT").to_dict("list"),
            "recent": store.read_trades(conn, "BTCUSDT", limit=5).to_dict("list"),
            "extents": store.read_symbol_extents(conn),
            "symbols": store.list_symbols(conn),
            "last": store.last_trade_id(conn, "BTCUSDT"),
            "closes": store.read_closes(conn, "BTCUSDT", 60_000).to_dict("list"),
            "page": store.read_trade_page(conn, "BTCUSDT", 10, 500, 7),
            "gaps": store.read_gap_spans(conn, ["BTCUSDT"]).drop(columns=["found_ms"]).to_dict("list"),
        }
    finally:
        conn.close()


def test_same_trades_give_the_same_numbers_on_both_backends(tmp_path, pg_url) -> None:
    sqlite_db = str(tmp_path / "ticks.db")
    results = []
    for db in (sqlite_db, pg_url):
        assert store.write_trades(db, _trades(range(0, 3000, 2))) == 1500
        assert store.write_trades(db, _trades(range(1, 3000, 2)) + _trades(range(0, 40))) == 1500  # late, resent
        with store.write_session(db) as conn:
            store.open_gap(conn, "BTCUSDT", 3000, 3010, "test")
        results.append(_everything(db))
    assert results[0] == results[1]
    assert results[1]["extents"][0][2] == 3000


def test_a_resent_trade_is_stored_once_and_its_bar_is_not_counted_twice(database) -> None:
    assert store.write_trades(database, _trades(range(100))) == 100
    assert store.write_trades(database, _trades(range(50, 150)) * 2) == 50
    conn = store.open_reader(database)
    try:
        bars = store.read_bars_1s(conn, "BTCUSDT")
        assert int(bars["trades"].sum()) == 150
        assert store.read_trades(conn, "BTCUSDT")["trade_id"].tolist() == list(range(150))
    finally:
        conn.close()


def test_bars_follow_incrementally_by_revision(database) -> None:
    store.write_trades(database, _trades(range(100)))
    conn = store.open_reader(database)
    try:
        frame, rev = store.read_recent_bars(conn, "BTCUSDT", 10**9)
        assert len(frame) and rev > 0
        late = ("BTCUSDT", 10_000, DAY0 - 5000, 99.0, 1.0, 0)  # a late trade in a second before the others
        store.write_trades(database, _trades(range(100, 120)) + [late])
        fresh, newer = store.read_bars_since(conn, "BTCUSDT", rev)
        assert newer > rev
        assert DAY0 - 5000 in fresh["ts_ms"].tolist()  # the late trade's own (new) second
        assert store.read_bars_since(conn, "BTCUSDT", newer)[0].empty
    finally:
        conn.close()


def test_a_database_of_another_market_is_refused(database) -> None:
    store.write_trades(database, _trades(range(3)))
    with pytest.raises(store.StoreMismatch, match="holds spot trade data"):
        store.open_writer(database, "futures", "aggTrade")


def test_day_partitions_hold_the_trades(pg_url) -> None:
    store.write_trades(pg_url, _trades(range(10)) + _trades(range(10, 20), start=DAY0 + 86_400_000))
    conn = store.open_reader(pg_url)
    try:
        names = [row[0] for row in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'trade_rows'::regclass ORDER BY 1")]
        today = int(time.time() * 1000) // partitions.DAY_MS
        ahead = [partitions.partition_name(day) for day in range(today, today + partitions.AHEAD_DAYS + 1)]
        assert names[:2] == ["trade_rows_d20251201", "trade_rows_d20251202"]  # the imported days
        assert set(ahead) <= set(names)  # and today's and the next days', created ahead of their trades
        assert store.read_metadata(conn)["trade_partitions"] == "native"
        keys = dict(conn.execute("SELECT tablename, indexdef FROM pg_indexes WHERE tablename LIKE 'trade_rows_d%'"))
        assert set(keys) == set(names)  # every day has its unique key, made with it
        assert all("UNIQUE INDEX" in d and "(sym_id, trade_id)" in d for d in keys.values())
        assert conn.execute("SELECT count(*) FROM trade_rows_d20251202").fetchone()[0] == 10
    finally:
        conn.close()


def test_an_unreachable_server_is_a_one_line_error(unused_port) -> None:
    with pytest.raises(store.StoreError, match=r"cannot connect to PostgreSQL") as caught:
        store.open_reader(f"postgresql://someone:secret@127.0.0.1:{unused_port}/nothing")
    assert "secret" not in str(caught.value) and "\n" not in str(caught.value)


def test_two_writers_of_one_symbol_commit_their_bar_revisions_in_order(pg_url) -> None:
    """An import writing a symbol while the live writer does: the second to take the symbol's bar lock
    waits for the first to commit, so its revision is higher and commits later, and a reader that
    follows ``rev > last seen`` sees both batches (numbered in the wrong order, it would skip one)."""
    import threading

    store.write_trades(pg_url, _trades(range(5)))
    reader = store.open_reader(pg_url)
    first = store.open_writer(pg_url, "spot", "trade")
    try:
        _, seen = store.read_bars_since(reader, "BTCUSDT", 0)
        with store.atomic(first):
            store.store_history(first, _trades(range(1000, 1010), start=DAY0 + 3_600_000))
            second = threading.Thread(target=store.write_trades,
                                      args=(pg_url, _trades(range(2000, 2010), start=DAY0 + 7_200_000)))
            second.start()
            deadline = time.monotonic() + 10  # until the second writer waits on the first's bar lock
            while time.monotonic() < deadline and not reader.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND wait_event = 'advisory'").fetchone()[0]:
                time.sleep(0.02)
            assert second.is_alive()  # waiting for the first writer's bar lock on BTCUSDT
            assert store.read_bars_since(reader, "BTCUSDT", seen)[0].empty  # nothing committed yet
        second.join(30)
        fresh, newest = store.read_bars_since(reader, "BTCUSDT", seen)
        hours = sorted({int(ts) // 3_600_000 - DAY0 // 3_600_000 for ts in fresh["ts_ms"]})
        assert hours == [1, 2]  # both batches, whichever reads in between would have seen the first
        revs = dict(reader.execute("SELECT ts_ms / 3600000 - ? / 3600000, max(rev) FROM bar_rows GROUP BY 1",
                                   (DAY0,)).fetchall())
        assert revs[1] < revs[2]
    finally:
        first.close()
        reader.close()


def test_shards_adding_to_the_watchlist_at_once_never_fail(pg_url) -> None:
    """Two ingestors seeding the watchlist in overlapping transactions: both commit, nothing is removed."""
    import threading

    first, second = (store.open_writer(pg_url, "spot", "trade") for _ in range(2))
    errors = []
    try:
        with store.atomic(first):
            store.add_to_watchlist(first, ["BTCUSDT", "ETHUSDT"])

            def add() -> None:
                try:
                    with store.atomic(second):
                        store.add_to_watchlist(second, ["BTCUSDT", "ETHUSDT", "SOLUSDT"])
                except Exception as exc:
                    errors.append(exc)

            other = threading.Thread(target=add)
            other.start()
            deadline = time.monotonic() + 10  # until it waits on the first's uncommitted rows
            while time.monotonic() < deadline and not first.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'").fetchone()[0]:
                time.sleep(0.02)
            assert other.is_alive()
        other.join(30)
        assert errors == []
        assert [s for s, _ in store.read_watchlist(first)] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    finally:
        first.close()
        second.close()


def test_a_migrator_that_waited_for_another_finds_the_schema_made(pg_url) -> None:
    """Shards starting at once on a new database: the one that waited for the migrate lock sees the
    tables the first one committed meanwhile (with the catalog cache it ran the baseline again:
    "relation meta already exists")."""
    import threading

    from pairdesk.store import pg_schema, postgres

    first, second, watcher = (postgres.connect(pg_url, role=role) for role in ("first", "second", "watcher"))
    outcome: list[object] = []

    def migrate_second() -> None:
        try:
            pg_schema.migrate(second, store.SCHEMA_VERSION)
            outcome.append(pg_schema.schema_version(second))
        except Exception as exc:  # noqa: BLE001 - the failure is the outcome checked below
            outcome.append(exc)

    try:
        first.execute("BEGIN")
        first.execute("SELECT pg_advisory_xact_lock(?)", (pg_schema.MIGRATE_LOCK,))
        thread = threading.Thread(target=migrate_second)
        thread.start()
        deadline = time.monotonic() + 10  # until the second migrator waits for the lock
        while not watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pairdesk second%' "
                                  "AND wait_event_type = 'Lock'").fetchone()[0]:
            assert time.monotonic() < deadline, "the second migrator never waited for the lock"
            time.sleep(0.01)
        pg_schema._baseline(first)
        first.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(pg_schema.BASELINE_VERSION),))
        first.execute("COMMIT")
        thread.join(10)
        assert outcome == [store.SCHEMA_VERSION]
    finally:
        for conn in (first, second, watcher):
            conn.close()
