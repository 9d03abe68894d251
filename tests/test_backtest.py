"""analytics.backtest_zscore: fills, costs and P&L computed by hand on literal panels, the timing
(signal at t, fill at t+1), no look-ahead on the recorded BTC / ETH panel, quotes, holes, the
in-sample / out-of-sample split and the Sharpe rule."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pairdesk import analytics
from test_analytics import recorded_trades

H, S, F = 10 / 1e4, 5 / 1e4, 10 / 1e4  # half-spread, slippage, fee of the literal example, as fractions
COSTS = {"fee_bps": 10.0, "slippage_bps": 5.0, "half_spread_bps": 10.0}
WINDOW = 10  # bars: the trimmed recording holds two minutes of 1-second bars
HEDGE_WINDOW = 30  # bars before each bar the hedge is estimated on


def literal_panel(z, a, b, beta=2.0, tf_ms=1_000, segment=None) -> pd.DataFrame:
    """A panel with the columns the backtest reads (and ``segment`` when given)."""
    panel = pd.DataFrame({"ts_ms": tf_ms * np.arange(len(z)), "price_a": np.asarray(a, float),
                          "price_b": np.asarray(b, float), "hedge_ratio": beta, "zscore": np.asarray(z, float)})
    if segment is not None:
        panel["segment"] = segment
    return panel


TEN_BARS = literal_panel(z=[0, -2.5, -1.0, 0.2, 0, 2.2, 2.6, 1.0, 0.4, 0],
                         a=[100, 100, 99, 100, 101, 102, 103, 102, 101, 100],
                         b=[50, 50, 50, 50.5, 50, 50, 51, 51, 50.5, 50])


def buy(price: float) -> float:
    return price * (1 + H) * (1 + S)


def sell(price: float) -> float:
    return price * (1 - H) * (1 - S)


@pytest.fixture(scope="module")
def real_panel() -> pd.DataFrame:
    """The 1-second rolling-hedge pair panel (10-bar window) of the recorded BTC / ETH trades: causal at every row."""
    bars = [analytics.bars_from_trades(recorded_trades(s), "1s") for s in ("BTCUSDT", "ETHUSDT")]
    return analytics.pair_panel(*bars, "1s", WINDOW, "rolling", hedge_window=HEDGE_WINDOW)


# --------------------------------------------------------------------------- the literal 10-bar panel


def test_ten_bars_trades_fills_and_pnl_by_hand():
    """Long at bar 2 (signal 1), out at 4 (signal 3); short at 6 (signal 5), out at 9 (signal 8): every
    fill is the next bar's last price ± half-spread, then slippage, and the P&L is the cash minus fees."""
    result = analytics.backtest_zscore(TEN_BARS, "1s", entry=2, exit=0.5, stop=4, **COSTS)
    trades = result.trades
    assert trades[["entry_signal_ts_ms", "entry_ts_ms", "exit_signal_ts_ms", "exit_ts_ms", "side", "reason"]
                  ].values.tolist() == [[1000, 2000, 3000, 4000, 1, "exit"], [5000, 6000, 8000, 9000, -1, "exit"]]
    long, short = trades.iloc[0], trades.iloc[1]
    # long the spread: buy 1 A, sell 2 B at bar 2; sell the A, buy back the B at bar 4
    assert (long.entry_price_a, long.entry_price_b) == (pytest.approx(buy(99)), pytest.approx(sell(50)))
    assert (long.exit_price_a, long.exit_price_b) == (pytest.approx(sell(101)), pytest.approx(buy(50)))
    # short the spread: sell 1 A, buy 2 B at bar 6; buy the A back, sell the B at bar 9
    assert (short.entry_price_a, short.entry_price_b) == (pytest.approx(sell(103)), pytest.approx(buy(51)))
    assert (short.exit_price_a, short.exit_price_b) == (pytest.approx(buy(100)), pytest.approx(sell(50)))
    traded_long = buy(99) + 2 * sell(50) + sell(101) + 2 * buy(50)
    cash_long = -buy(99) + 2 * sell(50) + sell(101) - 2 * buy(50)
    traded_short = sell(103) + 2 * buy(51) + buy(100) + 2 * sell(50)
    cash_short = sell(103) - 2 * buy(51) - buy(100) + 2 * sell(50)
    assert long.gross_pnl == pytest.approx((101 - 99) - 2 * (50 - 50))
    assert short.gross_pnl == pytest.approx(-(100 - 103) + 2 * (50 - 51))
    assert long.fees == pytest.approx(F * traded_long) and short.fees == pytest.approx(F * traded_short)
    assert long.spread_cost == pytest.approx(H * (99 + 2 * 50 + 101 + 2 * 50))
    assert long.slippage_cost == pytest.approx(S * (99 * (1 + H) + 2 * 50 * (1 - H) + 101 * (1 - H) + 2 * 50 * (1 + H)))
    assert long.pnl == pytest.approx(cash_long - F * traded_long, rel=1e-12)
    assert short.pnl == pytest.approx(cash_short - F * traded_short, rel=1e-12)
    capital = 99 + 2 * 50  # the first position's gross notional at its entry prices
    assert result.capital == capital and long.notional == capital
    report = result.report
    assert report.net_pnl == pytest.approx(long.pnl + short.pnl, rel=1e-12)
    assert report.total_return == pytest.approx((long.pnl + short.pnl) / capital, rel=1e-12)
    assert report.turnover == pytest.approx((traded_long + traded_short) / capital, rel=1e-12)
    assert short.pnl < 0 < long.pnl  # the short's 1.0 gross does not cover its costs
    assert (report.trades, report.hit_rate, report.bars) == (2, 0.5, 10)
    assert result.equity["position"].tolist() == [0, 0, 1, 1, 1, 0, -1, -1, -1, -1]


