"""Notifications of alert events, sent from their own thread with a timeout and retries.

Each of a rule's ``notify`` URLs gets the event (``pairdesk.alerts.channels``: a webhook the JSON
event, an apprise service a titled text). A bounded queue sits between the monitor and the
network: a slow or dead endpoint never delays evaluation or ingestion; when the queue is full a
delivery is dropped, counted and logged. Each event's ``delivery`` column says how it went: for
one URL "sent", "failed: reason" or "dropped: queue full"; for several, the same per URL, each
after its masked URL (``tgram://12…op/98…21: sent; json://127.0.0.1:9000/hook: pending``).
"""
from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from pairdesk import store
from pairdesk.alerts import channels
from pairdesk.alerts.channels import event_payload  # noqa: F401 (the monitor's and the tests' name for it)
from pairdesk.alerts.notify import mask_url
from pairdesk.alerts.writing import Writer, isolated

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_S = channels.SEND_TIMEOUT_S
WEBHOOK_RETRIES = 3
WEBHOOK_BACKOFF_S = 0.5  # then 1 s, 2 s
WEBHOOK_QUEUE_SIZE = 1000
PENDING = "pending"


@dataclass
class _Outcomes:
    """How each URL of one event went so far (None: pending), for its ``delivery`` column."""

    urls: tuple[str, ...]
    outcomes: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.outcomes = [None] * len(self.urls)

    def text(self) -> str:
        if len(self.urls) == 1:
            return self.outcomes[0] or PENDING
        return "; ".join(f"{mask_url(url)}: {outcome or PENDING}" for url, outcome in zip(self.urls, self.outcomes))


class WebhookSender:
    """Sends alert events to their URLs (webhooks and apprise services) from a daemon thread, with
    a timeout and retries; never blocks the caller.

    ``counts`` (per URL): sent, failed, dropped (queue full), retried. Each failure is logged once
    with its reason; the event's ``delivery`` column says how it went when a writer is given.
    """

    def __init__(self, writer: Writer | None = None, timeout_s: float = WEBHOOK_TIMEOUT_S,
                 retries: int = WEBHOOK_RETRIES, backoff_s: float = WEBHOOK_BACKOFF_S,
                 queue_size: int = WEBHOOK_QUEUE_SIZE) -> None:
        self.writer = writer
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.counts: Counter[str] = Counter()
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()  # outcomes of one event are written from the sender and from submit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-webhooks", daemon=True)

    def start(self) -> WebhookSender:
        self._thread.start()
        return self

    def submit(self, url: str, payload: dict[str, Any], event_id: int | None = None) -> bool:
        """Queue one delivery; False (logged, counted) when the queue is full."""
        return self.submit_all([url], payload, event_id) == 1

    def submit_all(self, urls: Sequence[str], payload: dict[str, Any], event_id: int | None = None) -> int:
        """Queue the delivery of one event to each of ``urls``; returns how many were queued (the
        others are dropped: queue full, logged, counted and recorded)."""
        outcomes = _Outcomes(tuple(urls))
        queued = 0
        for index, url in enumerate(outcomes.urls):
            try:
                self._queue.put_nowait((index, payload, event_id, outcomes))
                queued += 1
            except queue.Full:
                self.counts["dropped"] += 1
                log.warning("notification queue full (%d waiting): dropped alert event %s for %s",
                            self._queue.maxsize, event_id, mask_url(url))
                self._record(event_id, outcomes, index, "dropped: queue full")
        return queued

    def stop(self, timeout_s: float = 1.0) -> None:
        """Stop after the delivery in progress; what is still queued is not sent."""
        self._stop.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        if self._queue.qsize():
            log.info("notifications: %d deliveries not sent at shutdown", self._queue.qsize())

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout_s) as client:
            while not self._stop.is_set():
                item = self._queue.get()
                if item is None:
                    return
                index, payload, event_id, outcomes = item
                url = outcomes.urls[index]
                error, attempts = self._deliver(client, url, payload)
                if error is None:
                    self.counts["sent"] += 1
                    self._record(event_id, outcomes, index, "sent")
                else:
                    self.counts["failed"] += 1
                    log.warning("notification of alert event %s to %s failed after %d attempts: %s", event_id,
                                mask_url(url), attempts, error)
                    self._record(event_id, outcomes, index, f"failed: {error}")

    def _deliver(self, client: httpx.Client, url: str, payload: dict[str, Any]) -> tuple[str | None, int]:
        """(None when delivered, else the last reason; attempts made). Retries what may pass later
        (connection errors, timeouts, 429 and 5xx; any apprise failure), waiting backoff_s, then
        twice that, and so on."""
        error, attempts = "not attempted", 0
        for attempt in range(self.retries + 1):
            if attempt:
                self.counts["retried"] += 1
                if self._stop.wait(self.backoff_s * 2 ** (attempt - 1)):
                    return f"{error} (shutting down)", attempts
            attempts += 1
            error, retryable = channels.send(url, payload, self.timeout_s, client)
            if error is None or not retryable:
                break
        return error, attempts

    def _record(self, event_id: int | None, outcomes: _Outcomes, index: int, outcome: str) -> None:
        with self._lock:
            outcomes.outcomes[index] = outcome
        if self.writer is not None and event_id is not None:
            self.writer.call(isolated(lambda conn: store.set_alert_delivery(conn, event_id, self._text(outcomes))))

    def _text(self, outcomes: _Outcomes) -> str:
        """The event's delivery text as it stands when written (so the last write is the newest)."""
        with self._lock:
            return outcomes.text()
