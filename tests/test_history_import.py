"""History import parsing: every accepted layout, the real Binance dump, and broken files named by line."""
from __future__ import annotations

import io
import random
import zipfile

import numpy as np
import pytest

from bench.bench_import import write_spot_trades
from conftest import binance_file
from pairdesk import history
from pairdesk.history import exact, fast
from recordings import dump_rows

SAMPLE = "HJB-PDE-TEAM-PROJECT/BTCUSDT-aggTrades-2026-01-01.csv"


def parse(text: str, name: str = "BTCUSDT-trades-2024-08-09.csv", symbol: str | None = None) -> history.ParsedHistory:
    return history.parse_history(text.encode(), name, symbol)


def error_of(text: str | bytes, name: str = "data.csv", symbol: str | None = "BTCUSDT") -> history.HistoryImportError:
    with pytest.raises(history.HistoryImportError) as excinfo:
        history.parse_history(text.encode() if isinstance(text, str) else text, name, symbol)
    return excinfo.value


def test_real_spot_agg_trades_dump_parses_with_microsecond_times():
    """The real data.binance.vision spot aggTrades file: 5,000 rows, no header, µs times -> ms."""
    path = binance_file(SAMPLE)
    progress: list[float] = []
    parsed = history.parse_history(path.read_bytes(), path.name, on_progress=progress.append)
    rows = dump_rows(SAMPLE)  # the full sample: 5,000 rows, ids 3800397495..3800402494, last 1767226339347409 µs
    assert (parsed.format, parsed.symbol, parsed.rows, parsed.header) == (history.SPOT_AGG_TRADES, "BTCUSDT", len(rows),
                                                                           False)
    assert parsed.kind == "aggTrade"
    assert list(parsed.ids) == list(range(3800397495, int(rows[-1][0]) + 1))
    assert (parsed.first_ms, parsed.last_ms) == (1767225600039, int(rows[-1][5]) // 1000)
    first = next(parsed.trade_chunks(1))[0]
    assert first == ("BTCUSDT", 3800397495, 1767225600039, 87648.21, 0.08185, True)
    assert sum(len(chunk) for chunk in parsed.trade_chunks(1234)) == len(rows) > 1234
    assert progress[-1] == 1.0


def test_real_dump_zipped_reads_like_the_csv():
    """A .zip holding the one CSV (as Binance serves them) gives the same rows."""
    path = binance_file(SAMPLE)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(path.name, path.read_bytes())
    parsed = history.parse_history(buffer.getvalue(), path.name.replace(".csv", ".zip"))
    assert (parsed.format, parsed.rows, parsed.symbol) == (history.SPOT_AGG_TRADES, len(dump_rows(SAMPLE)), "BTCUSDT")


@pytest.mark.parametrize(("text", "fmt", "first"), [
    ("3735683259,61837.63,0.02,1236.75,1723161255342,True,True\n", history.SPOT_TRADES,
     ("BTCUSDT", 3735683259, 1723161255342, 61837.63, 0.02, True)),
    ("id,price,qty,quote_qty,time,is_buyer_maker\n5266583935,61800.30,0.006,370.8,1723161256322,false\n",
     history.FUTURES_TRADES, ("BTCUSDT", 5266583935, 1723161256322, 61800.3, 0.006, False)),
    ("agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n"
     "16599292,61801.1,10,23961322,23961322,1723161256322,true\n", history.FUTURES_AGG_TRADES,
     ("BTCUSDT", 16599292, 1723161256322, 61801.1, 10.0, True)),
    ("aggId,price,qty,firstId,lastId,time,isBuyerMaker,isBestMatch\n"
     "3800397495,87648.21,0.08185,5723703861,5723703861,1767225600039409,True,True\n", history.SPOT_AGG_TRADES,
     ("BTCUSDT", 3800397495, 1767225600039, 87648.21, 0.08185, True)),
])
def test_trade_layouts_are_detected_and_typed(text, fmt, first):
    """Spot/futures trades and aggTrades, with or without a header, become typed trade tuples."""
    parsed = parse(text, name="upload.csv", symbol="btcusdt")
    assert parsed.format is fmt
    assert next(parsed.trade_chunks(10))[0] == first


def test_klines_with_and_without_header_become_bars():
    """12-column klines (µs spot, ms futures with a header) become start-labelled OHLCV bars."""
    row_us = "1767225600000000,87648.2,87700,87600.5,87650,12.5,1767225659999999,1095000.1,321,6.1,534000.2,0\n"
    header = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
              "taker_buy_quote_volume,ignore\n")
    row_ms = "1723161240000,61800,61850,61790,61840,3.5,1723161299999,216300.5,88,1.2,74000,0\n"
    spot = parse(row_us, name="BTCUSDT-1m-2026-01-01.csv")
    futures = parse(header + row_ms, name="ETHUSDT-1m-2024-08-09.zip.csv", symbol="ETHUSDT")
    assert spot.format is history.KLINES and spot.symbol == "BTCUSDT"
    assert spot.bar_rows() == [(1767225600000, 87648.2, 87700.0, 87600.5, 87650.0, 12.5, 1095000.1, 321)]
    assert futures.header and futures.bar_rows()[0][0] == 1723161240000


