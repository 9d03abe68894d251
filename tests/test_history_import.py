"""History import parsing: every accepted layout, the real Binance dump, and broken files named by line."""
from __future__ import annotations

import io
import zipfile

import pytest

from pairdesk import history
from conftest import binance_file
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
