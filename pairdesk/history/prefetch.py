"""Read ahead in a thread: the next chunks are parsed while the current one is stored.

pandas' CSV tokenizer and SQLite both release the GIL while they work, so on two cores the
parsing of chunk n+1 overlaps the storing of chunk n. At most ``depth`` chunks wait, so memory
stays bounded; an exception in the reading thread is raised in the consumer, in order.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """``items``, produced by a background thread up to ``depth`` ahead of the consumer."""
    waiting: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        waiting.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            waiting.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            waiting.put(_Failed(exc))

    thread = threading.Thread(target=produce, name="history-read-ahead", daemon=True)
    thread.start()
    try:
        while (item := waiting.get()) is not _DONE:
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()
