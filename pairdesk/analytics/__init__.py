"""Pairs-trading statistics on pandas objects: bars, alignment in time, causal hedges, the residual
spread and its z-score, correlations, tests of mean reversion, summaries, a walk-forward backtest, and
what a pair costs to trade (quoted spreads, the executable spread, the round trip, funding carry).

Pure: DataFrames and arrays in, DataFrames, arrays and small frozen dataclasses out; no I/O, no
asyncio, sqlite3 or streamlit. The CSV export CLI lives in ``pairdesk.analytics_cli``.

Conventions
-----------
* Times are integers, UTC epoch milliseconds. A bar is labelled by its start.
* ``price_a`` is the dependent leg: hedges regress ``price_a`` on [1, ``price_b``], and the spread
  is the residual price_a - alpha - hedge_ratio * price_b with (alpha, hedge_ratio) known before the
  bar (see ``pairdesk.analytics.signal``); every value of bar t uses bars up to t only, except the
  research hedge ``ols_insample``, labelled "in-sample: uses future bars".
* Trailing windows are counted in rows of one contiguous segment and include the current row; a
  rolling statistic is NaN until ``window`` rows are available, and NaN whenever its window holds a NaN.
* NaN in an output means "not defined here" (too few rows, zero variance, missing input);
  statistical tests return a result object whose ``reason`` says why a figure is missing
  (``reason is None`` means every figure was computed).

The README section "Analytics definitions" documents every formula; keep the two in step.

Modules, one idea each: ``common`` (constants, timeframes), ``bars`` (bars, alignment in time,
segments), ``rolling`` (exact rolling moments), ``hedges`` (static and rolling fits),
``causal_hedge`` (the hedge known before each bar), ``kalman`` (the Kalman hedge), ``signal`` (the
residual and its z-score), ``panel`` (the pair table every view uses); the tests of mean reversion
``inputs``, ``cointegration`` (the headline verdict), ``johansen``, ``half_life``,
``mean_reversion``; ``summaries``; the backtest ``fills``, ``backtest_report``, ``backtest``; what a
pair costs to trade: ``quotes`` (quote bars at a timeframe, a pair's quotes on its panel), ``costs``
(quoted and executable spreads, the round trip), ``funding`` (the funding carry of perpetuals); the
pair scanner: ``engle_granger_fast`` (Engle-Granger in closed form), ``fdr`` (Benjamini-Hochberg),
``scan`` (every pair's figures), ``scan_rank`` (false-discovery control and rank), ``blas_threads``.
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
from pairdesk.analytics.bars import (
    align_closes,
    align_pair,
    bars_from_trades,
    log_returns,
    resample_bars,
    segment_ids,
)
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
from pairdesk.analytics.costs import (
    COST_COLUMNS,
    pair_costs,
)
from pairdesk.analytics.engle_granger_fast import engle_granger_fast
from pairdesk.analytics.fdr import benjamini_hochberg
from pairdesk.analytics.fills import (
    BPS,
    QUOTE_COLUMNS,
    Book,
    Fill,
    Fills,
    at_touch,
    build_book,
    fill_order,
    fill_orders,
)
from pairdesk.analytics.funding import (
    CARRY_COLUMNS,
    EXPECTED_CARRY_COLUMNS,
    FUNDING_INTERVAL_MS,
    expected_carry_per_day,
    funding_carry,
    funding_payment,
    held_settlements,
    settlement_interval_ms,
    settlement_marks,
)
from pairdesk.analytics.half_life import (
    HALF_LIFE_NO_REVERSION,
    HalfLifeResult,
    half_life,
    half_life_interval,
)
from pairdesk.analytics.hedges import (
    HedgeFit,
    hedge_ratio_huber,
    hedge_ratio_ols,
    hedge_ratio_theilsen,
    rolling_ols,
)
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
from pairdesk.analytics.kalman import (
    VARIANCE_MEMORY_BARS,
    kalman_signal,
)
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
from pairdesk.analytics.panel import (
    pair_panel,
    pair_panel_since,
)
from pairdesk.analytics.quotes import (
    PAIR_QUOTE_FIELDS,
    QUOTE_1S_COLUMNS,
    QUOTE_BAR_COLUMNS,
    pair_quotes,
    quote_bars_at,
    spread_bps,
)
from pairdesk.analytics.rolling import (
    rolling_correlation,
    rolling_mean_std,
    rolling_zscore,
)
from pairdesk.analytics.scan import SCAN_FIGURE_COLUMNS, PairSignal, Universe, build_universe, scan_pair, scan_pairs
from pairdesk.analytics.scan_rank import SCAN_COLUMNS, RankParams, rank_scan
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
    warmup_rows,
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
    "engle_granger_fast", "benjamini_hochberg", "SCAN_FIGURE_COLUMNS", "PairSignal", "Universe", "build_universe",
    "scan_pair", "scan_pairs", "SCAN_COLUMNS", "RankParams", "rank_scan",
    "BACKTEST_HALF_SPREAD_BPS", "BACKTEST_SLIPPAGE_BPS", "EQUITY_COLUMNS", "PARTS", "TRADE_COLUMNS",
    "BacktestParams", "BacktestResult", "backtest_zscore", "DAYS_PER_YEAR", "DAY_MS", "MIN_SHARPE_DAYS",
    "MIN_SHARPE_TRADES", "BacktestReport", "max_drawdown", "sharpe_ratio", "stretch_report", "align_closes",
    "align_pair", "bars_from_trades", "log_returns", "resample_bars", "segment_ids", "ROBUST_REFITS_PER_WINDOW",
    "expanding_hedge", "insample_hedge", "refit_rows", "robust_hedge", "robust_refit_every", "rolling_hedge",
    "HEADLINE_RULE", "CointResult", "CointegrationVerdict", "HacHedgeFit", "cointegration_verdict",
    "engle_granger_lags", "engle_granger_test", "hedge_ratio_hac", "newey_west_lags", "BACKTEST_ENTRY_Z",
    "BACKTEST_EXIT_Z", "BACKTEST_FEE_BPS", "BACKTEST_STOP_Z", "BAR_COLUMNS", "CLI_COLUMNS", "DEFAULT_HEDGE",
    "DEFAULT_HEDGE_WINDOW_ROWS", "DEFAULT_MAX_STALE_S", "DEFAULT_WINDOW_ROWS", "HEAVY_TEST_WINDOW_ROWS",
    "HEDGE_METHODS", "HOUR_MS", "HURST_MAX_LAG", "MIN_ROWS_FOR_FIT", "MIN_ROWS_FOR_TESTS", "PANEL_COLUMNS",
    "SECONDS_PER_YEAR", "SPREAD_KINDS", "THEILSEN_MAX_ROWS", "TIMEFRAME_MS", "ZERO_STD_RTOL", "Hedge",
    "timeframe_ms", "COST_COLUMNS", "pair_costs", "BPS", "QUOTE_COLUMNS", "Book", "Fill", "Fills", "at_touch",
    "build_book", "fill_order", "fill_orders", "CARRY_COLUMNS", "EXPECTED_CARRY_COLUMNS", "FUNDING_INTERVAL_MS",
    "expected_carry_per_day", "funding_carry", "funding_payment", "held_settlements", "settlement_interval_ms",
    "settlement_marks", "HALF_LIFE_NO_REVERSION",
    "HalfLifeResult", "half_life", "half_life_interval", "HedgeFit", "hedge_ratio_huber", "hedge_ratio_ols",
    "hedge_ratio_theilsen", "rolling_ols", "SIGNIFICANCE_LEVEL", "critical_values", "normal_quantile",
    "pair_input", "run_test", "series_input", "JOHANSEN_LAGGED_DIFFERENCES", "OSTERWALD_LENUM_TRACE_CONSTANT",
    "JohansenResult", "johansen_test", "rank_conclusion", "VARIANCE_MEMORY_BARS", "kalman_signal",
    "ADF_SPREAD_LABEL", "HURST_RANDOM_WALKS", "HURST_RANDOM_WALK_SEED", "AdfResult", "HurstResult",
    "MeanReversionReport", "adf_test", "hurst_exponent", "mean_reversion_tests", "tested_rows", "pair_panel",
    "pair_panel_since", "PAIR_QUOTE_FIELDS", "QUOTE_1S_COLUMNS", "QUOTE_BAR_COLUMNS", "pair_quotes",
    "quote_bars_at", "spread_bps", "rolling_correlation", "rolling_mean_std", "rolling_zscore", "CAUSAL_HEDGES",
    "HEDGE_NAMES", "INSAMPLE_HEDGES", "INSAMPLE_LABEL", "causal_hedge", "hedge_label", "is_causal",
    "residual_signal", "residual_zscore", "segment_correlations", "segment_signal", "warmup_rows",
    "SymbolSummary", "annualisation_factor", "correlation_matrix", "hourly_summary", "summary_table",
    "symbol_summary",
]
