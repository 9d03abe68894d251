"""The page's settings in its URL: a reload keeps them, a link reproduces the view.

Each setting of the sidebar is one ``UrlField``: its ``Settings`` field (also its widget's key),
its query key (``pairdesk.view_query``, the names the alert links use too), what a value in the URL
may be, how it is written, and its default. On a session's first run ``load`` reads the query
string into the widgets' session state (before they are drawn); a value it cannot take (an unknown
symbol, a bad timeframe, a window out of range) falls back to the default and becomes one line of
warning (``show_warnings``), never a traceback. After every run ``publish`` writes what the sidebar
chose back to the query string (only keys whose value changed), and ``live_tabs`` does the same for
the live view's tab.

Why not the widgets' own ``bind="query-params"`` (Streamlit 1.67): a bound widget writes its shown
label (``hedge=Rolling OLS``, ``tab=Spread %26 z-score``), not the short value a link carries; it
drops a bad value silently (no warning can be shown); a bound key cannot be set through
``st.query_params``; and the query key must be the widget key. The tabs are ``st.tabs`` with a
``key`` and ``on_change="rerun"`` (1.67 tracks the open tab in session state and selects a tab set
there), so the tab is a real tab and its choice is known to Python.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytz
import streamlit as st

from pairdesk import analytics
from pairdesk.dashboard import data
from pairdesk.dashboard.data import Database, Settings
from pairdesk.dashboard.formatting import format_count, format_level
from pairdesk.view_query import LIVE_TABS, SETTING_KEYS, TAB_KEY

# The settings' defaults and ranges (the sidebar draws them, the URL falls back to them).
DEFAULT_TZ = "Asia/Kolkata"
TIME_ZONES = (DEFAULT_TZ, "UTC", *[z for z in pytz.common_timezones if z not in (DEFAULT_TZ, "UTC")])
PREFERRED_PAIR = ("BTCUSDT", "ETHUSDT")
DEFAULT_TIMEFRAME = "1s"
DEFAULT_LOOKBACK = "1 h"
DEFAULT_WINDOW_BARS = analytics.DEFAULT_WINDOW_ROWS
WINDOW_RANGE_BARS = (5, 5_000)
DEFAULT_Z = 2.0
Z_RANGE = (0.5, 5.0)
DEFAULT_HEDGE_WINDOW_BARS = analytics.DEFAULT_HEDGE_WINDOW_ROWS
HEDGE_WINDOW_RANGE_BARS = (10, 20_000)  # an alert's lookback goes up to alerts.MAX_WINDOW_BARS
NOTIONAL_RANGE = (1.0, 1e9)
CORRELATIONS = {"returns": "Returns", "prices": "Price levels"}  # what a correlation is of -> its label
DEFAULT_CORRELATION = "returns"

# The live view's tabs: query value -> label (the query values are pairdesk.view_query's).
TAB_LABELS = {"spread": "Spread & z-score", "prices": "Prices", "costs": "Quoted spread & cost",
              "funding": "Funding", "correlation": "Correlation", "downloads": "Downloads"}
assert tuple(TAB_LABELS) == LIVE_TABS
LIVE_TABS_KEY = "live_tabs"

PENDING = "url_pending"  # what the URL asked for and was not applied yet (symbols wait for the database's)
WARNINGS = "url_warnings"  # the lines about values of the URL that could not be used
LOADED = "url_loaded"  # the query string at the end of the first run: the warnings stand while it does


class BadValue(ValueError):
    """A value in the URL a setting cannot take; the message says what it may be."""


def _choice(options: Sequence[str], what: str) -> Callable[[str, Database], str]:
    def parse(text: str, _db: Database) -> str:
        if text not in options:
            raise BadValue(f"not a {what} ({', '.join(options)})" if len(options) < 12 else f"not a {what}")
        return text
    return parse


def _number(kind: type, low: float, high: float) -> Callable[[str, Database], Any]:
    def parse(text: str, _db: Database) -> Any:
        try:
            value = kind(float(text)) if kind is int and float(text).is_integer() else kind(text)
        except ValueError:
            raise BadValue(f"not a {'whole ' if kind is int else ''}number") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise BadValue(f"outside {format_count(low) if kind is int else format_level(low)} to "
                           f"{format_count(high) if kind is int else format_level(high)}")
        return value
    return parse


def _symbol(text: str, db: Database) -> str:
    symbol = text.strip().upper()
    if symbol not in db.symbols:
        raise BadValue(f"not in the database ({', '.join(db.symbols)})")
    return symbol


def _lookback(text: str, _db: Database) -> str:
    by_slug = {slug(label): label for label in data.LOOKBACK_MS}
    if slug(text) not in by_slug:
        raise BadValue(f"not a lookback ({', '.join(by_slug)})")
    return by_slug[slug(text)]


def slug(label: str) -> str:
    """A choice as the URL writes it: '1 h' -> '1h'."""
    return label.replace(" ", "")


@dataclass(frozen=True)
class UrlField:
    """One setting in the URL: the Settings field (= widget key), how a query value is read and written,
    and the default (None: the sidebar chooses, as for the symbols)."""

    field: str
    parse: Callable[[str, Database], Any]  # BadValue when the setting cannot take it
    dump: Callable[[Any], str] = str
    default: Any = None

    @property
    def key(self) -> str:
        return SETTING_KEYS[self.field]


FIELDS = (
    UrlField("symbol_a", _symbol),
    UrlField("symbol_b", _symbol),
    UrlField("timeframe", _choice(data.TIMEFRAMES, "timeframe"), default=DEFAULT_TIMEFRAME),
    UrlField("lookback", _lookback, slug, default=DEFAULT_LOOKBACK),
    UrlField("window", _number(int, *WINDOW_RANGE_BARS), default=DEFAULT_WINDOW_BARS),
    UrlField("z_threshold", _number(float, *Z_RANGE), format_level, default=DEFAULT_Z),
    UrlField("hedge", _choice(analytics.HEDGE_METHODS, "hedge"), default=analytics.DEFAULT_HEDGE),
    UrlField("hedge_window", _number(int, *HEDGE_WINDOW_RANGE_BARS), default=DEFAULT_HEDGE_WINDOW_BARS),
    UrlField("spread_kind", _choice(analytics.SPREAD_KINDS, "spread kind"), default="price"),
    UrlField("notional", _number(float, *NOTIONAL_RANGE), format_level, default=data.DEFAULT_NOTIONAL),
    UrlField("correlation", _choice(tuple(CORRELATIONS), "correlation"), default=DEFAULT_CORRELATION),
    UrlField("tz", _choice(TIME_ZONES, "time zone"), default=DEFAULT_TZ),
)
assert {f.field for f in FIELDS} == set(SETTING_KEYS)


def load(db: Database) -> None:
    """Before the sidebar draws: the URL's settings (on the session's first run; symbols once the database
    has some) into the widgets' session state, defaults for the rest. Bad values become warnings."""
    state = st.session_state
    if PENDING not in state:
        state[PENDING] = dict(st.query_params.to_dict())
        state[WARNINGS] = []
    pending = state[PENDING]
    for f in FIELDS:
        if f.key in pending and (db.symbols or not f.field.startswith("symbol_")):
            text = pending.pop(f.key)
            try:
                value = f.parse(text, db)
                if f.field == "symbol_b" and value == state.get("symbol_a"):
                    raise BadValue("the same symbol as A")
                state[f.field] = value
            except BadValue as exc:
                fallback = "the default" if f.default is None else f"{f.dump(f.default)}"
                state[WARNINGS].append(f"The link's {f.key}={text} is {exc}: showing {fallback} instead.")
        if f.default is not None:
            state.setdefault(f.field, f.default)


