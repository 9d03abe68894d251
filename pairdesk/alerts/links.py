"""The link a notification carries: the rule's pair on the dashboard.

The dashboard's address is a setting (``--dashboard-url``, or ``$PAIRDESK_DASHBOARD_URL``; default
http://127.0.0.1:8501, what ``run_all.py`` starts). The link names the view in the page's query
string: ``a`` and ``b`` the symbols (A the dependent leg), ``tf`` the timeframe, ``tab`` the chart
(``spread`` for a pair, ``prices`` for one symbol):
``http://127.0.0.1:8501/?a=BTCUSDT&b=ETHUSDT&tf=1s&tab=spread``.
"""
from __future__ import annotations

import os
from urllib.parse import urlencode, urlsplit

from pairdesk.alerts.rules import RuleError

DASHBOARD_URL_ENV = "PAIRDESK_DASHBOARD_URL"
DEFAULT_DASHBOARD_URL = "http://127.0.0.1:8501"
PAIR_TAB, SYMBOL_TAB = "spread", "prices"


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
    query = {"a": names[0]} | ({"b": names[1], "tf": timeframe, "tab": PAIR_TAB} if len(names) > 1
                               else {"tf": timeframe, "tab": SYMBOL_TAB})
    return f"{base_url.rstrip('/')}/?{urlencode(query)}"
