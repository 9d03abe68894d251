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

from pairdesk.analytics.backtest import (
                                       BACKTEST_HALF_SPREAD_BPS,
                                       BACKTEST_SLIPPAGE_BPS,
                                       EQUITY_COLUMNS,
                                       PARTS,
                                       TRADE_COLUMNS,
                                       BacktestParams,
                                       BacktestResult,
                                       backtest_zscore,
)
from pairdesk.analytics.backtest_report import (
                                       DAY_MS,
                                       DAYS_PER_YEAR,
                                       MIN_SHARPE_DAYS,
                                       MIN_SHARPE_TRADES,
                                       BacktestReport,
                                       max_drawdown,
                                       sharpe_ratio,
                                       stretch_report,
)
from pairdesk.analytics.bars import align_closes, align_pair, bars_from_trades, log_returns, resample_bars, segment_ids
from pairdesk.analytics.causal_hedge import (
                                       ROBUST_REFITS_PER_WINDOW,
                                       expanding_hedge,
                                       insample_hedge,
                                       refit_rows,
                                       robust_hedge,
                                       robust_refit_every,
                                       rolling_hedge,
)
from pairdesk.analytics.cointegration import (
                                       HEADLINE_RULE,
                                       CointegrationVerdict,
                                       CointResult,
                                       HacHedgeFit,
                                       cointegration_verdict,
                                       engle_granger_lags,
                                       engle_granger_test,
                                       hedge_ratio_hac,
                                       newey_west_lags,
)
from pairdesk.analytics.common import (
                                       BACKTEST_ENTRY_Z,
                                       BACKTEST_EXIT_Z,
                                       BACKTEST_FEE_BPS,
                                       BACKTEST_STOP_Z,
                                       BAR_COLUMNS,
                                       CLI_COLUMNS,
                                       DEFAULT_HEDGE,
                                       DEFAULT_HEDGE_WINDOW_ROWS,
                                       DEFAULT_MAX_STALE_S,
                                       DEFAULT_WINDOW_ROWS,
                                       HEAVY_TEST_WINDOW_ROWS,
                                       HEDGE_METHODS,
                                       HOUR_MS,
                                       HURST_MAX_LAG,
                                       MIN_ROWS_FOR_FIT,
                                       MIN_ROWS_FOR_TESTS,
                                       PANEL_COLUMNS,
                                       SECONDS_PER_YEAR,
                                       SPREAD_KINDS,
                                       THEILSEN_MAX_ROWS,
                                       TIMEFRAME_MS,
                                       ZERO_STD_RTOL,
                                       Hedge,
                                       timeframe_ms,
)
from pairdesk.analytics.fills import BPS, QUOTE_COLUMNS, Book, Fill, build_book, fill_order
from pairdesk.analytics.half_life import HALF_LIFE_NO_REVERSION, HalfLifeResult, half_life, half_life_interval
from pairdesk.analytics.hedges import HedgeFit, hedge_ratio_huber, hedge_ratio_ols, hedge_ratio_theilsen, rolling_ols
from pairdesk.analytics.inputs import (
                                       SIGNIFICANCE_LEVEL,
                                       critical_values,
                                       normal_quantile,
                                       pair_input,
                                       run_test,
                                       series_input,
)
from pairdesk.analytics.johansen import (
                                       JOHANSEN_LAGGED_DIFFERENCES,
                                       OSTERWALD_LENUM_TRACE_CONSTANT,
                                       JohansenResult,
                                       johansen_test,
                                       rank_conclusion,
)
from pairdesk.analytics.kalman import kalman_signal
from pairdesk.analytics.mean_reversion import (
                                       ADF_SPREAD_LABEL,
                                       HURST_RANDOM_WALK_SEED,
                                       HURST_RANDOM_WALKS,
                                       AdfResult,
                                       HurstResult,
                                       MeanReversionReport,
                                       adf_test,
                                       hurst_exponent,
                                       mean_reversion_tests,
                                       tested_rows,
)
from pairdesk.analytics.panel import pair_panel
from pairdesk.analytics.rolling import rolling_correlation, rolling_mean_std, rolling_zscore
from pairdesk.analytics.signal import (
                                       CAUSAL_HEDGES,
                                       HEDGE_NAMES,
                                       INSAMPLE_HEDGES,
                                       INSAMPLE_LABEL,
                                       causal_hedge,
                                       hedge_label,
                                       is_causal,
                                       residual_signal,
                                       residual_zscore,
                                       segment_correlations,
                                       segment_signal,
)
from pairdesk.analytics.summaries import (
                                       SymbolSummary,
                                       annualisation_factor,
                                       correlation_matrix,
                                       hourly_summary,
                                       summary_table,
                                       symbol_summary,
)

