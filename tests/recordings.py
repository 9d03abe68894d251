"""Readers for the recorded real Binance sessions in ../shared/data/binance (test helpers)."""
from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path


def recorded_frames(path: Path) -> Iterator[str]:
    """The raw frames of a recording, in order, without the recorder's timestamps.

    hftbacktest files: gzip text, ``<local receive ns> <combined frame>`` per line.
    cryptofeed files: a first line with the URL, then ``<unix seconds>: <frame>`` per line.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as lines:
        for line in lines:
            stamp, _, frame = line.rstrip("\n").partition(" ")
            if frame.startswith("{"):
                yield frame
