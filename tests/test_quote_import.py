"""Import of USD-M bookTicker dumps (into one-second quote bars) and fundingRate dumps (into funding),
built from the recorded futures bookTicker frames: the same guarantees as trade dumps."""
from __future__ import annotations

import hashlib
import math
import random
import sqlite3
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from recordings import book_ticker_events, trade_events

from pairdesk import history, store
from pairdesk.api.main import create_app
from pairdesk.history import exact, fast, importer
from pairdesk.history.quote_folding import QuoteFolder, ReorderBuffer
from pairdesk.quote_bars import SECOND_MS, QuoteBarBuilder

RECORDING = "hftbacktest/usdm/btcusdt_20240808.gz"
HEADER = "update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time"
FUNDING_HEADER = "calc_time,funding_interval_hours,last_funding_rate"
FUNDING_ROWS = ["1723161600000,8,0.00010000", "1723190400000,8,-0.00002500", "1723219200000,8,0.00005125"]


# --------------------------------------------------------------------------- dump files


def dump_line(event: dict) -> str:
    """A bookTicker frame as a dump row: u -> update_id, b, B, a, A, T -> transaction_time, E -> event_time."""
    return f"{event['u']},{event['b']},{event['B']},{event['a']},{event['A']},{event['T']},{event['E']}"


def recorded_lines() -> list[str]:
    return [dump_line(e) for e in book_ticker_events(RECORDING)]


def shuffled_locally(lines: list[str], block: int = 16, seed: int = 11) -> list[str]:
    """The rows with each run of ``block`` rows shuffled (out of order as dumps are, never far)."""
    rng = random.Random(seed)
    out = []
    for start in range(0, len(lines), block):
        part = lines[start:start + block]
        rng.shuffle(part)
        out += part
    return out


def write_dump(directory: Path, name: str, lines: list[str], header: str | None = HEADER) -> Path:
    path = directory / name
    path.write_text("".join(f"{line}\n" for line in ([header] if header else []) + lines))
    return path


def zipped_with_checksum(csv_path: Path) -> Path:
    """The dump as Binance serves it: a zip holding the CSV, its sha256 in ``<zip>.CHECKSUM`` beside."""
    archive = csv_path.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.write(csv_path, csv_path.name)
    archive.with_name(archive.name + ".CHECKSUM").write_text(
        f"{hashlib.sha256(archive.read_bytes()).hexdigest()}  {archive.name}\n")
    return archive


def generated_lines(rows: int, first_ms: int = 1723161600000, seed: int = 3) -> list[str]:
    """A busy synthetic book: ``rows`` updates with increasing ids over about a day, spread 1 to 3 ticks."""
    rng = np.random.default_rng(seed)
    ids = 6_000_000_000_000 + np.arange(rows) * 7
    times = first_ms + np.sort(rng.integers(0, 86_400_000, rows))
    bids = 60_000 + np.cumsum(rng.integers(-1, 2, rows)) * 0.1
    asks = bids + 0.1 * rng.integers(1, 4, rows)
    bid_qtys, ask_qtys = rng.integers(1, 9_999, rows) / 1000, rng.integers(1, 9_999, rows) / 1000
    return [f"{u},{b:.1f},{bq:.3f},{a:.1f},{aq:.3f},{t},{t + 2}" for u, b, bq, a, aq, t in
            zip(ids.tolist(), bids.tolist(), bid_qtys.tolist(), asks.tolist(), ask_qtys.tolist(), times.tolist())]


# --------------------------------------------------------------------------- helpers


def futures_db(path: Path) -> Path:
    store.open_writer(path, "futures", "aggTrade").close()
    return path


def run_import(capsys, db: Path, *files: Path) -> tuple[int, str, str]:
    """``data_ingestor.py import`` in this process: (exit code, stdout, the last line of stderr)."""
    code = importer.main(["--db", str(db), *map(str, files)])
    out, err = capsys.readouterr()
    lines = err.replace("\r", "\n").strip().splitlines()
    return code, out, lines[-1] if lines else ""


def stored_quotes(db: Path, symbol: str = "BTCUSDT") -> list[tuple]:
    conn = store.open_reader(db)
    try:
        return list(store.read_quotes(conn, symbol).itertuples(index=False, name=None))
    finally:
        conn.close()


