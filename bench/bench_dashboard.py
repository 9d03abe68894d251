"""What one dashboard refresh costs on a full day of data, against re-reading the raw ticks.

    python bench/bench_dashboard.py [--refreshes 20] [--db PATH]

The database: 24 hours of BTCUSDT and ETHUSDT spot trades at a realistic rate (3.2 million
trades, a cointegrated random-walk pair), generated once with ``store.write_trades`` in hourly
chunks into the temp directory and reused afterwards; a copy of it gets a quote second per second
and symbol for the whole day (172,800 ``quotes_1s`` rows: the book one tick wide around the
second's close, widening in bursts, with a 5-minute quote gap), so every refresh draws the quote
panels too (the bid-ask band and quoted spread on the candles, the quoted spread & pair cost chart).

Measured, in one run:
- the live fragment's server-side work per refresh (after one second of new trades was stored):
  the incremental read (``load_view``: new bars since the last rev, feed status, gap spans, the
  pair panel over the lookback) plus building every live figure and serialising it to JSON as
  ``st.plotly_chart`` does; the browser is not part of it;
- the same refresh done naively: read all the day's trades of both symbols, resample them to
  bars in pandas, then the same panel and figures;
- the quote panels alone: the incremental quote read (``quote_cache``: the seconds since the last
  refresh and one count) plus quote bars, pair costs and their figures, against reading the day's
  quote seconds again and computing the same;
- the heavy panels (tests, backtest, summaries, correlation matrix, hourly summary) that run at
  most every 30 s;
- memory: peak RSS of the process and the tracemalloc peak of one refresh of each kind.

Budgets (exit status 1 when one is missed): at most 250 ms per refresh (median), at least 20 times
faster than the naive way.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

# First, as under `streamlit run`: the dashboard package pins OpenBLAS to one thread before numpy loads
# (without it the heavy panels took 0.1 s or 3.5 s at random on a loaded 2-core machine).
import pairdesk.dashboard  # noqa: F401, I001

import numpy as np

import shutil

from pairdesk import analytics, quote_data
from pairdesk.dashboard import charts, quote_charts
from pairdesk.dashboard import data
from pairdesk import store

DAY_START_MS = 1_723_075_200_000  # 2024-08-08 00:00 UTC
DAY_MS = 86_400_000
TRADES_PER_DAY = {"BTCUSDT": 2_000_000, "ETHUSDT": 1_200_000}  # ~23 and ~14 trades per second
FIRST_ID = {"BTCUSDT": 3_700_000_000, "ETHUSDT": 1_500_000_000}
BASE_PRICE = {"BTCUSDT": 60_000.0, "ETHUSDT": 2_600.0}
BETA_TO_FACTOR = {"BTCUSDT": 1.0, "ETHUSDT": 0.9}
SEED = 20240808
BUDGET_REFRESH_MS = 250.0
BUDGET_SPEEDUP = 20.0
TRADES_DB = Path(tempfile.gettempdir()) / "pairs_desk_bench" / "day_3m2_v1.db"  # trades only, shared
DEFAULT_DB = TRADES_DB.with_name("day_3m2_quotes_v1.db")  # a copy with a day of quotes
TICK = {"BTCUSDT": 0.01, "ETHUSDT": 0.01}
QUOTE_GAP_MS = (DAY_START_MS + 12 * 3_600_000, DAY_START_MS + 12 * 3_600_000 + 300_000)
SETTINGS = data.Settings("BTCUSDT", "ETHUSDT", "1s", "1 h", 60, 2.0, analytics.DEFAULT_HEDGE, "Asia/Kolkata", 1)


# --------------------------------------------------------------------------- the day of data


def day_trades(symbol: str, start_ms: int, end_ms: int, rng: np.random.Generator, factor: np.ndarray,
               first_id: int) -> list[tuple]:
    """One symbol's trades in [start_ms, end_ms): sorted times, ids in order, prices on the shared factor."""
    count = int(TRADES_PER_DAY[symbol] * (end_ms - start_ms) / DAY_MS)
    ts = np.sort(rng.integers(start_ms, end_ms, count))
    seconds = (ts - DAY_START_MS) // 1000
    noise = np.cumsum(rng.normal(0, 2e-5, count))  # idiosyncratic part, made a Brownian bridge below:
    noise -= np.linspace(0, noise[-1], count)  # back to 0 at the end of the day, so the pair stays cointegrated
    prices = np.round(BASE_PRICE[symbol] * np.exp(BETA_TO_FACTOR[symbol] * factor[seconds] + noise), 2)
    qty = np.round(rng.lognormal(-4, 1.2, count), 5)
    maker = rng.random(count) < 0.5
    ids = np.arange(first_id, first_id + count)
    return list(zip([symbol] * count, ids.tolist(), ts.tolist(), prices.tolist(), qty.tolist(), maker.tolist()))


