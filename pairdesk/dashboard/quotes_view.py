"""The live view's quote tabs: "Quoted spread & cost" (each leg's quoted spread, the pair's
executable spread and round trip at the sidebar's notional) and, on USD-M futures, "Funding" (each
leg's rate, the next settlement and its countdown, the carry of the position the live z-score calls
for). Drawn from ``data.PairView``; the numbers come from ``pairdesk.quote_data``, as the API's do.
"""
from __future__ import annotations

import math

import streamlit as st

from pairdesk import quote_data
from pairdesk.dashboard import quote_charts
from pairdesk.dashboard.data import PairView, last_value
from pairdesk.dashboard.elements import plot
from pairdesk.dashboard.formatting import (
    format_bps,
    format_countdown,
    format_money,
    format_percent,
    format_ratio,
    format_time,
    format_z,
    quote_currency,
)

NO_QUOTES_NOTE = ("No quotes in this window: the database holds trades only here (an import of trades, or an "
                  "ingestor run with --no-quotes), so the quoted spread and the pair's cost at the touch are not "
                  "known.")
NO_FUNDING_NOTE = ("No mark price or funding stored yet for {pair}: the ingestor records them on USD-M futures "
                   "(@markPrice@1s and the settled rates), unless run with --no-quotes.")
SIDE_NAMES = {1: "long the spread", -1: "short the spread"}


def notional_text(view: PairView) -> str:
    """The sidebar's notional with its currency: '10,000.00 USDT of BTCUSDT'."""
    s = view.settings
    return f"{format_money(s.notional, quote_currency(s.symbol_a))} of {s.symbol_a}"


def cost_panel(view: PairView, colors: dict[str, str]) -> None:
    """The pair's quoted spreads, executable spreads and round trip now, and the chart over the window."""
    s = view.settings
    if not view.has_quotes:
        st.info(NO_QUOTES_NOTE)
        return
    currency = quote_currency(s.symbol_a)
    latest = quote_data.latest_costs(view.costs) or {}
    cols = st.columns(5)
    for col, symbol, suffix in zip(cols, s.pair, ("_a", "_b")):
        col.metric(f"{symbol} quoted spread", format_bps(latest.get("spread_bps" + suffix), 4), border=True,
                   help="(ask − bid) / mid of the book standing at the last bar's close")
    for col, side in zip(cols[2:4], ("long", "short")):
        col.metric(f"{side.capitalize()} entry at the touch", format_money(latest.get(f"{side}_cost"), currency),
                   border=True, help=f"What entering {side} the spread costs against the mids for "
                                     f"{notional_text(view)}: {format_bps(latest.get(f'{side}_cost_bps'), 4)} of "
                                     f"the gross notional ({format_money(latest.get('gross_notional'), currency)})")
    cols[4].metric("Round trip", format_bps(latest.get("round_trip_bps"), 2), border=True,
                   help=f"Entry and exit at the touch plus fees on all four fills: "
                        f"{format_money(latest.get('round_trip_cost'), currency)}, of which fees "
                        f"{format_money(latest.get('round_trip_fees'), currency)}")
    beyond = [side for side in ("long", "short") if latest.get(f"{side}_exceeds_touch") is True]
    if beyond:
        st.warning(f"At {notional_text(view)} the {' and '.join(beyond)} entry needs more than the size quoted at "
                   f"the touch: the deeper book is not recorded, so its cost is more than shown.")
    st.caption(f"β = {format_ratio(latest.get('hedge_ratio'))} units of {s.symbol_b} per {s.symbol_a}, the hedge "
               f"known before the last bar; books at each bar's close; bps of the mid (quoted) and of the gross "
               f"notional (pair). Amber: no quotes (never bridged).")
    plot(quote_charts.quoted_spread_figure(view.quote_bars, view.costs, view.panel, s.pair, s.tz, colors,
                                           notional_text(view), s.tf_ms, view.quote_gaps), "quote_cost_chart")


def funding_panel(view: PairView, colors: dict[str, str], now_ms: int) -> None:
    """Each leg's funding rate and next settlement, and the carry of the position the live z calls for."""
    s = view.settings
    states = view.funding or {}
    if not states or all(state.empty for state in states.values()):
        st.info(NO_FUNDING_NOTE.format(pair=" / ".join(s.pair)))
        return
    currency = quote_currency(s.symbol_a)
    cols = st.columns(5)
    for index, symbol in enumerate(s.pair):
        state = states[symbol]
        hours = state.interval_ms / 3_600_000
        cols[2 * index].metric(f"{symbol} funding rate", format_percent(state.rate, 4), border=True,
                               help=f"The rate of the coming settlement from the newest mark price "
                                    f"({format_time(state.mark_ms, s.tz)}), per settlement (every {hours:g} h); "
                                    f"> 0: longs pay shorts")
        next_ms = state.next_funding_ms
        cols[2 * index + 1].metric(
            f"{symbol} next settlement", format_time(next_ms, s.tz, with_date=False),
            delta=format_countdown(None if next_ms is None else next_ms - now_ms), delta_color="off",
            delta_arrow="off", border=True, help=format_time(next_ms, s.tz))
    z = last_value(view.panel, "zscore")
    side = quote_data.spread_side(z, s.z_threshold)
    carry = quote_data.position_carry(side, last_value(view.panel, "hedge_ratio"), s.notional, states[s.pair[0]],
                                      states[s.pair[1]])
    if side == 0:
        cols[4].metric("Carry of the position", "flat: no carry", border=True,
                       help=f"The live z ({format_z(z)}) is inside ±{s.z_threshold:g}: no position")
    else:
        cols[4].metric("Carry per day", format_money(carry.per_day, currency, signed=True), border=True,
                       help=f"{format_money(carry.per_settlement, currency, signed=True)} per settlement; "
                            f"{format_bps(carry.bps_per_day, 2)} of the gross notional per day")
    st.caption(carry_caption(view, z, side, carry))
    plot(quote_charts.funding_figure(states, s.tz, colors), "funding_chart")


def carry_caption(view: PairView, z: float, side: int, carry: quote_data.Carry) -> str:
    """Which position the carry is of, in words."""
    s = view.settings
    if side == 0:
        return (f"Position: flat (live z {format_z(z)} inside the ±{s.z_threshold:g} bands): no carry. "
                f"Settled rates and the coming one (open marker) per leg below; times in {s.tz}.")
    currency = quote_currency(s.symbol_a)
    per_settlement = format_money(carry.per_settlement, currency, signed=True)
    known = "" if math.isfinite(carry.per_day) else " (a leg's mark price is missing or stale: carry unknown)"
    return (f"Position: {SIDE_NAMES[side]} (live z {format_z(z)} beyond ±{s.z_threshold:g}): "
            f"{format_ratio(carry.qty_a)} {s.symbol_a}, {format_ratio(carry.qty_b)} {s.symbol_b} for "
            f"{notional_text(view)}; at the current rates it receives {per_settlement} per settlement "
            f"(< 0: pays){known}. Times in {s.tz}.")