def test_ten_bars_equity_is_marked_bar_by_bar():
    """Per-bar net P&L: entry costs on the fill bar, then 1·ΔA − β·ΔB each bar, exit costs on the exit bar."""
    result = analytics.backtest_zscore(TEN_BARS, "1s", entry=2, exit=0.5, stop=4, **COSTS)
    pnl = result.equity["pnl"].to_numpy()
    entry_costs = (buy(99) - 99) + 2 * (50 - sell(50)) + F * (buy(99) + 2 * sell(50))
    exit_costs = (101 - sell(101)) + 2 * (buy(50) - 50) + F * (sell(101) + 2 * buy(50))
    assert pnl[2] == pytest.approx(-entry_costs)
    assert pnl[3] == pytest.approx((100 - 99) - 2 * (50.5 - 50))
    assert pnl[4] == pytest.approx((101 - 100) - 2 * (50 - 50.5) - exit_costs)
    assert pnl[[0, 1, 5]].tolist() == [0, 0, 0]
    equity = 1 + np.cumsum(pnl) / result.capital
    assert result.equity["equity"].to_numpy() == pytest.approx(equity)
    peak = np.maximum.accumulate(np.r_[1.0, equity])[1:]
    assert result.max_drawdown == pytest.approx(float(((peak - equity) / peak).max()))
    assert result.max_drawdown > 0


def test_costs_add_up_on_the_literal_and_the_real_panel(real_panel):
    """gross − (fees + spread + slippage) = net, per trade, per report, and = the equity's summed P&L."""
    for panel, kwargs in ((TEN_BARS, COSTS), (real_panel, {"fee_bps": 7.5, "slippage_bps": 2, "half_spread_bps": 3})):
        result = analytics.backtest_zscore(panel, "1s", entry=1.5, exit=0.3, stop=5, **kwargs)
        trades, report = result.trades, result.report
        assert len(trades) >= 2
        costs = trades["fees"] + trades["spread_cost"] + trades["slippage_cost"]
        assert np.allclose(trades["gross_pnl"] - costs, trades["pnl"], rtol=0, atol=1e-9)
        assert (trades[["fees", "spread_cost", "slippage_cost"]] > 0).all().all()
        assert report.costs == pytest.approx(report.fees + report.spread_cost + report.slippage_cost, rel=1e-12)
        assert report.net_pnl == pytest.approx(report.gross_pnl - report.costs, rel=1e-9, abs=1e-9)
        assert result.equity["pnl"].sum() == pytest.approx(report.net_pnl, rel=1e-9, abs=1e-9)