__all__ = [
    "BACKTEST_ENTRY_Z", "BACKTEST_EXIT_Z", "BACKTEST_FEE_BPS", "BACKTEST_STOP_Z", "BAR_COLUMNS", "CLI_COLUMNS",
    "DEFAULT_HEDGE", "DEFAULT_HEDGE_WINDOW_ROWS", "DEFAULT_MAX_STALE_S", "DEFAULT_WINDOW_ROWS",
    "HEAVY_TEST_WINDOW_ROWS", "HEDGE_METHODS", "HOUR_MS", "HURST_MAX_LAG", "Hedge", "MIN_ROWS_FOR_FIT",
    "MIN_ROWS_FOR_TESTS", "PANEL_COLUMNS", "SECONDS_PER_YEAR", "SPREAD_KINDS", "THEILSEN_MAX_ROWS",
    "TIMEFRAME_MS", "ZERO_STD_RTOL", "timeframe_ms", "SIGNIFICANCE_LEVEL", "critical_values", "normal_quantile",
    "pair_input", "run_test", "series_input", "align_closes", "align_pair", "bars_from_trades", "log_returns",
    "resample_bars", "segment_ids", "rolling_correlation", "rolling_mean_std", "rolling_zscore", "HedgeFit",
    "hedge_ratio_huber", "hedge_ratio_ols", "hedge_ratio_theilsen", "rolling_ols", "ROBUST_REFITS_PER_WINDOW",
    "expanding_hedge", "insample_hedge", "refit_rows", "robust_hedge", "robust_refit_every", "rolling_hedge",
    "kalman_signal", "CAUSAL_HEDGES", "HEDGE_NAMES", "INSAMPLE_HEDGES", "INSAMPLE_LABEL", "causal_hedge",
    "hedge_label", "is_causal", "residual_signal", "residual_zscore", "segment_correlations", "segment_signal",
    "pair_panel", "ADF_SPREAD_LABEL", "AdfResult", "HURST_RANDOM_WALKS", "HURST_RANDOM_WALK_SEED", "HurstResult",
    "MeanReversionReport", "adf_test", "hurst_exponent", "mean_reversion_tests", "tested_rows", "CointResult",
    "CointegrationVerdict", "HEADLINE_RULE", "HacHedgeFit", "cointegration_verdict", "engle_granger_lags",
    "engle_granger_test", "hedge_ratio_hac", "newey_west_lags", "JOHANSEN_LAGGED_DIFFERENCES", "JohansenResult",
    "OSTERWALD_LENUM_TRACE_CONSTANT", "johansen_test", "rank_conclusion", "HALF_LIFE_NO_REVERSION",
    "HalfLifeResult", "half_life", "half_life_interval", "SymbolSummary", "annualisation_factor",
    "correlation_matrix", "hourly_summary", "summary_table", "symbol_summary", "BPS", "Book", "Fill",
    "QUOTE_COLUMNS", "build_book", "fill_order", "BacktestReport", "DAYS_PER_YEAR", "DAY_MS", "MIN_SHARPE_DAYS",
    "MIN_SHARPE_TRADES", "max_drawdown", "sharpe_ratio", "stretch_report", "BACKTEST_HALF_SPREAD_BPS",
    "BACKTEST_SLIPPAGE_BPS", "BacktestParams", "BacktestResult", "EQUITY_COLUMNS", "PARTS", "TRADE_COLUMNS",
    "backtest_zscore",
]