def publish(settings: Settings) -> None:
    """After the sidebar drew: its choices into the query string (keys still pending are left as the URL has them)."""
    pending = st.session_state.get(PENDING, {})
    _write({f.key: f.dump(getattr(settings, f.field)) for f in FIELDS
            if f.key not in pending and getattr(settings, f.field) is not None})


def live_tabs(slugs: Sequence[str]) -> tuple[dict[str, Any], str]:
    """``st.tabs`` of the live view (``slugs``: which of ``TAB_LABELS`` it has), opened on the tab the URL asks
    for, the open one written to the URL. Returns (slug -> tab container, the open tab's slug): a change
    of tab reruns the page, so only the open tab needs drawing."""
    labels = [TAB_LABELS[name] for name in slugs]
    state, pending = st.session_state, st.session_state.get(PENDING, {})
    if TAB_KEY in pending:
        asked = pending.pop(TAB_KEY)
        if asked in slugs:
            state[LIVE_TABS_KEY] = TAB_LABELS[asked]
        else:
            state.setdefault(WARNINGS, []).append(
                f"The link's {TAB_KEY}={asked} is not a tab of this view ({', '.join(slugs)}): showing "
                f"{slugs[0]} instead.")
    if state.get(LIVE_TABS_KEY) not in labels:  # the tab is gone (a futures-only one on spot): the first
        state.pop(LIVE_TABS_KEY, None)
    tabs = st.tabs(labels, key=LIVE_TABS_KEY, on_change="rerun")
    opened = state.get(LIVE_TABS_KEY) or labels[0]
    _write({TAB_KEY: slugs[labels.index(opened)]})
    return dict(zip(slugs, tabs)), slugs[labels.index(opened)]


def show_warnings(slot: Any) -> None:
    """The URL's bad values, one st.warning line each in ``slot``, until a setting or the tab changes."""
    state = st.session_state
    query = st.query_params.to_dict()
    if LOADED not in state:
        state[LOADED] = query
    elif state[LOADED] != query:
        state[WARNINGS] = []
    for text in state.get(WARNINGS, []):
        slot.warning(text, icon=":material/link_off:")


def _write(values: dict[str, str]) -> None:
    """Set the query keys whose value differs (each change is one message to the browser)."""
    for key, text in values.items():
        if st.query_params.get(key) != text:
            st.query_params[key] = text
