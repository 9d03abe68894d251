"""How the page writes numbers, times and ages: one formatter per kind, used by every section.

Kinds: prices to the symbol's tick (``price_decimals`` infers it from the stored prices), ratios
(hedge ratio, A / B) to 4 decimals, correlations to 3, z-scores signed to 2, percentages and basis
points with their unit, money with its currency, counts with thousands separators, times in the
display zone (hours by the hour they cover).
Missing values (None, NaN, infinity) are shown as an em dash ("—"), ages as "never"; no
formatter raises on them. Nothing here draws.
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytz

from pairdesk.health import format_age

__all__ = ["MISSING", "format_age", "format_count", "format_number", "format_level", "format_percent",
           "format_signed", "format_time", "format_times", "local_ms", "md_escape", "breakable", "format_bps",
           "format_money", "quote_currency", "format_countdown", "price_decimals", "format_price", "format_ratio",
           "format_correlation", "format_z", "format_spread", "format_hours",
           "correlation_label"]

MISSING = "—"
RATIO_DECIMALS = 4  # hedge ratios, price ratios
CORRELATION_DECIMALS = 3
Z_DECIMALS = 2
LOG_SPREAD_DECIMALS = 6  # a residual of log prices: 1e-4 is 1 bp
MAX_PRICE_DECIMALS = 8  # Binance's finest tick (1e-8)
PRICE_SAMPLE = 1_000  # the latest prices whose decimals give a symbol's tick
QUOTE_CURRENCIES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "EUR", "TRY", "BTC", "ETH", "BNB")


def _missing(value: float | None) -> bool:
    return value is None or not math.isfinite(value)


def format_number(value: float | None, digits: int = 6) -> str:
    """Prices, ratios, spreads: thousands separators from 1,000 up (2 decimals), else ``digits``
    significant digits."""
    if _missing(value):
        return MISSING
    if abs(value) >= 1_000:
        return f"{value:,.2f}"
    return f"{value:.{digits}g}"


def price_decimals(prices: pd.Series | np.ndarray | None) -> int | None:
    """The decimals of a symbol's tick, inferred from its stored prices: the most decimals among the latest
    ``PRICE_SAMPLE`` (a trade or a book price is a multiple of the tick, so 61770.39 and 61770.4 say 0.01).
    None without prices. (The tick of ``exchangeInfo`` is not stored; the prices are, for every source.)"""
    if prices is None:
        return None
    values = np.asarray(prices, dtype="float64")[-PRICE_SAMPLE:]
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return None
    tolerance = 1e-9 * np.maximum(1.0, np.abs(values))
    return next((d for d in range(MAX_PRICE_DECIMALS) if (np.abs(np.round(values, d) - values) <= tolerance).all()),
                MAX_PRICE_DECIMALS)


def format_price(value: float | None, decimals: int | None) -> str:
    """A price (or an amount in price units) to the symbol's tick: 61,770.39 at 2 decimals, 0.00001234 at 8.
    Without known decimals (no prices yet), ``format_number``."""
    if _missing(value):
        return MISSING
    return format_number(value) if decimals is None else f"{value:,.{decimals}f}"


def format_ratio(value: float | None, decimals: int = RATIO_DECIMALS) -> str:
    """A ratio (hedge ratio β, A / B) to a fixed precision: 23.4567; one too small for it keeps 3
    significant digits (0.0000123) instead of showing 0.0000."""
    if _missing(value):
        return MISSING
    if value != 0 and abs(value) < 10 ** -decimals:
        return f"{value:.3g}"
    return f"{value:,.{decimals}f}"


def format_correlation(value: float | None) -> str:
    """A correlation, -1 to 1, to 3 decimals: 0.873, -0.214."""
    return MISSING if _missing(value) else f"{value:.{CORRELATION_DECIMALS}f}"


def format_z(value: float | None) -> str:
    """A z-score, signed, to 2 decimals: +1.96."""
    return format_signed(value, Z_DECIMALS)


def format_spread(value: float | None, kind: str, decimals_a: int | None) -> str:
    """The pair's spread as its kind measures it: price units of A (A's tick decimals), log units (6 decimals),
    or the ratio A / B (``format_ratio``)."""
    if kind == "price":
        return format_price(value, decimals_a)
    return format_ratio(value, LOG_SPREAD_DECIMALS if kind == "log" else RATIO_DECIMALS)


def correlation_label(of: str) -> str:
    """What a correlation is of, as every correlation on the page says it."""
    return "Correlation of returns" if of == "returns" else "Correlation of price levels"


def format_signed(value: float | None, decimals: int = 2) -> str:
    """A value whose sign matters (z-score, Sharpe ratio): always with + or −."""
    return MISSING if _missing(value) else f"{value:+.{decimals}f}"


def format_percent(fraction: float | None, decimals: int = 3, signed: bool = False) -> str:
    """A fraction as a percentage (0.0123 -> '1.230%'); ``signed`` adds the + of a gain."""
    if _missing(fraction):
        return MISSING
    return f"{fraction:{'+' if signed else ''}.{decimals}%}"


def format_count(count: int) -> str:
    """A count of rows, bars, alerts... with thousands separators: 12,345."""
    return f"{int(count):,}"


def format_level(value: float) -> str:
    """A threshold, level or setting in prose (z bands, cooldown, fees): 2, 0.5, 120, 6 significant digits."""
    return f"{value:g}"


def format_time(ms: float | None, tz: str, with_date: bool = True) -> str:
    """An epoch-ms instant as wall-clock time in ``tz`` with the zone's abbreviation: 2024-08-09 05:24:15 IST."""
    if _missing(ms):
        return MISSING
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc).astimezone(pytz.timezone(tz))
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z" if with_date else "%H:%M:%S %Z")


