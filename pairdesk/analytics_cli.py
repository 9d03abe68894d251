"""``analytics_engine.py``: export the pair analytics of two symbols from a tick database to CSV, or with
``scan`` first, scan every pair of the watchlist and write the ranked pairs (``pairdesk.scanner``)."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pairdesk import scanner, store
from pairdesk.analytics import (
    CLI_COLUMNS,
    DEFAULT_HEDGE,
    DEFAULT_HEDGE_WINDOW_ROWS,
    DEFAULT_MAX_STALE_S,
    DEFAULT_WINDOW_ROWS,
    HEDGE_METHODS,
    SPREAD_KINDS,
    TIMEFRAME_MS,
    pair_panel,
)
from pairdesk.scanner.process import add_scan_arguments, settings_from


class _ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: "<prog>: error: <message> (see --help)", exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _build_parser() -> _ArgumentParser:
    parser = _ArgumentParser(
        prog="analytics_engine.py",
        description=f"Export the pair analytics of two symbols from a tick database to CSV: one row per "
                    f"aligned bar with {','.join(CLI_COLUMNS)} (ts_ms = bar start in UTC ms; NaN written "
                    f"as an empty cell, floats at full precision). Every value of a row uses bars up to "
                    f"that row only (except --hedge ols_insample, which is fitted on all rows: in-sample).",
        epilog="analytics_engine.py scan --help: scan every pair of the watchlist instead (the pair scanner).",
    )
    parser.add_argument("--db", required=True, help="tick database written by the ingestor, a file or a postgresql:// URL (read-only)")
    parser.add_argument("--symbols", required=True,
                        help="two symbols A,B in the database, any case (e.g. BTCUSDT,ETHUSDT); A is regressed on B")
    parser.add_argument("--timeframe", default="1s", choices=list(TIMEFRAME_MS),
                        help="bar length; bars start at floor(ts_ms / length) * length (default: 1s)")
    parser.add_argument("--window", type=int, default=DEFAULT_WINDOW_ROWS,
                        help=f"bars in the z-score's and the correlations' trailing window, integer >= 2 "
                             f"(default: {DEFAULT_WINDOW_ROWS})")
    parser.add_argument("--hedge", default=DEFAULT_HEDGE, choices=list(HEDGE_METHODS),
                        help="the hedge, estimated for each bar from earlier bars only: rolling (OLS with "
                             "intercept on the --hedge-window bars before it), expanding (every bar before "
                             "it), kalman (dynamic regression; z is its standardised forecast error), huber or "
                             "theilsen (robust rolling fits); ols_insample fits all rows at once: in-sample, "
                             f"it uses future bars (default: {DEFAULT_HEDGE})")
    parser.add_argument("--hedge-window", type=int, default=DEFAULT_HEDGE_WINDOW_ROWS,
                        help=f"bars the hedge is estimated on (rolling, huber, theilsen; the burn-in of "
                             f"expanding and the memory of kalman), integer >= 2 (default: {DEFAULT_HEDGE_WINDOW_ROWS})")
    parser.add_argument("--spread", default="price", choices=list(SPREAD_KINDS),
                        help="price: A on B; log: ln A on ln B; ratio: A / B (no hedge) (default: price)")
    parser.add_argument("--max-stale", type=float, default=DEFAULT_MAX_STALE_S, metavar="SECONDS",
                        help=f"carry a symbol's last close forward at most this many seconds, whatever the "
                             f"timeframe; a longer hole starts a new segment (windows restart) "
                             f"(default: {DEFAULT_MAX_STALE_S:g})")
    parser.add_argument("--out", required=True, help="CSV file to write ('-' for standard output)")
    return parser


def _parse_symbols(parser: _ArgumentParser, text: str) -> tuple[str, str]:
    symbols = [s.strip().upper() for s in text.split(",")]
    if len(symbols) != 2 or not all(symbols):
        parser.error(f"--symbols needs exactly two symbols A,B, got {text!r}")
    if symbols[0] == symbols[1]:
        parser.error(f"--symbols needs two different symbols, got {text!r}")
    return symbols[0], symbols[1]


def _build_scan_parser() -> _ArgumentParser:
    parser = _ArgumentParser(
        prog="analytics_engine.py scan",
        description="Scan every pair of the watchlist's symbols (or --symbols) at a timeframe over a lookback: "
                    "Engle-Granger both ways with Benjamini-Hochberg q-values, half-life, Johansen rank, return "
                    "correlation, z-score, cost; store the results in the database and write one row per pair, "
                    f"best first, columns {','.join(store.SCAN_RESULT_COLUMNS)} (true/false flags, empty cells "
                    "where a figure is not defined).",
    )
    parser.add_argument("--db", required=True, help="tick database, a file or a postgresql:// URL (the scan's results are stored in it)")
    add_scan_arguments(parser)
    parser.add_argument("--out", required=True, help="CSV file to write ('-' for standard output)")
    return parser


def scan_main(argv: Sequence[str]) -> int:
    """``analytics_engine.py scan ...``: run a scan, store it, write its rows as CSV."""
    parser = _build_scan_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from(args)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        scan_id = scanner.run_scan(args.db, settings)
        conn = store.open_reader(args.db)
        try:
            rows = scanner.scan_rows(store.read_scan_results(conn, scan_id))
        finally:
            conn.close()
    except scanner.ScanError as exc:
        raise SystemExit(f"{parser.prog}: error: {exc}") from None
    except (store.StoreError, *store.database_errors()) as exc:
        raise SystemExit(f"{parser.prog}: error: {args.db}: {exc}") from None
    try:
        scanner.write_csv(rows, args.out)
    except OSError as exc:
        raise SystemExit(f"{parser.prog}: error: cannot write {args.out}: {exc.strerror}") from None
    significant = sum(row["significant"] for row in rows)
    print(f"scan {scan_id}: {len(rows)} pairs, {significant} significant at FDR {settings.fdr_level:g}",
          file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (errors exit through SystemExit)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["scan"]:
        return scan_main(argv[1:])
    parser = _build_parser()
    args = parser.parse_args(argv)
    symbol_a, symbol_b = _parse_symbols(parser, args.symbols)
    if args.window < 2 or args.hedge_window < 2:
        parser.error(f"--window and --hedge-window must be integers >= 2, got {args.window} and {args.hedge_window}")
    if not args.max_stale >= 0:
        parser.error(f"--max-stale must be a number of seconds >= 0, got {args.max_stale}")

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
    except (store.StoreError, *store.database_errors()) as exc:
        raise SystemExit(f"{parser.prog}: error: {store.display_name(args.db)}: {exc}" if isinstance(exc, store.database_errors())
                         else f"{parser.prog}: error: {exc}") from None

    panel = pair_panel(bars_a, bars_b, args.timeframe, args.window, args.hedge, args.max_stale,
                       hedge_window=args.hedge_window, spread_kind=args.spread)[CLI_COLUMNS]
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

