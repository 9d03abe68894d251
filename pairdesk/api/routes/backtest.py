"""``/api/backtest``: the walk-forward z-score backtest of a pair (``analytics.backtest_zscore``) on
the ``/api/spread`` panel, with its rules and costs as parameters."""
from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query

from pairdesk import analytics, quote_data, store
from pairdesk.api.convert import json_safe, records
from pairdesk.api.deps import Pair, Reader
from pairdesk.api.errors import ERRORS, unprocessable
from pairdesk.api.params import HedgeParam
from pairdesk.api.routes.analytics import pair_echo
from pairdesk.api.schemas.backtest import BacktestResponse
from pairdesk.markets import FUTURES

router = APIRouter(tags=["analytics"], responses=ERRORS)

DEFAULTS = analytics.BacktestParams()
MAX_Z = 100.0
MAX_BPS = 10_000.0


def z_level(description: str) -> Any:
    """A z threshold query parameter: 0 .. MAX_Z."""
    return Query(ge=0, le=MAX_Z, description=description)


def bps(description: str) -> Any:
    """A cost query parameter in basis points: 0 <= value < MAX_BPS."""
    return Query(ge=0, lt=MAX_BPS, description=description)


@router.get("/api/backtest", response_model=BacktestResponse, summary="Walk-forward z-score backtest of a pair")
def get_backtest(
    query: Pair, conn: Reader, hedge: HedgeParam = "rolling",
    entry: Annotated[float, z_level(description="enter at |z| >= entry (short above +entry, long below -entry)")
                     ] = DEFAULTS.entry,
    exit: Annotated[float, z_level(description="exit once z is back inside ±exit (0 <= exit < entry)")
                    ] = DEFAULTS.exit,
    stop: Annotated[float, z_level(description="stop out at |z| >= stop (stop > entry)")] = DEFAULTS.stop,
    fee_bps: Annotated[float, bps(description="fee, bps of the filled notional per leg per fill")] = DEFAULTS.fee_bps,
    slippage_bps: Annotated[float, bps(description="slippage beyond the bid / ask, bps, against the trader")
                            ] = DEFAULTS.slippage_bps,
    half_spread_bps: Annotated[float, bps(description="half the bid-ask spread, bps of the last price (fills "
                                                      "without quote bars)")] = DEFAULTS.half_spread_bps,
    oos_fraction: Annotated[float | None, Query(gt=0, lt=1, description="report the last share of the bars "
                                                                       "apart as out-of-sample (e.g. 0.3)")] = None,
) -> dict[str, Any]:
    """The `/api/spread` panel of the pair (every bar in [start, end), causal hedge) traded on its
    z-score: a signal on bar t fills at bar t+1, at the bid / ask of both legs' quote bars standing at
    that bar's close where the database holds them (each trade's `fills` says "quotes", "model" or
    "mixed"), otherwise at the last price ± `half_spread_bps`; plus `slippage_bps` and `fee_bps` per
    leg per fill; on USD-M futures every settlement held pays or earns funding (-rate * qty * mark,
    in `funding`); 1 unit of A against beta units of B, beta fixed at entry; no position is held
    across a hole in the data or the in-sample / out-of-sample split.
    Returns gross P&L, each cost, net P&L, turnover, hit rate, maximum drawdown (largest
    peak-to-trough fall of the equity curve, as a fraction of the peak) and a Sharpe ratio only on at
    least 30 days of bars and 20 trades (otherwise null, with `sharpe_reason`), and every trade.
    422 for entry <= exit, stop <= entry, negative costs or a hedge fitted on the whole sample."""
    if hedge in analytics.INSAMPLE_HEDGES:
        raise unprocessable(f"hedge {hedge!r} is fitted on the whole sample (uses future bars): backtest a causal "
                            f"hedge, e.g. rolling or kalman")
    try:
        params = analytics.BacktestParams(entry, exit, stop, fee_bps, slippage_bps, half_spread_bps, oos_fraction)
    except ValueError as exc:
        raise unprocessable(str(exc)) from None
    panel = query.panel(conn, hedge)
    legs = quote_data.read_pair_quotes(conn, query.pair, panel, query.timeframe)
    funding = None
    if store.read_metadata(conn).get("market") == FUTURES:
        start, end = quote_data.panel_span(panel, query.timeframe)
        funding = tuple(store.read_funding(conn, symbol, start, end) for symbol in query.pair)
    result = analytics.backtest_zscore(panel, query.timeframe, **params.as_kwargs(),
                                       quotes=quote_data.backtest_quotes(panel, legs, query.timeframe),
                                       funding=funding)
    halves = {name: None if part is None else json_safe(asdict(part))
              for name, part in (("in_sample", result.in_sample), ("out_of_sample", result.out_of_sample))}
    return {**pair_echo(query, panel), "hedge": hedge, "rules": params.as_kwargs(), "capital": result.capital,
            "report": json_safe(asdict(result.report)), **halves, "reason": result.reason,
            "trades": json_safe(records(result.trades))}
