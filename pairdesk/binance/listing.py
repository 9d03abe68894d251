"""The exchange's listing: which symbols ``exchangeInfo`` lists as TRADING (one rule for the
ingestor's paced client and for the API's and the dashboard's quick check of a new watchlist)."""
from __future__ import annotations

import logging

import httpx

from pairdesk.binance.markets import MARKET_SPECS

log = logging.getLogger("pairdesk.binance")

LISTING_TIMEOUT_S = 2.0  # a quick check: an unreachable exchange must not hold up the answer


def trading_symbols_in(info: object) -> set[str]:
    """The symbols an ``exchangeInfo`` answer lists as TRADING (a listing without "status", as some
    mirrors trim it, counts as trading)."""
    symbols = info.get("symbols", []) if isinstance(info, dict) else []
    return {s["symbol"] for s in symbols if isinstance(s, dict) and "symbol" in s
            and s.get("status", "TRADING") == "TRADING"}


def listed_or_none(base_url: str | None, market: str, timeout_s: float = LISTING_TIMEOUT_S) -> set[str] | None:
    """The trading symbols of ``market`` at ``base_url`` (one unpaced exchangeInfo request), or None when
    it cannot tell: no URL, the exchange unreachable or slower than ``timeout_s``, an answer that is not
    a listing."""
    if not base_url:
        return None
    endpoint = MARKET_SPECS[market].exchange_info
    try:
        response = httpx.get(base_url.rstrip("/") + endpoint.path, timeout=timeout_s)
        response.raise_for_status()
        return trading_symbols_in(response.json())
    except (httpx.HTTPError, ValueError) as exc:
        log.info("exchangeInfo at %s not available (%s): symbols stay pending", base_url, exc)
        return None
