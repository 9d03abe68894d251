"""A day-sized bookTicker dump (1,000,000 updates, out of order) imports in bounded memory (slow: integration)."""
from __future__ import annotations

import tracemalloc

import pandas  # noqa: F401 (loaded before measuring: the parser loads it on its first block)
from test_quote_import import generated_lines, quote_count, write_dump

from pairdesk import history, store
from pairdesk.history import importer, storing
from pairdesk.history.quote_folding import REORDER_ROWS, QuoteFolder

ROWS = 1_000_000
LATE_BY = 300_000  # rows: further than the reorder buffer reaches


def test_a_million_updates_import_in_bounded_memory_and_a_far_late_one_is_reported(db_path, tmp_path, monkeypatch):
    """A 70 MB dump: parsing it peaks under 16 MB of traced memory (its columns alone would take 48 MB),
    the reorder buffer never holds more than REORDER_ROWS updates; local disorder is repaired, and the
    one update 300,000 rows late is dropped and reported."""
    lines = generated_lines(ROWS, seed=8)
    arrived = list(lines)
    for start in range(0, ROWS - 100, 250):  # disjoint local swaps, up to 80 rows apart
        other = start + 1 + start % 80
        arrived[start], arrived[other] = arrived[other], arrived[start]
    late = arrived.pop(10_000)
    arrived.insert(10_000 + LATE_BY, late)
    dump = write_dump(tmp_path, "BTCUSDT-bookTicker-2024-08-09.csv", arrived)
    del arrived

    tracemalloc.start()
    try:
        summary = history.scan_history(dump)
        parsing_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert summary.rows == ROWS and summary.format == history.FUTURES_BOOK_TICKER
    assert parsing_peak < 16 * 2**20, f"parsing peaked at {parsing_peak / 2**20:.1f} MB"

    folders: list[QuoteFolder] = []

    class Watched(QuoteFolder):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            folders.append(self)

    monkeypatch.setattr(storing, "QuoteFolder", Watched)
    result = importer.import_file(db_path, dump)
    assert (result.rows, result.stale, result.unit) == (ROWS, 1, "quote seconds")
    assert "1 update too far out of order dropped" in result.describe()
    assert len(folders) == 1 and folders[0].buffer.peak == REORDER_ROWS

    seconds = {int(line.rsplit(",", 2)[1]) // 1000 for line in lines if line != late}
    assert result.new_rows == quote_count(db_path) == len(seconds)
    conn = store.open_reader(db_path)
    try:  # every update but the late one counted once, in the second of its transaction time
        assert conn.execute("SELECT sum(updates), min(ts_ms), max(ts_ms) FROM quotes_1s").fetchone() == (
            ROWS - 1, min(seconds) * 1000, max(seconds) * 1000)
    finally:
        conn.close()
