"""The dashboard's words for the tests: the headline is the cointegration verdict with its n, details
are labelled, and nothing says "mean-reverting" beside a "not cointegrated" headline."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.signal import lfilter

from pairdesk import analytics
from pairdesk.dashboard import verdicts
from pairdesk.dashboard.data import Settings

SETTINGS = Settings("BTCUSDT", "ETHUSDT", "1s", "15m", 60, 2.0, "ols", "UTC", None)
N = 2_000


def report_of(price_a: np.ndarray, price_b: np.ndarray, spread: np.ndarray | None = None
              ) -> analytics.MeanReversionReport:
    panel = pd.DataFrame({"price_a": price_a, "price_b": price_b})
    panel["spread"] = price_a - 2 * price_b if spread is None else spread
    return analytics.mean_reversion_tests(panel)


def walk(seed: int) -> np.ndarray:
    return 100 + np.cumsum(np.random.default_rng(seed).standard_normal(N))


def ar1(seed: int, phi: float) -> np.ndarray:
    return lfilter([1.0], [1.0, -phi], np.random.default_rng(seed).standard_normal(N))


@pytest.fixture(scope="module")
def cointegrated() -> analytics.MeanReversionReport:
    b = walk(1)
    return report_of(5 + 2 * b + ar1(2, 0.95), b)


@pytest.fixture(scope="module")
def independent() -> analytics.MeanReversionReport:
    """Independent walks whose 'chosen spread' is a fast AR(1), as a short rolling hedge makes it look."""
    return report_of(walk(3), walk(4), spread=ar1(5, 0.3))


def test_headline_of_a_cointegrated_pair_names_both_tests_the_half_life_and_n(cointegrated):
    """Success, Engle-Granger's p, Johansen agreeing, the half-life with its interval, and n."""
    kind, text = verdicts.headline(cointegrated, SETTINGS)
    assert kind == "success" and cointegrated.verdict.cointegrated
    assert text.startswith("BTCUSDT and ETHUSDT are cointegrated at 5%: Engle-Granger p ")
    assert "n = 2,000 bars of 1s" in text and "Johansen's trace test agrees (rank 1" in text
    assert "Half-life " in text and "95% interval" in text


def test_not_cointegrated_never_sits_beside_mean_reverting(independent):
    """Independent walks: 'not cointegrated' headline; the anti-persistent Hurst and the rejecting ADF of
    the spread are labelled details that name the headline; no text says 'mean-reverting'."""
    kind, text = verdicts.headline(independent, SETTINGS)
    table = verdicts.tests_table(independent, SETTINGS)
    assert kind in {"warning", "info"} and "are not cointegrated at 5%" in text and "n = 2,000" in text
    words = " ".join([text, *table["test"], *table["figures"], *table["verdict"]]).lower()
    assert "mean-reverting" not in words and "half-life " not in text.lower()
    hurst = table.set_index("test").loc["Hurst exponent of the spread (detail)", "verdict"]
    assert "anti-persist" in hurst and "the headline (Engle-Granger) says not cointegrated" in hurst
    adf = table.set_index("test").loc[analytics.ADF_SPREAD_LABEL, "verdict"]
    assert adf.startswith("unit root rejected") and "not a test of cointegration" in adf
    assert table.set_index("test").loc["Half-life of the Engle-Granger residual", "verdict"].startswith(
        "no significant mean reversion")


def test_every_row_shows_its_n_and_the_details_are_labelled(cointegrated):
    """Six rows in order, each with n = the tested rows; the ADF row carries the full label."""
    table = verdicts.tests_table(cointegrated, SETTINGS)
    assert list(table.columns) == ["test", "n", "figures", "verdict"]
    assert list(table["test"]) == ["Engle-Granger (the headline)", "Johansen trace, constant in the relation",
                                   "Hedge β, Newey-West", "Half-life of the Engle-Granger residual",
                                   ("ADF of the spread, Dickey-Fuller critical values: not a cointegration test when "
                                    "the hedge was estimated from the same data"), "Hurst exponent of the spread (detail)"]
    assert set(table["n"]) == {N}


def test_headline_without_data_or_with_too_few_rows_says_so():
    """No rows: an info pointing at the notes; 10 rows: 'not computed' with the reason and n."""
    empty = analytics.mean_reversion_tests(pd.DataFrame({"price_a": [], "price_b": [], "spread": []}))
    assert verdicts.headline(empty, SETTINGS)[0] == "info"
    kind, text = verdicts.headline(report_of(walk(6)[:10], walk(7)[:10]), SETTINGS)
    assert kind == "info" and text == "Cointegration not computed: need at least 20 rows, have 10 (n = 10 bars of 1s)."


def test_johansen_full_rank_is_worded_as_stationary_series():
    """Rank 2 of 2 reads 'both series are stationary on their own', never 'two cointegrating relations'."""
    result = analytics.johansen_test(np.column_stack([100 + ar1(8, 0.5), 100 + ar1(9, 0.5)]))
    assert verdicts.johansen_verdict(result) == ("rank 2: both series are stationary on their own "
                                                 "(not 2 cointegrating relations) at 5%")
