"""Make the trimmed copies of the recorded real Binance data kept in tests/data/ (under 1 MB in all).

    python tests/data/make_trimmed.py            # write the copies, print what each one keeps
    python tests/data/make_trimmed.py --check    # verify the copies against the originals, write nothing

Reads the full copies from $BINANCE_DATA_DIR (default /work/shared/data/binance) and writes the same
relative paths beside this script. Only whole lines are removed: every kept line is a byte-for-byte
copy of a line of the original, in the original order. Recompressed .gz files get a fixed header
(no name, mtime 0), so the same input always gives the same bytes.
"""
from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = Path(os.environ.get("BINANCE_DATA_DIR") or "/work/shared/data/binance")

NS_PER_S = 1_000_000_000
US_PER_S = 1_000_000
MIDNIGHT_0809_NS = 1_723_161_600 * NS_PER_S  # 2024-08-09 00:00:00 UTC on the recorder's clock
SPOT_SECONDS_EACH_SIDE = 60  # spot: the last 60 s of 0808 and the first 60 s of 0809 (2 min across midnight)
USDM_SECONDS = 45  # futures: the last 45 s of 0808 (inside the spot window's 0808 half)
LEGACY_START_S = 1_680_652_800  # 2023-04-05 00:00:00 UTC (that file's stamps are microseconds)
LEGACY_SECONDS = 60  # the 2023 spot file: its first minute
AGG_DUMP_ROWS = 1_500  # the aggTrades CSV: its first 1,500 rows
CRYPTOFEED_OTHER_FRAMES_PER_STREAM = 2  # besides every aggTrade frame: the first 2 frames of each other stream
KEPT_STREAMS = ("@trade", "@bookTicker")  # hftbacktest files: @depth frames (and the REST snapshot) dropped

Keep = Callable[[bytes], bool]


@dataclass(frozen=True)
class Trim:
    """One trimmed file: its path (the same under the source and under tests/data) and which lines stay."""

    relative: str
    keep: Keep
    kept: str  # what stays, in words, for SOURCES.txt


def stream_of(frame: bytes) -> str:
    """The combined-stream name of a raw frame ("" for a frame without one, e.g. a REST depth snapshot)."""
    try:
        message = json.loads(frame)
    except ValueError:
        return ""
    return message.get("stream", "") if isinstance(message, dict) else ""


def hftbacktest_window(start: int, end: int) -> Keep:
    """Lines ``<local stamp> <frame>`` with start <= stamp < end whose stream is @trade or @bookTicker."""
    def keep(line: bytes) -> bool:
        stamp, _, frame = line.partition(b" ")
        return start <= int(stamp) < end and stream_of(frame).endswith(KEPT_STREAMS)
    return keep


def first_rows(count: int) -> Keep:
    """The first ``count`` lines of a file."""
    seen = [0]

    def keep(line: bytes) -> bool:
        seen[0] += 1
        return seen[0] <= count
    return keep


def cryptofeed_sample(others_per_stream: int) -> Keep:
    """The URL line, every @aggTrade frame, and the first few frames of each other stream."""
    counts: dict[str, int] = {}

    def keep(line: bytes) -> bool:
        _, separator, frame = line.partition(b": ")
        if not separator or not frame.startswith(b"{"):
            return True  # the first line: the connect URL
        stream = stream_of(frame)
        if stream.endswith("@aggTrade"):
            return True
        counts[stream] = counts.get(stream, 0) + 1
        return counts[stream] <= others_per_stream
    return keep


def local_window(start_s: int, end_s: int) -> str:
    """``start -> end`` of a window on the recorder's clock, in UTC."""
    def clock(seconds: int) -> str:
        return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return f"recorder's clock {clock(start_s)} -> {clock(end_s)} UTC"


