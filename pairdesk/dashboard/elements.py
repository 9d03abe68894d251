"""Drawing helpers every section shares: failures as one line, the outcome of a write, figures,
and symbol choices that stay valid.

Errors never reach the page as a traceback: a read that fails is a warning (the next refresh tries
again), a bug is one st.error line (the traceback goes to the log), a write that fails is an
st.error that stays until the next attempt.
"""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import streamlit as st

from pairdesk import alerts, store
from pairdesk.dashboard.write_access import WriteRefused
from pairdesk.watchlist import WatchlistError

if TYPE_CHECKING:
    import plotly.graph_objects as go

log = logging.getLogger(__name__)

NOTICES = {"success": st.success, "info": st.info, "warning": st.warning, "error": st.error}


def show_notice(kind: str, text: str) -> None:
    """st.success / st.info / st.warning / st.error by name."""
    NOTICES[kind](text)


@contextmanager
def shown_errors(what: str) -> Iterator[None]:
    """A failure while drawing ``what`` becomes a one-line message; the rest of the page still draws."""
    try:
        yield
    except (store.StoreError, sqlite3.Error) as exc:
        st.warning(f"Could not read the database for {what} this time ({exc}); trying again at the next refresh.")
    except Exception as exc:  # a bug must not cost the trader the page: log the traceback, show one line
        log.exception("drawing %s failed", what)
        st.error(f"The {what} could not be drawn ({type(exc).__name__}: {exc}); the dashboard's log has the details.")


def attempt(outcome_key: str, write: Callable[[], str]) -> bool:
    """Run a write for a widget callback; keep its outcome under ``outcome_key`` for ``show_outcome``:
    ``write``'s message, or a one-line error (then nothing was written). True when it succeeded."""
    try:
        st.session_state[outcome_key] = ("success", write())
        return True
    except (alerts.RuleError, WatchlistError) as exc:
        st.session_state[outcome_key] = ("error", f"Not saved: {exc}.")
    except WriteRefused as exc:
        st.session_state[outcome_key] = ("error", f"Not saved. {exc}")
    except (store.StoreError, sqlite3.Error) as exc:
        st.session_state[outcome_key] = ("error", f"Could not write to the database ({exc}); nothing was changed. "
                                                  f"Try again.")
    return False


def show_outcome(outcome_key: str) -> None:
    """What the last write under ``outcome_key`` did: a toast once when it succeeded; an error that stays
    until the next attempt when it failed. (Callbacks only record it: elements drawn there would land at
    the top of the page.)"""
    kind, text = st.session_state.get(outcome_key) or (None, "")
    if kind == "success":
        st.toast(text, icon=":material/check_circle:")
        del st.session_state[outcome_key]
    elif kind == "error":
        st.error(text, icon=":material/error:")


def plot(fig: go.Figure, key: str) -> None:
    """Draw a figure with the desk's own template (Streamlit's theme would override it)."""
    st.plotly_chart(fig, theme=None, key=key, config={"displaylogo": False, "scrollZoom": False})


def keep_choice(key: str, options: Sequence[str], preferred: str) -> None:
    """Keep a symbol choice valid as the database's symbols change (preferred, else the first option)."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = preferred if preferred in options else (options[0] if options else None)