def test_simple_bars_format_accepts_iso_and_epoch_times():
    """The simple format: header time,open,high,low,close,volume; ISO 8601 (UTC default) or epoch ms."""
    text = ("time,open,high,low,close,volume\n"
            "2024-08-09T00:00:00Z,10,11,9,10.5,100\n"
            "2024-08-09T05:30:01+05:30,10.5,10.6,10.4,10.45,0\n"
            "1723161602000,10.45,10.5,10.4,10.5,7\n")
    parsed = parse(text, name="mydata.csv", symbol="SOLUSDT")
    assert parsed.format is history.SIMPLE_BARS
    rows = parsed.bar_rows()
    assert [r[0] for r in rows] == [1723161600000, 1723161601000, 1723161602000]
    assert rows[0] == (1723161600000, 10.0, 11.0, 9.0, 10.5, 100.0, 1050.0, 0)


@pytest.mark.parametrize(("name", "symbol"), [
    ("BTCUSDT-trades-2024-01-01.csv", "BTCUSDT"), ("ETHUSDT-aggTrades-2024-01.zip", "ETHUSDT"),
    ("SOLUSDT-1m-2024-01-01.csv", "SOLUSDT"), ("BTCUSDT-trades-2024-01-01 (1).csv", "BTCUSDT"),
    ("trades.csv", None), ("BTCUSDT.csv", None),
])
def test_symbol_comes_from_binance_file_names(name, symbol):
    """BTCUSDT-trades-2024-01-01.csv names its symbol; other names do not."""
    assert history.symbol_from_file_name(name) == symbol


def test_bad_number_names_the_line():
    """A non-numeric price on line 17 is reported as "line 17: price 'abc' is not a number"."""
    good = "".join(f"{i},61837.63,0.02,1236.75,1723161255342,True,True\n" for i in range(1, 17))
    error = error_of(good + "17,abc,0.02,1236.75,1723161255342,True,True\n")
    assert str(error) == "line 17: price 'abc' is not a number"
    assert error.line == 17


