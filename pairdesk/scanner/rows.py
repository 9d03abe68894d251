"""The rows of a scan as the CLI's CSV, the API and the dashboard give them: one function builds them.

A row holds SCAN_RESULT_COLUMNS, best first: numbers as floats (None where not defined: NaN in the
frame, and an infinite half_life_high, an interval open at the top, since JSON has no infinity), flags
as booleans (``covers_cost`` None where the pair has no quote bars), ints as ints. The
CSV writes booleans as ``true`` / ``false`` and None as an empty cell.
"""
from __future__ import annotations

import csv
import math
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from pairdesk import store

_INTS = {"rank", "score", "rows", "johansen_rank", "last_ms"}
_FLAGS = {"significant", "stable", "half_life_ok", "covers_cost"}
_TEXTS = {"symbol_a", "symbol_b", "reason"}


def _value(column: str, value: object) -> object:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if column in _FLAGS:
        return bool(value)
    if column in _INTS:
        return int(value)
    if column in _TEXTS:
        return str(value)
    number = float(value)
    return number if math.isfinite(number) else None


def scan_rows(frame: pd.DataFrame) -> list[dict]:
    """The rows of a ranked scan (``analytics.rank_scan`` or ``store.read_scan_results``), by rank."""
    columns = store.SCAN_RESULT_COLUMNS
    return [{c: _value(c, v) for c, v in zip(columns, values)}
            for values in frame[columns].itertuples(index=False, name=None)]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def write_csv(rows: Sequence[dict], target: str) -> None:
    """``rows`` (``scan_rows``) as CSV, header first, into the file ``target`` ('-': standard output)."""
    out = sys.stdout if target == "-" else open(target, "w", newline="")
    try:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(store.SCAN_RESULT_COLUMNS)
        writer.writerows([_cell(row[c]) for c in store.SCAN_RESULT_COLUMNS] for row in rows)
    finally:
        if out is not sys.stdout:
            out.close()


@dataclass(frozen=True)
class ScanRead:
    """The newest finished scan (``store.read_scans`` fields; None when none has finished), its rows
    after the filters, and the newest scan recorded at all (running, done or failed)."""

    scan: dict | None
    rows: list[dict]
    newest: dict | None


def read_latest_rows(conn: sqlite3.Connection, significant_only: bool = False, half_life_min: float | None = None,
                     half_life_max: float | None = None, limit: int | None = None) -> ScanRead:
    """The latest finished scan's rows, filtered (see ``store.read_scan_results``)."""
    with store.snapshot(conn):
        scan = store.latest_scan(conn)
        newest = store.read_scans(conn, limit=1)
        frame = None if scan is None else store.read_scan_results(conn, scan["scan_id"], significant_only,
                                                                  half_life_min, half_life_max, limit)
    return ScanRead(scan, [] if frame is None else scan_rows(frame), newest[0] if newest else None)
