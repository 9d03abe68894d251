"""The model's universe: any number of symbols, some planted in cointegrated pairs with known
half-lives, the rest independent; the planted pairs are listed in /sim/stats."""
from __future__ import annotations

import httpx
import numpy as np

from pairdesk.sim.model import PAIR_HALF_LIFE_S, PLANTED_HALF_LIVES_S, planted_pairs
from pairdesk.sim.server import ExchangeSim
from pairdesk.sim.thread_runner import run_in_thread

UNIVERSE = ["BTCUSDT", "ETHUSDT", *[f"C{i:02d}USDT" for i in range(9)]]


def test_triples_plant_a_pair_and_leave_one_alone():
    links = planted_pairs(UNIVERSE)
    assert links["ETHUSDT"] == ("BTCUSDT", PAIR_HALF_LIFE_S)
    assert {f: leader for f, (leader, _) in links.items() if f != "ETHUSDT"} == {
        "C01USDT": "C00USDT", "C04USDT": "C03USDT", "C07USDT": "C06USDT"}
    assert [links[f][1] for f in ("C01USDT", "C04USDT", "C07USDT")] == list(PLANTED_HALF_LIVES_S[:3])


def test_the_planted_residual_reverts_with_its_half_life_and_the_stats_list_it():
    """An hour of the model: the log residual of a planted pair has the planted half-life (AR(1) on
    1 s samples), an independent pair's does not revert; /sim/stats names the planted pairs."""
    with run_in_thread(ExchangeSim(symbols=tuple(UNIVERSE), history_s=3600, seed=4, rate_per_s=60)) as sim:
        stats = httpx.get(f"http://127.0.0.1:{sim.port}/sim/stats").json()
        assert {(p["leader"], p["follower"]) for p in stats["planted_pairs"]} == {
            ("BTCUSDT", "ETHUSDT"), ("C00USDT", "C01USDT"), ("C03USDT", "C04USDT"), ("C06USDT", "C07USDT")}
        closes = {s: last_price_per_second(sim.history(s, "trade")) for s in ("C00USDT", "C01USDT", "C02USDT")}
    lead, follow, alone = (np.log(on_second_grid(closes[s])) for s in ("C00USDT", "C01USDT", "C02USDT"))
    n = min(len(lead), len(follow), len(alone))
    planted = half_life_s(follow[-n:] - 1.2 * lead[-n:])
    assert 40 < planted < 400  # planted: 120 s
    # two independent walks look mean-reverting only on the scale of the window (an hour): far slower
    assert half_life_s(alone[-n:] - 1.2 * lead[-n:]) > 2 * planted


def last_price_per_second(events: list[dict]) -> dict[int, float]:
    return {e["T"] // 1000: float(e["p"]) for e in events}


def on_second_grid(prices: dict[int, float]) -> np.ndarray:
    """Last prices on every second of the hour (carried over seconds without a trade)."""
    seconds = sorted(prices)
    grid = np.arange(seconds[0], seconds[-1] + 1)
    index = np.searchsorted(seconds, grid, side="right") - 1
    return np.asarray([prices[seconds[i]] for i in index])


def half_life_s(series: np.ndarray, lag_s: int = 30) -> float:
    """ln 2 / kappa from the autocovariances at lags k and 2k of a 1 s series: their ratio exp(-kappa k)
    is blind to the bid-ask bounce of last prices (white noise moves only lag 0)."""
    x = series - series.mean()
    c1, c2 = float(x[:-lag_s] @ x[lag_s:]), float(x[:-2 * lag_s] @ x[2 * lag_s:])
    return float(np.log(2) * lag_s / np.log(c1 / c2)) if c1 > c2 > 0 else float("inf")
