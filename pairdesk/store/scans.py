"""The pair scanner's stored results: scans (parameters, time, state) and their rows, one per pair.

A scan is recorded when it starts (``begin_scan``: status ``running``, with the process id) and its
rows are written with its completion in one transaction (``finish_scan``), so a scan killed midway
leaves the previous results as they were: readers take the newest ``done`` scan. Only the newest
``KEEP_SCANS`` finished scans keep their rows. Also the one-close-per-bar reader the scan reads
bars through (``read_closes``).
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from pairdesk.store.atomic import atomic
from pairdesk.store.database import now_ms
from pairdesk.store.dialect import is_postgres
from pairdesk.store.readers import _frame, _time_filter

if TYPE_CHECKING:
    import pandas as pd

KEEP_SCANS = 5
SCAN_STATES = ("running", "done", "failed")
SCAN_RESULT_COLUMNS = ["rank", "symbol_a", "symbol_b", "p_value", "q_value", "significant", "fdr_level", "stable",
                       "half_life", "half_life_low", "half_life_high", "half_life_ok", "return_corr", "zscore", "beta",
                       "alpha", "johansen_rank", "p_a_on_b", "p_b_on_a", "eg_statistic", "p_first_half",
                       "p_second_half", "spread_vol_bps", "expected_move_bps", "round_trip_bps", "covers_cost", "score",
                       "rows", "last_ms", "reason"]
_INT_COLUMNS = ("rank", "score", "rows")
_NULLABLE_INT_COLUMNS = ("johansen_rank", "last_ms")
_BOOL_COLUMNS = ("significant", "stable", "half_life_ok")
_TEXT_COLUMNS = ("symbol_a", "symbol_b", "reason")
SCAN_FIELDS = ("scan_id", "requested_ms", "finished_ms", "status", "pid", "timeframe", "lookback_ms", "params",
               "symbols", "data_from_ms", "data_to_ms", "pairs", "error")


def read_closes(conn: sqlite3.Connection, symbol: str, bar_ms: int, start_ms: int | None = None,
                end_ms: int | None = None) -> pd.DataFrame:
    """``symbol``'s close per bar of ``bar_ms`` (a multiple of 1,000) from its one-second bars with
    start_ms <= ts_ms < end_ms: columns ts_ms (bar start), close (the close of the bar's last second,
    as ``analytics.resample_bars`` takes it), by time. Bars without a second have no row. SQLite
    returns the bare column ``close`` from the row holding ``max(ts_ms)`` of each group; PostgreSQL
    says the same with ``DISTINCT ON``."""
    where, params = _time_filter(start_ms, end_ms)
    sym = f"sym_id = (SELECT sym_id FROM symbols WHERE symbol = ?){where}"
    if is_postgres(conn):
        sql = (f"SELECT DISTINCT ON (bar) ts_ms - ts_ms % ? AS bar, close FROM bar_rows WHERE {sym} "
               "ORDER BY bar, ts_ms DESC")
    else:
        sql = f"SELECT ts_ms - ts_ms % ? AS bar, close, max(ts_ms) FROM bar_rows WHERE {sym} GROUP BY bar ORDER BY bar"
    rows = conn.execute(sql, [int(bar_ms), symbol, *params]).fetchall()
    return _frame([row[:2] for row in rows], ["ts_ms", "close"], ints=("ts_ms",))


def begin_scan(conn: sqlite3.Connection, timeframe: str, lookback_ms: int, params: dict, pid: int) -> int:
    """Record a scan starting now (status ``running``, by process ``pid``); returns its id."""
    with atomic(conn):
        return int(conn.execute("INSERT INTO scans (requested_ms, status, pid, timeframe, lookback_ms, params) "
                                "VALUES (?, 'running', ?, ?, ?, ?) RETURNING scan_id",
                                (now_ms(), int(pid), timeframe, int(lookback_ms),
                                 json.dumps(params, sort_keys=True))).fetchone()[0])


def claim_scan(conn: sqlite3.Connection, scan_id: int, pid: int) -> None:
    """The process ``pid`` runs the recorded scan ``scan_id`` (it was begun by another process)."""
    with atomic(conn):
        conn.execute("UPDATE scans SET pid = ? WHERE scan_id = ?", (int(pid), int(scan_id)))


def _cell(column: str, value: object) -> object:
    """A value as SQLite stores it: NaN and NA as NULL, flags as 0/1."""
    if value is None or (isinstance(value, float) and value != value) or str(value) in ("<NA>", "nan"):
        return None
    if column in _BOOL_COLUMNS or column == "covers_cost":
        return int(bool(value))
    if column in _INT_COLUMNS or column in _NULLABLE_INT_COLUMNS:
        return int(value)
    if column in _TEXT_COLUMNS:
        return str(value)
    return float(value)


def finish_scan(conn: sqlite3.Connection, scan_id: int, symbols: Sequence[str], data_from_ms: int | None,
                data_to_ms: int | None, rows: Iterable[Sequence]) -> int:
    """Store the scan's rows (values in SCAN_RESULT_COLUMNS order) and mark it ``done``, in one
    transaction; drops the rows of finished scans older than the newest KEEP_SCANS. Returns the rows."""
    cells = [tuple(_cell(c, v) for c, v in zip(SCAN_RESULT_COLUMNS, row)) for row in rows]
    marks = ", ".join("?" for _ in range(len(SCAN_RESULT_COLUMNS) + 1))
    with atomic(conn):
        conn.executemany(f"INSERT INTO scan_results (scan_id, {', '.join(SCAN_RESULT_COLUMNS)}) VALUES ({marks})",
                         [(int(scan_id), *row) for row in cells])
        conn.execute("UPDATE scans SET status = 'done', finished_ms = ?, symbols = ?, data_from_ms = ?, "
                     "data_to_ms = ?, pairs = ? WHERE scan_id = ?",
                     (now_ms(), json.dumps(list(symbols)), data_from_ms, data_to_ms, len(cells), int(scan_id)))
        kept = [row[0] for row in conn.execute(
            "SELECT scan_id FROM scans WHERE status = 'done' ORDER BY scan_id DESC LIMIT ?", (KEEP_SCANS,))]
        conn.execute(f"DELETE FROM scan_results WHERE scan_id NOT IN ({', '.join('?' for _ in kept)})", kept)
    return len(cells)


def fail_scan(conn: sqlite3.Connection, scan_id: int, error: str) -> None:
    """Mark the scan ``failed`` with a one-line ``error``."""
    with atomic(conn):
        conn.execute("UPDATE scans SET status = 'failed', finished_ms = ?, error = ? WHERE scan_id = ?",
                     (now_ms(), error, int(scan_id)))


def read_scans(conn: sqlite3.Connection, status: str | None = None, limit: int = 20,
               scan_id: int | None = None) -> list[dict]:
    """Recorded scans, newest first (fields SCAN_FIELDS; params and symbols decoded), optionally only
    those of ``status`` or the one ``scan_id``."""
    where, args = [], []
    if status is not None:
        where.append("status = ?")
        args.append(status)
    if scan_id is not None:
        where.append("scan_id = ?")
        args.append(int(scan_id))
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = conn.execute(f"SELECT {', '.join(SCAN_FIELDS)} FROM scans{clause} ORDER BY scan_id DESC LIMIT ?",
                        [*args, int(limit)]).fetchall()
    scans = [dict(zip(SCAN_FIELDS, row)) for row in rows]
    for scan in scans:
        scan["params"], scan["symbols"] = json.loads(scan["params"]), json.loads(scan["symbols"])
    return scans


def latest_scan(conn: sqlite3.Connection) -> dict | None:
    """The newest finished scan (``read_scans`` fields), or None when no scan has finished."""
    done = read_scans(conn, "done", limit=1)
    return done[0] if done else None


def read_scan_results(conn: sqlite3.Connection, scan_id: int, significant_only: bool = False,
                      half_life_min: float | None = None, half_life_max: float | None = None,
                      limit: int | None = None) -> pd.DataFrame:
    """The rows of scan ``scan_id`` by rank (columns SCAN_RESULT_COLUMNS; flags as booleans,
    covers_cost nullable), optionally only the significant ones, those with a half-life (bars) in
    [half_life_min, half_life_max], and the first ``limit``."""
    clauses, args = ["scan_id = ?"], [int(scan_id)]
    if significant_only:
        clauses.append("significant = 1")
    for bound, op in ((half_life_min, ">="), (half_life_max, "<=")):
        if bound is not None:
            clauses.append(f"half_life {op} ?")
            args.append(float(bound))
    sql = f"SELECT {', '.join(SCAN_RESULT_COLUMNS)} FROM scan_results WHERE {' AND '.join(clauses)} ORDER BY rank"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(int(limit))
    import pandas as pd

    frame = pd.DataFrame.from_records(conn.execute(sql, args).fetchall(), columns=SCAN_RESULT_COLUMNS)
    for column in SCAN_RESULT_COLUMNS:
        if column in _TEXT_COLUMNS:
            frame[column] = frame[column].astype(object)
        elif column in _BOOL_COLUMNS:
            frame[column] = frame[column].astype(bool)
        elif column == "covers_cost":
            frame[column] = frame[column].astype("boolean")
        elif column in _INT_COLUMNS:
            frame[column] = frame[column].astype("int64")
        elif column in _NULLABLE_INT_COLUMNS:
            frame[column] = frame[column].astype("Int64")
        else:
            frame[column] = frame[column].astype("float64")
    return frame