def trims() -> list[Trim]:
    """Every trimmed file (fresh line filters: some of them count lines)."""
    midnight_s, legacy_s = MIDNIGHT_0809_NS // NS_PER_S, LEGACY_START_S
    spot_before, spot_after = midnight_s - SPOT_SECONDS_EACH_SIDE, midnight_s + SPOT_SECONDS_EACH_SIDE
    usdm_start = midnight_s - USDM_SECONDS
    streams = "@trade and @bookTicker frames"
    out = []
    for symbol in ("btc", "eth"):
        out += [
            Trim(f"hftbacktest/spot/{symbol}usdt_20240808.gz",
                 hftbacktest_window(spot_before * NS_PER_S, midnight_s * NS_PER_S),
                 f"{streams}, {local_window(spot_before, midnight_s)}"),
            Trim(f"hftbacktest/spot/{symbol}usdt_20240809.gz",
                 hftbacktest_window(midnight_s * NS_PER_S, spot_after * NS_PER_S),
                 f"{streams}, {local_window(midnight_s, spot_after)}"),
            Trim(f"hftbacktest/usdm/{symbol}usdt_20240808.gz",
                 hftbacktest_window(usdm_start * NS_PER_S, midnight_s * NS_PER_S),
                 f"{streams}, {local_window(usdm_start, midnight_s)}"),
        ]
    out += [
        Trim("hftbacktest/spot/btcusdt_20230405.dat.gz",
             hftbacktest_window(legacy_s * US_PER_S, (legacy_s + LEGACY_SECONDS) * US_PER_S),
             f"{streams}, {local_window(legacy_s, legacy_s + LEGACY_SECONDS)} (microsecond stamps)"),
        Trim("HJB-PDE-TEAM-PROJECT/BTCUSDT-aggTrades-2026-01-01.csv", first_rows(AGG_DUMP_ROWS),
             f"the first {AGG_DUMP_ROWS:,} rows"),
        Trim("cryptofeed/BINANCE_FUTURES.ws.1.0", cryptofeed_sample(CRYPTOFEED_OTHER_FRAMES_PER_STREAM),
             f"line 1 (the URL), every @aggTrade frame, the first {CRYPTOFEED_OTHER_FRAMES_PER_STREAM} frames of "
             "each other stream"),
    ]
    return out


def read_lines(path: Path) -> list[bytes]:
    """The lines of a recording, newline included, decompressed when it is a .gz file."""
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).splitlines(keepends=True)


def encode(relative: str, lines: Iterable[bytes]) -> bytes:
    """The file's bytes: the lines joined, gzip with a fixed header for .gz paths."""
    text = b"".join(lines)
    if not relative.endswith(".gz"):
        return text
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as packed:
        packed.write(text)
    return buffer.getvalue()


def kept_lines(trim: Trim) -> tuple[list[int], list[bytes]]:
    """Line numbers (1-based) and lines of the original that the trim keeps."""
    numbers, lines = [], []
    for number, line in enumerate(read_lines(SOURCE / trim.relative), start=1):
        if trim.keep(line):
            numbers.append(number)
            lines.append(line)
    return numbers, lines


def describe(trim: Trim, numbers: list[int], lines: list[bytes]) -> str:
    """What a trimmed file holds: size, line range, trade ids and times (for SOURCES.txt)."""
    ids, times = [], []
    for line in lines:
        frame = line[line.find(b"{"):]
        if frame.startswith(b"{"):
            data = json.loads(frame).get("data", {})
            if data.get("e") in ("trade", "aggTrade"):
                ids.append(data["t"] if data["e"] == "trade" else data["a"])
                times.append(data["T"])
        elif line[:1].isdigit() and trim.relative.endswith(".csv"):
            fields = line.split(b",")
            ids.append(int(fields[0]))
            times.append(int(fields[5]) // 1000)
    size = len(encode(trim.relative, lines))
    text = f"{trim.relative}: {size:,} bytes, {len(lines):,} of the original's lines ({trim.kept})"
    text += f"; original lines {numbers[0]}..{numbers[-1]}"
    if ids:
        contiguous = "contiguous" if sorted(ids) == list(range(min(ids), min(ids) + len(ids))) else "NOT contiguous"
        text += (f"; {len(ids):,} trades, ids {min(ids)}..{max(ids)} ({contiguous}), "
                 f"trade time T {min(times)}..{max(times)} ms")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify tests/data against the originals")
    args = parser.parse_args(argv)
    if not (SOURCE / "SOURCES.txt").exists():
        print(f"make_trimmed: error: no full copy at {SOURCE}; set BINANCE_DATA_DIR", file=sys.stderr)
        return 2
    failures = 0
    for trim in trims():
        numbers, lines = kept_lines(trim)
        target = HERE / trim.relative
        if args.check:
            good = target.exists() and read_lines(target) == lines  # kept_lines are the original's own lines
            failures += not good
            print(f"{'ok' if good else 'DIFFERS'}: {trim.relative}")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(encode(trim.relative, lines))
        print(describe(trim, numbers, lines))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
