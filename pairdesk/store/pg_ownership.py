"""One writer per symbol on PostgreSQL: ingestors (shards) own disjoint sets of symbols.

Owning a symbol is holding the session advisory lock (SYMBOL_LOCK_NS, sym_id) on the ownership
connection, which the process keeps open for as long as it writes. PostgreSQL drops every lock of
a session that ends, however it ends (``kill -9`` included, once the server sees the socket close),
so a crashed shard's symbols are free for its restart and never blocked by a stale record. A
refused ingestor is told who holds the symbol: the holder's ``application_name`` ("pairdesk
ingestor pid 123 on host") and since when, from ``pg_locks`` and ``pg_stat_activity``.

Alert rules are owned the same way, (RULE_LOCK_NS, rule_id): with several ingestors on one
database, each rule is evaluated by exactly one of them.
"""
from __future__ import annotations

import time
from collections.abc import Iterable

from pairdesk.store import pg_schema
from pairdesk.store.dialect import display_name
from pairdesk.store.errors import StoreError
from pairdesk.store.postgres import connect
from pairdesk.store.schema import SCHEMA_VERSION

LOST_GRACE_S = 60.0  # how long a server may stay away before the claims are given up
SYMBOL_LOCK_NS = 7_140_200
RULE_LOCK_NS = 7_140_300


class PgOwnership:
    """The claims of one process on symbols and rules of one PostgreSQL database."""

    def __init__(self, url: str, role: str) -> None:
        self.db_path = url
        self.role = role
        self.conn = connect(url, role=role)
        pg_schema.migrate(self.conn, SCHEMA_VERSION)  # a new database: symbols are claimed by their id
        self.symbols: dict[str, int] = {}  # owned symbol -> sym_id
        self.rules: set[int] = set()
        self._lost: tuple[float, list[str], list[int], str] | None = None  # since, symbols, rules, why

    def _sym_id(self, symbol: str) -> int:
        self.conn.execute("INSERT INTO symbols (symbol) VALUES (?) ON CONFLICT DO NOTHING", (symbol,))
        return self.conn.execute("SELECT sym_id FROM symbols WHERE symbol = ?", (symbol,)).fetchone()[0]

    def _try_lock(self, namespace: int, key: int) -> bool:
        return bool(self.conn.execute("SELECT pg_try_advisory_lock(?::int4, ?::int4)", (namespace, key)).fetchone()[0])

    def holder(self, namespace: int, key: int) -> str | None:
        """Who holds the lock (namespace, key): "pairdesk ingestor pid 12 on host (connected since ...)";
        None when nobody does."""
        row = self.conn.execute(
            "SELECT a.application_name, to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
            "AND l.granted AND l.classid = ?::oid AND l.objid = ?::oid AND l.objsubid = 2", (namespace, key)).fetchone()
        if row is None:
            return None
        return f"{row[0] or 'another session'} (connected since {row[1]} UTC)"

    def owned_symbols(self) -> set[str]:
        """Every symbol some ingestor (this one included) owns now."""
        return {symbol for (symbol,) in self.conn.execute(
            "SELECT s.symbol FROM pg_locks l JOIN symbols s ON l.objid = s.sym_id::oid WHERE l.locktype = 'advisory' "
            "AND l.granted AND l.classid = ?::oid AND l.objsubid = 2", (SYMBOL_LOCK_NS,))}

    def claim_symbols(self, symbols: Iterable[str]) -> dict[str, str]:
        """Own each of ``symbols`` not owned yet; returns {symbol: who holds it} for those another owns."""
        refused = {}
        for symbol in symbols:
            if symbol in self.symbols:
                continue
            sym_id = self._sym_id(symbol)
            if self._try_lock(SYMBOL_LOCK_NS, sym_id):
                self.symbols[symbol] = sym_id
            else:
                refused[symbol] = self.holder(SYMBOL_LOCK_NS, sym_id) or "another process"
        return refused

    def release_symbols(self, symbols: Iterable[str]) -> None:
        """Stop owning ``symbols`` (no longer followed): another ingestor may take them."""
        for symbol in symbols:
            sym_id = self.symbols.pop(symbol, None)
            if sym_id is not None:
                self.conn.execute("SELECT pg_advisory_unlock(?::int4, ?::int4)", (SYMBOL_LOCK_NS, sym_id))

    def owns_rule(self, rule_id: int) -> bool:
        """Whether this process evaluates rule ``rule_id`` (taking it when no other process holds it)."""
        if rule_id not in self.rules and self._try_lock(RULE_LOCK_NS, int(rule_id)):
            self.rules.add(rule_id)
        return rule_id in self.rules

    def check(self) -> None:
        """Keep the claims: when the ownership session is gone (the server restarted, the network cut),
        connect again and take back every symbol and rule held. StoreError when that cannot be done
        (still unreachable, or another process took a symbol meanwhile): the caller must stop writing."""
        if self._lost is None:
            try:
                self.conn.execute("SELECT 1")
                return
            except Exception as exc:
                self._lost = (time.monotonic(), list(self.symbols), list(self.rules), " ".join(str(exc).split()))
                self.symbols, self.rules = {}, set()
                try:
                    self.conn.close()
                except Exception:
                    pass
        since, held, rules, reason = self._lost
        try:
            conn = connect(self.db_path, role=self.role)
        except StoreError:
            if time.monotonic() - since < LOST_GRACE_S:
                return  # the server may be restarting: the writer holds its batch meanwhile
            raise StoreError(f"{display_name(self.db_path)}: lost the connection that owns {', '.join(held) or 'nothing'} "
                             f"({reason}) and could not connect again for {LOST_GRACE_S:.0f} s") from None
        self.conn, self._lost = conn, None
        refused = self.claim_symbols(held)
        for rule_id in rules:
            self.owns_rule(rule_id)
        if refused:
            symbol, holder = next(iter(refused.items()))
            raise StoreError(f"{display_name(self.db_path)}: {symbol} was taken by {holder} while this ingestor's "
                             f"connection was lost ({reason}); stopping")

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.close()
        self.symbols.clear()
        self.rules.clear()

    def __enter__(self) -> PgOwnership:
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()
