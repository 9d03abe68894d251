"""The page's CSV downloads: trades, bars and the analytics table of the charted window.

Every file has ``ts_ms`` (UTC epoch ms) and, beside it, ``time``: the same instant in the display
time zone, ISO 8601 with its offset. The analytics table is byte for byte what the analytics CLI
writes. Files are built when their button is clicked, not at every refresh.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from pairdesk import analytics, store
from pairdesk.dashboard.data import Settings, reader

MAX_DOWNLOAD_TRADES = 2_000_000  # per symbol


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV as the analytics CLI writes it: no index, NaN as an empty cell, full float precision."""
    return frame.to_csv(index=False, na_rep="", lineterminator="\n").encode()


def analytics_csv(panel: pd.DataFrame) -> bytes:
    """The pair panel as the analytics CLI writes it: its columns (``analytics.CLI_COLUMNS``), in order."""
    return csv_bytes(panel[analytics.CLI_COLUMNS])


def with_local_time(frame: pd.DataFrame, tz: str, column: str = "ts_ms") -> pd.DataFrame:
    """``frame`` with an ISO 8601 ``time`` column (with its UTC offset) in ``tz`` after ``column``."""
    out = frame.copy()
    times = pd.to_datetime(out[column].to_numpy("int64"), unit="ms", utc=True).tz_convert(tz)
    out.insert(out.columns.get_loc(column) + 1, "time", times.strftime("%Y-%m-%dT%H:%M:%S.%f%z"))
    return out


def bars_csv(candles: Mapping[str, pd.DataFrame], tz: str) -> bytes:
    """Both symbols' bars at the timeframe: symbol, ts_ms (UTC), time (display zone), OHLCV, vwap."""
    frames = [with_local_time(bars, tz).assign(symbol=symbol) for symbol, bars in candles.items()]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["symbol"])
    return csv_bytes(table[["symbol", *[c for c in table.columns if c != "symbol"]]])


def trades_csv(db_path: str, symbols: Sequence[str], start_ms: int, end_ms: int, tz: str) -> bytes:
    """The raw trades of ``symbols`` in [start_ms, end_ms), read when the button is clicked."""
    frames = []
    with reader(db_path) as conn:
        for symbol in symbols:
            trades = store.read_trades(conn, symbol, start_ms, end_ms, limit=MAX_DOWNLOAD_TRADES)
            frames.append(with_local_time(trades, tz).assign(symbol=symbol))
    table = pd.concat(frames, ignore_index=True)
    return csv_bytes(table[["symbol", *[c for c in table.columns if c != "symbol"]]])


def analytics_file_name(s: Settings) -> str:
    """``analytics_BTCUSDT_ETHUSDT_1s_w60_rolling_h300.csv``: the parameters that produced the table
    (``_log`` or ``_ratio`` after them for those spreads)."""
    kind = "" if s.spread_kind == "price" else f"_{s.spread_kind}"
    return f"analytics_{'_'.join(s.pair)}_{s.timeframe}_w{s.window}_{s.hedge}_h{s.hedge_window}{kind}.csv"
