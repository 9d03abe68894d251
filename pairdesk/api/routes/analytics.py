"""Statistics of a symbol and of a pair: ``/api/stats``, ``/api/spread``, ``/api/correlation``,
``/api/cointegration`` (``pairdesk.analytics``: the dashboard's and the analytics CLI's numbers)."""
from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query

from pairdesk import analytics
from pairdesk.api.bars import recent_bars
from pairdesk.api.convert import finite, json_safe, records
from pairdesk.api.deps import KnownSymbol, Pair, PairQuery, Reader
from pairdesk.api.errors import ERRORS
from pairdesk.api.params import DEFAULT_LIMIT, MAX_TEST_ROWS, MAX_WINDOW, HedgeParam, LimitParam, Span, TimeframeParam
from pairdesk.api.schemas.analytics import (
    CORRELATION_COLUMNS,
    CointegrationResponse,
    CorrelationResponse,
    SpreadResponse,
)
from pairdesk.api.schemas.market_data import StatsResponse

router = APIRouter(tags=["analytics"], responses=ERRORS)


@router.get("/api/stats/{symbol}", response_model=StatsResponse, summary="Summary statistics of a symbol")
def get_stats(symbol: KnownSymbol, conn: Reader, span: Span, timeframe: TimeframeParam = "1s",
              window: Annotated[int, Query(ge=2, le=MAX_WINDOW, description="how many of the most recent bars "
                                                                           "to summarise")] = 300) -> dict[str, Any]:
    """Last price, mean / std / min / max, annualised volatility, VWAP, volume and trade count of the
    last `window` bars at `timeframe` (in [start, end) when given)."""
    bars = recent_bars(conn, symbol, timeframe, window, span)
    summary = {key: finite(value) if isinstance(value, float) else value
               for key, value in asdict(analytics.symbol_summary(bars, timeframe)).items()}
    return {"symbol": symbol, "timeframe": timeframe, "window": window,
            "first_ms": int(bars["ts_ms"].iloc[0]) if len(bars) else None,
            "last_ms": int(bars["ts_ms"].iloc[-1]) if len(bars) else None,
            **summary}


def pair_echo(query: PairQuery, panel: pd.DataFrame) -> dict[str, Any]:
    """The parameters a pair's panel was computed with, and its length."""
    return {"symbol_a": query.pair[0], "symbol_b": query.pair[1], "timeframe": query.timeframe,
            "window": query.window, "hedge_window": query.hedge_window, "spread": query.spread_kind,
            "max_stale": query.max_stale, "rows_total": len(panel)}


@router.get("/api/spread", response_model=SpreadResponse, summary="Hedge ratio, spread and z-score of a pair")
def get_spread(query: Pair, conn: Reader, hedge: HedgeParam = analytics.DEFAULT_HEDGE,
               limit: LimitParam = DEFAULT_LIMIT) -> dict[str, Any]:
    """`pairdesk.analytics.pair_panel` of the pair: one row per aligned bar with the hedge known before
    the bar (alpha, hedge_ratio), the residual spread, its z-score and the rolling correlations; each
    row uses bars up to it only (ols_insample excepted: `in_sample` says so). Computed on every bar in
    [start, end) (all bars by default, exactly as `python analytics_engine.py` computes them); the
    response holds the last `limit` rows."""
    panel = query.panel(conn, hedge)
    return {**pair_echo(query, panel), "hedge": hedge, "in_sample": not analytics.is_causal(hedge),
            "rows": records(panel.tail(limit))}


@router.get("/api/correlation", response_model=CorrelationResponse, summary="Correlation of a pair")
def get_correlation(query: Pair, conn: Reader, limit: LimitParam = DEFAULT_LIMIT) -> dict[str, Any]:
    """Rolling `window`-bar correlation of the aligned closes and of their log returns (the last
    `limit` rows), and both correlations over all aligned rows in [start, end)."""
    panel = query.panel(conn)
    returns = panel[["price_a", "price_b"]].apply(analytics.log_returns)
    return {**pair_echo(query, panel),
            "price_correlation": finite(panel["price_a"].corr(panel["price_b"])),
            "return_correlation": finite(returns["price_a"].corr(returns["price_b"])),
            "rows": records(panel[CORRELATION_COLUMNS].tail(limit))}


@router.get("/api/cointegration", response_model=CointegrationResponse, summary="Mean-reversion tests of a pair")
def get_cointegration(
    query: Pair, conn: Reader, hedge: HedgeParam = analytics.DEFAULT_HEDGE,
    rows: Annotated[int, Query(ge=analytics.MIN_ROWS_FOR_TESTS, le=MAX_TEST_ROWS,
                               description="run the tests on this many of the most recent aligned bars")
                    ] = analytics.HEAVY_TEST_WINDOW_ROWS,
) -> dict[str, Any]:
    """The headline "cointegrated at 5 %?" on the last `rows` aligned bars of the last contiguous stretch
    of the /api/spread panel: `cointegrated` and `p_value` are Engle-Granger's (price_a on [1, price_b],
    MacKinnon p-value), `johansen` the second opinion (trace test, constant in the relation), `beta_hac`
    the regression's hedge with Newey-West errors, `half_life` the AR(1) half-life of its residual (null
    unless significant). `adf` and `hurst` are details of the chosen `hedge`'s spread, not tests of
    cointegration. A figure is null when its `reason` says why it could not be computed."""
    panel = query.panel(conn, hedge)
    report = analytics.mean_reversion_tests(panel, rows)
    verdict = report.verdict
    tested = analytics.tested_rows(panel, rows)
    half_life = json_safe(asdict(verdict.half_life))
    bars = half_life["half_life_bars"]
    half_life["half_life_s"] = None if bars is None else bars * analytics.timeframe_ms(query.timeframe) / 1000
    return {"symbol_a": query.pair[0], "symbol_b": query.pair[1], "timeframe": query.timeframe, "hedge": hedge,
            "hedge_ratio": finite(tested["hedge_ratio"].iloc[-1]) if len(tested) else None, "rows": report.rows,
            "spread_rows": report.spread_rows, "cointegrated": verdict.cointegrated, "p_value": finite(verdict.p_value), "level": verdict.level,
            "nobs": verdict.nobs, "johansen_agrees": verdict.johansen_agrees, "rule": verdict.rule,
            "reason": verdict.reason, "beta_hac": json_safe(asdict(verdict.hedge)),
            "adf": {"label": analytics.ADF_SPREAD_LABEL, **json_safe(asdict(report.adf))},
            "engle_granger": json_safe(asdict(verdict.engle_granger)), "half_life": half_life,
            "johansen": json_safe(asdict(verdict.johansen)), "hurst": json_safe(asdict(report.hurst))}
