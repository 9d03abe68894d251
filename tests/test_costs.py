"""What a pair costs: quote bars at a timeframe (the book at the close, the spread over the bar, quote
gaps, causality) by hand and on the recorded futures bookTicker frames, the pair's executable spread
and round trip by hand, funding carry by hand, and the backtest filling at the quote bars and paying
funding across settlements."""
from __future__ import annotations

import json
from functools import cache

import numpy as np
import pandas as pd
import pytest

from conftest import binance_file
from pairdesk import analytics
from pairdesk.quote_bars import QuoteBarBuilder
from recordings import recorded_frames

SYMBOLS = ("BTCUSDT", "ETHUSDT")


def quotes_1s(rows: list[tuple]) -> pd.DataFrame:
    """A quotes_1s frame from (ts_ms, bid, ask, bid_qty, ask_qty, mean_spread, max_spread, updates) rows."""
    return pd.DataFrame(rows, columns=analytics.QUOTE_1S_COLUMNS)


# Four quote seconds: 0 s, 1 s, 4 s, 9 s (seconds 2-3 and 5-8 saw no update: the book stood still)
FOUR = quotes_1s([(0, 100.0, 101.0, 1.0, 2.0, 1.0, 1.0, 3),
                  (1000, 100.0, 102.0, 3.0, 4.0, 1.5, 2.0, 2),
                  (4000, 101.0, 101.5, 5.0, 6.0, 0.5, 1.0, 1),
                  (9000, 102.0, 103.0, 7.0, 8.0, 1.0, 1.0, 1)])


@cache
def _recorded(symbol: str) -> tuple[pd.DataFrame, tuple[dict, ...], pd.DataFrame]:
    """(quote seconds folded by QuoteBarBuilder, the bookTicker events, the trades) of the recorded
    USD-M futures frames of ``symbol`` (2024-08-08 23:59:15 -> 00:00:00 UTC), decoded with json."""
    builder, seconds, events, trades = QuoteBarBuilder(symbol), [], [], []
    for frame in recorded_frames(binance_file(f"hftbacktest/usdm/{symbol.lower()}_20240808.gz")):
        data = json.loads(frame)["data"]
        if data.get("e") == "bookTicker":
            events.append(data)
            closed, _ = builder.update(data["u"], data["T"], float(data["b"]), float(data["B"]), float(data["a"]),
                                       float(data["A"]))
            seconds += closed
        elif data.get("e") == "trade":
            trades.append((data["t"], data["T"], float(data["p"]), float(data["q"])))
    seconds += builder.close_before(events[-1]["T"] + 1000)
    return (pd.DataFrame(seconds).drop(columns="symbol"), tuple(events),
            pd.DataFrame(trades, columns=["trade_id", "ts_ms", "price", "qty"]))


def recorded_quotes(symbol: str) -> pd.DataFrame:
    return _recorded(symbol)[0].copy()


# --------------------------------------------------------------------------- quote bars at a timeframe


def test_five_second_bars_by_hand():
    """The close is the last second's book; the mean weighs every second, carried ones at the previous
    row's closing spread; the max includes a spread carried into the bar; updates add up."""
    bars = analytics.quote_bars_at(FOUR, "5s")
    assert bars["ts_ms"].tolist() == [0, 5000]
    first, second = bars.iloc[0], bars.iloc[1]
    # bar [0, 5 s): seconds 0 (1.0), 1 (1.5), 2 and 3 carry the 1 s row's close 102 - 100 = 2, 4 (0.5)
    assert first.mean_spread == pytest.approx((1.0 + 1.5 + 2 + 2 + 0.5) / 5)
    assert (first.bid, first.ask, first.bid_qty, first.ask_qty) == (101.0, 101.5, 5.0, 6.0)
    assert (first.max_spread, first.updates) == (2.0, 6)
    # bar [5 s, 10 s): seconds 5-8 carry the 4 s row's close 0.5, second 9 is a row (1.0); the 0.5
    # carried in is below the 9 s row's max 1.0
    assert second.mean_spread == pytest.approx((4 * 0.5 + 1.0) / 5)
    assert (second.bid, second.ask, second.max_spread, second.updates) == (102.0, 103.0, 1.0, 1)
    assert second.spread_bps == pytest.approx(1.0 / 102.5 * 1e4)  # (ask - bid) / mid at the close
    # in bps, each second against its own mid: 0.5 / 101.25 four times, 1.0 / 102.5 once
    assert second.mean_spread_bps == pytest.approx((4 * 0.5 / 101.25 + 1.0 / 102.5) / 5 * 1e4)


