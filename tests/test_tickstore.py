"""The tick store on real SQLite files: schema, metadata guard, exactly-once trades, exact bars."""
from __future__ import annotations

import random
import sqlite3
import threading

import pandas as pd
import pytest

from pairdesk import binance
from pairdesk import store
from conftest import binance_file
from recordings import recorded_frames, trade_count


def make_trades(symbol: str, first_id: int, count: int, t0_ms: int = 1_723_161_255_000, seed: int = 1) -> list[tuple]:
    rng = random.Random(seed)
    price, ts_ms, trades = 60_000.0, t0_ms, []
    for i in range(count):
        price = round(price + rng.choice((-0.01, 0.0, 0.01)), 2)
        ts_ms += rng.randint(0, 40)
        trades.append((symbol, first_id + i, ts_ms, price, round(rng.random(), 5), rng.random() < 0.5))
    return trades


def bars_from_trades(trades: list[tuple]) -> pd.DataFrame:
    """Independent 1 s bars: pandas groupby, open/close by (time, id)."""
    frame = pd.DataFrame(trades, columns=["symbol", "trade_id", "ts_ms", "price", "qty", "m"])
    frame = frame.sort_values(["ts_ms", "trade_id"])
    frame["sec"] = frame["ts_ms"] // 1000 * 1000
    frame["pq"] = frame["price"] * frame["qty"]
    grouped = frame.groupby("sec")
    return pd.DataFrame({
        "ts_ms": grouped["sec"].first(), "open": grouped["price"].first(), "high": grouped["price"].max(),
        "low": grouped["price"].min(), "close": grouped["price"].last(), "volume": grouped["qty"].sum(),
        "quote_volume": grouped["pq"].sum(), "trades": grouped["price"].size(),
    }).reset_index(drop=True)


def test_new_database_has_schema_version_and_metadata(db_path):
    """A new file gets every migration (user_version) and records market, stream and source."""
    store.write_trades(db_path, [], market="futures", stream="aggTrade", source="local")
    conn = store.open_reader(db_path)
    meta = store.read_metadata(conn)
    assert meta["schema_version"] == str(store.SCHEMA_VERSION)
    assert (meta["market"], meta["stream"], meta["source"]) == ("futures", "aggTrade", "local")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(("market", "stream"), [("futures", "trade"), ("spot", "aggTrade"), ("futures", "aggTrade")])
def test_database_of_another_market_or_stream_is_refused(db_path, market, stream):
    """Opening a spot trade database for futures, or for aggTrades, is a one-line error; data is kept."""
    store.write_trades(db_path, make_trades("BTCUSDT", 1, 10), market="spot", stream="trade")
    with pytest.raises(store.StoreMismatch) as excinfo:
        store.open_writer(db_path, market, stream)
    assert "spot trade" in str(excinfo.value) and "\n" not in str(excinfo.value)
    assert len(store.read_trades(store.open_reader(db_path), "BTCUSDT")) == 10