@pytest.mark.parametrize(("text", "message"), [
    ("1,2,3\n", "line 1: unrecognised CSV layout with 3 columns"),
    ("1,100,1,100,1723161255342,True,True\n2,100,1,100,1723161255342,True\n3,100,1,100,1723161255342,True,True\n",
     "line 2: expected 7 columns (spot trades), found 6"),
    ("a,b,c\n1,2,3\n", "line 1: header 'a,b,c' matches no known format"),
    ("1,100,1,100,1723161255342,True,True\n\n2,100,1,100,1723161255342,maybe,True\n",
     "line 3: is_buyer_maker 'maybe' is not True or False"),
    ("1,100,1,100,1723161255342,True,True\n2,-5,1,100,1723161255342,True,True\n",
     "line 2: price '-5' must be positive"),
    ("1,100,1,100,12345,True,True\n", "line 1: time '12345' is not an epoch time in milliseconds or microseconds"),
    ("1,100,nan,100,1723161255342,True,True\n", "line 1: quantity 'nan' is not a finite number"),
    ("x1,100,1,100,1723161255342,True,True\n", "line 1: header"),
    ("1723161240000,61800,61700,61790,61840,3.5,1723161299999,216300.5,88,1.2,74000,0\n",
     "line 1: high 61700 / low 61790 do not enclose open and close"),
    ("1723161240000,10,11,9,10.5,100\n", "line 1: a simple bars file starts with the header"),
    ("", "the file holds no data rows"),
    ("time,open,high,low,close,volume\n", "the file holds no data rows"),
])
def test_broken_files_are_refused_naming_the_problem(text, message):
    """Unknown layouts, wrong column counts, bad values and empty files each get a precise message."""
    assert str(error_of(text)).startswith(message)