def test_a_spread_carried_into_a_bar_counts_in_its_max():
    """A bar whose first seconds have no row starts with the previous row's spread in force: its max sees it."""
    # the 6 s row's own updates all quoted 0.5 (its max says so): only the carry brings 3.0 into its bar
    rows = quotes_1s([(0, 100.0, 103.0, 1, 1, 3.0, 3.0, 1), (6000, 100.0, 100.5, 1, 1, 0.5, 0.5, 1)])
    bars = analytics.quote_bars_at(rows, "5s")
    # bar [5 s, 10 s): second 5 carries 3.0 (from 0 s), second 6 is the row (mean 0.5, max 0.5),
    # seconds 7-9 carry its 0.5
    assert bars["max_spread"].tolist() == [3.0, 3.0]
    assert bars["mean_spread"].tolist() == [3.0, pytest.approx((3.0 + 0.5 + 3 * 0.5) / 5)]
    assert bars["updates"].tolist() == [1, 1]


def test_one_second_bars_are_the_rows_and_carry_between_them():
    """At 1 s a row's own values come back unchanged; a second without a row carries the previous book."""
    bars = analytics.quote_bars_at(FOUR, "1s")
    assert bars["ts_ms"].tolist() == list(range(0, 10_000, 1000))
    own = bars.set_index("ts_ms").loc[FOUR["ts_ms"]].reset_index()
    pd.testing.assert_frame_equal(own[analytics.QUOTE_1S_COLUMNS], FOUR, check_dtype=False)
    carried = bars.set_index("ts_ms").loc[[2000, 3000]]
    assert carried[["bid", "ask", "mean_spread", "max_spread", "updates"]].values.tolist() == [[100, 102, 2, 2, 0]] * 2


def test_nothing_is_carried_across_a_quote_gap():
    """A gap from 6.5 s to 9.5 s: seconds 6 (the gap starts inside it) to 8 are unknown, the bar closes
    at 7 s and 8 s are NaN; the book comes back with the 9 s row."""
    gaps = pd.DataFrame({"symbol": "X", "from_ms": [6500], "to_ms": [9500], "reason": ["disconnect"]})
    bars = analytics.quote_bars_at(FOUR, "1s", gaps).set_index("ts_ms")
    # second 5 is carried whole; at the close of second 6 (7 s) a gap had begun
    assert bars.loc[5000, "bid"] == 101.0 and bars.loc[5000, "mean_spread"] == 0.5
    assert bars.loc[[6000, 7000, 8000]].drop(columns="updates").isna().all().all()
    assert bars.loc[9000, "bid"] == 102.0
    five = analytics.quote_bars_at(FOUR, "5s", gaps).iloc[1]
    # bar [5 s, 10 s): only seconds 5 (carried 0.5) and 9 (1.0) are known
    assert five.mean_spread == pytest.approx((0.5 + 1.0) / 2)
    assert five.bid == 102.0


def test_a_bar_inside_a_gap_has_no_book_and_a_gap_from_the_last_second_stops_its_carry():
    """A start-up gap recorded from the start of the last stored second: that second still counts in
    its own bar, nothing after it is carried, and a bar wholly inside the gap is NaN."""
    rows = quotes_1s([(0, 10.0, 10.1, 1, 1, 0.1, 0.1, 1), (10_000, 10.0, 10.2, 1, 1, 0.2, 0.2, 1)])
    gaps = pd.DataFrame({"from_ms": [0], "to_ms": [10_000]})
    bars = analytics.quote_bars_at(rows, "5s", gaps)
    assert bars["ts_ms"].tolist() == [0, 5000, 10_000]
    # bar [0, 5 s): second 0 is known (its own row), seconds 1-4 are not (the gap): the mean of one
    # second, and no book at the close (5 s falls in the gap)
    assert bars.iloc[0][["bid", "ask", "spread_bps"]].isna().all()
    assert bars.iloc[0][["mean_spread", "max_spread"]].tolist() == pytest.approx([0.1, 0.1])
    assert bars.iloc[1].drop(["ts_ms", "updates"]).isna().all() and bars.iloc[1]["updates"] == 0
    assert bars.iloc[2]["ask"] == 10.2


