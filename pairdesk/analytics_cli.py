"""``analytics_engine.py``: export the pair analytics of two symbols from a tick database to CSV."""
from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence

from pairdesk import store
from pairdesk.analytics import (DEFAULT_MAX_STALE_STEPS, DEFAULT_WINDOW_ROWS, HEDGE_METHODS, KALMAN_DELTA,
                                KALMAN_OBSERVATION_VAR, PANEL_COLUMNS, TIMEFRAME_MS, pair_panel)


class _ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: "<prog>: error: <message> (see --help)", exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _build_parser() -> _ArgumentParser:
    parser = _ArgumentParser(
        prog="analytics_engine.py",
        description=f"Export the pair analytics of two symbols from a tick database to CSV: one row per "
                    f"aligned bar with {','.join(PANEL_COLUMNS)} (ts_ms = bar start in UTC ms; NaN written "
                    f"as an empty cell, floats at full precision).",
    )
    parser.add_argument("--db", required=True, help="tick database file written by the ingestor (read-only)")
    parser.add_argument("--symbols", required=True,
                        help="two symbols A,B in the database, any case (e.g. BTCUSDT,ETHUSDT); A is regressed on B")
    parser.add_argument("--timeframe", default="1s", choices=list(TIMEFRAME_MS),
                        help="bar length; bars start at floor(ts_ms / length) * length (default: 1s)")
    parser.add_argument("--window", type=int, default=DEFAULT_WINDOW_ROWS,
                        help=f"trailing window in bars for z-score, correlation and rolling OLS, integer >= 2 "
                             f"(default: {DEFAULT_WINDOW_ROWS})")
    parser.add_argument("--hedge", default="ols", choices=list(HEDGE_METHODS),
                        help="hedge ratio: ols, huber or theilsen (one static fit over all rows), rolling "
                             "(trailing-window OLS) or kalman (filtered; see --kalman-*) (default: ols)")
    parser.add_argument("--max-stale", type=int, default=DEFAULT_MAX_STALE_STEPS,
                        help=f"carry a symbol's last close forward at most this many bars; integer >= 0 "
                             f"(default: {DEFAULT_MAX_STALE_STEPS})")
    parser.add_argument("--kalman-delta", type=float, default=KALMAN_DELTA,
                        help=f"Kalman state noise: W = delta / (1 - delta) per bar, in [0, 1) "
                             f"(default: {KALMAN_DELTA:g})")
    parser.add_argument("--kalman-obs-var", type=float, default=KALMAN_OBSERVATION_VAR,
                        help=f"Kalman observation noise variance in normalised price units, > 0 "
                             f"(default: {KALMAN_OBSERVATION_VAR:g})")
    parser.add_argument("--out", required=True, help="CSV file to write ('-' for standard output)")
    return parser


def _parse_symbols(parser: _ArgumentParser, text: str) -> tuple[str, str]:
    symbols = [s.strip().upper() for s in text.split(",")]
    if len(symbols) != 2 or not all(symbols):
        parser.error(f"--symbols needs exactly two symbols A,B, got {text!r}")
    if symbols[0] == symbols[1]:
        parser.error(f"--symbols needs two different symbols, got {text!r}")
    return symbols[0], symbols[1]


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (errors exit through SystemExit)."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    symbol_a, symbol_b = _parse_symbols(parser, args.symbols)
    if args.window < 2:
        parser.error(f"--window must be an integer >= 2, got {args.window}")
    if args.max_stale < 0:
        parser.error(f"--max-stale must be an integer >= 0, got {args.max_stale}")
    if not 0 <= args.kalman_delta < 1 or not args.kalman_obs_var > 0:
        parser.error("--kalman-delta must be in [0, 1) and --kalman-obs-var > 0")

    try:
        conn = store.open_reader(args.db)
        try:
            known = store.list_symbols(conn)
            missing = [s for s in (symbol_a, symbol_b) if s not in known]
            if missing:
                parser.error(f"symbol {missing[0]} is not in {args.db} (it holds: {', '.join(known) or 'nothing'})")
            bars_a = store.read_bars_1s(conn, symbol_a)
            bars_b = store.read_bars_1s(conn, symbol_b)
        finally:
            conn.close()
    except (store.StoreError, sqlite3.Error) as exc:
        raise SystemExit(f"{parser.prog}: error: {args.db}: {exc}" if isinstance(exc, sqlite3.Error)
                         else f"{parser.prog}: error: {exc}") from None

    panel = pair_panel(bars_a, bars_b, args.timeframe, args.window, args.hedge, args.max_stale,
                       kalman_delta=args.kalman_delta, kalman_observation_var=args.kalman_obs_var)
    if panel.empty:
        print(f"{parser.prog}: warning: {symbol_a} and {symbol_b} have no aligned {args.timeframe} bars "
              f"(their data do not overlap within --max-stale); writing the header only", file=sys.stderr)
    # pandas writes float64 with repr (shortest round-trip) precision; NaN as an empty cell
    target = sys.stdout if args.out == "-" else args.out
    try:
        panel.to_csv(target, index=False, na_rep="", lineterminator="\n")
    except OSError as exc:
        raise SystemExit(f"{parser.prog}: error: cannot write {args.out}: {exc.strerror}") from None
    return 0

