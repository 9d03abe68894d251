"""Who may write: one rule for the API and the dashboard.

A server that listens on loopback only (127.0.0.1, ::1, localhost) is reached from this machine
alone, so it keeps its open writes. One that listens beyond loopback (a network address, or every
interface: 0.0.0.0, ::, Streamlit's empty default) can be reached by anyone on the network, so every
write there needs the desk's token. The origin is judged by the address the server **listens on**,
never by the request: a client address seen through a local proxy and any header can be forged, the
listening socket cannot. The token is one setting for both (``--token`` or ``$PAIRDESK_TOKEN``).
"""
from __future__ import annotations

import ipaddress
import os
import secrets
from typing import Final

TOKEN_ENV: Final = "PAIRDESK_TOKEN"
LEGACY_TOKEN_ENV: Final = "API_TOKEN"  # the API's variable before the dashboard shared the token
LOOPBACK_HOST: Final = "127.0.0.1"
LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def configured_token(explicit: str | None = None) -> str | None:
    """The desk's token: ``explicit`` (a --token flag) if given, else $PAIRDESK_TOKEN, else $API_TOKEN;
    None when none is set (an empty value counts as none)."""
    for value in (explicit, os.environ.get(TOKEN_ENV), os.environ.get(LEGACY_TOKEN_ENV)):
        if value:
            return value
    return None


def listens_beyond_loopback(host: str | None) -> bool:
    """True unless ``host`` is a loopback address or name; None, "" (every interface) and any name that is
    not plainly loopback count as beyond it (when in doubt, ask for the token)."""
    if not host:
        return True
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return False
    try:
        return not ipaddress.ip_address(name).is_loopback
    except ValueError:
        return True


def token_matches(given: str | None, expected: str | None) -> bool:
    """``given`` is the configured token (compared in constant time); never true without one."""
    return bool(given) and bool(expected) and secrets.compare_digest(given.encode(), expected.encode())


def write_refusal(host: str | None, expected: str | None, given: str | None) -> str | None:
    """Why a write is refused, in one line, or None when it may go ahead: on loopback always; beyond it
    only with the configured token."""
    if not listens_beyond_loopback(host):
        return None
    where = f"this server listens on {host or 'every interface'}, beyond this machine"
    if not expected:
        return (f"{where}, and no token is set: writes are off (start it with --token TOKEN or "
                f"${TOKEN_ENV}, or listen on {LOOPBACK_HOST})")
    if not token_matches(given, expected):
        return f"{where}: writes need the desk's token (--token / ${TOKEN_ENV}); it was missing or wrong"
    return None
