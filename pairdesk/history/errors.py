"""The one error a history file can cause: what is wrong, and on which line."""
from __future__ import annotations

MAX_ERROR_TEXT = 40  # characters of a bad field quoted back in an error message


class HistoryImportError(ValueError):
    """A file that cannot be imported; ``line`` is the 1-based line of the problem (None: whole file)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line
        self.reason = message


def quote(text: str) -> str:
    """A field as quoted back in an error message, shortened when long."""
    return repr(text if len(text) <= MAX_ERROR_TEXT else text[:MAX_ERROR_TEXT] + "...")