def test_appending_later_seconds_or_gaps_never_changes_earlier_bars():
    """Causal: the bars that closed before a new quote second (or a gap that begins later) stay as they were."""
    full = recorded_quotes("BTCUSDT")
    for tf in ("1s", "5s", "10s"):
        whole = analytics.quote_bars_at(full, tf)
        for cut in (7, 20, 33):
            part = full.iloc[:cut]
            closed_by = int(part["ts_ms"].iloc[-1]) + 1000
            early = analytics.quote_bars_at(part, tf)
            early = early[early["ts_ms"] + analytics.timeframe_ms(tf) <= closed_by]
            pd.testing.assert_frame_equal(early, whole.iloc[:len(early)])
            later_gap = pd.DataFrame({"from_ms": [closed_by], "to_ms": [closed_by + 60_000]})
            pd.testing.assert_frame_equal(analytics.quote_bars_at(part, tf, later_gap).iloc[:len(early)], early)


def test_bad_quote_frames_are_one_line_value_errors():
    """Missing columns, two rows for one second, seconds off the grid and bad gaps say what is wrong."""
    with pytest.raises(ValueError, match="quote bars need columns"):
        analytics.quote_bars_at(FOUR.drop(columns="bid_qty"), "5s")
    with pytest.raises(ValueError, match="more than one row"):
        analytics.quote_bars_at(pd.concat([FOUR, FOUR.iloc[:1]]), "5s")
    with pytest.raises(ValueError, match="whole seconds"):
        analytics.quote_bars_at(FOUR.assign(ts_ms=FOUR["ts_ms"] + 1), "5s")
    with pytest.raises(ValueError, match="quote gaps need columns"):
        analytics.quote_bars_at(FOUR, "5s", pd.DataFrame({"start": [0]}))
    with pytest.raises(ValueError, match="unknown timeframe"):
        analytics.quote_bars_at(FOUR, "7s")
    assert list(analytics.quote_bars_at(FOUR.iloc[:0], "5s").columns) == analytics.QUOTE_BAR_COLUMNS


@pytest.mark.parametrize("symbol, tick", [("BTCUSDT", 0.1), ("ETHUSDT", 0.01)])
def test_recorded_futures_quotes_make_sense(symbol, tick):
    """On the recorded futures frames: BTC quotes one 0.1 tick at ~61,700 (~0.016 bps), ETH one 0.01
    tick at ~2,684 (~0.037 bps) at nearly every close; the mean never sits below a tick nor above the max."""
    for tf in ("1s", "5s", "1m"):
        bars = analytics.quote_bars_at(recorded_quotes(symbol), tf)
        assert bars[["bid", "ask", "mean_spread", "max_spread", "spread_bps"]].notna().all().all()
        spread = bars["ask"] - bars["bid"]
        mid = (bars["ask"] + bars["bid"]) / 2
        assert (spread >= tick - 1e-9).all()
        assert np.median(bars["spread_bps"]) == pytest.approx(tick / mid.median() * 1e4, rel=1e-3)
        assert (bars["mean_spread"] >= tick - 1e-9).all() and (bars["mean_spread"] <= bars["max_spread"] + 1e-12).all()
        np.testing.assert_allclose(bars["mean_spread_bps"], bars["mean_spread"] / mid * 1e4, rtol=1e-3)
    btc = analytics.quote_bars_at(recorded_quotes("BTCUSDT"), "5s")
    assert 0.0160 < btc["spread_bps"].median() < 0.0165


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_recorded_close_is_the_last_update_before_the_bars_end(symbol):
    """Independently of the folding: each 5 s bar's bid / ask / sizes are those of the last bookTicker
    update timed (T) before the bar's end, and updates count the frames inside the bar."""
    quotes, events, _ = _recorded(symbol)
    bars = analytics.quote_bars_at(quotes, "5s")
    times = np.array([e["T"] for e in events])
    for bar in bars.itertuples():
        last = events[int(np.searchsorted(times, bar.ts_ms + 5000, side="left")) - 1]
        assert (bar.bid, bar.ask, bar.bid_qty, bar.ask_qty) == tuple(float(last[k]) for k in "baBA")
        assert bar.updates == int(((times >= bar.ts_ms) & (times < bar.ts_ms + 5000)).sum())


