"""How the page writes numbers, times and ages: one formatter per kind, used by every section.

Missing values (None, NaN, infinity) are shown as an em dash ("—"), ages as "never"; no
formatter raises on them. Nothing here draws.
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timezone

import pandas as pd
import pytz

from pairdesk.health import format_age

__all__ = ["MISSING", "format_age", "format_count", "format_number", "format_level", "format_percent",
           "format_signed", "format_time", "format_times", "local_ms", "md_escape", "breakable"]

MISSING = "—"


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
