"""The tests of mean reversion in plain language: the headline, the tests table and a verdict per row.

Pure: analytics results in, text out (no Streamlit). The headline is the cointegration verdict
(Engle-Granger at 5 %, Johansen beside it) with its sample size; the ADF and the Hurst exponent of
the chosen spread are details, labelled as such, and never speak of mean reversion on their own.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from pairdesk import analytics
from pairdesk.dashboard.data import Settings
from pairdesk.dashboard.formatting import MISSING, format_age, format_count

SIGNIFICANCE_LEVELS = ("1%", "5%", "10%")
TABLE_COLUMNS = ["test", "n", "figures", "verdict"]
DETAIL = "a detail of the chosen spread, not a test of cointegration"


def critical_level(statistic: float, critical_values: Mapping[str, float]) -> str | None:
    """The strictest level ('1%', '5%', '10%') at which ``statistic`` is below its critical value."""
    return next((level for level in SIGNIFICANCE_LEVELS
                 if level in critical_values and statistic < critical_values[level]), None)


def _bars(value: float) -> str:
    """A number of bars to three significant figures; ∞ for an open-ended interval."""
    return "∞" if math.isinf(value) else f"{value:.3g}"


def _p(p_value: float) -> str:
    return "< 0.0001" if p_value < 1e-4 else f"{p_value:.4f}"


def engle_granger_verdict(verdict: analytics.CointegrationVerdict, pair: Sequence[str]) -> str:
    if verdict.cointegrated is None:
        return f"not computed: {verdict.reason}"
    said = "are cointegrated" if verdict.cointegrated else "are not cointegrated"
    return f"{pair[0]} and {pair[1]} {said} at {verdict.level:.0%} (p {_p(verdict.p_value)})"


def johansen_verdict(result: analytics.JohansenResult) -> str:
    if result.reason:
        return f"not computed: {result.reason}"
    return f"{result.conclusion} at 5%"


def hedge_verdict(hedge: analytics.HacHedgeFit, cointegrated: bool | None) -> str:
    if hedge.reason:
        return f"not computed: {hedge.reason}"
    if cointegrated:
        return "the cointegrating regression's hedge; the interval is optimistic when the residual is persistent"
    return "a spurious regression when the prices are not cointegrated: β's interval means nothing here"


def half_life_verdict(result: analytics.HalfLifeResult, tf_ms: int) -> str:
    if not math.isfinite(result.half_life_bars):
        return result.reason if result.significant is False else f"no half-life: {result.reason}"
    return (f"deviations halve in about {_bars(result.half_life_bars)} bars "
            f"({format_age(result.half_life_bars * tf_ms)}); "
            f"95% interval {_bars(result.ci_low_bars)} to {_bars(result.ci_high_bars)} bars")


def adf_verdict(result: analytics.AdfResult) -> str:
    if result.reason:
        return f"not computed: {result.reason}"
    level = critical_level(result.statistic, result.critical_values)
    said = f"unit root rejected at {level}" if level else "unit root not rejected at 10%"
    return f"{said} by Dickey-Fuller's critical values ({DETAIL})"


def hurst_verdict(result: analytics.HurstResult, cointegrated: bool | None) -> str:
    """Which way H leans against random walks of the same length, and that the headline decides."""
    if result.reason:
        return f"not computed: {result.reason}"
    if result.ci_high < result.random_walk_mean:
        lean = "the spread's moves anti-persist (H below random walks of this length)"
    elif result.ci_low > result.random_walk_mean:
        lean = "the spread's moves persist (H above random walks of this length)"
    else:
        lean = "the spread's moves are consistent with a random walk"
    headline = {True: "cointegrated", False: "not cointegrated", None: "not computed"}[cointegrated]
    return f"{lean}; {DETAIL}: the headline (Engle-Granger) says {headline}"


def _figures(report: analytics.MeanReversionReport) -> list[str]:
    """The figures column, row by row in the table's order."""
    eg, jo, hedge, hl, adf, hu = (report.engle_granger, report.johansen, report.hedge, report.half_life, report.adf,
                                  report.hurst)
    return [
        MISSING if eg.reason else f"stat {eg.statistic:.3f}, p {_p(eg.pvalue)}, 5% cv "
                                  f"{eg.critical_values.get('5%', math.nan):.3f}, {eg.lags} lags",
        MISSING if jo.reason else ", ".join(f"r≤{r}: {stat:.2f} (5% cv {cv[1]:.2f})" for r, (stat, cv) in
                                            enumerate(zip(jo.trace_statistics, jo.critical_values))),
        MISSING if hedge.reason else f"β {hedge.beta:.6g}, 95% CI {hedge.ci_low:.6g} to {hedge.ci_high:.6g} "
                                     f"(Newey-West se {hedge.beta_stderr:.3g}, {hedge.hac_lags} lags)",
        MISSING if math.isnan(hl.b) else (f"{hl.half_life_bars:.2f} bars, " if math.isfinite(hl.half_life_bars) else "")
        + f"b {hl.b:.4g} (se {hl.b_stderr:.3g}, t {hl.t_statistic:.2f}, MacKinnon p {hl.p_value:.4f})",
        MISSING if adf.reason else f"stat {adf.statistic:.3f}, p {adf.pvalue:.4f}, "
                                   f"5% cv {adf.critical_values.get('5%', math.nan):.3f}",
        MISSING if hu.reason else f"H {hu.hurst:.3f}, 95% CI {hu.ci_low:.3f} to {hu.ci_high:.3f} (random walks of "
                                  f"this length: {hu.random_walk_mean:.3f}; lags {hu.lags[0]}-{hu.lags[-1]})",
    ]