def test_zero_costs_fill_at_the_next_bars_last_price():
    """With no fee, slippage or spread the fills are exactly the next bar's prices and net = gross."""
    result = analytics.backtest_zscore(TEN_BARS, "1s", fee_bps=0, slippage_bps=0, half_spread_bps=0)
    assert result.trades[["entry_price_a", "entry_price_b", "exit_price_a", "exit_price_b"]].values.tolist() == [
        [99, 50, 101, 50], [103, 51, 100, 50]]
    assert result.report.costs == 0 and result.report.net_pnl == result.report.gross_pnl == 3


# --------------------------------------------------------------------------- rules


def test_stop_end_and_no_entry_past_the_stop_or_without_a_hedge_ratio():
    """|z| >= stop stops out; an open position is closed on the last bar ("end"); no entry at |z| >= stop,
    with a NaN beta, or on the last two bars (a position lives at least one bar)."""
    stopped = analytics.backtest_zscore(literal_panel([0, -2.5, -3, -4.2, -1, 0], [10] * 6, [5] * 6), "1s")
    assert stopped.trades[["entry_ts_ms", "exit_signal_ts_ms", "exit_ts_ms", "reason"]].values.tolist() == [
        [2000, 3000, 4000, "stop"]]
    ended = analytics.backtest_zscore(literal_panel([0, 2.5, 3, 3, 3.5], [10] * 5, [5] * 5), "1s")
    assert ended.trades[["exit_signal_ts_ms", "exit_ts_ms", "exit_z", "reason"]].values.tolist() == [
        [4000, 4000, 3.5, "end"]]
    assert analytics.backtest_zscore(literal_panel([0, 5, 0, 0], [1] * 4, [1] * 4), "1s").trades.empty
    no_beta = analytics.backtest_zscore(literal_panel([0, 3, 0, 0], [1] * 4, [1] * 4, beta=np.nan), "1s")
    late = analytics.backtest_zscore(literal_panel([0, 0, 3, 3], [1] * 4, [1] * 4), "1s")
    assert no_beta.trades.empty and late.trades.empty
    assert late.reason == "no trades" and late.total_return == 0 and late.capital is None


def test_beta_is_the_signal_bars_and_stays_fixed_for_the_trade():
    """The hedge ratio of the signal bar sizes the B leg for the whole trade, whatever later bars say."""
    panel = literal_panel([0, 2.5, 1, 0, 0], [100, 101, 102, 101, 100], [50, 50, 51, 52, 50])
    panel["hedge_ratio"] = [1.0, 1.5, 3.0, 4.0, 5.0]
    trade = analytics.backtest_zscore(panel, "1s", fee_bps=0, slippage_bps=0, half_spread_bps=0).trades.iloc[0]
    assert (trade.hedge_ratio, trade.qty_a, trade.qty_b) == (1.5, -1.0, 1.5)
    assert trade.gross_pnl == pytest.approx(-(100 - 102) + 1.5 * (50 - 51))  # bars 2 -> 4


