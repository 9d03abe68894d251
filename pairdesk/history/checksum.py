"""A dump's ``.CHECKSUM`` file (``<sha256>  <name>``, as data.binance.vision serves it) checked in bounded memory."""
from __future__ import annotations

import hashlib
from pathlib import Path

READ_BYTES = 1 << 20


class ChecksumMismatch(Exception):
    """The file is not the one its .CHECKSUM describes; the message is one line."""


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file, read a megabyte at a time (OSError when it cannot be read)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(READ_BYTES):
            digest.update(block)
    return digest.hexdigest()


def verify_checksum(path: Path) -> str:
    """Check ``<file>.CHECKSUM`` when it exists; returns what was found; ChecksumMismatch otherwise."""
    checksum_file = path.with_name(path.name + ".CHECKSUM")
    if not checksum_file.exists():
        return "none beside the file"
    words = checksum_file.read_text().split()
    expected = words[0].lower() if words else ""
    actual = file_sha256(path)
    if expected != actual:
        raise ChecksumMismatch(f"checksum mismatch: {checksum_file.name} says {expected[:16]}..., "
                               f"the file is {actual[:16]}... (download it again)")
    return "sha256 verified"