def tests_table(report: analytics.MeanReversionReport, s: Settings) -> pd.DataFrame:
    """One row per test: what it is, its sample size n (rows of prices for the verdict's four, rows of
    finite spread for the two details), its figures and its plain-language verdict."""
    v = report.verdict
    rows = zip(
        ["Engle-Granger (the headline)", "Johansen trace, constant in the relation", "Hedge β, Newey-West",
         "Half-life of the Engle-Granger residual", analytics.ADF_SPREAD_LABEL, "Hurst exponent of the spread (detail)"],
        _figures(report),
        [engle_granger_verdict(v, s.pair), johansen_verdict(v.johansen), hedge_verdict(v.hedge, v.cointegrated),
         half_life_verdict(v.half_life, s.tf_ms), adf_verdict(report.adf), hurst_verdict(report.hurst, v.cointegrated)],
    )
    sizes = [v.nobs] * 4 + [report.spread_rows] * 2
    return pd.DataFrame([(test, n, figures, verdict) for (test, figures, verdict), n in zip(rows, sizes)],
                        columns=TABLE_COLUMNS)


def _johansen_clause(v: analytics.CointegrationVerdict) -> str:
    jo = v.johansen
    if jo.reason:
        return f"Johansen not computed ({jo.reason})"
    if v.johansen_agrees:
        return f"Johansen's trace test agrees ({jo.conclusion})"
    if v.cointegrated:
        return f"Johansen's trace test does not confirm it ({jo.conclusion})"
    return f"Johansen's trace test alone finds more ({jo.conclusion}); the headline follows Engle-Granger"


def headline(report: analytics.MeanReversionReport, s: Settings) -> tuple[str, str]:
    """(kind, text) of the one-line conclusion: success / info / warning. Always says n."""
    if report.rows == 0:
        return "info", "No finite spread in this window to test: see the notes above the charts."
    v = report.verdict
    n = f"n = {format_count(v.nobs)} bars of {s.timeframe}"
    if v.cointegrated is None:
        return "info", f"Cointegration not computed: {v.reason} ({n})."
    said = "cointegrated" if v.cointegrated else "not cointegrated"
    text = (f"{s.pair[0]} and {s.pair[1]} are {said} at {v.level:.0%}: Engle-Granger p {_p(v.p_value)} "
            f"(MacKinnon's critical values, {n}); {_johansen_clause(v)}.")
    if math.isfinite(v.half_life.half_life_bars):
        text += f" Half-life {_bars(v.half_life.half_life_bars)} bars (95% interval {_bars(v.half_life.ci_low_bars)} " \
                f"to {_bars(v.half_life.ci_high_bars)})."
    if v.cointegrated:
        return ("success" if v.johansen_agrees else "info"), text
    return ("warning" if v.johansen_agrees else "info"), text