def test_segments_are_never_traded_across():
    """A position open when a segment ends is closed on its last bar ("segment"); a signal on a
    segment's second-last bar is not taken; the next segment starts flat."""
    z = [0, 2.5, 2.2, 2.1, 2.4, -2.5, -2.4, 0, 0, 0]
    segment = [0] * 5 + [1] * 5
    result = analytics.backtest_zscore(literal_panel(z, [10] * 10, [5] * 10, segment=segment), "1s")
    assert result.trades[["entry_ts_ms", "exit_ts_ms", "side", "reason"]].values.tolist() == [
        [2000, 4000, -1, "segment"], [6000, 8000, 1, "exit"]]
    late = literal_panel([0, 0, 0, 2.5, 0, 0, 0, 0], [10] * 8, [5] * 8, segment=[0] * 5 + [1] * 3)
    assert analytics.backtest_zscore(late, "1s").trades.empty  # its fill bar 4 would be the segment's last
    assert (result.equity["segment"] == segment).all()


# --------------------------------------------------------------------------- quotes


def test_quotes_fill_at_the_bid_and_ask_and_fall_back_where_missing():
    """With a quotes frame, buys fill at the ask and sales at the bid (then slippage), the spread cost is
    the distance to the mid; a bar with no quote falls back to the last price ± half-spread."""
    panel = literal_panel([0, -2.5, 0, 0, 0], [100, 100, 99, 100, 100], [50, 50, 50, 51, 51])
    quotes = pd.DataFrame({"ts_ms": [2000, 3000], "bid_a": [98.9, 99.9], "ask_a": [99.3, 100.1],
                           "bid_b": [49.9, 50.8], "ask_b": [50.1, 51.2]})
    result = analytics.backtest_zscore(panel, "1s", fee_bps=0, slippage_bps=S * 1e4, half_spread_bps=50,
                                       quotes=quotes)
    trade = result.trades.iloc[0]
    assert (trade.entry_ts_ms, trade.exit_ts_ms, trade.fills) == (2000, 3000, "quotes")
    assert (trade.entry_price_a, trade.entry_price_b) == (pytest.approx(99.3 * (1 + S)), pytest.approx(49.9 * (1 - S)))
    assert (trade.exit_price_a, trade.exit_price_b) == (pytest.approx(99.9 * (1 - S)), pytest.approx(51.2 * (1 + S)))
    mids = {"a": (99.1, 100.0), "b": (50.0, 51.0)}
    assert trade.gross_pnl == pytest.approx((mids["a"][1] - mids["a"][0]) - 2 * (mids["b"][1] - mids["b"][0]))
    assert trade.spread_cost == pytest.approx(0.2 + 2 * 0.1 + 0.1 + 2 * 0.2)
    assert trade.pnl == pytest.approx(-trade.entry_price_a + 2 * trade.entry_price_b + trade.exit_price_a
                                      - 2 * trade.exit_price_b)
    partial = analytics.backtest_zscore(panel, "1s", fee_bps=0, slippage_bps=0, half_spread_bps=50,
                                        quotes=quotes[quotes["ts_ms"] == 2000])
    fallback = partial.trades.iloc[0]
    assert fallback.fills == "mixed"
    assert (fallback.exit_price_a, fallback.exit_price_b) == (pytest.approx(100 * 0.995), pytest.approx(51 * 1.005))


def test_quotes_need_their_columns():
    """A quotes frame without bid / ask columns is a one-line ValueError."""
    with pytest.raises(ValueError, match="quotes need columns"):
        analytics.backtest_zscore(TEN_BARS, "1s", quotes=pd.DataFrame({"ts_ms": [0], "bid_a": [1.0]}))


# --------------------------------------------------------------------------- no look-ahead