def quote_count(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM quotes_1s").fetchone()[0]
    finally:
        conn.close()


def in_order_updates(events: list[dict]) -> list[tuple]:
    """(u, T, bid, bid qty, ask, ask qty) by update id, decoded here with float() alone."""
    return sorted((e["u"], e["T"], float(e["b"]), float(e["B"]), float(e["a"]), float(e["A"])) for e in events)


def builder_bars(updates: list[tuple]) -> list[tuple]:
    """The bars of the one rule fed the in-order updates, as ``read_quotes`` rows."""
    builder = QuoteBarBuilder("BTCUSDT")
    bars = []
    for update in updates:
        bars += builder.update(*update)[0]
    bars += builder.close_before(max(u[1] for u in updates) + SECOND_MS)
    return [tuple(bar[1:]) for bar in bars]


def reference_bars(updates: list[tuple]) -> list[tuple]:
    """Quote bars computed independently: the spread as a step function of time, integrated per second.

    Within second S the quote in force is the one carried in at S (after the file's first update,
    unless an update replaces it at S itself), then each update's until the next one; the mean covers
    [max(S, first update), S + 1000).
    """
    times = [u[1] for u in updates]
    assert times == sorted(times)  # this reference assumes times follow ids, as in the recording
    seconds: dict[int, list[tuple]] = {}
    for update in updates:
        seconds.setdefault(update[1] - update[1] % SECOND_MS, []).append(update)
    bars, carried = [], None
    for second, inside in sorted(seconds.items()):
        steps = [(u[1], u[4] - u[2]) for u in inside]
        if carried is not None and inside[0][1] > second:
            steps.insert(0, (second, carried))
        ends = [start for start, _ in steps[1:]] + [second + SECOND_MS]
        area = sum((end - start) * spread for (start, spread), end in zip(steps, ends))
        covered = second + SECOND_MS - steps[0][0]
        _, _, bid, bid_qty, ask, ask_qty = inside[-1]
        bars.append((second, bid, ask, bid_qty, ask_qty, area / covered, max(s for _, s in steps), len(inside)))
        carried = ask - bid
    return bars


# --------------------------------------------------------------------------- bookTicker dumps


def test_a_shuffled_recorded_dump_stores_the_bars_of_its_in_order_updates(capsys, db_path, tmp_path):
    """Recorded rows shuffled locally: the stored quotes_1s equal the one rule fed the updates in id
    order, and an independent step-function computation; nothing is dropped; twice stores 0 new."""
    events = book_ticker_events(RECORDING)
    lines = shuffled_locally(recorded_lines())
    assert lines != recorded_lines()
    dump = write_dump(tmp_path, "BTCUSDT-bookTicker-2024-08-08.csv", lines)
    code, out, _ = run_import(capsys, db_path, dump)
    updates = in_order_updates(events)
    expected = builder_bars(updates)
    assert code == 0 and f"{len(events):,} rows, {len(expected)} new quote seconds" in out and "dropped" not in out
    stored = stored_quotes(db_path)
    assert stored == expected
    reference = reference_bars(updates)
    assert [row[:5] + row[7:] for row in stored] == [row[:5] + row[7:] for row in reference]
    for row, ref in zip(stored, reference):
        assert row[5] == pytest.approx(ref[5], rel=1e-9) and row[6] == ref[6]
    assert stored[0][0] == updates[0][1] // 1000 * 1000 and stored[-1][0] == updates[-1][1] // 1000 * 1000
    code, out, _ = run_import(capsys, db_path, dump)
    assert code == 0 and "no new quote seconds" in out and stored_quotes(db_path) == expected
    meta = store.read_metadata(store.open_reader(db_path))
    assert (meta["market"], meta["stream"]) == ("futures", "aggTrade")  # a new database: futures, as the file says


def test_a_dump_of_several_blocks_is_reordered_across_them(capsys, db_path, tmp_path):
    """40,000 generated updates (three blocks, spreads of 1 to 3 ticks) shuffled in runs of 64 rows,
    runs that straddle the blocks included: the bars of the in-order updates, nothing dropped."""
    lines = generated_lines(40_000)
    dump = write_dump(tmp_path, "BTCUSDT-bookTicker-2024-08-09.csv", shuffled_locally(lines, block=64))
    assert dump.stat().st_size > 2 * history.BLOCK_BYTES
    code, out, _ = run_import(capsys, db_path, dump)
    updates = sorted((int(u), int(t), float(b), float(bq), float(a), float(aq))
                     for u, b, bq, a, aq, t, _ in (line.split(",") for line in lines))
    expected = builder_bars(updates)
    assert code == 0 and f"40,000 rows, {len(expected):,} new quote seconds" in out and "dropped" not in out
    stored = stored_quotes(db_path)
    assert stored == expected
    reference = reference_bars(updates)
    assert [row[:5] + row[6:] for row in stored] == [row[:5] + row[6:] for row in reference]
    assert [row[5] for row in stored] == pytest.approx([row[5] for row in reference], rel=1e-9)


def test_a_zipped_dump_is_checked_against_its_checksum(capsys, db_path, tmp_path):
    """The .zip with a right .CHECKSUM imports ("sha256 verified"); a wrong one is one line and stores nothing."""
    archive = zipped_with_checksum(write_dump(tmp_path, "BTCUSDT-bookTicker-2024-08-08.csv", recorded_lines()))
    checksum = archive.with_name(archive.name + ".CHECKSUM")
    good = checksum.read_text()
    checksum.write_text("f" * 64 + f"  {archive.name}\n")
    code, out, error = run_import(capsys, db_path, archive)
    assert code == 2 and out == "" and error.startswith("data_ingestor import: error: ")
    assert "checksum mismatch" in error and str(archive) in error and not db_path.exists()
    checksum.write_text(good)
    code, out, _ = run_import(capsys, db_path, archive)
    assert code == 0 and "sha256 verified" in out
    assert stored_quotes(db_path) == builder_bars(in_order_updates(book_ticker_events(RECORDING)))


def _bad_number(fields: list[str]) -> str:
    return ",".join([fields[0], "61700.1x", *fields[2:]])


def _crossed(fields: list[str]) -> str:
    return ",".join([fields[0], fields[3], fields[2], fields[1], *fields[4:]])  # bid and ask exchanged


def _short(fields: list[str]) -> str:
    return ",".join(fields[:6])


def _bad_time(fields: list[str]) -> str:
    return ",".join([*fields[:5], "17231616", fields[6]])


@pytest.mark.parametrize(("spoil", "words"), [
    (_bad_number, "best bid price '61700.1x' is not a number"),
    (_crossed, "crossed book: best bid"),
    (_short, "expected 7 columns (futures bookTicker), found 6"),
    (_bad_time, "transaction time '17231616' is not an epoch time"),
])
def test_a_bad_row_near_the_end_stores_nothing_and_is_named_by_line(capsys, db_path, tmp_path, spoil, words):
    """One bad row on line 39,990 of a 40,001-line dump (three blocks): one line naming file and line, no quote stored."""
    futures_db(db_path)
    lines = generated_lines(40_000)
    lines[39_988] = spoil(lines[39_988].split(","))
    dump = write_dump(tmp_path, "BTCUSDT-bookTicker-2024-08-09.csv", lines)
    assert dump.stat().st_size > 2 * history.BLOCK_BYTES
    code, out, error = run_import(capsys, db_path, dump)
    assert code == 2 and out == ""
    assert error.startswith(f"data_ingestor import: error: {dump}: line 39990: ") and words in error
    assert quote_count(db_path) == 0


def test_a_spot_database_refuses_book_ticker_and_funding_dumps(capsys, db_path, tmp_path):
    """Quotes and funding dumps are USD-M only: a spot database refuses each with one line, storing nothing."""
    store.write_trades(db_path, [], market="spot", stream="trade")
    book = write_dump(tmp_path, "BTCUSDT-bookTicker-2024-08-08.csv", recorded_lines())
    funding = write_dump(tmp_path, "BTCUSDT-fundingRate-2024-08.csv", FUNDING_ROWS, FUNDING_HEADER)
    for dump, kind in ((book, "bookTicker"), (funding, "fundingRate")):
        code, _, error = run_import(capsys, db_path, dump)
        assert code == 2 and f"{kind} dumps are USD-M futures only" in error and "spot" in error
    conn = store.open_reader(db_path)
    assert conn.execute("SELECT (SELECT count(*) FROM quotes_1s) + (SELECT count(*) FROM funding)").fetchone() == (0,)
    conn.close()


def test_a_headerless_dump_is_told_from_its_data_and_the_name_must_agree(tmp_path):
    """Seven numbers per row and no header: a bookTicker dump; a bookTicker name on trades columns is refused."""
    parsed = history.parse_history("\n".join(recorded_lines()).encode(), "BTCUSDT-bookTicker-2024-08-08.csv")
    events = book_ticker_events(RECORDING)
    assert (parsed.format, parsed.header, parsed.rows) == (history.FUTURES_BOOK_TICKER, False, len(events))
    whole = parsed.whole
    assert isinstance(whole, history.QuoteChunk)
    assert whole.update_ids.tolist() == [e["u"] for e in events] and whole.times_ms.tolist() == [e["T"] for e in events]
    assert whole.asks.tolist() == [float(e["a"]) for e in events] and whole.bid_qtys[0] == float(events[0]["B"])
    trades = "id,price,qty,quote_qty,time,is_buyer_maker\n5266583935,61800.30,0.006,370.8,1723161256322,false\n"
    with pytest.raises(history.HistoryImportError, match="the file name says bookTicker but the columns are those "
                                                         "of futures trades"):
        history.parse_history(trades.encode(), "BTCUSDT-bookTicker-2024-08-08.csv")
    with pytest.raises(history.HistoryImportError, match="header 'update_id,bid' matches no known format"):
        history.parse_history(b"update_id,bid\n1,2\n", "BTCUSDT-bookTicker-2024-08-08.csv")


def test_fast_and_exact_rules_read_a_book_ticker_block_alike():
    """The fast path (pandas, numpy) and the row-by-row rules give the same columns; a crossed row makes
    the fast path step aside, and the exact rules name its line."""
    block = "".join(f"{line}\n" for line in recorded_lines()[:3000]).encode()
    quick = fast.parse_block_fast(block, history.FUTURES_BOOK_TICKER, "BTCUSDT", 2)
    slow = exact.parse_block(block, 0, history.FUTURES_BOOK_TICKER, "BTCUSDT", 2)
    assert quick is not None
    for column in ("update_ids", "times_ms", "bids", "bid_qtys", "asks", "ask_qtys"):
        assert np.array_equal(getattr(quick, column), getattr(slow, column)), column
    lines = recorded_lines()[:3000]
    lines[1234] = _crossed(lines[1234].split(","))
    crossed = "".join(f"{line}\n" for line in lines).encode()
    assert fast.parse_block_fast(crossed, history.FUTURES_BOOK_TICKER, "BTCUSDT", 2) is None
    with pytest.raises(history.HistoryImportError, match="^line 1236: crossed book"):
        exact.parse_block(crossed, 0, history.FUTURES_BOOK_TICKER, "BTCUSDT", 2)


# --------------------------------------------------------------------------- reordering, in bounded memory


def test_the_reorder_buffer_never_holds_more_than_its_limit_and_releases_by_update_id():
    """Rows displaced by less than the limit come out fully sorted; the buffer never holds more than the limit."""
    rng = np.random.default_rng(5)
    ids = np.arange(50_000) * 3
    order = np.arange(len(ids))
    for start in range(0, len(ids) - 200, 300):  # disjoint local swaps, up to 200 rows apart
        other = start + int(rng.integers(1, 200))
        order[start], order[other] = order[other], order[start]
    arrived = ids[order]
    buffer = ReorderBuffer(limit=500)
    released = []
    for start in range(0, len(arrived), 777):
        part = arrived[start:start + 777]
        out = buffer.push((part, part * 2))
        assert buffer.held <= 500 and np.array_equal(out[1], out[0] * 2)
        released.append(out[0].copy())
    released.append(buffer.drain()[0])
    assert buffer.peak == 500 and buffer.held == 0
    assert np.array_equal(np.concatenate(released), ids)


def test_an_update_later_than_the_buffer_can_reorder_is_dropped_and_counted():
    """With room for 50 updates (fed 10 at a time), one that arrives 120 rows late reaches the rule behind
    higher ids: it is counted stale and dropped, and the bars are those of the other updates in order."""
    updates = in_order_updates(book_ticker_events(RECORDING))[:2000]
    arrived = updates[:300] + updates[301:421] + [updates[300]] + updates[421:]
    columns = [np.array(column) for column in zip(*arrived)]
    chunk = history.QuoteChunk(history.FUTURES_BOOK_TICKER, "BTCUSDT", 2, columns[0], columns[1], *columns[2:])
    folder = QuoteFolder("BTCUSDT", reorder_rows=50)
    bars = [tuple(bar[1:]) for start in range(0, 2000, 10) for bar in folder.fold(chunk.sliced(start, start + 10))]
    bars += [tuple(bar[1:]) for bar in folder.finish()]
    assert folder.stale == 1 and folder.buffer.peak == 50
    assert bars == builder_bars(updates[:300] + updates[301:])


# --------------------------------------------------------------------------- fundingRate dumps


def test_a_funding_dump_stores_each_settlement_once(capsys, db_path, tmp_path):
    """Three settlements (one negative) with no mark price; zipped with its checksum; twice stores 0 new."""
    futures_db(db_path)
    dump = write_dump(tmp_path, "BTCUSDT-fundingRate-2024-08.csv", FUNDING_ROWS, FUNDING_HEADER)
    archive = zipped_with_checksum(dump)
    code, out, _ = run_import(capsys, db_path, archive)
    assert code == 0 and "futures fundingRate of BTCUSDT, 3 rows, 3 new funding rates (checksum: sha256 verified)" in out
    conn = store.open_reader(db_path)
    funding = store.read_funding(conn, "BTCUSDT")
    conn.close()
    assert funding["funding_time_ms"].tolist() == [1723161600000, 1723190400000, 1723219200000]
    assert funding["rate"].tolist() == [0.0001, -0.000025, 0.00005125]
    assert all(math.isnan(m) for m in funding["mark_price"])
    code, out, _ = run_import(capsys, db_path, dump)
    assert code == 0 and "3 rows, no new funding rates" in out


@pytest.mark.parametrize(("row", "words"), [
    ("1723190400000,8,abc", "line 3: funding rate 'abc' is not a number"),
    ("1723190400000,0,0.0001", "line 3: funding interval hours '0' must be positive"),
    ("1723190400000,8", "line 3: expected 3 columns (futures fundingRate), found 2"),
])
def test_a_bad_funding_row_stores_nothing(capsys, db_path, tmp_path, row, words):
    """A bad second row refuses the file with its line; the good first row is not stored either."""
    futures_db(db_path)
    dump = write_dump(tmp_path, "BTCUSDT-fundingRate-2024-08.csv", [FUNDING_ROWS[0], row], FUNDING_HEADER)
    code, _, error = run_import(capsys, db_path, dump)
    assert code == 2 and words in error
    conn = store.open_reader(db_path)
    assert store.read_funding(conn, "BTCUSDT").empty
    conn.close()


def test_a_funding_dump_without_its_header_is_refused():
    """The three-column funding layout is told by its header only."""
    with pytest.raises(history.HistoryImportError, match="unrecognised CSV layout with 3 columns"):
        history.parse_history(b"1723161600000,8,0.0001\n", "BTCUSDT-fundingRate-2024-08.csv")


# --------------------------------------------------------------------------- uploads


def test_the_api_upload_stores_quote_bars_and_funding_once_and_a_spot_database_refuses(db_path, tmp_path):
    """POST /api/upload goes through the same store: quote seconds and funding rates, once; 422 on spot."""
    client = TestClient(create_app(futures_db(db_path)))
    book = ("BTCUSDT-bookTicker-2024-08-08.csv", "\n".join([HEADER, *shuffled_locally(recorded_lines())]).encode())
    expected = builder_bars(in_order_updates(book_ticker_events(RECORDING)))
    first = client.post("/api/upload", files={"file": book})
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["format"], body["kind"], body["unit"], body["stored"], body["already_stored"], body["stale_updates"]) \
        == ("futures bookTicker", "bookTicker", "quote seconds", len(expected), 0, 0)
    assert body["rows"] == len(book_ticker_events(RECORDING))
    again = client.post("/api/upload", files={"file": book}).json()
    assert (again["stored"], again["already_stored"]) == (0, len(expected))
    assert stored_quotes(db_path) == expected
    funding = ("BTCUSDT-fundingRate-2024-08.csv", "\n".join([FUNDING_HEADER, *FUNDING_ROWS]).encode())
    answer = client.post("/api/upload", files={"file": funding}).json()
    assert (answer["unit"], answer["stored"], answer["already_stored"]) == ("funding rates", 3, 0)
    spot = tmp_path / "spot.db"
    store.write_trades(spot, [], market="spot", stream="trade")
    refused = TestClient(create_app(spot)).post("/api/upload", files={"file": book})
    assert refused.status_code == 422 and "bookTicker dumps are USD-M futures only" in refused.text
    assert quote_count(spot) == 0


def test_the_dashboard_upload_stores_a_book_ticker_dump_as_quote_seconds(monkeypatch, tmp_path):
    """Import history on a futures database of the recorded trades: a bookTicker dump becomes quote
    seconds, and the message counts them (and, uploaded again, says they were already there)."""
    from test_app import run_page, texts, upload  # here: Streamlit's test harness loads only for this test

    trades = [(e["s"], e["t"], e["T"], float(e["p"]), float(e["q"]), e["m"]) for e in trade_events(RECORDING)]
    assert trades
    db = tmp_path / "futures.db"
    store.write_trades(db, trades, market="futures", stream="trade")
    book = "\n".join([HEADER, *shuffled_locally(recorded_lines())]).encode()
    expected = builder_bars(in_order_updates(book_ticker_events(RECORDING)))
    page = upload(run_page(monkeypatch, db), "BTCUSDT-bookTicker-2024-08-08.csv", book)
    assert f"{len(expected)} new quote seconds stored, 0 were already there." in texts(page, "success")[0]
    assert stored_quotes(db) == expected
    page = upload(page, "BTCUSDT-bookTicker-2024-08-08.csv", book)
    assert f"0 new quote seconds stored, {len(expected)} were already there." in texts(page, "success")[0]