def format_times(ms: pd.Series, tz: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> pd.Series:
    """A column of epoch-ms values as wall-clock strings in ``tz`` (for tables; same index)."""
    times = pd.to_datetime(ms.to_numpy("int64"), unit="ms", utc=True).tz_convert(tz)
    return pd.Series(times.strftime(fmt), index=ms.index)


def format_hours(start_ms: pd.Series, tz: str) -> pd.Series:
    """Hours labelled by the hour they cover, in ``tz``: '2024-08-09 10:00–11:00 IST' (for tables; same index)."""
    starts = pd.to_datetime(start_ms.to_numpy("int64"), unit="ms", utc=True).tz_convert(tz)
    ends = starts + pd.Timedelta(hours=1)
    return pd.Series([f"{a:%Y-%m-%d %H:%M}–{b:%H:%M} {b:%Z}" for a, b in zip(starts, ends)], index=start_ms.index)


def local_ms(moment: datetime | None, tz: str) -> int | None:
    """The reverse of ``format_time``: a wall-clock time of ``tz`` (naive, as a date-time widget gives it)
    as UTC epoch ms; None stays None."""
    if moment is None:
        return None
    return int(pytz.timezone(tz).localize(moment.replace(tzinfo=None)).timestamp() * 1000)


def md_escape(text: str) -> str:
    """``text`` shown literally in Markdown (rule names and messages may hold *, _, <, :...)."""
    return re.sub(r"([\\`*_\[\]<>#|~$:])", r"\\\1", str(text))


def breakable(text: str) -> str:
    """``text`` that may wrap after '/' and '_' in a narrow table cell (a zero-width space after each)."""
    return text.replace("/", "/\u200b").replace("_", "_\u200b")


def quote_currency(symbol: str | None) -> str:
    """The currency ``symbol`` is priced in, from its suffix (BTCUSDT -> USDT); "quote" when unknown."""
    return next((c for c in QUOTE_CURRENCIES if symbol and symbol.endswith(c) and len(symbol) > len(c)), "quote")


def format_bps(value: float | None, decimals: int = 3) -> str:
    """Basis points with the unit: '0.016 bps'."""
    return MISSING if _missing(value) else f"{value:,.{decimals}f} bps"


def format_money(value: float | None, currency: str, signed: bool = False) -> str:
    """An amount of quote currency with its unit: '1,234.56 USDT', '0.0106 USDT' (4 significant digits
    under 1), '+3.10 USDT' when ``signed``."""
    if _missing(value):
        return MISSING
    sign = "+" if signed else ""
    text = f"{value:{sign},.2f}" if abs(value) >= 1 else f"{value:{sign}.4g}"
    return f"{text} {currency}"


def format_countdown(ms: float | None) -> str:
    """Time left until an instant: 'in 2 h 05 min', 'in 4 min 10 s', 'due' once it has passed."""
    if _missing(ms):
        return MISSING
    seconds = int(ms // 1000)
    if seconds <= 0:
        return "due"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"in {hours} h {minutes:02d} min" if hours else f"in {minutes} min {secs:02d} s"
