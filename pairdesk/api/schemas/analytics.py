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
    label: str = Field(description="what this ADF is and is not: a detail of the chosen spread")
    statistic: float | None
    pvalue: float | None
    lags_used: int | None
    nobs: int | None
    critical_values: dict[str, float]
    reason: str | None


class EngleGrangerOut(Model):
    statistic: float | None
    pvalue: float | None = Field(description="MacKinnon p-value for the residual of an estimated regression")
    critical_values: dict[str, float]
    nobs: int | None
    lags: int | None = Field(description="the ADF's lagged differences: floor(4 (n/100)^(1/4))")
    reason: str | None


class JohansenOut(Model):
    trace_statistics: list[float]
    critical_values: list[list[float]] = Field(description="per rank: 90%, 95%, 99% (Osterwald-Lenum, constant "
                                                           "restricted to the relation)")
    eigenvalues: list[float]
    rank_95: int | None = Field(description="0: no relation, 1: one cointegrating relation, 2 (of 2 series): both "
                                            "series stationary on their own")
    nobs: int | None
    lags: int = Field(description="lagged differences in the VECM")
    deterministic: str
    conclusion: str | None = Field(description="the rank in words")
    reason: str | None


class HalfLifeOut(Model):
    half_life_bars: float | None = Field(description="-ln 2 / b of the Engle-Granger residual's AR(1) fit; null "
                                                     "unless b < 0 significantly at 5% (MacKinnon)")
    half_life_s: float | None
    b: float | None
    a: float | None
    b_stderr: float | None
    t_statistic: float | None
    p_value: float | None = Field(description="MacKinnon p-value of b's t-statistic (residual of a 2-price regression)")
    ci_low_bars: float | None = Field(description="95% interval of the half-life from b's standard error")
    ci_high_bars: float | None = Field(description="null when open-ended (b's interval reaches 0) or not computed")
    significant: bool | None
    level: float
    nobs: int | None = Field(description="differences fitted (rows - 1)")
    reason: str | None


class HurstOut(Model):
    hurst: float | None
    ci_low: float | None = Field(description="H - 1.96 sd, sd of this estimator on seeded random walks of this length")
    ci_high: float | None
    random_walk_mean: float | None = Field(description="the estimator's mean on random walks of this length")
    level: float
    lags: list[int]
    nobs: int | None
    reason: str | None


class HacBetaOut(Model):
    beta: float | None
    alpha: float | None
    beta_stderr: float | None = Field(description="Newey-West (Bartlett, hac_lags lags) standard error")
    alpha_stderr: float | None
    ci_low: float | None = Field(description="beta - 1.96 se")
    ci_high: float | None
    level: float
    hac_lags: int | None = Field(description="floor(4 (n/100)^(2/9))")
    nobs: int | None
    reason: str | None


class CointegrationResponse(Model):
    symbol_a: str
    symbol_b: str
    timeframe: str
    hedge: str
    hedge_ratio: float | None = Field(description="the hedge ratio of the last row tested")
    rows: int = Field(description="aligned rows the tests ran on (the most recent of the last contiguous stretch)")
    spread_rows: int = Field(description="of them, rows with a finite spread: the ADF and Hurst details' sample")
    cointegrated: bool | None = Field(description="the headline: Engle-Granger rejects 'no cointegration' at `level`; "
                                                  "null when not computable (`reason`)")
    p_value: float | None = Field(description="Engle-Granger's MacKinnon p-value (cointegrated = p_value < level)")
    level: float
    nobs: int = Field(description="rows the verdict used")
    johansen_agrees: bool | None = Field(description="Johansen's rank says the same (1 if cointegrated, 0 if not)")
    rule: str
    reason: str | None
    beta_hac: HacBetaOut = Field(description="OLS hedge of the Engle-Granger regression with Newey-West errors")
    adf: AdfOut = Field(description="detail: ADF of the chosen spread with Dickey-Fuller critical values (see label)")
    engle_granger: EngleGrangerOut = Field(description="Engle-Granger of price_a on price_b: p < 0.05 = cointegrated")
    half_life: HalfLifeOut
    johansen: JohansenOut
    hurst: HurstOut = Field(description="detail: Hurst exponent of the chosen spread, not a test of cointegration")