def test_newer_schema_is_refused(db_path):
    """A database written by a newer program is not touched."""
    store.write_trades(db_path, [])
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version = {store.SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(store.StoreError, match="newer"):
        store.open_writer(db_path, "spot", "trade")


def test_missing_and_foreign_files_are_clear_errors(tmp_path):
    """A reader on a missing file or a non-database file gets a one-line StoreError."""
    with pytest.raises(store.StoreError, match="no such database"):
        store.open_reader(tmp_path / "absent.db")
    junk = tmp_path / "junk.db"
    junk.write_text("this is not sqlite " * 100)
    with pytest.raises(store.StoreError, match="not a tick database"):
        store.open_reader(junk)


def test_duplicates_are_stored_once_and_bars_count_them_once(db_path):
    """Repeated trades, within a batch and across batches, are stored once and counted once in bars."""
    trades = make_trades("BTCUSDT", 5_000_000_000, 2_000)
    assert store.write_trades(db_path, trades[:1500] + trades[:10]) == 1500
    assert store.write_trades(db_path, trades[1000:]) == 500
    assert store.write_trades(db_path, trades) == 0
    conn = store.open_reader(db_path)
    stored = store.read_trades(conn, "BTCUSDT")
    assert stored["trade_id"].tolist() == [t[1] for t in trades]
    bars = store.read_bars_1s(conn, "BTCUSDT")
    pd.testing.assert_frame_equal(bars, bars_from_trades(trades), check_exact=False, rtol=1e-12)


def test_late_and_backfilled_trades_correct_their_bars(db_path):
    """Trades arriving in any order, in many batches, give exactly the bars of the sorted trades."""
    trades = make_trades("ETHUSDT", 42, 3_000, seed=7)
    shuffled = trades[:]
    random.Random(3).shuffle(shuffled)
    writer = store.TradeWriter(db_path, "spot", "trade", flush_interval_ms=5).start()
    for i in range(0, len(shuffled), 97):
        writer.submit(shuffled[i:i + 97])
    writer.close()
    assert writer.totals.stored == 3_000
    bars = store.read_bars_1s(store.open_reader(db_path), "ETHUSDT")
    pd.testing.assert_frame_equal(bars, bars_from_trades(trades), check_exact=False, rtol=1e-12)


def test_real_recorded_trades_round_trip(db_path):
    """The recorded spot trades stored through the parser come back identical, bars included."""
    recording = "hftbacktest/spot/ethusdt_20240808.gz"
    trades = [t for f in recorded_frames(binance_file(recording))
              if isinstance(t := binance.parse_message(f, "trade"), binance.Trade)]
    store.write_trades(db_path, trades)
    conn = store.open_reader(db_path)
    stored = store.read_trades(conn, "ETHUSDT")
    expected = pd.DataFrame([t[1:] for t in trades], columns=store.TRADE_COLUMNS)
    pd.testing.assert_frame_equal(stored, expected)
    view = conn.execute("SELECT count(*), sum(qty) FROM trades WHERE symbol = 'ETHUSDT'").fetchone()
    assert view[0] == trade_count(recording) > 500 and view[1] == pytest.approx(sum(t.qty for t in trades))
    pd.testing.assert_frame_equal(store.read_bars_1s(conn, "ETHUSDT"), bars_from_trades(trades),
                                  check_exact=False, rtol=1e-12)


def test_read_trades_by_time_range_and_limit(db_path):
    """Time ranges found through the bars return exactly the trades with start <= ts < end."""
    trades = make_trades("BTCUSDT", 1, 5_000)
    store.write_trades(db_path, trades)
    conn = store.open_reader(db_path)
    start, end = trades[1000][2] + 123, trades[4000][2] + 456
    got = store.read_trades(conn, "BTCUSDT", start, end)
    assert got["trade_id"].tolist() == [t[1] for t in trades if start <= t[2] < end]
    assert store.read_trades(conn, "BTCUSDT", limit=3)["trade_id"].tolist() == [4998, 4999, 5000]
    assert store.read_trades(conn, "NOPE").empty


def test_bars_since_reads_only_what_changed(db_path):
    """A reader holding a rev gets only bars written or corrected after it."""
    trades = make_trades("BTCUSDT", 1, 1_000)
    writer = store.TradeWriter(db_path, "spot", "trade").start()
    writer.submit(trades[:500])
    writer.call(lambda conn: None).result(5)
    conn = store.open_reader(db_path)
    first, rev = store.read_bars_since(conn, "BTCUSDT", 0)
    writer.submit(trades[500:])
    writer.close()
    changed, rev2 = store.read_bars_since(conn, "BTCUSDT", rev)
    assert rev2 > rev
    assert changed["ts_ms"].min() >= first["ts_ms"].max()
    assert store.read_bars_since(conn, "BTCUSDT", rev2)[0].empty


def test_failed_batch_rolls_back_and_writer_keeps_going(db_path):
    """A failing call rolls its whole batch back; the writer stays alive for the next batch."""
    trades = make_trades("BTCUSDT", 1, 100)
    writer = store.TradeWriter(db_path, "spot", "trade", flush_interval_ms=300).start()
    writer.submit(trades[:50])
    failing = writer.call(lambda conn: conn.execute("INSERT INTO no_such_table VALUES (1)"))
    with pytest.raises(sqlite3.OperationalError):
        failing.result(15)
    assert store.read_trades(store.open_reader(db_path), "BTCUSDT").empty
    writer.submit(trades)
    writer.close()
    assert len(store.read_trades(store.open_reader(db_path), "BTCUSDT")) == 100


def test_gaps_log_and_missing_count(db_path):
    """Gaps are recorded, widened, counted against stored ids, and closed."""
    store.write_trades(db_path, make_trades("BTCUSDT", 1, 10) + make_trades("BTCUSDT", 20, 5))
    conn = store.open_writer(db_path, "spot", "trade")
    with store.transaction(conn):
        store.open_gap(conn, "BTCUSDT", 11, 15, "id jump")
        store.open_gap(conn, "BTCUSDT", 11, 19, "id jump")
    assert store.count_missing(conn, "BTCUSDT", 11, 19) == 9
    assert store.count_missing(conn, "BTCUSDT", 1, 24) == 9
    with store.transaction(conn):
        store.close_gap(conn, "BTCUSDT", 11, "unfillable", 0, "rest", "exchange has none")
    gaps = store.read_gaps(conn)
    assert gaps[["from_id", "to_id", "status"]].values.tolist() == [[11, 19, "unfillable"]]
    assert store.read_gaps(conn, open_only=True).empty


def test_reader_sees_consistent_data_while_writer_runs(db_path):
    """A read-only reader always sees bars that add up to the trades, mid-stream."""
    trades = make_trades("BTCUSDT", 1, 60_000, seed=5)
    writer = store.TradeWriter(db_path, "spot", "trade", flush_interval_ms=5).start()
    writer.submit(trades[:10])
    writer.call(lambda conn: None).result(5)
    done = threading.Event()

    def feed() -> None:
        for i in range(10, len(trades), 500):
            writer.submit(trades[i:i + 500])
        writer.close()
        done.set()

    threading.Thread(target=feed).start()
    reader = store.open_reader(db_path)
    checks, finished = 0, False
    while not finished:
        finished = done.is_set()  # one more check after the writer has finished
        reader.execute("BEGIN")
        n_trades = reader.execute("SELECT count(*) FROM trades").fetchone()[0]
        n_in_bars = reader.execute("SELECT sum(trades) FROM bars_1s").fetchone()[0]
        reader.execute("COMMIT")
        assert n_trades == n_in_bars
        checks += 1
    assert n_trades == 60_000 and checks > 1


def test_uploaded_bars_never_overwrite_bars_from_trades(db_path):
    """Uploaded OHLC fills seconds without trades and leaves bars built from trades untouched."""
    trades = make_trades("BTCUSDT", 1, 200)
    store.write_trades(db_path, trades)
    conn = store.open_reader(db_path)
    before = store.read_bars_1s(conn, "BTCUSDT")
    first = int(before["ts_ms"].iloc[0])
    uploaded = [(first, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1), (first - 60_000, 5.0, 6.0, 4.0, 5.5, 2.0, 11.0, 3)]
    assert store.write_bars(db_path, "BTCUSDT", uploaded) == 1
    after = store.read_bars_1s(conn, "BTCUSDT")
    pd.testing.assert_frame_equal(after.iloc[1:].reset_index(drop=True), before)
    assert after.iloc[0].tolist() == [first - 60_000, 5.0, 6.0, 4.0, 5.5, 2.0, 11.0, 3]
    assert len(store.read_trades(conn, "BTCUSDT", first - 60_000)) == 200


def test_writer_holds_its_batch_while_another_process_writes(db_path):
    """A long write by another connection (an import) delays the writer's batch; nothing is dropped."""
    store.write_trades(db_path, [])
    importer = store.open_writer(db_path, "spot", "trade")
    importer.execute("BEGIN IMMEDIATE")
    writer = store.TradeWriter(db_path, "spot", "trade", flush_interval_ms=10).start()
    writer.conn.execute("PRAGMA busy_timeout = 50")  # fail fast so that the retry path runs
    writer.submit(make_trades("BTCUSDT", 1, 100))
    threading.Timer(0.6, lambda: importer.execute("COMMIT")).start()
    writer.call(lambda conn: None).result(10)
    writer.close()
    assert len(store.read_trades(store.open_reader(db_path), "BTCUSDT")) == 100
    assert writer.error is None


def test_upload_by_another_process_neither_loses_a_batch_nor_hides_bars(db_path):
    """A symbol and a rev created by an upload while the writer runs: the writer's next batch is kept and newer."""
    writer = store.TradeWriter(db_path, "spot", "trade", source="local").start()
    writer.submit(make_trades("BTCUSDT", 1, 10))
    writer.call(lambda conn: None).result(5)
    store.write_trades(db_path, make_trades("ETHUSDT", 1, 10, seed=2))  # the upload
    reader = store.open_reader(db_path)
    _, seen_rev = store.read_bars_since(reader, "ETHUSDT", 0)
    writer.submit(make_trades("ETHUSDT", 11, 10, t0_ms=1_800_000_000_000))
    writer.close()
    assert writer.error is None
    assert len(store.read_trades(reader, "ETHUSDT")) == 20
    assert not store.read_bars_since(reader, "ETHUSDT", seen_rev)[0].empty
    assert store.read_metadata(reader)["source"] == "local"  # the upload kept the DEMO label


def test_an_older_database_is_migrated_in_place_keeping_its_data(db_path):
    """A file at schema 2 gets migration 3 (feed_status.last_error) on open; its trades and status stay."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    for number, migration in enumerate(store.MIGRATIONS[:2]):
        with store.transaction(conn):
            migration(conn)
            conn.execute(f"PRAGMA user_version = {number + 1}")
    conn.execute("INSERT INTO meta VALUES ('market', 'spot'), ('stream', 'trade'), ('source', 'binance')")
    conn.execute("INSERT INTO feed_status (symbol, state, transport, updated_ms) VALUES ('BTCUSDT', 'live', 'ws', 1)")
    conn.close()
    store.write_trades(db_path, make_trades("BTCUSDT", 1, 10))
    reader = store.open_reader(db_path)
    assert store.read_metadata(reader)["schema_version"] == str(store.SCHEMA_VERSION)
    status = store.read_feed_status(reader)
    assert status["last_error"].tolist() == [""] and status["state"].tolist() == ["live"]
    assert len(store.read_trades(reader, "BTCUSDT")) == 10