def build_day_db(path: Path) -> None:
    """24 h of two symbols into ``path``, an hour per write transaction (reused when complete)."""
    done = path.with_suffix(".complete")
    if done.exists() and path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    rng = np.random.default_rng(SEED)
    factor = np.cumsum(rng.normal(0, 1.2e-4, DAY_MS // 1000 + 1))  # per-second log-price factor
    next_id = dict(FIRST_ID)
    started = time.perf_counter()
    for hour in range(24):
        start, end = DAY_START_MS + hour * 3_600_000, DAY_START_MS + (hour + 1) * 3_600_000
        batch = []
        for symbol in TRADES_PER_DAY:
            trades = day_trades(symbol, start, end, rng, factor, next_id[symbol])
            next_id[symbol] += len(trades)
            batch.extend(trades)
        store.write_trades(path, batch, market="spot", stream="trade")
        print(f"  generating: hour {hour + 1:2d}/24 written ({time.perf_counter() - started:5.1f} s)", flush=True)
    conn = store.open_writer(path, "spot", "trade")
    with store.transaction(conn):
        for symbol in TRADES_PER_DAY:
            store.upsert_status(conn, symbol, state="live", last_trade_ms=DAY_START_MS + DAY_MS)
    conn.close()
    done.touch()


def day_quotes(bars: "np.ndarray", closes: "np.ndarray", symbol: str, rng: np.random.Generator) -> list[tuple]:
    """One quote second per second of ``bars`` (second starts): bid at the close, ask a tick (two to
    five ticks in a burst) above, sizes from a lognormal, a few to a hundred updates."""
    n = len(bars)
    width = TICK[symbol] * np.where(rng.random(n) < 0.02, rng.integers(2, 6, n), 1)
    bid = np.round(closes, 2)
    ask = np.round(bid + width, 2)
    sizes = np.round(rng.lognormal(0, 1, (n, 2)), 3)
    updates = rng.integers(3, 100, n)
    spread = ask - bid
    return list(zip([symbol] * n, bars.tolist(), bid.tolist(), ask.tolist(), sizes[:, 0].tolist(),
                    sizes[:, 1].tolist(), (spread * 0.9 + TICK[symbol] * 0.1).tolist(), spread.tolist(),
                    updates.tolist()))


def build_quote_db(path: Path) -> None:
    """A copy of the trade database with a day of quote seconds for both symbols and one quote gap."""
    done = path.with_suffix(".complete")
    if done.exists() and path.exists():
        return
    build_day_db(TRADES_DB)
    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    shutil.copy(TRADES_DB, path)
    rng = np.random.default_rng(SEED + 1)
    conn = store.open_writer(path, "spot", "trade")
    for symbol in TRADES_PER_DAY:
        bars = store.read_bars_1s(conn, symbol)
        seconds = np.arange(DAY_START_MS, DAY_START_MS + DAY_MS, 1000, dtype=np.int64)
        closes = bars.set_index("ts_ms")["close"].reindex(seconds).ffill().bfill().to_numpy()
        outside = (seconds < QUOTE_GAP_MS[0]) | (seconds >= QUOTE_GAP_MS[1])
        with store.transaction(conn):
            store.store_quote_bars(conn, day_quotes(seconds[outside], closes[outside], symbol, rng))
            store.record_quote_gap(conn, symbol, *QUOTE_GAP_MS, "disconnect")
    conn.close()
    done.touch()


class LiveFeed:
    """Appends one second of new trades per call, continuing each symbol's ids and times."""

    def __init__(self, path: Path) -> None:
        self.path = path
        conn = store.open_reader(path)
        self.next_id = {s: store.last_trade_id(conn, s) + 1 for s in TRADES_PER_DAY}
        self.price = {s: float(store.read_trades(conn, s, limit=1)["price"].iloc[-1]) for s in TRADES_PER_DAY}
        last_bar = store.read_recent_bars(conn, "BTCUSDT", 0)[0]["ts_ms"].iloc[-1]
        conn.close()
        self.second_ms = int(last_bar) + 1000
        self.rng = np.random.default_rng(7)

    def one_second(self) -> None:
        trades = []
        for symbol, per_day in TRADES_PER_DAY.items():
            for _ in range(per_day // 86_400):
                self.price[symbol] = round(self.price[symbol] * (1 + self.rng.normal(0, 2e-5)), 2)
                trades.append((symbol, self.next_id[symbol], self.second_ms + int(self.rng.integers(0, 1000)),
                               self.price[symbol], 0.01, False))
                self.next_id[symbol] += 1
        store.write_trades(self.path, trades)
        conn = store.open_writer(self.path, "spot", "trade")
        with store.transaction(conn):  # the second's quotes, as the ingestor writes them once it is over
            store.store_quote_bars(conn, [(symbol, self.second_ms, self.price[symbol], self.price[symbol] + 0.01, 1.0,
                                           1.0, 0.01, 0.01, 10) for symbol in TRADES_PER_DAY])
        conn.close()
        self.second_ms += 1000


# --------------------------------------------------------------------------- one refresh, two ways


def live_figures(view: data.PairView) -> list:
    """Every figure the live fragment draws, as st.plotly_chart receives them."""
    s = view.settings
    colors = charts.symbol_colors(["BTCUSDT", "ETHUSDT"])
    figures = [charts.spread_zscore_figure(view.panel, s.z_threshold, s.tz, s.hedge_label, view.gaps, s.tf_ms,
                                           view.events, s.spread_kind),
               charts.price_comparison_figure(view.panel, s.symbol_a, s.symbol_b, s.tz, colors, view.events, s.tf_ms),
               charts.rolling_correlation_figure(view.panel, s.tz, s.window, s.tf_ms)]
    figures += [charts.candlestick_figure(view.candles[sym], sym, s.tz, colors[sym], s.timeframe, None, s.tf_ms,
                                          view.quote_bars.get(sym), view.quote_gaps) for sym in s.pair]
    if not charts.is_static(view.panel["hedge_ratio"]):
        figures.append(charts.hedge_ratio_figure(view.panel, s.tz, s.hedge_label, s.tf_ms))
    return figures + quote_figures(view)


def quote_figures(view: data.PairView) -> list:
    """The quote panels' figures (the candles' band is drawn in ``live_figures``)."""
    s = view.settings
    colors = charts.symbol_colors(["BTCUSDT", "ETHUSDT"])
    return [quote_charts.quoted_spread_figure(view.quote_bars, view.costs, view.panel, s.pair, s.tz, colors,
                                              "10,000 USDT", s.tf_ms, view.quote_gaps)]


def quote_panels(view: data.PairView, legs: dict, s: data.Settings) -> int:
    """Quote bars, pair costs and the quote figures from the legs' quote seconds; returns JSON bytes."""
    quote_bars = {symbol: quote_data.leg_quote_bars(leg, s.timeframe, view.start_ms, view.end_ms + s.tf_ms)
                  for symbol, leg in legs.items()}
    costs = quote_data.pair_cost_rows(view.panel, tuple(legs[symbol] for symbol in s.pair), s.timeframe, s.notional)
    shown = dataclasses.replace(view, quote_bars=quote_bars, costs=costs)
    colors = charts.symbol_colors(["BTCUSDT", "ETHUSDT"])
    candles = [charts.candlestick_figure(view.candles[sym], sym, s.tz, colors[sym], s.timeframe, None, s.tf_ms,
                                         quote_bars[sym], view.quote_gaps) for sym in s.pair]
    return serialise(candles + quote_figures(shown))


def incremental_quotes(db: data.Database, view: data.PairView) -> int:
    """The quote panels' work in a refresh: the cached read (new seconds and one count per symbol), then
    ``quote_panels``."""
    with data.reader(db.path) as conn:
        legs = data.window_legs(db, conn, view.settings.pair, view.start_ms, view.end_ms + view.settings.tf_ms)
    return quote_panels(view, legs, view.settings)


def naive_quotes(db: data.Database, view: data.PairView) -> int:
    """The same done naively: every quote second of the retained day read again from the store."""
    with data.reader(db.path) as conn:
        legs = {symbol: quote_data.read_leg_quotes(conn, symbol, view.end_ms - data.RETAIN_MS, None)
                for symbol in view.settings.pair}
    return quote_panels(view, {symbol: quote_data.LegQuotes(symbol, leg.seconds, leg.gaps) for symbol, leg in
                               legs.items()}, view.settings)


def serialise(figures: list) -> int:
    """What st.plotly_chart does server-side with each figure: JSON for the browser. Returns bytes."""
    return sum(len(figure.to_json()) for figure in figures)


def incremental_refresh(db: data.Database, s: data.Settings, split: list | None = None) -> tuple[data.PairView, int]:
    """The live fragment's work: read what is new, compute the view, build and serialise the figures.

    With ``split``, appends (ms reading and computing the view, ms building and serialising figures).
    """
    started = time.perf_counter()
    view = data.load_view(db, s)
    viewed = time.perf_counter()
    payload = serialise(live_figures(view))
    if split is not None:
        split.append(((viewed - started) * 1000, (time.perf_counter() - viewed) * 1000))
    return view, payload


def naive_refresh(db: data.Database, s: data.Settings) -> tuple[data.PairView, int]:
    """The same refresh done the naive way: every trade (and quote second) of the day read again and
    resampled in pandas."""
    with data.reader(db.path) as conn:
        db_key = data.database_key(db.path, store.read_metadata(conn))
        symbols = tuple(store.list_symbols(conn))
        bars = {symbol: analytics.bars_from_trades(store.read_trades(conn, symbol), "1s") for symbol in s.pair}
        status = store.read_feed_status(conn)
        start, end, clipped = data.chart_window(bars, s)
        gaps = store.read_gap_spans(conn, s.pair, start, end + s.tf_ms)
        legs = {symbol: quote_data.read_leg_quotes(conn, symbol, end - data.RETAIN_MS, None) for symbol in s.pair}
        quote_gaps = store.read_quote_gaps(conn, list(s.pair), start, end + s.tf_ms)
    candles = {symbol: data.since(analytics.resample_bars(data.since(frame, start), s.timeframe), start)
               for symbol, frame in bars.items()}
    panel = data.since(data.retained_panel(bars, s), start).reset_index(drop=True)  # the same causal panel
    quote_bars = {symbol: quote_data.leg_quote_bars(leg, s.timeframe, start, end + s.tf_ms)
                  for symbol, leg in legs.items()}
    costs = quote_data.pair_cost_rows(panel, tuple(legs[symbol] for symbol in s.pair), s.timeframe, s.notional)
    view = data.PairView(s, db_key, symbols, bars, candles, panel, status, gaps, start, end, clipped,
                         quotes=legs, quote_bars=quote_bars, quote_gaps=quote_gaps, costs=costs)
    return view, serialise(live_figures(view))


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def peak_traced_mb(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help=f"benchmark database (default: {DEFAULT_DB})")
    parser.add_argument("--refreshes", type=int, default=20, help="incremental refreshes to time (default: 20)")
    parser.add_argument("--naive-runs", type=int, default=2, help="naive refreshes to time (default: 2)")
    args = parser.parse_args(argv)
    logging.getLogger("streamlit").setLevel(logging.ERROR)  # no "missing ScriptRunContext" noise outside a page

    print(f"database: {args.db}")
    build_quote_db(args.db)
    db = data.describe_database(str(args.db))
    conn = store.open_reader(args.db)
    counts = {s: int(store.read_bars_1s(conn, s)["trades"].sum()) for s in db.symbols}
    conn.close()
    print(f"  {sum(counts.values()):,} trades ({', '.join(f'{s} {n:,}' for s, n in counts.items())}), "
          f"{args.db.stat().st_size / 2**20:.0f} MB")
    feed = LiveFeed(args.db)

    cold_ms = timed(lambda: incremental_refresh(db, SETTINGS))  # the first refresh loads the last 26 h of bars
    feed.one_second()
    traced_incremental = peak_traced_mb(lambda: incremental_refresh(db, SETTINGS))
    samples, parts, payload = [], [], 0
    for _ in range(args.refreshes):
        feed.one_second()  # one second of new trades, stored as the ingestor would
        started = time.perf_counter()
        view, payload = incremental_refresh(db, SETTINGS, parts)
        samples.append((time.perf_counter() - started) * 1000)
    rss_incremental_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    quote_samples, naive_quote_samples = [], []
    for _ in range(5):
        feed.one_second()
        view = data.load_view(db, SETTINGS)
        quote_samples.append(timed(lambda: incremental_quotes(db, view)))
        naive_quote_samples.append(timed(lambda: naive_quotes(db, view)))

    naive_samples = []
    for _ in range(args.naive_runs):
        feed.one_second()
        naive_samples.append(timed(lambda: naive_refresh(db, SETTINGS)))
    traced_naive = peak_traced_mb(lambda: naive_refresh(db, SETTINGS))

    heavy = []
    all_bars = data.retained_bars(db, db.symbols)
    for bucket in range(3):
        heavy.append(timed(lambda: data.heavy_analytics(view, all_bars, ("bench", bucket, time.time()))))

    day_view = data.Settings("BTCUSDT", "ETHUSDT", "1m", "24 h", 60, 2.0, "kalman", "Asia/Kolkata", 1)
    incremental_refresh(db, day_view)
    day_samples = []
    for _ in range(5):
        feed.one_second()
        day_samples.append(timed(lambda: incremental_refresh(db, day_view)))

    # the live chart's panel (the lookback plus what its rows depend on; every retained bar for the
    # hedges with a segment-long memory): its cost per hedge at 1 s bars
    panel_ms = {hedge: timed(lambda: data.chart_panel(view.bars_1s, dataclasses.replace(SETTINGS, hedge=hedge),
                                                      view.start_ms))
                for hedge in analytics.HEDGE_METHODS}

    median, worst = statistics.median(samples), max(samples)
    naive = statistics.median(naive_samples)
    ratio = naive / median
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\none refresh, 1 s bars, 1 h lookback ({len(view.panel):,} rows charted), {SETTINGS.hedge_label} "
          f"(panel on the {len(data.retained_panel(view.bars_1s, SETTINGS)):,} retained rows), "
          f"{payload / 2**20:.1f} MB of figure JSON:")
    print(f"  incremental (live fragment): median {median:7.1f} ms, worst {worst:7.1f} ms over {len(samples)} "
          f"refreshes; first (cold) refresh {cold_ms:.0f} ms")
    print(f"    of which: incremental read + view {statistics.median(p[0] for p in parts):.1f} ms, "
          f"figures + JSON {statistics.median(p[1] for p in parts):.1f} ms (medians)")
    print(f"  naive (all trades re-read): median {naive:7.1f} ms over {len(naive_samples)} runs")
    print(f"  ratio naive / incremental: {ratio:.1f}x")
    quote_median, naive_quote = statistics.median(quote_samples), statistics.median(naive_quote_samples)
    print(f"quote panels alone (within the refresh above; 2 x {len(view.quotes['BTCUSDT'].seconds):,} quote seconds "
          f"in the window): incremental {quote_median:.1f} ms, naive (the day's quote seconds re-read) "
          f"{naive_quote:.1f} ms, ratio {naive_quote / quote_median:.1f}x")
    print(f"one refresh, 1 m bars, 24 h lookback, Kalman, quote panels included: median "
          f"{statistics.median(day_samples):.1f} ms")
    print("live chart panel (1 h of 1 s bars), by hedge: "
          + ", ".join(f"{hedge} {ms:,.0f} ms" for hedge, ms in panel_ms.items()))
    print(f"heavy panels (every {data.HEAVY_REFRESH_S} s: tests on {data.HEAVY_TEST_ROWS:,} rows, backtest, summaries, "
          f"matrix, hourly over the day): median {statistics.median(heavy):.0f} ms")
    print(f"memory: peak RSS {rss_incremental_mb:.0f} MB after the incremental refreshes, {rss_mb:.0f} MB after the "
          f"naive ones; tracemalloc peak of one refresh: incremental {traced_incremental:.1f} MB, "
          f"naive {traced_naive:.1f} MB")

    failures = []
    if median > BUDGET_REFRESH_MS:
        failures.append(f"refresh median {median:.1f} ms > {BUDGET_REFRESH_MS:.0f} ms")
    if ratio < BUDGET_SPEEDUP:
        failures.append(f"speed-up {ratio:.1f}x < {BUDGET_SPEEDUP:.0f}x")
    print("budgets: " + ("OK (<= 250 ms per refresh, >= 20x faster than naive)" if not failures
                         else "MISSED: " + "; ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
