"""Whether this page may write: ``pairdesk.access``'s rule on Streamlit's listening address.

On loopback (the default, ``server.address = "127.0.0.1"``) the page writes freely. When Streamlit
listens beyond this machine (``run_all.py --host``), every write (rules, acknowledgements, the
watchlist, pause / resume, uploads) needs the desk's token (``--token`` / ``$PAIRDESK_TOKEN``, the
API's): the sidebar asks for it in a password field kept in ``st.session_state``; until it matches
the write controls are disabled with the reason, and ``guard`` refuses a write attempted anyway
(``data.writer`` and the upload path call it, so no write path can skip it).
"""
from __future__ import annotations

import streamlit as st

from pairdesk import access

TOKEN_KEY = "write_token"  # session_state key of the password field


class WriteRefused(Exception):
    """A write this page may not make; the message is one line saying why and what to do."""


def listening_host() -> str | None:
    """The address Streamlit listens on ("" or None: every interface)."""
    return st.get_option("server.address")


def writes_allowed() -> tuple[bool, str]:
    """(True, "") when this session may write; (False, the one-line reason) otherwise."""
    host = listening_host()
    if not access.listens_beyond_loopback(host):
        return True, ""
    refusal = access.write_refusal(host, access.configured_token(), st.session_state.get(TOKEN_KEY))
    if refusal is None:
        return True, ""
    if access.configured_token():
        return False, "Writes need the desk's token: enter it under “Write access” in the sidebar."
    return False, refusal[0].upper() + refusal[1:] + "."


def locked() -> bool:
    """True when the write controls must be disabled (for ``disabled=``)."""
    return not writes_allowed()[0]


def guard() -> None:
    """Raise WriteRefused unless this session may write (call it right before writing)."""
    allowed, reason = writes_allowed()
    if not allowed:
        raise WriteRefused(reason)


def explain() -> None:
    """One caption with the reason, where write controls are disabled; nothing when writes are allowed."""
    allowed, reason = writes_allowed()
    if not allowed:
        st.caption(f":material/lock: {reason}")


def token_field() -> None:
    """The sidebar's password field, drawn only when the page listens beyond loopback."""
    if not access.listens_beyond_loopback(listening_host()):
        return
    closed = locked()
    with st.sidebar.expander("Write access", icon=":material/lock:" if closed else ":material/lock_open:",
                             expanded=closed):
        st.text_input("Desk token", type="password", key=TOKEN_KEY,
                      help="This dashboard is reachable from the network: rules, acknowledgements, the watchlist, "
                           "pause / resume and uploads need the token it was started with (--token or "
                           f"${access.TOKEN_ENV}, the API's).")
        allowed, reason = writes_allowed()
        if allowed:
            st.caption(":material/lock_open: Token accepted: writes are on for this session.")
        else:
            st.caption(reason)
