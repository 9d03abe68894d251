"""The scan process: ``python -m pairdesk.scanner once`` runs one scan (or the one ``--scan-id`` the API
recorded), ``schedule`` rescans every ``--every`` (default 15 minutes; the first scan after at most a minute)
until SIGTERM / SIGINT. Both run
at low priority (``os.nice``) in their own process, reading through the store's readers, so a scan
never slows the ingestor; each completed scan replaces the results in one transaction."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

from pairdesk import analytics, store
from pairdesk.scanner.service import ScanError, run_scan
from pairdesk.scanner.settings import ScanSettings, parse_duration

log = logging.getLogger(__name__)

SCAN_NICENESS = 10
FIRST_SCAN_AFTER_MS = 60_000  # schedule: the ingestor's start-up catch-up goes first


def add_scan_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that choose what a scan computes (shared by the CLI's ``scan`` and this process)."""
    parser.add_argument("--timeframe", default="1m", choices=list(analytics.TIMEFRAME_MS),
                        help="bar length of the scan (default: 1m)")
    parser.add_argument("--lookback", default="7d",
                        help="span of bars scanned, ending at the newest bar: 7d, 12h, 90m ... (default: 7d)")
    parser.add_argument("--symbols", help="symbols to scan, comma-separated (default: the watchlist's symbols "
                                          "with bars, or every symbol with bars)")
    parser.add_argument("--fdr", type=float, default=0.05, help="false discovery rate level (default: 0.05)")
    parser.add_argument("--half-life-min", type=float, default=2.0,
                        help="shortest tradeable half-life, bars (default: 2)")
    parser.add_argument("--half-life-max", type=float, default=None,
                        help="longest tradeable half-life, bars (default: a tenth of the pair's bars)")
    parser.add_argument("--workers", type=int, default=2, help="processes the pairs are spread over (default: 2)")


def settings_from(args: argparse.Namespace) -> ScanSettings:
    """ScanSettings from ``add_scan_arguments`` flags; ValueError with a one-line reason."""
    symbols = None if not args.symbols else tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip())
    return ScanSettings(timeframe=args.timeframe, lookback_ms=parse_duration(args.lookback), symbols=symbols,
                        fdr_level=args.fdr, half_life_min_bars=args.half_life_min,
                        half_life_max_bars=args.half_life_max, workers=args.workers)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pairdesk.scanner", description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("once", "schedule"))
    parser.add_argument("--db", required=True, help="tick database (a SQLite file or a postgresql:// URL)")
    parser.add_argument("--scan-id", type=int, help="once: run this recorded scan with its stored parameters")
    parser.add_argument("--every", default="15m", help="schedule: time between scans (default: 15m)")
    parser.add_argument("--first-after", help="schedule: time before the first scan (default: --every, at most "
                                              "1m: an ingestor started beside it catches up first)")
    parser.add_argument("--log-level", default="INFO")
    add_scan_arguments(parser)
    return parser


def _stored_settings(path: str, scan_id: int, workers: int) -> ScanSettings:
    conn = store.open_reader(path)
    try:
        scans = store.read_scans(conn, scan_id=scan_id)
    finally:
        conn.close()
    if not scans:
        raise ScanError(f"no scan {scan_id} recorded in {path}")
    return ScanSettings.from_params(scans[0]["params"], workers)


def schedule(path: str, settings: ScanSettings, every_ms: int, stop: threading.Event, first_after_ms: int = 0) -> None:
    """Scan after ``first_after_ms`` and then every ``every_ms`` until ``stop`` is set; a scan that cannot
    run (no database or bars yet) is logged and retried at the next turn."""
    stop.wait(first_after_ms / 1000)
    while not stop.is_set():
        try:
            run_scan(path, settings)
        except (ScanError, store.StoreError) as exc:
            log.warning("scan skipped: %s", exc)
        stop.wait(every_ms / 1000)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s scanner %(levelname)s %(message)s")
    os.nice(SCAN_NICENESS)
    try:
        if args.mode == "once" and args.scan_id is not None:
            settings = _stored_settings(args.db, args.scan_id, args.workers)
        else:
            settings = settings_from(args)
        every_ms = parse_duration(args.every)
        first_ms = min(every_ms, FIRST_SCAN_AFTER_MS) if args.first_after is None else (
            0 if args.first_after.strip() in ("0", "0s") else parse_duration(args.first_after))
    except (ValueError, store.StoreError) as exc:
        print(f"scanner: error: {exc}", file=sys.stderr)
        return 2
    if args.mode == "once":
        try:
            run_scan(args.db, settings, args.scan_id)
        except (ScanError, store.StoreError) as exc:
            print(f"scanner: error: {exc}", file=sys.stderr)
            return 1
        return 0
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    log.info("scanning %s every %s at %s bars over %d ms", store.display_name(args.db), args.every, settings.timeframe,
             settings.lookback_ms)
    schedule(args.db, settings, every_ms, stop, first_ms)
    return 0
