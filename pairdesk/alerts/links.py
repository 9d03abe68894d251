"""The link a notification carries: the rule's pair on the dashboard.

The dashboard's address is a setting (``--dashboard-url``, or ``$PAIRDESK_DASHBOARD_URL``; default
http://127.0.0.1:8501, what ``run_all.py`` starts). The link names the view in the page's query
string, with the keys of ``pairdesk.view_query`` (the ones the page reads): ``a`` and ``b`` the
symbols (A the dependent leg), ``tf`` the timeframe, ``tab`` the chart (``spread`` for a pair,
``prices`` for one symbol): ``http://127.0.0.1:8501/?a=BTCUSDT&b=ETHUSDT&tf=1s&tab=spread``.
"""
from __future__ import annotations

import os
from urllib.parse import urlencode, urlsplit

from pairdesk.alerts.rules import RuleError
from pairdesk.view_query import PAIR_TAB, SETTING_KEYS, SYMBOL_TAB, TAB_KEY

DASHBOARD_URL_ENV = "PAIRDESK_DASHBOARD_URL"
DEFAULT_DASHBOARD_URL = "http://127.0.0.1:8501"


def check_dashboard_url(url: str) -> str:
    """``url`` without a trailing slash; RuleError unless it is an http(s) address."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RuleError(f"the dashboard URL must be an http:// or https:// address such as "
                        f"{DEFAULT_DASHBOARD_URL}, got {url!r}")
    return url.strip().rstrip("/")


def dashboard_url(given: str | None = None) -> str:
    """The dashboard's address: ``given``, else ``$PAIRDESK_DASHBOARD_URL``, else the default."""
    return check_dashboard_url(given or os.environ.get(DASHBOARD_URL_ENV) or DEFAULT_DASHBOARD_URL)


def pair_link(base_url: str, symbols: str | tuple[str, ...] | list[str], timeframe: str) -> str:
    """The dashboard at ``base_url`` opened on ``symbols`` ("A/B", or a sequence) at ``timeframe``."""
    names = symbols.split("/") if isinstance(symbols, str) else list(symbols)
    legs = dict(zip((SETTING_KEYS["symbol_a"], SETTING_KEYS["symbol_b"]), names[:2]))
    query = legs | {SETTING_KEYS["timeframe"]: timeframe, TAB_KEY: PAIR_TAB if len(names) > 1 else SYMBOL_TAB}
    return f"{base_url.rstrip('/')}/?{urlencode(query)}"
