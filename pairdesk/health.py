"""Feed health: one rule, from a feed-status row, for the API, the dashboard and the logs.

Each symbol's feed is green (``live``), amber (``delayed``), red (``disconnected``) or grey
(``paused``: collection stopped on purpose, ``POST /api/stop`` or the sidebar), with a one-line reason. The ingestor writes its status row about every second (``updated_ms``, the
heartbeat), so:

- red: no status row (no ingestor follows the symbol), the heartbeat is older than
  HEARTBEAT_STALE_MS (no ingestor is writing), or the feed is ``disconnected`` / ``stopped``
  (when connecting failed outright, the reason says the exchange cannot be reached, with the error);
- grey: the ingestor is writing and the feed is ``paused`` (not red: nothing is broken), or
  ``finished``: the local exchange's replay has sent its whole recording;
- amber: the ingestor is writing but the feed is not ``live`` (``starting``, ``connecting``,
  ``silent``, ``polling`` over REST), or no NEW trade arrived for TRADE_STALE_MS or more (other
  messages do not count, nor trades already stored: when frames keep coming but every trade in
  them is a duplicate, the reason says so), or gaps in the trade ids are still open;
- green: live, a trade in the last TRADE_STALE_MS, no open gap.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

HEARTBEAT_STALE_MS: Final = 10_000
TRADE_STALE_MS: Final = 5_000
RED_STATES: Final = ("disconnected", "stopped")
PAUSED_STATE: Final = "paused"
FINISHED_STATE: Final = "finished"  # a local exchange's replay has sent everything
UNREACHABLE_PREFIX: Final = "connection failed"  # the ingestor's last_error when connecting failed outright

Colour = Literal["green", "amber", "red", "grey"]
LABELS: Final[dict[str, str]] = {"green": "live", "amber": "delayed", "red": "disconnected", "grey": "paused"}

RULES_MARKDOWN: Final = f"""
- :green-badge[live] the feed state is `live`, the heartbeat is at most {HEARTBEAT_STALE_MS // 1000} s old,
  a trade arrived in the last {TRADE_STALE_MS // 1000} s and no gap is open.
- :orange-badge[delayed] the ingestor is writing (heartbeat at most {HEARTBEAT_STALE_MS // 1000} s old) but the
  feed is `starting`, `connecting`, `silent` or `polling` (REST fallback), or no new trade was stored for
  {TRADE_STALE_MS // 1000} s or more (trades received that were already stored do not count), or gaps in
  the trade ids are still open.
- :red-badge[disconnected] the feed is `disconnected` or `stopped`, or its heartbeat is more than
  {HEARTBEAT_STALE_MS // 1000} s old (no ingestor is writing), or the symbol has no status row.
- :gray-badge[finished] a replay's local exchange has sent its whole recording: nothing more will come.
- :gray-badge[paused] collection of the symbol is paused (the sidebar's pause control or `POST /api/stop`);
  the trades it misses are recorded as a paused gap, fetched only if the resume asks for a backfill.
"""


@dataclass(frozen=True)
class FeedHealth:
    """One symbol's light: ``colour`` green / amber / red / grey, ``label`` live / delayed / disconnected / paused."""

    symbol: str
    colour: Colour
    reason: str
    state_label: str | None = None  # a grey light's own word ("finished"), else the colour's

    @property
    def label(self) -> str:
        return self.state_label or LABELS[self.colour]


def format_age(ms: float | None) -> str:
    """A duration in ms as '0.4 s', '12 s', '5 min', '3.2 h', '2.0 d'; 'never' for None or NaN."""
    if ms is None or not math.isfinite(ms):
        return "never"
    seconds = max(ms, 0) / 1000
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7_200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"


def _number(row: Mapping[str, Any], key: str) -> float | None:
    value = row.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def feed_health(symbol: str, row: Mapping[str, Any] | None, now_ms: int) -> FeedHealth:
    """The light of one symbol's feed-status row (a mapping of the ``feed_status`` columns) at ``now_ms``."""
    if row is None:
        return FeedHealth(symbol, "red", "no status row: no ingestor follows this symbol")
    heartbeat = _number(row, "updated_ms")
    if heartbeat is None or now_ms - heartbeat > HEARTBEAT_STALE_MS:
        since = "yet" if heartbeat is None else f"for {format_age(now_ms - heartbeat)}"
        return FeedHealth(symbol, "red", f"no heartbeat {since}: no ingestor is writing")
    state = row.get("state")
    if state in RED_STATES:
        error = row.get("last_error") or ""
        if error.startswith(UNREACHABLE_PREFIX):
            detail = error[len(UNREACHABLE_PREFIX):].lstrip(": ")
            return FeedHealth(symbol, "red", f"cannot reach the exchange: {detail}")
        return FeedHealth(symbol, "red", f"feed {state}" + (f": {error}" if error else ""))
    if state == PAUSED_STATE:
        return FeedHealth(symbol, "grey", "collection paused: resume it from the sidebar or POST /api/start")
    if state == FINISHED_STATE:
        return FeedHealth(symbol, "grey", "replay finished: the local exchange has sent its whole recording "
                                          "(the data stays; start another replay or the demo for more)", "finished")
    if state != "live":
        return FeedHealth(symbol, "amber", f"feed {state}" + (" over REST" if state == "polling" else ""))
    last_trade = _number(row, "last_trade_ms")
    if last_trade is None or now_ms - last_trade >= TRADE_STALE_MS:
        reason = "no trade yet" if last_trade is None else f"no trade for {format_age(now_ms - last_trade)}"
        last_message = _number(row, "last_message_ms")
        duplicate_rate = _number(row, "duplicate_rate") or 0.0
        if duplicate_rate > 0:
            reason += (f": frames keep coming ({duplicate_rate:.1f} trades/s) but every trade in them is already "
                       f"stored (the exchange's trade ids are at or behind the newest stored id "
                       f"{int(_number(row, 'last_trade_id') or 0)})")
        elif last_message is not None and (last_trade is None or last_message > last_trade):
            reason += f" (connection alive: last message {format_age(now_ms - last_message)} ago)"
        return FeedHealth(symbol, "amber", reason)
    open_gaps = int(_number(row, "open_gaps") or 0)
    if open_gaps > 0:
        return FeedHealth(symbol, "amber", f"{open_gaps} open gap(s) being filled")
    return FeedHealth(symbol, "green", "streaming")


def feeds_health(rows: Iterable[Mapping[str, Any]], symbols: Iterable[str], now_ms: int) -> list[FeedHealth]:
    """The light of every status row, then of each symbol in ``symbols`` that has no row (red)."""
    by_symbol = {str(row["symbol"]): row for row in rows}
    extra = [s for s in dict.fromkeys(symbols) if s not in by_symbol]
    return [feed_health(symbol, by_symbol.get(symbol), now_ms) for symbol in [*by_symbol, *extra]]


def overall_colour(healths: Iterable[FeedHealth]) -> Colour:
    """Red if any feed is red (or there is none), else amber if any is amber, else green if any is
    green, else grey (every feed paused)."""
    colours = {h.colour for h in healths}
    if not colours or "red" in colours:
        return "red"
    if "amber" in colours:
        return "amber"
    return "green" if "green" in colours else "grey"
