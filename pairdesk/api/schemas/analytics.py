"""Models of a pair's analytics (``/api/spread``, ``/api/correlation``, ``/api/cointegration``)."""
from __future__ import annotations

from pydantic import Field

from pairdesk.api.schemas.base import Model


class SpreadRow(Model):
    ts_ms: int = Field(description="bar start, UTC ms")
    price_a: float
    price_b: float
    hedge_ratio: float | None
    spread: float | None = Field(description="the residual price_a - alpha - hedge_ratio * price_b")
    zscore: float | None = Field(description="the residual against the same hedge's residuals over the window "
                                             "ending at this bar (null until the window fills)")
    corr: float | None = Field(description="trailing-window correlation of the prices")
    alpha: float | None = Field(description="the intercept of the hedge known before this bar")
    return_corr: float | None = Field(description="trailing-window correlation of the log returns")
    spread_bps: float | None = Field(description="the spread in basis points of leg A")
    segment: int = Field(description="the contiguous stretch of data of this bar; windows restart at a new one")


class PairEcho(Model):
    symbol_a: str
    symbol_b: str
    timeframe: str
    window: int
    hedge_window: int
    spread: str
    max_stale: float = Field(description="seconds a close is carried forward")
    rows_total: int = Field(description="aligned bars computed (the response holds the last `limit`)")


class SpreadResponse(PairEcho):
    hedge: str
    in_sample: bool = Field(description="true for ols_insample: fitted on every row, it uses future bars")
    rows: list[SpreadRow]


class CorrelationRow(Model):
    ts_ms: int
    price_a: float
    price_b: float
    corr: float | None
    return_corr: float | None


# The panel columns of /api/correlation and /api/export/correlation.csv, in this order.
CORRELATION_COLUMNS = list(CorrelationRow.model_fields)


class CorrelationResponse(PairEcho):
    price_correlation: float | None = Field(description="Pearson correlation of the aligned closes, all rows")
    return_correlation: float | None = Field(description="Pearson correlation of their log returns, all rows")
    rows: list[CorrelationRow]


class AdfOut(Model):
    statistic: float | None
    pvalue: float | None
    lags_used: int | None
    nobs: int | None
    critical_values: dict[str, float]
    reason: str | None


class EngleGrangerOut(Model):
    statistic: float | None
    pvalue: float | None
    critical_values: dict[str, float]
    nobs: int | None
    reason: str | None


class JohansenOut(Model):
    trace_statistics: list[float]
    critical_values: list[list[float]] = Field(description="per rank: 90%, 95%, 99%")
    eigenvalues: list[float]
    rank_95: int | None
    nobs: int | None
    reason: str | None


class HalfLifeOut(Model):
    half_life_bars: float | None
    half_life_s: float | None
    b: float | None
    a: float | None
    nobs: int | None
    reason: str | None


class HurstOut(Model):
    hurst: float | None
    lags: list[int]
    reason: str | None


class CointegrationResponse(Model):
    symbol_a: str
    symbol_b: str
    timeframe: str
    hedge: str
    hedge_ratio: float | None = Field(description="the hedge ratio of the last row tested")
    rows: int = Field(description="aligned rows the tests ran on (the most recent)")
    adf: AdfOut = Field(description="ADF of the spread: p < 0.05 rejects a unit root (mean-reverting)")
    engle_granger: EngleGrangerOut = Field(description="Engle-Granger of price_a on price_b: p < 0.05 = cointegrated")
    half_life: HalfLifeOut
    johansen: JohansenOut
    hurst: HurstOut
