"""``TradeWriter``: the single writer thread of a live ingestor.

It owns the only long-lived write connection and commits one transaction per batch: the new
trades, their bars, and whatever status, gap or alert updates were queued with them.
"""
from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from pairdesk.store.atomic import atomic
from pairdesk.store.database import BUSY_TIMEOUT_MS, open_writer
from pairdesk.store.dialect import is_postgres
from pairdesk.store.errors import StoreError, database_errors
from pairdesk.store.trades import BatchResult, TradeTuple, _next_rev, _SymbolIds, store_trades

log = logging.getLogger(__name__)

FLUSH_INTERVAL_MS = 250


MAX_BATCH_TRADES = 20_000


BUSY_RETRY_S = 0.2  # pause between attempts while another process holds the write lock


BUSY_RETRY_ON_STOP_S = 30.0  # at shutdown, give up on a locked database after this long


RECONNECT_RETRY_S = 1.0  # pause between attempts to reach a PostgreSQL server that went away


class TradeWriter:
    """The single writer: a thread that owns the write connection and commits a batch at a time.

    ``submit`` and ``call`` are thread-safe and never block on SQLite. A batch is committed every
    ``flush_interval_ms`` or as soon as ``max_batch_trades`` trades are waiting, in one
    transaction that also applies the status and gap updates queued with it.
    """

    def __init__(self, path: str | Path, market: str, stream: str, source: str | None = None,
                 flush_interval_ms: int = FLUSH_INTERVAL_MS, max_batch_trades: int = MAX_BATCH_TRADES,
                 on_commit: Callable[[BatchResult], None] | None = None) -> None:
        self._open_args = (path, market, stream, source)
        self.conn = open_writer(path, market, stream, source)
        self.flush_interval_s = flush_interval_ms / 1000
        self.max_batch_trades = max_batch_trades
        self.on_commit = on_commit
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._symbol_ids = _SymbolIds(self.conn)
        self._rev = _next_rev(self.conn)
        self._thread = threading.Thread(target=self._run, name="tick-writer", daemon=True)
        self._stopping = False
        self.error: BaseException | None = None
        self.totals = BatchResult()
        self._submitted = 0  # written by the submitting thread
        self._handled = 0  # written by the writer thread

    def start(self) -> TradeWriter:
        self._thread.start()
        return self

    def submit(self, trades: list[TradeTuple]) -> None:
        """Queue trades for the next batch (duplicates are dropped when stored)."""
        if trades:
            self._submitted += len(trades)
            self._inbox.put(trades)

    @property
    def backlog(self) -> int:
        """Trades submitted but not yet committed (each counter is written by one thread only)."""
        return self._submitted - self._handled

    def call(self, fn: Callable[[sqlite3.Connection], object]) -> Future:
        """Run ``fn(conn)`` in the writer thread inside the next batch's transaction."""
        future: Future = Future()
        self._inbox.put((fn, future))
        return future

    def close(self, timeout_s: float = 5.0) -> None:
        """Commit what is queued and stop the thread."""
        if self._thread.is_alive():
            self._stopping = True
            self._inbox.put(None)
            self._thread.join(timeout_s)
        self.conn.close()

    def _run(self) -> None:
        while True:
            trades: list[TradeTuple] = []
            calls: list[tuple[Callable, Future]] = []
            deadline = time.monotonic() + self.flush_interval_s
            stop = False
            while len(trades) < self.max_batch_trades:
                try:
                    item = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                if isinstance(item, tuple):
                    self._take_call(item, calls)
                else:
                    trades.extend(item)
            if stop:  # drain what arrived before the stop marker
                while True:
                    try:
                        item = self._inbox.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(item, tuple):
                        self._take_call(item, calls)
                    elif item is not None:
                        trades.extend(item)
            if trades or calls:
                self._commit(trades, calls)
            if stop:
                return

    @staticmethod
    def _take_call(item: tuple[Callable, Future], calls: list[tuple[Callable, Future]]) -> None:
        """Keep a call unless its caller cancelled it (an asyncio task stopped while awaiting it); once
        taken it is RUNNING and can no longer be cancelled, so setting its result is always safe."""
        if item[1].set_running_or_notify_cancel():
            calls.append(item)

    def _commit(self, trades: list[TradeTuple], calls: list[tuple[Callable, Future]]) -> None:
        """Commit one batch; while another process holds the write lock (an import), wait and retry.

        A batch is never dropped because the database is busy, or because the PostgreSQL server went
        away (the writer reconnects and commits it again: trades already stored are skipped); any other
        failure rolls the batch back, is logged and reported to the callers, and the writer keeps going.
        """
        waited_s = 0.0
        try:
            while True:
                try:
                    self._commit_batch(trades, calls)
                    return
                except sqlite3.OperationalError as exc:
                    busy = "locked" in str(exc) or "busy" in str(exc)
                    if not busy or (self._stopping and waited_s >= BUSY_RETRY_ON_STOP_S):
                        self._fail_batch(trades, calls, exc)
                        return
                    if waited_s == 0.0:
                        log.warning("writer: another process is writing to the database; holding %d trades "
                                    "until it is done", len(trades))
                    time.sleep(BUSY_RETRY_S)
                    waited_s += BUSY_RETRY_S + BUSY_TIMEOUT_MS / 1000
                except database_errors() as exc:  # PostgreSQL (SQLite's errors are handled above)
                    retry = self._retry_pg(exc)
                    if retry is None or (self._stopping and waited_s >= BUSY_RETRY_ON_STOP_S):
                        self._fail_batch(trades, calls, exc)
                        return
                    if waited_s == 0.0:
                        log.warning("writer: %s (%s); holding %d trades and trying again", retry,
                                    " ".join(str(exc).split()), len(trades))
                    time.sleep(RECONNECT_RETRY_S)
                    waited_s += RECONNECT_RETRY_S
                    if retry == "lost the database":
                        self._reconnect()
                except Exception as exc:  # a failed batch must not kill the writer
                    self._fail_batch(trades, calls, exc)
                    return
        finally:
            self._handled += len(trades)

    def _retry_pg(self, exc: BaseException) -> str | None:
        """Why a PostgreSQL batch is worth trying again ("lost the database": the server restarted or the
        network cut, "deadlock": two writers' lock orders crossed), or None (a bad statement: fail it)."""
        import psycopg

        if not is_postgres(self.conn):
            return None
        if self.conn.closed or (isinstance(exc, psycopg.OperationalError) and self.conn.raw.broken):
            return "lost the database"
        if isinstance(exc, (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)):
            return "deadlock"
        return None

    def _reconnect(self) -> None:
        """A new connection in place of a lost one (quietly nothing while the server is still away)."""
        try:
            conn = open_writer(*self._open_args)
        except StoreError:
            return
        try:
            self.conn.close()
        finally:
            self.conn = conn
            self._symbol_ids = _SymbolIds(conn)
        log.warning("writer: reconnected to the database")

    def _fail_batch(self, trades: list[TradeTuple], calls: list[tuple[Callable, Future]], exc: Exception) -> None:
        log.error("writer: batch of %d trades failed and was rolled back: %s", len(trades), exc)
        self.error = exc
        for _fn, future in calls:
            future.set_exception(exc)

    def _commit_batch(self, trades: list[TradeTuple], calls: list[tuple[Callable, Future]]) -> None:
        results = []
        try:
            with atomic(self.conn):
                self._rev = max(self._rev, _next_rev(self.conn))  # an upload by another process may have used ours
                batch = store_trades(self.conn, self._symbol_ids, trades, self._rev) if trades else BatchResult()
                for fn, _future in calls:
                    results.append(fn(self.conn))
        except Exception:
            self._symbol_ids = _SymbolIds(self.conn)  # ids created in the rolled-back transaction are gone
            raise
        self._rev += 1
        self.totals.offered += batch.offered
        self.totals.stored += batch.stored
        self.totals.bars += batch.bars
        for (_fn, future), value in zip(calls, results):
            future.set_result(value)
        if self.on_commit is not None:
            self.on_commit(batch)