def test_non_text_and_bad_zip_files_are_refused():
    """Binary junk is not UTF-8 text; a zip must hold exactly one file."""
    assert "not UTF-8 text" in str(error_of(b"\xff\xfe\x00junk"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", "1,2\n")
        archive.writestr("b.csv", "1,2\n")
    assert "exactly one CSV file, this one holds 2" in str(error_of(buffer.getvalue(), "x.zip"))


def test_file_name_kind_must_match_the_columns():
    """A file named ...-trades-... whose columns are aggTrades is refused rather than guessed."""
    error = error_of("1,100,1,5,5,1723161255342,True,True\n", "BTCUSDT-trades-2024-01-01.csv", None)
    assert str(error) == "line 1: the file name says trades but the columns are those of spot aggTrades"


def test_symbol_is_required_and_checked():
    """Without a symbol in the name or chosen, or with a malformed one, nothing is parsed."""
    assert "no symbol" in str(error_of("1,100,1,100,1723161255342,True,True\n", "upload.csv", None))
    assert "not a Binance symbol" in str(error_of("1,100,1,100,1723161255342,True,True\n", "upload.csv", "BTC/USDT"))


@pytest.mark.parametrize(("text", "market", "stream", "refused"), [
    ("1,100,1,5,5,1723161255342,True,True\n", "spot", "trade", "aggregate trade ids"),  # spot aggTrades
    ("1,100,1,100,1723161255342,True,True\n", "spot", "aggTrade", "individual trade ids"),  # spot trades
    ("1,100,1,100,1723161255342,True,True\n", "futures", "trade", "upload futures files here"),
    ("1,100,1,100,1723161255342,True,True\n", "spot", "trade", None),
    ("1723161240000,61800,61850,61790,61840,3.5,1723161299999,216300.5,88,1.2,74000,0\n", "futures", "aggTrade", None),
])
def test_trades_of_another_kind_or_market_do_not_fit(text, market, stream, refused):
    """Trade ids never go into an aggTrade database (and vice versa), nor spot into futures; bars fit all."""
    parsed = parse(text, name="upload.csv", symbol="BTCUSDT")
    if refused is None:
        history.check_fits_database(parsed, market, stream)
        return
    with pytest.raises(history.HistoryImportError, match=refused):
        history.check_fits_database(parsed, market, stream)


# --------------------------------------------------------------------------- streaming: one parser, any size

GOOD_SPOT = "4000000001,61234.56,0.01234,761.63,1735689600123456,True,True"


def block_of(*lines: str) -> bytes:
    return "".join(f"{line}\n" for line in lines).encode()


def exact_outcome(block: bytes, fmt: history.CsvFormat, for_replay: bool = False):
    """What the exact rules make of a block: its chunk, or the error message."""
    try:
        return exact.parse_block(block, 0, fmt, "BTCUSDT", 1, for_replay)
    except history.HistoryImportError as exc:
        return str(exc)


def assert_same_chunk(fast_chunk, exact_chunk) -> None:
    assert type(fast_chunk) is type(exact_chunk)
    for name, value in vars(exact_chunk).items():
        other = getattr(fast_chunk, name)
        if isinstance(value, np.ndarray):
            assert other.dtype == value.dtype and np.array_equal(other, value), name
        else:
            assert other == value, name


def assert_fast_agrees_with_exact(block: bytes, fmt: history.CsvFormat, for_replay: bool = False) -> None:
    """The fast path either hands the block to the exact rules (None) or gives exactly their chunk."""
    fast_chunk = fast.parse_block_fast(block, fmt, "BTCUSDT", 1, for_replay)
    outcome = exact_outcome(block, fmt, for_replay)
    if fast_chunk is not None:
        assert not isinstance(outcome, str), f"fast path accepted what the rules refuse: {outcome}"
        assert_same_chunk(fast_chunk, outcome)


def test_a_file_of_many_blocks_streams_in_chunks_equal_to_the_whole_parse(tmp_path):
    """iter_history yields several chunks whose rows, joined, are exactly parse_history's."""
    dump = write_spot_trades(tmp_path / "BTCUSDT-trades-2025-01-01.csv", 40_000)
    chunks = list(history.iter_history(dump))
    whole = history.parse_history(dump.read_bytes(), dump.name)
    assert len(chunks) >= 3 and all(c.format is history.SPOT_TRADES and c.symbol == "BTCUSDT" for c in chunks)
    assert [c.first_line for c in chunks] == list(np.cumsum([1] + [len(c) for c in chunks[:-1]]))
    for name in ("ids", "times_ms", "prices", "qtys", "makers"):
        assert np.array_equal(np.concatenate([getattr(c, name) for c in chunks]), getattr(whole, name)), name
    assert whole.rows == 40_000 and list(whole.ids[:2]) == [4_200_000_000, 4_200_000_001]
    assert 1_735_689_600_000 <= whole.first_ms <= whole.last_ms < 1_735_689_600_000 + 40_000 * 20


def test_broken_line_near_the_end_of_a_many_block_file_is_named(tmp_path):
    """A bad time on line 39,990 of a 40,000-line file: earlier chunks stream, then that line is named."""
    dump = write_spot_trades(tmp_path / "BTCUSDT-trades-2025-01-01.csv", 40_000)
    lines = dump.read_text().splitlines(keepends=True)
    lines[39_989] = lines[39_989].replace(lines[39_989].split(",")[4], "17356896001x3456")
    dump.write_text("".join(lines))
    streamed = 0
    with pytest.raises(history.HistoryImportError) as excinfo:
        for chunk in history.iter_history(dump):
            streamed += len(chunk)
    assert str(excinfo.value) == "line 39990: time '17356896001x3456' is not a whole number"
    assert 0 < streamed < 39_989
    with pytest.raises(history.HistoryImportError, match="^line 39990: "):
        history.scan_history(dump)


def test_header_row_spot_trades_stream_like_the_headerless_dump(tmp_path):
    """A spot trades dump with the header row id,price,qty,... gives the same trades as without it."""
    plain = write_spot_trades(tmp_path / "BTCUSDT-trades-2025-01-01.csv", 20_000)
    headed = write_spot_trades(tmp_path / "BTCUSDT-trades-2025-01-02.csv", 20_000, header=True)
    summary = history.scan_history(headed)
    assert (summary.format, summary.header, summary.rows) == (history.SPOT_TRADES, True, 20_000)
    with history.open_history(headed) as reader:
        assert reader.header and reader.format is history.SPOT_TRADES
        first = next(iter(reader))
    assert first.first_line == 2
    assert first.trade_tuples()[:50] == next(history.iter_history(plain)).trade_tuples()[:50]


def test_zip_streams_from_a_path_and_from_a_file_object(tmp_path):
    """A zipped dump reads the same from its path, its bytes and an open file."""
    dump = write_spot_trades(tmp_path / "BTCUSDT-trades-2025-01-01.csv", 30_000)
    archive = tmp_path / "BTCUSDT-trades-2025-01-01.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.write(dump, dump.name)
    expected = history.scan_history(dump)
    with open(archive, "rb") as file:
        from_file = history.scan_history(file, archive.name)
    assert history.scan_history(archive) == from_file == history.scan_history(archive.read_bytes(), archive.name)
    assert (from_file.rows, from_file.first_ms, from_file.last_ms) == (30_000, expected.first_ms, expected.last_ms)


def test_progress_reaches_one_and_grows(tmp_path):
    """on_progress is called after each chunk with a growing fraction, ending at 1.0."""
    dump = write_spot_trades(tmp_path / "BTCUSDT-trades-2025-01-01.csv", 40_000)
    seen: list[float] = []
    history.scan_history(dump, on_progress=seen.append)
    assert len(seen) >= 3 and seen == sorted(seen) and seen[-1] == 1.0 and seen[0] < 0.5


def test_for_replay_keeps_aggregate_ranges_and_numbers_as_written():
    """for_replay: the real aggTrades dump's first/last trade ids and price/qty texts, by both paths."""
    path = binance_file(SAMPLE)
    data = path.read_bytes()
    rows = [line.split(",") for line in data.decode().splitlines()]
    chunk = next(history.iter_history(path, for_replay=True))
    assert len(chunk) == len(rows)
    assert chunk.first_ids.tolist() == [int(r[3]) for r in rows] and chunk.last_ids.tolist() == [int(r[4]) for r in rows]
    assert chunk.price_texts == [r[1] for r in rows] and chunk.qty_texts == [r[2] for r in rows]
    assert_same_chunk(chunk, exact.parse_block(data, 0, history.SPOT_AGG_TRADES, "BTCUSDT", 1, for_replay=True))
    assert next(history.iter_history(path)).first_ids is None


@pytest.mark.parametrize("row", [
    GOOD_SPOT, "4000000001,61234.56,0.01234,761.63,1735689600123,True,True",  # ms times
    "1_000,61234.56,0.01,1,1735689600123456,True,True", "+5,61234.56,0.01,1,1735689600123456,True,True",
    " 5,61234.56,0.01,1,1735689600123456,True,True", "5.0,61234.56,0.01,1,1735689600123456,True,True",
    "1e3,61234.56,0.01,1,1735689600123456,True,True", "99999999999999999999,1,1,1,1735689600123456,True,True",
    "-5,61234.56,0.01,1,1735689600123456,True,True", "5,1e3,0.01,1,1735689600123456,True,True",
    "5, 61234.5 ,0.01,1,1735689600123456,True,True", "5,inf,0.01,1,1735689600123456,True,True",
    "5,nan,0.01,1,1735689600123456,True,True", "5,1_0.5,0.01,1,1735689600123456,True,True",
    "5,0,0.01,1,1735689600123456,True,True", "5,61234.56,-0,1,1735689600123456,True,True",
    "5,61234.56,-0.01,1,1735689600123456,True,True", "5,61234.56,,1,1735689600123456,True,True",
    "5,61234.56,0.01,1,1.7e15,True,True", "5,61234.56,0.01,1,1735689600123456,TRUE,True",
    "5,61234.56,0.01,1,1735689600123456,tRuE,True", "5,61234.56,0.01,1,1735689600123456, True,True",
    "5,61234.56,0.01,1,1735689600123456,1,True", "5,61234.56,0.01,abc,1735689600123456,True,x",
    '5,"61234.56",0.01,1,1735689600123456,True,True', "5,61234.56,0.01,1,1735689600123456,True",
    "5,61234.56,0.01,1,1735689600123456,True,True,extra", "5,١٢,0.01,1,1735689600123456,True,True",
    "5,61234.56,0.01,1,1735689600123456,True,True\r", "5,61234.56,0.01,1,12345,True,True",
    "5,61234.56,0.01,1,5000000000000000000,True,True", "5,0x10,0.01,1,1735689600123456,True,True",
])
def test_fast_path_agrees_with_the_exact_rules_on_tricky_rows(row):
    """Ids like 1_000 or 5.0, odd floats, flags, quotes, CRs: the fast path accepts only what the rules accept, identically."""
    for block in (block_of(GOOD_SPOT, row, GOOD_SPOT), block_of(row), block_of(GOOD_SPOT, "", row)):
        assert_fast_agrees_with_exact(block, history.SPOT_TRADES)
        assert_fast_agrees_with_exact(block, history.SPOT_TRADES, for_replay=True)


@pytest.mark.parametrize("maker", ["true", "false", "FALSE", "T", "", "f", "truex", "1", "true\r", " false"])
def test_fast_path_agrees_with_the_exact_rules_on_a_last_column_flag(maker):
    """Futures trades end with their flag: short, empty or odd flags on the block's last line are read right."""
    good = "5266583935,61800.30,0.006,370.8,1723161256322,false"
    for block in (block_of(good, f"5266583936,61800.30,0.006,370.8,1723161256322,{maker}"),
                  f"{good}\n5266583936,61800.30,0.006,370.8,1723161256322,{maker}".encode()):
        assert_fast_agrees_with_exact(block, history.FUTURES_TRADES)


def test_fast_path_agrees_with_the_exact_rules_on_random_rows():
    """Randomly mangled rows of four layouts (replay fields too): same acceptance, same values."""
    rng = random.Random(11)
    alphabet = "0123456789.+-eE_ xinfaTrueFals,\r"
    layouts = [(GOOD_SPOT, history.SPOT_TRADES, False),
               ("1723161240000,61800,61850,61790,61840,3.5,1723161299999,216300.5,88,1.2,74000,0", history.KLINES, False),
               ("5266583935,61800.30,0.006,370.8,1723161256322,false", history.FUTURES_TRADES, False),
               ("3800397495,87648.21,0.08185,5723703861,5723703862,1767225600039409,True,True",
                history.SPOT_AGG_TRADES, True)]
    for _ in range(250):
        for good, fmt, for_replay in layouts:
            fields = good.split(",")
            column = rng.randrange(len(fields))
            text = list(fields[column])
            for _edit in range(rng.randint(1, 3)):
                position = rng.randrange(len(text) + 1)
                if rng.random() < 0.5 and text:
                    del text[min(position, len(text) - 1)]
                else:
                    text.insert(position, rng.choice(alphabet))
            fields[column] = "".join(text)
            assert_fast_agrees_with_exact(block_of(good, ",".join(fields), good), fmt, for_replay)
            assert_fast_agrees_with_exact(block_of(good, ",".join(fields)), fmt, for_replay)


def test_klines_fast_path_reads_the_same_bars_as_the_rules():
    """Many klines rows (µs and ms) give the same bars by both paths, and the fast path takes them."""
    rows = [f"{1723161240000 + 60_000 * i},{61800 + i},{61850 + i},{61790 + i},{61840 + i},3.5,"
            f"{1723161299999 + 60_000 * i},216300.5,{88 + i},1.2,74000,0" for i in range(500)]
    block = block_of(*rows)
    chunk = fast.parse_block_fast(block, history.KLINES, "BTCUSDT", 1)
    assert chunk is not None and len(chunk) == 500
    assert_same_chunk(chunk, exact.parse_block(block, 0, history.KLINES, "BTCUSDT", 1))
    assert chunk.bar_rows()[0] == (1723161240000, 61800.0, 61850.0, 61790.0, 61840.0, 3.5, 216300.5, 88)
