"""Running a scan: record it, read, compute, store, in that order, so the stored results only ever
change in the one transaction that completes a scan."""
from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

from pairdesk import analytics, store
from pairdesk.scanner.settings import ScanSettings
from pairdesk.scanner.universe import ScanError, read_scan_input, round_trip_costs

log = logging.getLogger(__name__)

__all__ = ["ScanBusy", "ScanError", "begin", "run_scan", "running_scan", "start_scan"]


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_scan(conn: sqlite3.Connection) -> dict | None:
    """The newest scan recorded as running whose process is alive (``store.read_scans`` fields), or None.
    A scan killed midway stays recorded as running; its process is gone, so it does not count."""
    return next((scan for scan in store.read_scans(conn, "running") if _alive(scan["pid"])), None)


class ScanBusy(ScanError):
    """Another scan of the database is running: ``scan_id`` says which."""

    def __init__(self, message: str, scan_id: int) -> None:
        super().__init__(message)
        self.scan_id = scan_id


def begin(path: str | Path, settings: ScanSettings) -> int:
    """Record a scan of ``settings`` as running (by this process); returns its id."""
    conn = store.open_writer_as_recorded(path)
    try:
        return store.begin_scan(conn, settings.timeframe, settings.lookback_ms, settings.params(), os.getpid())
    finally:
        conn.close()


def compute(conn: sqlite3.Connection, settings: ScanSettings):
    """(the ranked scan, its input) read through ``conn``: ``analytics.rank_scan`` columns, best first."""
    data = read_scan_input(conn, settings)
    figures = analytics.scan_pairs(data.closes, settings.signal(), settings.workers)
    figures["round_trip_bps"] = round_trip_costs(conn, figures, settings, data.to_ms)
    return analytics.rank_scan(figures, settings.rank_params()), data


def run_scan(path: str | Path, settings: ScanSettings, scan_id: int | None = None) -> int:
    """Scan the database at ``path`` and store the results; returns the scan's id. ``scan_id``: a scan
    already recorded (``begin``, e.g. by the API) that this process runs. A failure is recorded on the
    scan (status ``failed``) and raised; the previous results stay as they were."""
    claimed = scan_id is not None
    if scan_id is None:
        scan_id = begin(path, settings)
    writer = store.open_writer_as_recorded(path)
    try:
        if claimed:
            store.claim_scan(writer, scan_id, os.getpid())
        reader = store.open_reader(path)
        try:
            ranked, data = compute(reader, settings)
        except (ScanError, ValueError, sqlite3.Error) as exc:
            store.fail_scan(writer, scan_id, str(exc))
            raise ScanError(str(exc)) from None
        finally:
            reader.close()
        rows = ranked[store.SCAN_RESULT_COLUMNS].itertuples(index=False, name=None)
        count = store.finish_scan(writer, scan_id, data.symbols, data.from_ms, data.to_ms, rows)
    finally:
        writer.close()
    log.info("scan %d: %d pairs of %d symbols, %d significant", scan_id, count, len(data.symbols),
             int(ranked["significant"].sum()))
    return scan_id


def start_scan(path: str | Path, settings: ScanSettings) -> int:
    """Record a scan and start it in its own low-priority process (``python -m pairdesk.scanner once``);
    returns the scan's id at once. ScanBusy while another scan of the database is running (one at a
    time: each takes both cores for seconds)."""
    import subprocess
    import sys

    conn = store.open_reader(path)
    try:
        busy = running_scan(conn)
    finally:
        conn.close()
    if busy is not None:
        raise ScanBusy(f"scan {busy['scan_id']} is still running; its results replace these when it finishes",
                       busy["scan_id"])
    scan_id = begin(path, settings)
    subprocess.Popen([sys.executable, "-m", "pairdesk.scanner", "once", "--db", str(path), "--scan-id", str(scan_id)],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True, cwd=str(Path(__file__).resolve().parents[2]))
    return scan_id