# --------------------------------------------------------------------------- the pair's costs at the touch


def _book(ts, bid_a, ask_a, bid_b, ask_b, sizes=(50.0, 5.0, 100.0, 100.0)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two legs' quote bars with the given closes (mean/max spreads irrelevant here); sizes: bid_qty_a,
    ask_qty_a, bid_qty_b, ask_qty_b."""
    def leg(bid, ask, bid_qty, ask_qty) -> pd.DataFrame:
        rows = quotes_1s([(t, b, a, bid_qty, ask_qty, a - b, a - b, 1) for t, b, a in zip(ts, bid, ask)])
        return analytics.quote_bars_at(rows, "1s").loc[lambda f: f["ts_ms"].isin(ts)]
    return leg(bid_a, ask_a, *sizes[:2]), leg(bid_b, ask_b, *sizes[2:])


def test_pair_costs_by_hand():
    """A at 99.9 / 100.1 (mid 100), B at 49.95 / 50.05 (mid 50), beta 2, 1,000 USDT on A, 10 bps fees:
    10 A against 20 B, 2,000 gross; 2 USDT (10 bps) to enter either way, 8 USDT (40 bps) round trip."""
    qa, qb = _book([0], [99.9], [100.1], [49.95], [50.05])
    panel = pd.DataFrame({"ts_ms": [0], "hedge_ratio": [2.0]})
    row = analytics.pair_costs(qa, qb, panel, 1000.0, 10.0).iloc[0]
    assert row.spread_bps_a == pytest.approx(0.2 / 100 * 1e4) and row.spread_bps_b == pytest.approx(0.1 / 50 * 1e4)
    assert (row.qty_a, row.qty_b) == (pytest.approx(10.0), pytest.approx(-20.0))
    assert row.gross_notional == pytest.approx(10 * 100 + 20 * 50)
    # long: buy 10 A at 100.1 (10 x 0.1 above the mid), sell 20 B at 49.95 (20 x 0.05 below): 2.0
    assert row.long_cost == pytest.approx(2.0) and row.long_cost_bps == pytest.approx(10.0)
    assert row.short_cost == pytest.approx(2.0) and row.short_cost_bps == pytest.approx(10.0)
    # fees on the four fills: 10 x 100.1 + 20 x 49.95 + 10 x 99.9 + 20 x 50.05 = 4,000, x 10 bps = 4
    assert row.round_trip_fees == pytest.approx(4.0)
    assert row.round_trip_cost == pytest.approx(2.0 + 2.0 + 4.0) and row.round_trip_bps == pytest.approx(40.0)
    # the long buys 10 A against 5 at the ask: beyond the touch; the short sells 10 A into 50 at the
    # bid and buys 20 B from 100 at the ask: within it
    assert bool(row.long_exceeds_touch) is True and bool(row.short_exceeds_touch) is False


def test_pair_costs_follow_the_sign_of_beta_and_leave_unquoted_rows_empty():
    """beta < 0: the long buys both legs (B at its ask, against its ask size); a row missing a leg's
    book, or a hedge ratio, has NaN amounts and NA flags."""
    qa, qb = _book([0, 1000], [99.9, 99.9], [100.1, 100.1], [49.95, 49.95], [50.05, 50.05],
                   sizes=(50.0, 50.0, 100.0, 15.0))
    panel = pd.DataFrame({"ts_ms": [0, 1000, 2000], "hedge_ratio": [-1.5, np.nan, 1.0]})
    costs = analytics.pair_costs(qa, qb, panel, 1000.0, 0.0)
    first = costs.iloc[0]
    assert (first.qty_a, first.qty_b) == (pytest.approx(10.0), pytest.approx(15.0))
    # 10 x 0.1 + 15 x 0.05 = 1.75 over 1,000 + 15 x 50 = 1,750 gross: 10 bps; no fees
    assert first.long_cost == pytest.approx(1.75) and first.long_cost_bps == pytest.approx(10.0)
    assert first.round_trip_cost == pytest.approx(3.5) and first.round_trip_fees == 0
    assert bool(first.long_exceeds_touch) is False  # 15 B against 15 at the ask: exactly the touch
    assert bool(first.short_exceeds_touch) is False
    for t in (1, 2):  # no hedge ratio; no quote bar at 2 s
        assert costs.iloc[t][["long_cost", "round_trip_bps"]].isna().all()
        assert costs["long_exceeds_touch"].isna().iloc[t] and costs["short_exceeds_touch"].isna().iloc[t]
    assert costs["spread_bps_a"].iloc[1] == pytest.approx(20.0) and np.isnan(costs["spread_bps_a"].iloc[2])
    assert list(costs.columns) == analytics.COST_COLUMNS


@pytest.mark.parametrize("kwargs, message", [({"notional": 0.0}, "notional"), ({"notional": float("nan")}, "notional"),
                                             ({"fee_bps": -1.0}, "fee_bps"), ({"fee_bps": 1e4}, "fee_bps")])
def test_pair_costs_refuse_a_bad_notional_or_fee(kwargs, message):
    """A notional that is not a positive amount, or a fee outside [0, 10000) bps, is a one-line ValueError."""
    qa, qb = _book([0], [99.9], [100.1], [49.95], [50.05])
    args = {"notional": 1000.0, "fee_bps": 10.0, **kwargs}
    with pytest.raises(ValueError, match=message):
        analytics.pair_costs(qa, qb, pd.DataFrame({"ts_ms": [0], "hedge_ratio": [1.0]}), **args)


def test_recorded_pair_round_trip():
    """On the recorded futures BTC / ETH panel at 10,000 USDT: the touch costs half of each leg's quoted
    spread in bps of its notional, a round trip at 4.5 bps fees costs ~9 bps: fees dominate."""
    panel = _recorded_panel()
    qa, qb = (analytics.quote_bars_at(recorded_quotes(s), "1s") for s in SYMBOLS)
    costs = analytics.pair_costs(qa, qb, panel, 10_000.0, 4.5)
    costs = costs[costs["hedge_ratio"].notna()]
    assert len(costs) > 20 and costs["round_trip_bps"].notna().all()
    legs = np.column_stack([np.abs(costs["qty_a"]) * (qa.set_index("ts_ms").loc[costs["ts_ms"], ["bid", "ask"]]
                                                       .mean(axis=1).to_numpy()),
                            np.abs(costs["qty_b"]) * (qb.set_index("ts_ms").loc[costs["ts_ms"], ["bid", "ask"]]
                                                       .mean(axis=1).to_numpy())])
    half = (legs[:, 0] * costs["spread_bps_a"] + legs[:, 1] * costs["spread_bps_b"]) / 2 / legs.sum(axis=1)
    np.testing.assert_allclose(costs["long_cost_bps"], half, rtol=1e-9)
    assert costs["long_cost_bps"].between(0.005, 0.05).all()
    assert costs["round_trip_bps"].between(9.0, 9.1).all()


# --------------------------------------------------------------------------- funding


def test_funding_carry_by_hand():
    """Long the spread: +1 A, -2 B. A settles at +0.01 % with mark 60,000: the long pays 6; B at +0.01 %
    priced at the last mark 3,000 (its row has none): the short earns 0.6; then A at -0.02 %: earns 12."""
    funding_a = pd.DataFrame({"funding_time_ms": [28_800_000, 57_600_000], "rate": [0.0001, -0.0002],
                              "mark_price": [60_000.0, 60_000.0]})
    funding_b = pd.DataFrame({"funding_time_ms": [28_800_000], "rate": [0.0001], "mark_price": [np.nan]})
    marks_b = pd.DataFrame({"ts_ms": [28_740_000, 28_799_000, 28_801_000], "mark": [2_900.0, 3_000.0, 9_999.0]})
    carry = analytics.funding_carry(funding_a, funding_b, 1.0, -2.0, marks_b=marks_b)
    assert carry["funding_time_ms"].tolist() == [28_800_000, 57_600_000]
    assert carry["payment_a"].tolist() == pytest.approx([-6.0, 12.0])  # -0.0001 x 1 x 60,000; +0.0002 x 60,000
    assert carry["mark_b"].iloc[0] == 3_000.0 and np.isnan(carry["rate_b"].iloc[1])
    assert carry["payment_b"].tolist() == pytest.approx([0.6, 0.0])  # -0.0001 x (-2) x 3,000; no settlement
    assert carry["payment"].tolist() == pytest.approx([-5.4, 12.0])
    assert carry["cumulative"].tolist() == pytest.approx([-5.4, 6.6])
    assert list(carry.columns) == analytics.CARRY_COLUMNS


def test_funding_without_a_known_mark_is_not_invented():
    """A settlement without a mark price and no mark within max_stale has a NaN payment, and the
    cumulative carry is NaN from there on."""
    funding = pd.DataFrame({"funding_time_ms": [1_000_000, 2_000_000], "rate": [0.0001, 0.0001],
                            "mark_price": [np.nan, 100.0]})
    stale = pd.DataFrame({"ts_ms": [1_000_000 - 61_000], "mark": [100.0]})  # 61 s old: beyond 60 s
    carry = analytics.funding_carry(funding, funding.iloc[:0], 1.0, 0.0, marks_a=stale)
    assert np.isnan(carry["payment_a"].iloc[0]) and carry["payment_a"].iloc[1] == pytest.approx(-0.01)
    assert carry["cumulative"].isna().all()
    assert analytics.funding_carry(funding, funding.iloc[:0], 1.0, 0.0, marks_a=stale, max_stale=61
                                   )["cumulative"].tolist() == pytest.approx([-0.01, -0.02])


def test_settlement_interval_and_expected_carry_by_hand():
    """Intervals from the last two settlements (8 h by default); at 0.01 % per 8 h on 1 A at 60,000 and
    -0.03 % per 4 h on -20 B at 3,000: A pays 6 x 3 = 18 a day, B pays -(-0.0003) x (-20) x 3,000 = 18 x 6 = 108."""
    eight_hours = pd.DataFrame({"funding_time_ms": [0, 28_800_000], "rate": [0.0, 0.0]})
    four_hours = pd.DataFrame({"funding_time_ms": [0, 28_800_000, 43_200_001], "rate": [0.0] * 3})
    assert analytics.settlement_interval_ms(eight_hours) == 8 * 3_600_000
    assert analytics.settlement_interval_ms(four_hours) == 4 * 3_600_000
    assert analytics.settlement_interval_ms(eight_hours.iloc[:1]) == analytics.FUNDING_INTERVAL_MS
    marks_a = pd.DataFrame({"ts_ms": [1000], "mark": [60_000.0], "index": [60_000.0], "funding_rate": [0.0001],
                            "next_funding_ms": [28_800_000]})
    marks_b = pd.DataFrame({"ts_ms": [2000], "mark": [3_000.0], "index": [3_000.0], "funding_rate": [-0.0003],
                            "next_funding_ms": [14_400_000]})
    carry = analytics.expected_carry_per_day(marks_a, marks_b, 1.0, -20.0, [500, 2000, 70_000],
                                             interval_ms_b=4 * 3_600_000)
    assert np.isnan(carry["carry_per_day"].iloc[0])  # no mark of either leg yet at 0.5 s
    row = carry.iloc[1]
    assert row.carry_per_day == pytest.approx(-6 * 3 - 18 * 6)
    assert row.carry_bps_per_day == pytest.approx((-18 - 108) / (60_000 + 60_000) * 1e4)
    assert (row.next_funding_ms_a, row.next_funding_ms_b) == (28_800_000, 14_400_000)
    assert carry["rate_a"].isna().iloc[2]  # A's mark row is 69 s old at 70 s: stale
    assert carry["next_funding_ms_a"].isna().iloc[2]


def test_funding_inputs_are_checked():
    """Missing columns, repeated settlements and a bad interval are one-line ValueErrors."""
    with pytest.raises(ValueError, match="funding needs columns"):
        analytics.funding_carry(pd.DataFrame({"rate": [0.1]}), pd.DataFrame({"rate": [0.1]}), 1.0, 1.0)
    twice = pd.DataFrame({"funding_time_ms": [0, 0], "rate": [0.1, 0.1]})
    with pytest.raises(ValueError, match="more than one row"):
        analytics.funding_carry(twice, twice.iloc[:1], 1.0, 1.0)
    marks = pd.DataFrame({"ts_ms": [0], "mark": [1.0]})
    with pytest.raises(ValueError, match="marks need columns"):
        analytics.expected_carry_per_day(marks, marks, 1.0, 1.0, [0])
    with pytest.raises(ValueError, match="settlement interval"):
        analytics.expected_carry_per_day(marks, marks, 1.0, 1.0, [0], interval_ms_a=0)


# --------------------------------------------------------------------------- the backtest on quote bars and funding


def _recorded_panel() -> pd.DataFrame:
    bars = [analytics.bars_from_trades(_recorded(s)[2], "1s") for s in SYMBOLS]
    return analytics.pair_panel(*bars, "1s", 5, "rolling", hedge_window=10)


def test_backtest_fills_at_the_quote_bars_of_the_fill_rows():
    """On the recorded futures panel with its recorded quotes (no slippage): every buy fills at the ask
    and every sale at the bid of the leg's 1 s quote bar labelled with the fill row, i.e. the book at
    that bar's close; the spread cost is half the quoted spread of each leg, per unit."""
    panel = _recorded_panel()
    qa, qb = (analytics.quote_bars_at(recorded_quotes(s), "1s") for s in SYMBOLS)
    quotes = analytics.pair_quotes(qa, qb, panel)
    result = analytics.backtest_zscore(panel, "1s", entry=1.2, exit=0.3, stop=4, fee_bps=0, slippage_bps=0,
                                       quotes=quotes)
    trades = result.trades
    assert len(trades) >= 3 and (trades["fills"] == "quotes").all()
    book = {leg: q.set_index("ts_ms") for leg, q in (("a", qa), ("b", qb))}
    for trade in trades.itertuples():
        for when, sign in (("entry", 1), ("exit", -1)):
            at = getattr(trade, f"{when}_ts_ms")
            for leg, qty in (("a", trade.qty_a), ("b", trade.qty_b)):
                expected = book[leg].loc[at, "ask" if sign * qty > 0 else "bid"]
                assert getattr(trade, f"{when}_price_{leg}") == expected
        half = sum(abs(qty) * (book[leg].loc[at, "ask"] - book[leg].loc[at, "bid"]) / 2
                   for at in (trade.entry_ts_ms, trade.exit_ts_ms)
                   for leg, qty in (("a", trade.qty_a), ("b", trade.qty_b)))
        assert trade.spread_cost == pytest.approx(half, rel=1e-9)
    # the marks are the quote mids: the gross P&L of each trade is qty @ (exit mid - entry mid)
    mids = {leg: (b["bid"] + b["ask"]) / 2 for leg, b in book.items()}
    for trade in trades.itertuples():
        gross = sum(q * (mids[leg][trade.exit_ts_ms] - mids[leg][trade.entry_ts_ms])
                    for leg, q in (("a", trade.qty_a), ("b", trade.qty_b)))
        assert trade.gross_pnl == pytest.approx(gross, abs=1e-9)


def test_pair_quotes_line_up_with_the_panel_rows():
    """Row t of pair_quotes holds both legs' bars labelled ts_ms[t]; a panel row without a quote bar is NaN."""
    qa, qb = _book([0, 1000], [99.9, 99.8], [100.1, 100.2], [49.95, 49.9], [50.05, 50.1])
    quotes = analytics.pair_quotes(qa, qb, pd.DataFrame({"ts_ms": [1000, 5000]}))
    assert quotes[["bid_a", "ask_a", "bid_b", "ask_b"]].iloc[0].tolist() == [99.8, 100.2, 49.9, 50.1]
    assert quotes.drop(columns="ts_ms").iloc[1].isna().all()


# The literal panel of test_backtest: a long filled at row 2 (close 3 s) and closed at row 4 (close
# 5 s); a short filled at row 6 (close 7 s) and closed at row 9 (close 10 s). Prices of A and B:
LITERAL = pd.DataFrame({"ts_ms": 1000 * np.arange(10), "hedge_ratio": 2.0,
                        "zscore": [0, -2.5, -1.0, 0.2, 0, 2.2, 2.6, 1.0, 0.4, 0],
                        "price_a": [100, 100, 99, 100, 101, 102, 103, 102, 101, 100.0],
                        "price_b": [50, 50, 50, 50.5, 50, 50, 51, 51, 50.5, 50.0]})


def test_backtest_funding_across_settlements_by_hand():
    """The long (+1 A, -2 B) holds settlements at 3.0 s (its entry fill: counted) and 3.5 s, not 5.0 s
    (its exit fill); flat at 5.5 s: nothing; the short (-1 A, +2 B) holds 8.0 s. Each lands on the
    first row whose bar closes after it, and enters the trade's funding, its pnl, the equity and the report."""
    funding_a = pd.DataFrame({"funding_time_ms": [3000, 3500, 5000, 5500, 8000],
                              "rate": [0.001, 0.002, 0.5, 0.5, 0.001],
                              "mark_price": [100.0, 200.0, 100.0, 100.0, np.nan]})
    funding_b = pd.DataFrame({"funding_time_ms": [3500, 8000], "rate": [-0.001, 0.002], "mark_price": [np.nan, 60.0]})
    costs = {"fee_bps": 10.0, "slippage_bps": 5.0, "half_spread_bps": 10.0}
    plain = analytics.backtest_zscore(LITERAL, "1s", **costs)
    paid = analytics.backtest_zscore(LITERAL, "1s", **costs, funding=(funding_a, funding_b))
    # long: A at 3.0 s: -0.001 x 1 x 100 = -0.1; A at 3.5 s: -0.002 x 1 x 200 = -0.4; B at 3.5 s, no
    # mark price: the last mark before it is row 2's close, B = 50: -(-0.001) x (-2) x 50 = -0.1
    # short: A at 8.0 s, no mark price: the last mark at or before it is row 7's close (8 s), A = 102:
    # -0.001 x (-1) x 102 = +0.102; B at 8.0 s: -0.002 x 2 x 60 = -0.24
    long_funding, short_funding = -0.1 - 0.4 - 0.1, 0.102 - 0.24
    assert paid.trades["funding"].tolist() == pytest.approx([long_funding, short_funding])
    assert (paid.trades["pnl"] - plain.trades["pnl"]).tolist() == pytest.approx([long_funding, short_funding])
    assert (plain.trades["funding"] == 0).all()
    extra = paid.equity["pnl"] - plain.equity["pnl"]
    # 3.0 s and 3.5 s land on row 3 (bar 3 s - 4 s closes at 4 s); 8.0 s on row 8 (closes at 9 s)
    assert extra.round(12).tolist() == pytest.approx([0, 0, 0, long_funding, 0, 0, 0, 0, short_funding, 0])
    report = paid.report
    assert report.funding == pytest.approx(long_funding + short_funding)
    assert report.net_pnl == pytest.approx(plain.report.net_pnl + long_funding + short_funding)
    assert report.net_pnl == pytest.approx(report.gross_pnl - report.costs + report.funding)
    assert report.net_pnl == pytest.approx(paid.equity["pnl"].sum())
    assert plain.report.funding == 0.0


def test_backtest_funding_is_none_when_flat_and_checked():
    """Settlements while flat (before the first fill, between trades, after the last) cost nothing; a
    funding argument that is not one frame (or None) per leg is a one-line ValueError."""
    flat = pd.DataFrame({"funding_time_ms": [500, 2999, 5000, 6999, 10_000], "rate": [0.01] * 5,
                         "mark_price": [100.0] * 5})
    result = analytics.backtest_zscore(LITERAL, "1s", funding=(flat, None))
    assert (result.trades["funding"] == 0).all() and result.report.funding == 0
    with pytest.raises(ValueError, match="one frame"):
        analytics.backtest_zscore(LITERAL, "1s", funding=flat)
