"""The alert history: filters (rule, kind, direction, time range, unacknowledged), the table,
acknowledging, and the CSV download. Refreshed with the live view.

Times in the filters and the table are wall-clock times of the display zone; the history is read
filtered in SQL (``alerts_data.read_history``), at most ``alerts_data.MAX_HISTORY_ROWS`` rows.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from pairdesk import alerts
from pairdesk.dashboard import alerts_data, write_access
from pairdesk.dashboard.alerts_data import HistoryFilter
from pairdesk.dashboard.data import Database
from pairdesk.dashboard.elements import attempt, show_outcome, shown_errors
from pairdesk.dashboard.formatting import format_count, format_times, local_ms

DIRECTION_LABELS = {"UP": "▲ UP", "DOWN": "▼ DOWN", "UNHEALTHY": "✖ UNHEALTHY", "RECOVERED": "✔ RECOVERED"}
ANY = 0  # the filters' "all" choice (a selectbox shows None as "nothing chosen"; rule ids start at 1)


def history_panel(db: Database, tz: str) -> None:
    """The alert history: filters, the table, acknowledging, the CSV download (refreshed with the live view)."""
    with shown_errors("alert history"):
        show_outcome("history_outcome")
        flt = history_filter(alerts_data.read_rules(db.path), tz)
        events = alerts_data.read_history(db.path, flt)
        if len(events) == 0:
            st.info("No alerts match these filters." if flt != HistoryFilter() else
                    "No alerts yet. The ingestor evaluates the rules on every completed bar while it runs.")
            return
        capped = (f" (the latest {format_count(alerts_data.MAX_HISTORY_ROWS)})"
                  if len(events) == alerts_data.MAX_HISTORY_ROWS else "")
        st.caption(f"{format_count(len(events))} alert(s){capped}, newest first; `time` is the start of the bar "
                   f"that crossed, in {tz}.")
        st.dataframe(history_table(events, tz), hide_index=True, key="history_table",
                     column_config={"message": st.column_config.TextColumn(width="large")})
        with st.container(horizontal=True, vertical_alignment="bottom"):
            acknowledge_controls(db, events, tz)
            st.download_button("Download (CSV)", functools.partial(alerts_data.history_csv, events, tz),
                               file_name="alert_history.csv", mime="text/csv", key="dl_alerts", on_click="ignore",
                               icon=":material/download:",
                               help=f"The alerts shown: every stored column (times in UTC epoch ms) plus `time` "
                                    f"in {tz}.")


def history_filter(rules: Sequence[alerts.AlertRule], tz: str) -> HistoryFilter:
    """The filter row: rule, kind, direction, time range (display zone, both minutes included), unacknowledged."""
    names = {ANY: "All rules", **{rule.rule_id: f"#{rule.rule_id} {rule.name}" for rule in rules}}
    if st.session_state.get("ah_rule", ANY) not in names:  # a rule deleted meanwhile
        st.session_state["ah_rule"] = ANY
    cols = st.columns([2.4, 1.9, 1.5, 2.0, 2.0], vertical_alignment="bottom")
    rule_id = cols[0].selectbox("Rule", list(names), key="ah_rule", format_func=names.get)
    kind = cols[1].selectbox("Kind", [ANY, *alerts.RULE_KINDS], key="ah_kind",
                             format_func=lambda k: "All kinds" if k == ANY else k)
    direction = cols[2].selectbox("Direction", [ANY, *DIRECTION_LABELS], key="ah_direction",
                                  format_func=lambda d: "All" if d == ANY else DIRECTION_LABELS[d])
    start = cols[3].datetime_input(f"From ({tz})", value=None, step=60, key="ah_from")
    end = cols[4].datetime_input(f"To ({tz})", value=None, step=60, key="ah_to")
    unacknowledged = st.toggle("Unacknowledged only", key="ah_unacknowledged")
    return HistoryFilter(rule_id=None if rule_id == ANY else rule_id, kind=None if kind == ANY else kind,
                              direction=None if direction == ANY else direction, start_ms=local_ms(start, tz),
                              end_ms=None if end is None else local_ms(end, tz) + 60_000,
                              unacknowledged=unacknowledged)


def history_table(events: pd.DataFrame, tz: str) -> pd.DataFrame:
    """The history as shown: times in the display zone, the rule by id and name, ▲/▼ directions."""
    acknowledged = pd.Series("", index=events.index)
    done = events["acknowledged_ms"].notna()
    acknowledged[done] = format_times(events.loc[done, "acknowledged_ms"], tz)
    return pd.DataFrame({
        "time": format_times(events["ts_ms"], tz),
        "rule": "#" + events["rule_id"].astype(str) + " " + events["rule_name"],
        "direction": events["direction"].map(DIRECTION_LABELS), "message": events["message"],
        "value": events["value"], "threshold": events["threshold"], "symbols": events["symbols"],
        "kind": events["kind"], "timeframe": events["timeframe"], "acknowledged": acknowledged,
        "notified": events["delivery"], "event": events["event_id"]})


def acknowledge_controls(db: Database, events: pd.DataFrame, tz: str) -> None:
    """Acknowledge chosen alerts, or every unacknowledged one shown."""
    waiting = events[events["acknowledged_ms"].isna()]
    if len(waiting) == 0:
        st.caption("Every alert shown is acknowledged.")
        return
    labels = dict(zip(waiting["event_id"].astype(int),
                      format_times(waiting["ts_ms"], tz) + " · " + waiting["symbols"] + " "
                      + waiting["direction"].map(DIRECTION_LABELS) + " · " + waiting["rule_name"]))
    st.session_state["ah_ack"] = [i for i in st.session_state.get("ah_ack", []) if i in labels]
    st.multiselect("Alerts to acknowledge", list(labels), key="ah_ack", placeholder="Choose alerts…",
                   format_func=lambda i: f"#{i} · {labels[i]}", width=520)
    locked = write_access.locked()
    st.button("Acknowledge selected", key="ah_ack_selected", icon=":material/done:",
              disabled=locked or not st.session_state["ah_ack"], on_click=acknowledge_alerts, args=(db.path, None))
    st.button(f"Acknowledge all {len(labels)} shown", key="ah_ack_all", icon=":material/done_all:",
              on_click=acknowledge_alerts, args=(db.path, tuple(labels)), disabled=locked)


def acknowledge_alerts(path: str, event_ids: Sequence[int] | None) -> None:
    """Acknowledge callback: ``event_ids``, or the chosen ones when None."""
    chosen = list(st.session_state.get("ah_ack", []) if event_ids is None else event_ids)
    if attempt("history_outcome", lambda: f"{alerts_data.acknowledge(path, chosen)} alert(s) acknowledged."):
        st.session_state["ah_ack"] = []