def test_no_look_ahead_appending_bars_leaves_earlier_trades_alone(real_panel):
    """Bars recomputed from data up to T give the same trades and bar P&L, up to T, as the full data,
    for trades closed before T; every fill is the bar after its signal, at that bar's prices."""
    bars = [analytics.bars_from_trades(recorded_trades(s), "1s") for s in ("BTCUSDT", "ETHUSDT")]
    kwargs = {"entry": 1.5, "exit": 0.3, "stop": 5}
    full = analytics.backtest_zscore(real_panel, "1s", **kwargs)
    assert len(full.trades) >= 4
    rows = real_panel.reset_index(drop=True)
    index = {ts: i for i, ts in enumerate(rows["ts_ms"])}
    for trade in full.trades.itertuples():
        assert index[trade.entry_ts_ms] == index[trade.entry_signal_ts_ms] + 1
        assert rows.at[index[trade.entry_signal_ts_ms], "zscore"] == trade.entry_z and abs(trade.entry_z) >= 1.5
        a = rows.at[index[trade.entry_ts_ms], "price_a"]
        assert trade.entry_price_a == pytest.approx(a * (1 + trade.side * 1e-4) * (1 + trade.side * 0.5e-4))
    cut_ms = int(full.trades["exit_ts_ms"].iloc[len(full.trades) // 2]) + 1_000
    early_bars = [b[b["ts_ms"] <= cut_ms] for b in bars]
    early_panel = analytics.pair_panel(*early_bars, "1s", WINDOW, "rolling", hedge_window=HEDGE_WINDOW)
    early = analytics.backtest_zscore(early_panel, "1s", **kwargs)
    closed = full.trades[full.trades["exit_ts_ms"] < cut_ms]
    pd.testing.assert_frame_equal(early.trades.iloc[:len(closed)], closed)
    last_exit = int(closed["exit_ts_ms"].iloc[-1])
    upto = full.equity["ts_ms"] <= last_exit
    pd.testing.assert_frame_equal(early.equity[upto[:len(early.equity)].to_numpy()], full.equity[upto])


def test_rewriting_later_bars_changes_nothing_before_them(real_panel):
    """Overwriting every bar after a trade's exit bar (prices and z) leaves that trade identical."""
    result = analytics.backtest_zscore(real_panel, "1s", entry=1.5, exit=0.3, stop=5)
    cut = int(result.trades["exit_ts_ms"].iloc[0])
    changed = real_panel.copy()
    changed.loc[changed["ts_ms"] > cut, ["price_a", "zscore"]] = [1.0, -3.0]
    again = analytics.backtest_zscore(changed, "1s", entry=1.5, exit=0.3, stop=5)
    pd.testing.assert_series_equal(again.trades.iloc[0], result.trades.iloc[0])


# --------------------------------------------------------------------------- split and Sharpe


def test_out_of_sample_split_closes_at_the_split_and_reports_both_parts(real_panel):
    """oos_fraction 0.4: the last 40 % of bars are reported apart, a position is closed at the split,
    the parts add up to the whole, and the OOS trades are those of the same signal on the OOS bars alone."""
    kwargs = {"entry": 1.5, "exit": 0.3, "stop": 5}
    result = analytics.backtest_zscore(real_panel, "1s", oos_fraction=0.4, **kwargs)
    n = len(real_panel)
    split = int(n * 0.6)
    assert (result.in_sample.bars, result.out_of_sample.bars) == (split, n - split)
    assert result.in_sample.trades + result.out_of_sample.trades == result.report.trades
    assert result.in_sample.net_pnl + result.out_of_sample.net_pnl == pytest.approx(result.report.net_pnl)
    assert (result.equity["part"] == ["in_sample"] * split + ["out_of_sample"] * (n - split)).all()
    split_ms = int(real_panel["ts_ms"].iloc[split])
    assert (result.trades["exit_ts_ms"] < split_ms).eq(result.trades["part"] == "in_sample").all()
    alone = analytics.backtest_zscore(real_panel.iloc[split:].reset_index(drop=True), "1s", **kwargs)
    oos = result.trades[result.trades["part"] == "out_of_sample"].reset_index(drop=True)
    columns = ["entry_ts_ms", "exit_ts_ms", "side", "entry_price_a", "exit_price_b", "pnl", "reason"]
    pd.testing.assert_frame_equal(oos[columns], alone.trades[columns])
    assert result.in_sample.sharpe is None and result.in_sample.sharpe_reason.startswith("too short")


def hourly_ar1_panel(days: int, seed: int = 7) -> pd.DataFrame:
    """1-hour bars of a mean-reverting pair: b a random walk, a = b + 50 + 0.5 z, z an AR(1) (phi 0.8)."""
    rng = np.random.default_rng(seed)
    n = days * 24
    z = np.zeros(n)
    for t in range(1, n):
        z[t] = 0.8 * z[t - 1] + rng.normal(0, 0.9)
    b = 50 + np.cumsum(rng.normal(0, 0.05, n))
    return literal_panel(z, b + 50 + 0.5 * z, b, beta=1.0, tf_ms=3_600_000)


def test_sharpe_only_on_a_long_enough_sample():
    """Sharpe = mean / std of daily returns x sqrt(365) on 40 days and >= 20 trades; None, "too short", on
    29 days, on 40 days with 3 trades, and on the ten-bar panel."""
    long = analytics.backtest_zscore(hourly_ar1_panel(40), "1h")
    assert long.report.trades >= analytics.MIN_SHARPE_TRADES and long.report.days == 40
    day = pd.to_datetime(long.equity["ts_ms"], unit="ms").dt.floor("D")
    daily = long.equity["pnl"].groupby(day).sum() / long.capital
    assert len(daily) == 40
    assert long.sharpe == pytest.approx(daily.mean() / daily.std(ddof=1) * math.sqrt(365), rel=1e-12)
    assert long.report.sharpe_reason is None
    short = analytics.backtest_zscore(hourly_ar1_panel(29), "1h")
    assert short.report.trades >= analytics.MIN_SHARPE_TRADES
    assert short.sharpe is None and short.report.sharpe_reason.startswith(
        f"too short: 29.00 days, {short.report.trades} trades")
    z = np.zeros(40 * 24)
    z[[100, 300, 500]] = 2.5
    few = analytics.backtest_zscore(literal_panel(z, [100.0] * len(z), [50.0] * len(z), tf_ms=3_600_000), "1h")
    assert few.sharpe is None and few.report.sharpe_reason.startswith("too short: 40.00 days, 3 trades")
    ten = analytics.backtest_zscore(TEN_BARS, "1s")
    assert ten.sharpe is None and ten.report.sharpe_reason.startswith("too short: 0.00 days, 2 trades")


# --------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"entry": 2, "exit": 2}, "need 0 <= exit < entry < stop"),
    ({"entry": 2, "exit": 0.5, "stop": 2}, "need 0 <= exit < entry < stop"),
    ({"exit": -0.1}, "need 0 <= exit < entry < stop"),
    ({"fee_bps": -1}, "fee_bps must be in"),
    ({"slippage_bps": -0.5}, "slippage_bps must be in"),
    ({"half_spread_bps": 10_000}, "half_spread_bps must be in"),
    ({"oos_fraction": 1.0}, "oos_fraction must be between 0 and 1"),
    ({"oos_fraction": 0.0}, "oos_fraction must be between 0 and 1"),
    ({"entry": math.nan}, "entry must be a finite number"),
])
def test_inconsistent_parameters_are_one_line_value_errors(kwargs, message):
    """Entry <= exit, stop <= entry, negative exit or costs, a split outside (0, 1): ValueError saying which."""
    with pytest.raises(ValueError, match=message):
        analytics.backtest_zscore(TEN_BARS, "1s", **kwargs)


def test_params_round_trip_to_keyword_arguments():
    """BacktestParams.as_kwargs() runs the same backtest as the keywords it holds."""
    params = analytics.BacktestParams(entry=1.8, exit=0.2, stop=3.5, fee_bps=4, slippage_bps=1, half_spread_bps=2,
                                      oos_fraction=0.5)
    via_params = analytics.backtest_zscore(TEN_BARS, "1s", **params.as_kwargs())
    assert via_params.params == params
    pd.testing.assert_frame_equal(via_params.trades, analytics.backtest_zscore(
        TEN_BARS, "1s", entry=1.8, exit=0.2, stop=3.5, fee_bps=4, slippage_bps=1, half_spread_bps=2,
        oos_fraction=0.5).trades)
