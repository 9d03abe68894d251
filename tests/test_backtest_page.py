"""The dashboard's Backtest tab under Streamlit's AppTest on the recorded BTC / ETH database: its
inputs drive the engine, its metrics are the engine's, "too short" instead of an annualised Sharpe,
and the refusals (an in-sample hedge, inconsistent rules)."""
from __future__ import annotations


import pytest

from pairdesk import analytics
from pairdesk.dashboard import formatting
from pairdesk.dashboard.backtest_view import INPUTS
from test_app import (SHORT_HEDGE_WINDOW, expected_panel, fresh_caches, metric, real_db, run_page,  # noqa: F401
                      table_with, texts)  # (fresh_caches: autouse; real_db: the module's database)

WINDOW = 10  # bars: the trimmed recording holds two minutes of 1-second bars
ROLLING = {"hedge": "rolling", "window": WINDOW, "hedge_window": SHORT_HEDGE_WINDOW}


def engine(db, **params) -> analytics.BacktestResult:
    """What the page should show: the engine on the last heavy-panel rows of the same panel."""
    panel = expected_panel(db, window=WINDOW, hedge="rolling").tail(analytics.HEAVY_TEST_WINDOW_ROWS)
    return analytics.backtest_zscore(panel, "1s", **params)


def assert_metrics_show(page, result: analytics.BacktestResult) -> None:
    """The tab's metrics are the engine's figures, formatted by the page's formatters."""
    report = result.report
    assert metric(page, "Net P&L") == formatting.format_number(report.net_pnl)
    assert metric(page, "Gross P&L") == formatting.format_number(report.gross_pnl)
    assert metric(page, "Costs") == formatting.format_number(report.costs)
    assert metric(page, "Total return") == formatting.format_percent(report.total_return, signed=True)
    assert metric(page, "Trades") == str(report.trades)
    assert metric(page, "Max drawdown") == formatting.format_percent(report.max_drawdown)


def test_default_rules_show_the_engines_figures_and_too_short(monkeypatch, real_db):
    """Rolling hedge, default rules: metrics, trades and the figures table are the engine's; the Sharpe
    of two minutes is "too short", never an annualised number."""
    page = run_page(monkeypatch, real_db, **ROLLING)
    result = engine(real_db)
    assert_metrics_show(page, result)
    assert metric(page, "Sharpe (annualised)") == "too short"
    assert any(text.startswith("Sharpe ratio: too short: 0.00 days") for text in texts(page, "caption"))
    figures = table_with(page, "turnover")
    assert figures["part"].tolist() == ["all bars"] and figures["sharpe"].tolist() == ["too short"]
    defaults = analytics.BacktestParams()
    for item in INPUTS:
        assert page.number_input(key=item.key).value == (getattr(defaults, item.field) or 0.0)


def test_inputs_drive_the_backtest(monkeypatch, real_db):
    """Entry 1.5, exit 0.3, no fee, 2 bps slippage, half the bars out of sample: the page runs exactly that."""
    page = run_page(monkeypatch, real_db, **ROLLING, bt_entry=1.5, bt_exit=0.3, bt_fee_bps=0.0, bt_slippage_bps=2.0,
                    bt_oos_fraction=0.5)
    result = engine(real_db, entry=1.5, exit=0.3, fee_bps=0, slippage_bps=2, oos_fraction=0.5)
    assert result.report.trades >= 2
    assert_metrics_show(page, result)
    figures = table_with(page, "turnover")
    assert figures["part"].tolist() == ["all bars", "in-sample", "out-of-sample"]
    assert figures["trades"].tolist() == [result.report.trades, result.in_sample.trades, result.out_of_sample.trades]
    trades = table_with(page, "entry_z")
    assert trades["pnl"].tolist() == pytest.approx(result.trades["pnl"].tolist())
    assert (trades["fees"] == 0).all()


def test_inconsistent_rules_are_refused_on_the_page(monkeypatch, real_db):
    """Exit at or above entry: a one-line warning instead of figures."""
    page = run_page(monkeypatch, real_db, **ROLLING, bt_entry=1.0, bt_exit=1.0)
    assert any("Backtest not run: need 0 <= exit < entry < stop" in text for text in texts(page, "warning"))
    assert "Net P&L" not in [m.label for m in page.metric]


def test_an_in_sample_hedge_is_not_backtested(monkeypatch, real_db):
    """The whole-sample OLS hedge (ols_insample) uses future bars: the tab says so and shows no figures."""
    page = run_page(monkeypatch, real_db, hedge="ols_insample", window=WINDOW)
    assert any("in-sample: uses future bars" in text for text in texts(page, "warning"))
    assert "Net P&L" not in [m.label for m in page.metric]
