"""Misbehaviour on demand: the fault switches and the corrupted frames the sim can send."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pairdesk.markets import AGG_TRADE, BOOK_TICKER, MARK_PRICE, TRADE
from pairdesk.sim.wire import WireFormat

RESEND_DEPTH = 5  # --resend-every sends again the frame from this many frames back
JUNK_KINDS = ("not_json", "truncated_json", "missing_id", "non_numeric_price", "unknown_event", "binary")
ID_KEY = {TRADE: "t", AGG_TRADE: "a", BOOK_TICKER: "u", MARK_PRICE: "E"}  # what "missing_id" removes
PRICE_KEY = {TRADE: "p", AGG_TRADE: "p", BOOK_TICKER: "b", MARK_PRICE: "p"}  # what "non_numeric_price" spoils
NOT_JSON_TEXT = b"<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>"


def is_number(value: Any) -> bool:
    """An int or float that is not a bool (JSON true is not a number)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class FaultSwitches:
    """Misbehaviour on demand; 0 turns a switch off. Counters are per connection.

    drop_every: close the TCP connection without a close frame after every N market frames.
    silent_after / silent_for_s: after every N frames, send no market data for S seconds while
        staying connected (pings are still answered).
    junk_every: after every N frames, send one corrupted frame (rotating through JUNK_KINDS).
    Every switch counts and affects all market frames of a connection alike: trades, bookTicker
    and markPrice (a quote skipped or lost with a connection is simply never sent).
    resend_every: after every N frames, send again the frame from RESEND_DEPTH frames back.
    gap_every / gap_size: after every N frames, skip the next K market frames (they stay in REST).
    rest_429 / rest_418: answer the next K Binance REST requests with that status and Retry-After.
    retry_after_s: the Retry-After value, seconds.
    max_connection_s: close every connection S seconds after it opened (Binance: 24 h).
    shutdown_after_s: announce serverShutdown S seconds after each connection opened.
    shutdown_grace_s: seconds between the serverShutdown event and the close.
    """

    drop_every: int = 0
    silent_after: int = 0
    silent_for_s: float = 0.0
    junk_every: int = 0
    resend_every: int = 0
    gap_every: int = 0
    gap_size: int = 1
    rest_429: int = 0
    rest_418: int = 0
    retry_after_s: int = 2
    max_connection_s: float = 0.0
    shutdown_after_s: float = 0.0
    shutdown_grace_s: float = 1.0

    def update(self, changes: dict[str, Any]) -> None:
        """Apply validated changes: non-negative numbers of each field's type."""
        for name, value in changes.items():
            current = getattr(self, name)
            if not is_number(value) or value < 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
            if isinstance(current, int) and value != int(value):
                raise ValueError(f"{name} must be a whole number, got {value!r}")
            setattr(self, name, type(current)(value))


FAULT_SWITCH_NAMES = frozenset(f.name for f in dataclasses.fields(FaultSwitches))


def junk_frame(junk_kind: str, frame: bytes, event: dict[str, Any], kind: str, stream: str,
               combined: bool) -> tuple[bytes, bool]:
    """A corrupted frame of `junk_kind` made from the frame just sent (any market `kind`); returns
    (payload, is_text)."""
    if junk_kind == "not_json":
        return NOT_JSON_TEXT, True
    if junk_kind == "truncated_json":
        return frame[: len(frame) // 2], True
    if junk_kind == "binary":
        return frame, False
    if junk_kind == "missing_id":
        broken = {k: v for k, v in event.items() if k != ID_KEY[kind]}
    elif junk_kind == "non_numeric_price":
        broken = {**event, PRICE_KEY[kind]: "abc"}
    else:  # unknown_event; a spot bookTicker has no time to carry over
        broken = {"e": "mystery", **({"E": event["E"]} if "E" in event else {})}
    return WireFormat.frame(broken, stream, combined), True
