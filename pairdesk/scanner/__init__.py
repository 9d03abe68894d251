"""The pair scanner as a service: which pairs of the watchlist are worth trading now.

``run_scan(path, settings)`` reads every symbol's bars through the store's readers, scans every pair
(``analytics.scan_pairs``), adds each pair's round-trip cost where quote bars exist, ranks them
(``analytics.rank_scan``) and stores the results (``store.finish_scan``: one transaction, so a scan
killed midway leaves the previous results intact). The CLI (``analytics_engine.py scan``), the API
(``GET /api/scanner``, ``POST /api/scanner/run``), the dashboard's Scanner section and the scheduled
scan process (``python -m pairdesk.scanner``) all go through here, and ``scan_rows`` builds the
rows they show from a stored scan.

Modules: ``settings`` (the parameters of a scan), ``universe`` (reading bars and quote costs),
``service`` (running and storing a scan), ``rows`` (the rows the CSV and the API give),
``process`` (the scheduled scan process and the on-demand one).
"""
from __future__ import annotations

from pairdesk.scanner.rows import ScanRead, read_latest_rows, scan_rows, write_csv
from pairdesk.scanner.service import ScanBusy, ScanError, run_scan, running_scan, start_scan
from pairdesk.scanner.settings import DEFAULT_LOOKBACK_MS, MAX_SCAN_SYMBOLS, ScanSettings, parse_duration

__all__ = ["ScanRead", "read_latest_rows", "scan_rows", "write_csv", "ScanBusy", "ScanError", "run_scan",
           "running_scan", "start_scan",
           "DEFAULT_LOOKBACK_MS", "MAX_SCAN_SYMBOLS", "ScanSettings", "parse_duration"]
