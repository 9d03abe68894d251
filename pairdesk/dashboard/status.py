"""Connectivity: one card per symbol with its feed light, and the banner when no ingestor is writing.

The colours, labels and reasons are ``pairdesk.health``'s rule (the API shows the same ones);
this module only draws them next to the feed-status figures.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from pairdesk import health
from pairdesk.dashboard.formatting import format_age, format_time

BADGE_COLOURS = {"green": "green", "amber": "orange", "red": "red", "grey": "gray"}  # health colour -> Markdown badge colour
DOT = "●"
CARDS_PER_ROW = 4

STATUS_RULES = f"""
**Status colours**, per symbol, from the ingestor's feed status (heartbeat written about every second):
{health.RULES_MARKDOWN}
A banner says so when no ingestor is writing at all. Shaded chart bands mark gaps in the trade ids
(red: open or unfillable, grey: filled later, slate: collection paused). Times are shown in the selected time zone.
"""


def feed_rows(status: pd.DataFrame) -> list[dict[str, Any]]:
    """The feed-status table as row mappings, NULLs (NaN in the frame) as None, as ``health`` reads them."""
    return status.astype(object).where(status.notna(), None).to_dict("records")


def badge(light: health.FeedHealth) -> str:
    """The card's title: ``**BTCUSDT** :green-badge[● live]``."""
    return f"**{light.symbol}** :{BADGE_COLOURS[light.colour]}-badge[{DOT} {light.label}]"


def card_caption(light: health.FeedHealth, row: Mapping[str, Any] | None, now_ms: int, tz: str) -> str:
    """Why the light has its colour, then the feed's transport, last trade, rates and counters."""
    if row is None:
        return light.reason
    last_trade = row["last_trade_ms"]
    last = ("no trade stored yet" if last_trade is None else
            f"last trade {format_time(last_trade, tz, with_date=False)} ({format_age(now_ms - last_trade)} ago)")
    return (f"{light.reason} · {row['transport']}  \n"
            f"{last}  \n"
            f"{float(row['message_rate'] or 0):.1f} msg/s · {int(row['reconnects'] or 0)} reconnects · "
            f"{int(row['open_gaps'] or 0)} open gaps")


def ingestor_banner(status: pd.DataFrame, now_ms: int, tz: str, db_path: str) -> str | None:
    """The warning to show when no ingestor is writing (no heartbeat within health.HEARTBEAT_STALE_MS), or None."""
    start = f"start it with `python data_ingestor.py --db {db_path}`"
    if len(status) == 0:
        return f"No ingestor has written to this database yet: the data shown is what is stored; {start}."
    heartbeat = int(status["updated_ms"].max())
    if now_ms - heartbeat > health.HEARTBEAT_STALE_MS:
        return (f"No ingestor is writing: the last heartbeat was {format_age(now_ms - heartbeat)} ago "
                f"({format_time(heartbeat, tz)}). The data shown is what is stored; {start}.")
    return None


DEMO_COMMAND = "make demo"


def empty_database_note(status: pd.DataFrame, now_ms: int) -> str:
    """What to tell a trader looking at a database without bars: is an ingestor running, can it
    reach the exchange, what to do (the feed lights' own reasons, ``pairdesk.health``)."""
    lights = health.feeds_health(feed_rows(status), [], now_ms)
    writing = [light for light in lights if not light.reason.startswith("no heartbeat")]
    if not writing:
        return ("The database holds no bars yet. Start the ingestor (`make run`), or the demo against a local "
                f"exchange (`{DEMO_COMMAND}`), or import history below.")
    unreachable = [light for light in writing if light.reason.startswith("cannot reach")]
    if unreachable:
        return (f"The ingestor is running but {unreachable[0].reason}. No internet on this machine? "
                f"`{DEMO_COMMAND}` runs the desk against a local exchange.")
    return (f"The ingestor is running and no trade is stored yet ({writing[0].symbol}: {writing[0].reason}); "
            "the charts appear with the first bars.")


def connectivity(status: pd.DataFrame, symbols: Sequence[str], now_ms: int, tz: str, db_path: str) -> None:
    """The Connectivity section: the banner, then the cards, four to a row (status rows first, then
    the database's symbols that have none)."""
    st.subheader("Connectivity", help=STATUS_RULES)
    banner = ingestor_banner(status, now_ms, tz, db_path)
    if banner:
        st.warning(banner, icon=":material/power_off:")
    rows = feed_rows(status)
    by_symbol = {str(row["symbol"]): row for row in rows}
    lights = health.feeds_health(rows, symbols, now_ms)
    for first in range(0, len(lights), CARDS_PER_ROW):
        for column, light in zip(st.columns(CARDS_PER_ROW), lights[first:first + CARDS_PER_ROW]):
            with column.container(border=True):
                st.markdown(badge(light))
                st.caption(card_caption(light, by_symbol.get(light.symbol), now_ms, tz))
