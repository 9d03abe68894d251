"""``python data_ingestor.py copy --from SRC --to DST``: one tick database copied into another, exactly.

SQLite -> PostgreSQL, back again, or within one backend: the same code (``store.open_copy``).
Progress goes to stderr (one line rewritten in place on a terminal, else a line every 5 s); Ctrl+C
(or SIGTERM) stops after the chunk being written, and the same command run again resumes. Then
both sides are compared (``store.verify_copy``) and the table of what was compared is printed;
any difference is one line per table / symbol on stderr and exit code 1.
"""
from __future__ import annotations

import argparse
import math
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from pairdesk import exit_codes, store

PROG = "data_ingestor.py copy"
LOG_EVERY_S = 5.0  # without a terminal: a progress line this often
REDRAW_EVERY_S = 0.1  # on a terminal: the line is rewritten this often at most


class ProgressLine:
    """The copy's progress on ``stream``: table (and symbol), rows done / in all, rows/s, ETA.

    On a terminal the line is rewritten in place; otherwise a line is written every LOG_EVERY_S.
    Each table ends with its final line. ``clock`` is injectable (tests)."""

    def __init__(self, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic,
                 tty: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.clock = clock
        self.tty = self.stream.isatty() if tty is None else tty
        self.table: str | None = None
        self.symbol = ""
        self.done = self.total = self.first_done = 0
        self.started = self.shown_at = 0.0
        self.pending = False  # an in-place line is on screen

    def update(self, table: str, symbol: str, done: int, total: int) -> None:
        """``symbol``'s rows of ``table`` are being copied: ``done`` of ``total`` rows are in the target."""
        now = self.clock()
        if table != self.table:
            self.finish()
            self.table, self.started, self.first_done = table, now, done
            self.shown_at = -math.inf if self.tty else now
        self.symbol, self.done, self.total = symbol, done, total
        if now - self.shown_at >= (REDRAW_EVERY_S if self.tty else LOG_EVERY_S):
            self.shown_at = now
            self._write(self._text(now), final=False)

    def status(self, table: str, symbol: str) -> None:
        """What the verification is reading (on a terminal only, in place)."""
        if self.tty:
            self._write(f"verifying {table} {symbol}".rstrip(), final=False)

    def finish(self) -> None:
        """End the current table with its final line (none for an empty table); clear a line left in place."""
        if self.table is not None and self.total:
            self.symbol = ""
            self._write(self._text(self.clock()), final=True)
        elif self.pending:
            self.stream.write("\r\x1b[K")
            self.pending = False
        self.table = None
        self.stream.flush()

    def _text(self, now: float) -> str:
        name = f"{self.table} {self.symbol}".rstrip()
        if not self.total:
            return f"copy {name}: no rows"
        left = self.total - self.done
        if left <= 0 and self.done == self.first_done:
            return f"copy {name}: {self.total:,} rows, all there already"
        rate = (self.done - self.first_done) / (now - self.started) if now > self.started else 0.0
        eta = "done" if left <= 0 else f"ETA {_duration(left / rate)}" if rate > 0 else "ETA -"
        return (f"copy {name}: {self.done:,} / {self.total:,} rows ({self.done / self.total:.0%}), "
                f"{rate:,.0f} rows/s, {eta}")

    def _write(self, text: str, final: bool) -> None:
        if self.tty:
            self.stream.write(f"\r{text}\x1b[K" + ("\n" if final else ""))
            self.pending = not final
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _duration(seconds: float) -> str:
    minutes, secs = divmod(math.ceil(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class StopRequest:
    """Ctrl+C and SIGTERM, while active, ask the copy to stop after its current chunk (a second one
    stops at once: what is committed stays)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.asked = False
        self._previous: dict[int, object] = {}

    def __call__(self) -> bool:
        return self.asked

    def _ask(self, signum: int, _frame) -> None:
        self.asked = True
        signal.signal(signum, signal.default_int_handler)  # a second one: KeyboardInterrupt

    def __enter__(self) -> StopRequest:
        self._previous = {sig: signal.signal(sig, self._ask) for sig in self.SIGNALS}
        return self

    def __exit__(self, *exc_info) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def format_checks(checks: Sequence[store.CopyCheck]) -> str:
    """The verification as a table: what was compared, the rows on each side, the result."""
    header = ("table", "symbol", "source rows", "target rows", "result", "compared")
    rows = [(c.table, c.symbol, f"{c.source.rows:,}", f"{c.target.rows:,}", "ok" if c.ok else "DIFFERS", c.compared)
            for c in checks]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [row[i].rjust(widths[i]) if i in (2, 3) else row[i].ljust(widths[i]) for i in range(len(widths))]
        lines.append("  ".join([*cells, row[-1]]))
    return "\n".join(lines)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Copy a tick database into another exactly (SQLite file <-> PostgreSQL URL, either way): "
                    "trades, bars, quotes, marks, funding, gaps, feed status, alert rules and events, watchlist, "
                    "summaries, scans. Resumable: run it again after an interruption. Verified at the end.")
    parser.add_argument("--from", dest="source", required=True, metavar="DB",
                        help="the database to copy: a SQLite file or postgresql://user@host/dbname")
    parser.add_argument("--to", dest="target", required=True, metavar="DB",
                        help="where to copy it (created when new; must be new, or an earlier copy of the same "
                             "database, and of the same market and stream kind)")
    parser.add_argument("--batch", type=int, default=store.COPY_BATCH_ROWS, metavar="ROWS",
                        help="rows per committed chunk (default: %(default)s)")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip the comparison of both databases at the end")
    args = parser.parse_args(list(argv))
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    return args


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    progress = ProgressLine()
    source, target = store.display_name(args.source), store.display_name(args.target)
    try:
        with store.open_copy(args.source, args.target) as job, StopRequest() as stop:
            _warn_if_written(args.source)
            started = time.monotonic()
            try:
                result = job.run(args.batch, progress.update, stop)
            finally:
                progress.finish()
            print(f"copied {source} -> {target} in {time.monotonic() - started:.1f} s: {result.added:,} rows added "
                  f"to trades, bars, quotes and marks, {result.refreshed:,} rows of the other tables brought up to date")
            if args.no_verify:
                return exit_codes.OK
            try:
                checks = store.verify_copy(job, args.batch, progress.status)
            finally:
                progress.finish()
    except (store.CopyStopped, KeyboardInterrupt) as exc:
        where = str(exc) if isinstance(exc, store.CopyStopped) else "interrupted"
        print(f"{PROG}: {where}; run the same command again to resume", file=sys.stderr)
        return exit_codes.FAILURE
    except store.StoreError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exit_codes.CONFIG_ERROR
    except store.database_errors() as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        print(f"{PROG}: error: {reason} (what was copied stays: run the same command again to resume)", file=sys.stderr)
        return exit_codes.FAILURE
    print(format_checks(checks))
    bad = [check for check in checks if not check.ok]
    for check in bad:
        name = f"{check.table} {check.symbol}".rstrip()
        print(f"{PROG}: error: {name} differs: {', '.join(check.differences())}", file=sys.stderr)
    if bad:
        return exit_codes.FAILURE
    print(f"verified: {target} holds the same rows as {source}")
    return exit_codes.OK


def _warn_if_written(source: str) -> None:
    """A source a live ingestor is writing changes while it is read: say so (the copy goes on)."""
    owner = None if store.is_url(source) else store.read_owner(source)
    if owner is not None:
        print(f"{PROG}: warning: {source} is being written by {owner.describe()}; what arrives during the copy may "
              "be missing from it (stop that one first for an exact copy)", file=sys.stderr)
