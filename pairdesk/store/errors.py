"""The store's errors: each message is one line a user can act on."""
from __future__ import annotations


class StoreError(Exception):
    """A problem with the database file a user can fix; the message is one line."""


class StoreMismatch(StoreError):
    """The database holds another market or stream kind than the one asked for."""


class WriterBusy(StoreError):
    """Another live process owns the database for writing (a second ingestor); the message names it."""
