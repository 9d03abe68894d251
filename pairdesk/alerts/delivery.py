"""Webhooks for alert events: POSTed as JSON from their own thread, with a timeout and retries.

A bounded queue sits between the monitor and the network: a slow or dead endpoint never delays
evaluation or ingestion; when the queue is full an event is dropped, counted and logged. Each
event's ``delivery`` column says how it went (sent, failed: reason, dropped: queue full).
"""
from __future__ import annotations

import logging
import math
import queue
import threading
from collections import Counter
from typing import Any

import httpx

from pairdesk import store
from pairdesk.alerts.trigger import AlertEvent
from pairdesk.alerts.writing import Writer, isolated

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_S = 3.0
WEBHOOK_RETRIES = 3
WEBHOOK_BACKOFF_S = 0.5  # then 1 s, 2 s
WEBHOOK_QUEUE_SIZE = 1000


class WebhookSender:
    """POSTs alert events as JSON from a daemon thread, with a timeout and retries; never blocks.

    ``counts``: sent, failed, dropped (queue full), retried. Each failure is logged once with
    its reason; the event's ``delivery`` column says how it went when a writer is given.
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
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-webhooks", daemon=True)

    def start(self) -> WebhookSender:
        self._thread.start()
        return self

    def submit(self, url: str, payload: dict[str, Any], event_id: int | None = None) -> bool:
        """Queue one delivery; False (logged, counted) when the queue is full."""
        try:
            self._queue.put_nowait((url, payload, event_id))
            return True
        except queue.Full:
            self.counts["dropped"] += 1
            log.warning("webhook queue full (%d waiting): dropped alert event %s for %s", self._queue.maxsize,
                        event_id, url)
            self._record(event_id, "dropped: queue full")
            return False

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
            log.info("webhooks: %d deliveries not sent at shutdown", self._queue.qsize())

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout_s) as client:
            while not self._stop.is_set():
                item = self._queue.get()
                if item is None:
                    return
                url, payload, event_id = item
                error = self._deliver(client, url, payload)
                if error is None:
                    self.counts["sent"] += 1
                    self._record(event_id, "sent")
                else:
                    self.counts["failed"] += 1
                    log.warning("webhook for alert event %s to %s failed after %d attempts: %s", event_id, url,
                                self.retries + 1, error)
                    self._record(event_id, f"failed: {error}")

    def _deliver(self, client: httpx.Client, url: str, payload: dict[str, Any]) -> str | None:
        """None when delivered; else the last reason. Retries connection errors, timeouts, 429 and 5xx."""
        error = "not attempted"
        for attempt in range(self.retries + 1):
            if attempt:
                self.counts["retried"] += 1
                if self._stop.wait(self.backoff_s * 2 ** (attempt - 1)):
                    return f"{error} (shutting down)"
            try:
                response = client.post(url, json=payload)
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                continue
            if response.is_success:
                return None
            error = f"HTTP {response.status_code}"
            if response.status_code != 429 and response.status_code < 500:
                return error  # the endpoint refuses this request: retrying cannot help
        return error

    def _record(self, event_id: int | None, delivery: str) -> None:
        if self.writer is not None and event_id is not None:
            self.writer.call(isolated(lambda conn: store.set_alert_delivery(conn, event_id, delivery)))


def event_payload(event_id: int, event: AlertEvent) -> dict[str, Any]:
    """The JSON body a webhook receives: the stored event's id and fields (an undefined value is null)."""
    payload = {"event_id": event_id, **event.to_dict()}
    payload["value"] = None if not math.isfinite(payload["value"]) else payload["value"]
    return payload
