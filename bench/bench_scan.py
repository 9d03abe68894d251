"""The pair scanner: 50 symbols (1,225 pairs) at 1 m bars over 7 days (10,080 bars) against a budget of
60 s on this 2-core machine, and against the naive loop in the same run.

    .venv/bin/python bench/bench_scan.py [--symbols 50] [--bars 10080] [--workers 2] [--naive-pairs 12]

The universe is simulated (``tests/scan_universe.py``: independent random walks and planted
cointegrated pairs), written as one-minute bars into a fresh database with ``store.write_bars`` and
scanned as the scan process does it (``scanner.run_scan``: read through the store's readers, scan,
rank, store the results in one transaction), then the pure scan alone. The naive baseline is what a
per-pair script does with statsmodels: ``coint`` both ways on the whole lookback and on each half
(the scan's lags), ``cointegration_verdict`` for the half-life and Johansen, on ``--naive-pairs`` pairs, extrapolated
to every pair. Budget: <= 60 s for 50 symbols, <= 240 s for 100.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from pairdesk import analytics  # noqa: E402
from scan_universe import simulate_universe  # noqa: E402

BUDGET_S = {50: 60.0, 100: 240.0}


def naive_pair(a, b) -> None:
    """One pair the naive way: statsmodels coint both ways on the whole and on each half, with the
    scan's lags, and the verdict for the half-life and Johansen."""
    from statsmodels.tsa.stattools import coint

    half = len(a) // 2
    analytics.cointegration_verdict(a, b)
    for x, y in ((a, b), (b, a), (a[:half], b[:half]), (b[:half], a[:half]), (a[half:], b[half:]),
                 (b[half:], a[half:])):
        coint(x, y, maxlag=analytics.scan.scan_adf_lags(len(x)), autolag=None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--bars", type=int, default=10_080)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--naive-pairs", type=int, default=12)
    args = parser.parse_args()
    universe = simulate_universe(args.symbols, args.symbols // 10, args.bars, seed=2024)
    pairs = args.symbols * (args.symbols - 1) // 2
    closes = {s: bars[["ts_ms", "close"]] for s, bars in universe.bars.items()}

    stored_s = None
    try:
        from pairdesk import scanner, store
    except ImportError:
        scanner = None
    if scanner is not None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "scan.db"
            for symbol, bars in universe.bars.items():
                store.write_bars(path, symbol, bars.itertuples(index=False, name=None))
            t0 = time.perf_counter()
            scanner.run_scan(path, scanner.ScanSettings(timeframe="1m", lookback_ms=args.bars * 60_000,
                                                        workers=args.workers))
            stored_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    ranked = analytics.rank_scan(analytics.scan_pairs(closes, analytics.PairSignal(timeframe="1m"), args.workers))
    pure_s = time.perf_counter() - t0

    names = list(universe.bars)
    sample = [(names[i], names[j]) for i, j in zip(range(0, args.naive_pairs), range(1, args.naive_pairs + 1))]
    t0 = time.perf_counter()
    for a, b in sample:
        naive_pair(closes[a]["close"].to_numpy(), closes[b]["close"].to_numpy())
    naive_pair_s = (time.perf_counter() - t0) / len(sample)
    naive_s = naive_pair_s * pairs

    top = set(zip(ranked["symbol_a"], ranked["symbol_b"]))
    found = len(set(universe.planted) & set(list(zip(ranked["symbol_a"], ranked["symbol_b"]))[:len(universe.planted)]))
    print(f"universe: {args.symbols} symbols, {pairs:,} pairs, {args.bars:,} bars of 1 m, {args.workers} workers")
    if stored_s is not None:
        print(f"scan from the database (read, scan, rank, store): {stored_s:.1f} s")
    print(f"scan of the bars in memory: {pure_s:.1f} s ({pure_s / pairs * 1e3:.2f} ms a pair)")
    print(f"naive statsmodels loop: {naive_pair_s * 1e3:.0f} ms a pair on {len(sample)} pairs, "
          f"{naive_s:.0f} s for {pairs:,} pairs (one process): {naive_s / pure_s:.0f}x")
    print(f"planted pairs in the top {len(universe.planted)}: {found} of {len(universe.planted)}; "
          f"significant: {int(ranked['significant'].sum())} of {len(top)}")
    budget = BUDGET_S.get(args.symbols)
    if budget is not None:
        worst = max(pure_s, stored_s or 0.0)
        print(f"budget {budget:.0f} s: {'met' if worst <= budget else 'MISSED'}")
        return 0 if worst <= budget else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
