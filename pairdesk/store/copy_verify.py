"""Checking a copy: the same rows on both sides, per table and, for the big tables, per symbol.

Each side is read in the copy's keyset pages and summarised in Python, the same way on both (an
SQL sum of floats depends on the order it adds in, and the two engines add in different orders):

- per symbol of each big table (trades, bars, quotes, marks): the row count, the smallest,
  largest and sum of the key (trade ids; the second of bars, quotes and marks), for trades the
  sum of ts_ms, and a digest of every row;
- per small table: the row count and the digest; the ``meta`` record (but the schema version,
  which each backend keeps its own) and the symbol names the same way.

The digest is the sum, modulo 2**128, of a BLAKE2b hash of each row's ``repr`` (its ints, its
8-byte floats with every digit, its texts; never the symbol's id, which each database numbers its
own way): it does not depend on the order rows are read in (text keys sort by each database's
collation). Bars' ``rev`` is left out: the target numbers its own revisions.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields

from pairdesk.store.copying import (
    BIG_TABLES,
    COPY_BATCH_ROWS,
    SMALL_TABLES,
    DatabaseCopy,
    Table,
    copied_meta,
    symbol_ids,
    walk,
)

DIGEST_MOD = 1 << 128


@dataclass(frozen=True)
class CopySummary:
    """What one side holds of one table (of one symbol's rows): None where not compared."""

    rows: int = 0
    first: int | None = None
    last: int | None = None
    key_sum: int | None = None
    ts_sum: int | None = None
    digest: str = ""


@dataclass(frozen=True)
class CopyCheck:
    """One comparison of source and target: ``table`` (of ``symbol``'s rows, "" for the whole table)."""

    table: str
    symbol: str
    compared: str
    source: CopySummary
    target: CopySummary

    @property
    def ok(self) -> bool:
        return self.source == self.target

    def differences(self) -> list[str]:
        """What differs, in words: e.g. ``rows 2,398 vs 2,397``, ``row digest``."""
        labels = {"rows": "rows", "first": "first key", "last": "last key", "key_sum": "sum of keys",
                  "ts_sum": "sum of ts_ms", "digest": "row digest"}
        out = []
        for field in fields(CopySummary):
            mine, theirs = getattr(self.source, field.name), getattr(self.target, field.name)
            if mine != theirs:
                out.append(labels[field.name] if field.name == "digest" else f"{labels[field.name]} {mine} vs {theirs}")
        return out


def _digest(rows: Iterable[tuple]) -> int:
    total = 0
    for row in rows:
        total += int.from_bytes(hashlib.blake2b(repr(row).encode(), digest_size=16).digest(), "little")
    return total


def _summary(pages: Iterable[list[tuple]], keyed: bool, ts_at: int | None) -> CopySummary:
    rows = key_sum = ts_sum = digest = 0
    first = last = None
    for page in pages:
        rows += len(page)
        digest += _digest(page)
        if keyed:
            first = page[0][0] if first is None else first
            last = page[-1][0]
            key_sum += sum(row[0] for row in page)
            if ts_at is not None:
                ts_sum += sum(row[ts_at] for row in page)
    if not rows:
        return CopySummary()
    if not keyed:
        return CopySummary(rows, digest=f"{digest % DIGEST_MOD:032x}")
    return CopySummary(rows, first, last, key_sum, ts_sum if ts_at is not None else None, f"{digest % DIGEST_MOD:032x}")


def _compared(table: Table) -> str:
    if not table.by_symbol:
        return "rows, row digest"
    key = table.key[0]
    extra = ", sum of ts_ms" if key != "ts_ms" else ""
    return f"rows, min/max/sum of {key}{extra}, row digest" + (" (rev excluded)" if table.fresh_rev else "")


def _of_symbol(conn, table: Table, sym_id: int | None, batch_rows: int) -> CopySummary:
    if sym_id is None:
        return CopySummary()
    ts_at = table.copied.index("ts_ms") if "ts_ms" in table.columns else None
    return _summary(walk(conn, table, batch_rows, sym_id), keyed=True, ts_at=ts_at)


def _of_rows(rows: list[tuple]) -> CopySummary:
    return _summary([rows] if rows else [], keyed=False, ts_at=None)


def verify_copy(job: DatabaseCopy, batch_rows: int = COPY_BATCH_ROWS,
                on_progress: Callable[[str, str], None] | None = None) -> list[CopyCheck]:
    """Compare ``job``'s source and target: the meta record and the symbol names, then each big table
    per symbol that either side has rows of, then each small table (one CopyCheck each).
    ``on_progress(table, symbol)`` is told what is being read."""
    report = on_progress or (lambda *_: None)
    source, target = job.source, job.target
    checks = [CopyCheck("meta", "", "keys and values (schema_version excluded)",
                    _of_rows(sorted(copied_meta(source).items())), _of_rows(sorted(copied_meta(target).items())))]
    src_ids, dst_ids = symbol_ids(source), symbol_ids(target)
    checks.append(CopyCheck("symbols", "", "names", _of_rows(sorted((s,) for s in src_ids)),
                        _of_rows(sorted((s,) for s in dst_ids))))
    for table in BIG_TABLES:
        for symbol in sorted(set(src_ids) | set(dst_ids)):
            report(table.name, symbol)
            mine = _of_symbol(source, table, src_ids.get(symbol), batch_rows)
            theirs = _of_symbol(target, table, dst_ids.get(symbol), batch_rows)
            if mine.rows or theirs.rows:
                checks.append(CopyCheck(table.name, symbol, _compared(table), mine, theirs))
    for table in SMALL_TABLES:
        report(table.name, "")
        mine, theirs = (_summary(walk(conn, table, batch_rows), keyed=False, ts_at=None) for conn in (source, target))
        checks.append(CopyCheck(table.name, "", _compared(table), mine, theirs))
    return checks
