"""One alert to one destination, one attempt: what is sent and how.

A plain ``http(s)://`` webhook receives the event as a JSON object, as it always did (``event_payload``:
the stored event's fields plus ``link``). An apprise URL receives a title and a text
(``notification_text``) carrying the pair, the value, the threshold, the direction, the bar's time and
the link to the pair on the dashboard; apprise's ``json://`` target, for one, POSTs them as
``{"title": ..., "message": ...}``. Retries and the queue belong to the sender
(``pairdesk.alerts.delivery``); ``send_test`` sends a test message the same way, for the API's test
endpoints and the page's "Send test" button.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx

from pairdesk.alerts.links import pair_link
from pairdesk.alerts.notify import is_webhook, mask_url
from pairdesk.alerts.trigger import AlertEvent

SEND_TIMEOUT_S = 3.0
TEST_DIRECTION = "TEST"
APP_NAME = "pairdesk"


def event_payload(event_id: int | None, event: AlertEvent, link: str | None = None) -> dict[str, Any]:
    """What a webhook receives: the stored event's id and fields (an undefined value is null) and
    ``link``, the pair on the dashboard (None: no link)."""
    payload = {"event_id": event_id, **event.to_dict(), "link": link}
    payload["value"] = None if not math.isfinite(payload["value"]) else payload["value"]
    return payload


def _number(value: Any) -> str:
    return "—" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:.6g}"


def notification_text(payload: Mapping[str, Any]) -> tuple[str, str]:
    """(title, body) of an apprise notification, from an ``event_payload``: the event's line, then
    pair, value, threshold, direction, bar time (UTC), rule and the link, one per line."""
    title = f"{APP_NAME}: {payload.get('symbols', '')} {payload.get('direction', '')}".strip()
    lines = [str(payload.get("message", "")),
             f"pair: {payload.get('symbols', '')}",
             f"value: {_number(payload.get('value'))}",
             f"threshold: {_number(payload.get('threshold'))}",
             f"direction: {payload.get('direction', '')}"]
    if payload.get("ts_ms") is not None:
        when = datetime.fromtimestamp(payload["ts_ms"] / 1000, tz=UTC)
        lines.append(f"bar: {when:%Y-%m-%d %H:%M:%S} UTC")
    if payload.get("rule_name"):
        lines.append(f"rule: #{payload.get('rule_id')} {payload['rule_name']}")
    if payload.get("link"):
        lines.append(f"open: {payload['link']}")
    return title, "\n".join(lines)


def send(url: str, payload: Mapping[str, Any], timeout_s: float = SEND_TIMEOUT_S,
         client: httpx.Client | None = None) -> tuple[str | None, bool]:
    """Send ``payload`` to ``url`` once; (None, _) when delivered, else (reason, worth retrying)."""
    if is_webhook(url):
        return _post_webhook(url, payload, timeout_s, client)
    return _notify_apprise(url, payload, timeout_s)


def _post_webhook(url: str, payload: Mapping[str, Any], timeout_s: float,
                  client: httpx.Client | None) -> tuple[str | None, bool]:
    try:
        if client is None:
            response = httpx.post(url, json=dict(payload), timeout=timeout_s)
        else:
            response = client.post(url, json=dict(payload), timeout=timeout_s)
    except httpx.HTTPError as exc:
        return (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__), True
    if response.is_success:
        return None, True
    # the endpoint refuses this request (4xx but 429): retrying cannot help
    return f"HTTP {response.status_code}", response.status_code == 429 or response.status_code >= 500


def _notify_apprise(url: str, payload: Mapping[str, Any], timeout_s: float) -> tuple[str | None, bool]:
    import apprise  # here: an ingestor whose rules send nothing through apprise never loads it

    target = apprise.Apprise()
    if not target.add(url):
        return "apprise cannot parse this URL", False
    title, body = notification_text(payload)
    result = target.notify(body=body, title=title, timeout=timeout_s)
    if result:
        return None, True
    reasons = [entry.message for entry in result.logs() if str(entry.level) in ("WARNING", "ERROR", "CRITICAL")]
    return (" ".join(reasons[-1].split()) if reasons else "not delivered"), True


def sample_payload(dashboard_url: str, symbols: Sequence[str] = (), timeframe: str = "1s",
                 rule_id: int | None = None, rule_name: str = "") -> dict[str, Any]:
    """A test message shaped like an alert (direction TEST, no value), linking to ``symbols`` when given."""
    label = "/".join(symbols)
    what = f"alerts of rule #{rule_id} ({rule_name})" if rule_id is not None else "pairdesk alerts"
    return {"event_id": None, "ts_ms": None, "rule_id": rule_id, "rule_name": rule_name, "kind": "test",
            "symbols": label, "timeframe": timeframe, "value": None, "threshold": None,
            "direction": TEST_DIRECTION, "message": f"Test notification: {what} reach this destination.",
            "link": pair_link(dashboard_url, label, timeframe) if symbols else f"{dashboard_url}/"}


def send_test(urls: Sequence[str], payload: Mapping[str, Any], timeout_s: float = SEND_TIMEOUT_S
              ) -> list[dict[str, str]]:
    """Send ``payload`` (``sample_payload``) to each URL at once, one attempt each; per URL, in order:
    ``{"url": masked URL, "outcome": "sent" or "failed: reason"}``."""
    if not urls:
        return []
    with ThreadPoolExecutor(max_workers=min(len(urls), 4), thread_name_prefix="alert-test") as pool:
        results = list(pool.map(lambda url: send(url, payload, timeout_s)[0], urls))
    return [{"url": mask_url(url), "outcome": "sent" if error is None else f"failed: {error}"}
            for url, error in zip(urls, results)]
