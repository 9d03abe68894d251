"""The mean-reversion tests in plain language: a verdict per test, the tests table and the headline.

Pure: analytics results in, text out (no Streamlit). A verdict names the strictest significance
level the statistic passes; the headline says whether the spread and the prices agree.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from pairdesk import analytics
from pairdesk.dashboard.data import Settings
from pairdesk.dashboard.formatting import MISSING, format_age

SIGNIFICANCE_LEVELS = ("1%", "5%", "10%")
STRONG_LEVELS = {"1%", "5%"}
HURST_MEAN_REVERTING_BELOW = 0.45
HURST_TRENDING_ABOVE = 0.55


def critical_level(statistic: float, critical_values: Mapping[str, float]) -> str | None:
    """The strictest level ('1%', '5%', '10%') at which ``statistic`` is below its critical value."""
    return next((level for level in SIGNIFICANCE_LEVELS
                 if level in critical_values and statistic < critical_values[level]), None)


def adf_verdict(result: analytics.AdfResult) -> str:
    if result.reason:
        return f"not computed: {result.reason}"
    level = critical_level(result.statistic, result.critical_values)
    if level:
        return f"the spread is stationary at {level}"
    return "the spread is not stationary at 10%: no evidence of mean reversion"


def engle_granger_verdict(result: analytics.CointResult, pair: Sequence[str]) -> str:
    if result.reason:
        return f"not computed: {result.reason}"
    level = critical_level(result.statistic, result.critical_values)
    if level:
        return f"{pair[0]} and {pair[1]} are cointegrated at {level}"
    return f"{pair[0]} and {pair[1]} are not cointegrated at 10%"


def johansen_verdict(result: analytics.JohansenResult) -> str:
    if result.reason:
        return f"not computed: {result.reason}"
    if result.rank_95:
        return f"{result.rank_95} cointegrating relation{'s' * (result.rank_95 > 1)} at 5%"
    return "no cointegrating relation at 5%"


def half_life_verdict(result: analytics.HalfLifeResult, tf_ms: int) -> str:
    if result.reason:
        return f"no half-life: {result.reason}"
    return f"deviations halve in about {result.half_life_bars:.1f} bars ({format_age(result.half_life_bars * tf_ms)})"


def hurst_verdict(result: analytics.HurstResult) -> str:
    if result.reason:
        return f"not computed: {result.reason}"
    if result.hurst < HURST_MEAN_REVERTING_BELOW:
        return "mean-reverting (H < 0.45)"
    if result.hurst > HURST_TRENDING_ABOVE:
        return "trending (H > 0.55)"
    return "close to a random walk (0.45 ≤ H ≤ 0.55)"


def tests_table(report: analytics.MeanReversionReport, s: Settings) -> pd.DataFrame:
    """One row per test: the figures and the plain-language verdict."""
    adf, eg, jo, hl, hu = report.adf, report.engle_granger, report.johansen, report.half_life, report.hurst
    jo_figures = MISSING if jo.reason else ", ".join(
        f"r≤{r}: {stat:.2f} (5% cv {cv[1]:.2f})" for r, (stat, cv) in enumerate(zip(jo.trace_statistics,
                                                                                 jo.critical_values)))
    rows = [
        ("ADF (spread)", MISSING if adf.reason else f"stat {adf.statistic:.3f}, p {adf.pvalue:.4f}, "
                                                   f"5% cv {adf.critical_values.get('5%', math.nan):.3f}",
         adf_verdict(adf)),
        ("Engle-Granger (prices)", MISSING if eg.reason else f"stat {eg.statistic:.3f}, p {eg.pvalue:.4f}, "
                                                           f"5% cv {eg.critical_values.get('5%', math.nan):.3f}",
         engle_granger_verdict(eg, s.pair)),
        ("Johansen trace (prices)", jo_figures, johansen_verdict(jo)),
        ("Half-life (spread)", MISSING if hl.reason else f"{hl.half_life_bars:.2f} bars, b {hl.b:.4g}",
         half_life_verdict(hl, s.tf_ms)),
        ("Hurst exponent (spread)", MISSING if hu.reason else f"H {hu.hurst:.3f}", hurst_verdict(hu)),
    ]
    return pd.DataFrame(rows, columns=["test", "figures", "verdict"])


def headline(report: analytics.MeanReversionReport, s: Settings) -> tuple[str, str]:
    """(kind, text) of the one-line conclusion: success / info / warning."""
    if report.rows == 0:
        return "info", "No finite spread in this window to test: see the notes above the charts."
    if report.adf.reason:
        return "info", f"Not enough data for the tests yet: {report.adf.reason}."
    adf_level = critical_level(report.adf.statistic, report.adf.critical_values)
    eg_level = None if report.engle_granger.reason else critical_level(report.engle_granger.statistic,
                                                                       report.engle_granger.critical_values)
    text = f"{adf_verdict(report.adf).capitalize()}; {engle_granger_verdict(report.engle_granger, s.pair)} " \
           f"(last {report.rows} bars of {s.timeframe})."
    if adf_level in STRONG_LEVELS and eg_level in STRONG_LEVELS:
        return "success", text
    if adf_level in STRONG_LEVELS or eg_level in STRONG_LEVELS:
        return "info", text
    return "warning", text

