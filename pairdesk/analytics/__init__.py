"""Pairs-trading statistics on pandas objects: bars, alignment, hedge ratios, spread, z-score,
correlation, mean-reversion tests, summaries, a z-score backtest and hourly summaries.

Pure: DataFrames and arrays in, DataFrames, arrays and small frozen dataclasses out; no I/O, no
asyncio, sqlite3 or streamlit. The CSV export CLI lives in ``pairdesk.analytics_cli``.

Conventions
-----------
* Times are integers, UTC epoch milliseconds. A bar is labelled by its start.
* ``price_a`` is the dependent leg: hedge ratios regress ``price_a`` on ``price_b``, and
  spread = price_a - hedge_ratio * price_b (the intercept is never part of the spread).
* Trailing windows are counted in rows and include the current row (no look-ahead); a rolling
  statistic is NaN until ``window`` rows are available, and NaN whenever its window holds a NaN.
* NaN in an output means "not defined here" (too few rows, zero variance, missing input);
  statistical tests return a result object whose ``reason`` says why a figure is missing
  (``reason is None`` means every figure was computed).

The README section "Analytics definitions" documents every formula; keep the two in step.

Modules, one idea each: ``common`` (constants, timeframes), ``bars`` (bars and alignment),
``rolling`` (exact rolling moments), ``hedges`` (hedge ratios and the spread), ``panel`` (the pair
panel every view uses), ``mean_reversion`` (ADF, Engle-Granger, Johansen, half-life, Hurst),
``summaries``, ``backtest``.
"""
from __future__ import annotations

from pairdesk.analytics.common import (BACKTEST_ENTRY_Z, BACKTEST_EXIT_Z, BACKTEST_FEE_BPS, BACKTEST_STOP_Z,
                                       BAR_COLUMNS, DEFAULT_MAX_STALE_STEPS, DEFAULT_WINDOW_ROWS,
                                       HEAVY_TEST_WINDOW_ROWS, HEDGE_METHODS, HOUR_MS, HURST_MAX_LAG, Hedge,
                                       KALMAN_DELTA, KALMAN_OBSERVATION_VAR, KALMAN_PRIOR_VAR, MIN_ROWS_FOR_FIT,
                                       MIN_ROWS_FOR_TESTS, PANEL_COLUMNS, SECONDS_PER_YEAR, THEILSEN_MAX_ROWS,
                                       TIMEFRAME_MS, ZERO_STD_RTOL, timeframe_ms)
from pairdesk.analytics.bars import (align_closes, align_pair, bars_from_trades, log_returns, resample_bars)
from pairdesk.analytics.rolling import (rolling_correlation, rolling_mean_std, rolling_zscore)
from pairdesk.analytics.hedges import (HedgeFit, hedge_ratio_huber, hedge_ratio_ols, hedge_ratio_theilsen,
                                       kalman_hedge, rolling_ols, spread_series)
from pairdesk.analytics.panel import (pair_panel)
from pairdesk.analytics.mean_reversion import (AdfResult, CointResult, HalfLifeResult, HurstResult, JohansenResult,
                                               MeanReversionReport, adf_test, engle_granger_test, half_life,
                                               hurst_exponent, johansen_test, mean_reversion_tests)
from pairdesk.analytics.inputs import (SIGNIFICANCE_LEVEL)
from pairdesk.analytics.johansen import (OSTERWALD_LENUM_TRACE_CONSTANT, rank_conclusion)
from pairdesk.analytics.half_life import (half_life_interval)
from pairdesk.analytics.cointegration import (CointegrationVerdict, HacHedgeFit, cointegration_verdict,
                                              engle_granger_lags, hedge_ratio_hac, newey_west_lags)
from pairdesk.analytics.mean_reversion import (ADF_SPREAD_LABEL, tested_rows)
from pairdesk.analytics.summaries import (SymbolSummary, annualisation_factor, correlation_matrix, hourly_summary,
                                          summary_table, symbol_summary)
from pairdesk.analytics.backtest import (BacktestResult, backtest_zscore)

__all__ = [
    "BACKTEST_ENTRY_Z", "BACKTEST_EXIT_Z", "BACKTEST_FEE_BPS", "BACKTEST_STOP_Z", "BAR_COLUMNS",
    "DEFAULT_MAX_STALE_STEPS", "DEFAULT_WINDOW_ROWS", "HEAVY_TEST_WINDOW_ROWS", "HEDGE_METHODS", "HOUR_MS",
    "HURST_MAX_LAG", "Hedge", "KALMAN_DELTA", "KALMAN_OBSERVATION_VAR", "KALMAN_PRIOR_VAR", "MIN_ROWS_FOR_FIT",
    "MIN_ROWS_FOR_TESTS", "PANEL_COLUMNS", "SECONDS_PER_YEAR", "THEILSEN_MAX_ROWS", "TIMEFRAME_MS",
    "ZERO_STD_RTOL", "timeframe_ms", "align_closes", "align_pair", "bars_from_trades", "log_returns",
    "resample_bars", "rolling_correlation", "rolling_mean_std", "rolling_zscore", "HedgeFit", "hedge_ratio_huber",
    "hedge_ratio_ols", "hedge_ratio_theilsen", "kalman_hedge", "rolling_ols", "spread_series", "pair_panel",
    "AdfResult", "CointResult", "HalfLifeResult", "HurstResult", "JohansenResult", "MeanReversionReport",
    "adf_test", "engle_granger_test", "half_life", "hurst_exponent", "johansen_test", "mean_reversion_tests",
    "SymbolSummary", "annualisation_factor", "correlation_matrix", "hourly_summary", "summary_table",
    "symbol_summary", "BacktestResult", "backtest_zscore",
    "SIGNIFICANCE_LEVEL", "OSTERWALD_LENUM_TRACE_CONSTANT", "rank_conclusion", "half_life_interval",
    "CointegrationVerdict", "HacHedgeFit", "cointegration_verdict", "engle_granger_lags", "hedge_ratio_hac",
    "newey_west_lags", "ADF_SPREAD_LABEL", "tested_rows",
]
