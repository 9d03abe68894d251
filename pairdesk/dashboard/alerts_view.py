"""The Alerts section: the rules table (when each rule last fired, its masked destinations; switch
on and off, edit, delete after asking) above the rule form, and the alert history in a second tab.

The rules panel is a fragment redrawn whenever one of its widgets is used; the history panel
refreshes with the live view. Rules are written through ``alerts_data`` (``alerts.repository``).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from pairdesk import alerts
from pairdesk.alerts import notify
from pairdesk.dashboard import alerts_data, data, write_access
from pairdesk.dashboard.alert_history_view import history_panel
from pairdesk.dashboard.data import Database, Settings
from pairdesk.dashboard.elements import attempt, show_outcome, shown_errors
from pairdesk.dashboard.formatting import MISSING, breakable, format_count, format_level, format_time, md_escape
from pairdesk.dashboard.rule_form import edit_rule, param_text, rule_form

ALERTS_HELP = """The ingestor evaluates the rules on every completed bar, whether or not this page is open,
and picks up a change made here within a second. A new alert pops up here as a toast and is marked on
the Spread & z-score and Prices charts (▲ UP, ▼ DOWN; hover for the message). Times are the start of
the bar that crossed, in the display time zone. A rule with notify URLs also sends each alert there
(Telegram, Discord, Slack, e-mail, ntfy, webhooks...: any apprise URL), with a link back to this page."""
RULE_COLUMNS = {"Rule": 2.4, "Kind": 1.9, "Symbols": 2.2, "Timeframe": 1.6, "Window": 1.4, "Hedge": 1.1,
                "Threshold & params": 2.7, "Cooldown": 1.5, "Notify": 1.8, "Last fired": 1.9, "Enabled": 1.5,
                "": 1.2}  # title: width


def alerts_section(db: Database, s: Settings) -> None:
    """Alert rules (create, edit, switch on and off, delete) and the alert history."""
    st.subheader("Alerts", help=ALERTS_HELP)
    write_access.explain()
    rules_tab, history_tab = st.tabs(["Rules", "History"], key="alerts_tabs")
    with rules_tab:
        st.fragment(rules_panel)(db, s)
    with history_tab:
        st.fragment(history_panel, run_every=s.refresh_s)(db, s.tz)


def rules_panel(db: Database, s: Settings) -> None:
    """The rules table and the rule form; redrawn on its own whenever one of its widgets is used."""
    with shown_errors("alert rules"):
        show_outcome("rules_outcome")
        rules_table(db, alerts_data.read_rules(db.path), alerts_data.read_firings(db.path), s.tz)
        st.divider()
        rule_form(db, s)


def rules_table(db: Database, rules: Sequence[alerts.AlertRule], fired: Mapping[int, tuple[int, int]],
                tz: str) -> None:
    """One row per rule: its definition, when it last fired (in ``tz``), an on/off toggle, Edit, and
    Delete (which asks first)."""
    if not rules:
        st.info("No alert rules yet: add one with the form below.")
        return
    widths = list(RULE_COLUMNS.values())
    with st.container(key="rules_table"):
        for column, title in zip(st.columns(widths, gap="xsmall"), RULE_COLUMNS):
            if title:
                column.markdown(f"**{title}**")
        for rule in rules:
            rule_row(db, rule, fired.get(rule.rule_id), tz, st.columns(widths, gap="xsmall", vertical_alignment="center"))
            if st.session_state.get("rule_deleting") == rule.rule_id:
                confirm_delete(db, rule)


def rule_row(db: Database, rule: alerts.AlertRule, fired: tuple[int, int] | None, tz: str,
             cells: Sequence[Any]) -> None:
    """One rule's cells, its on/off toggle, and Edit and Delete."""
    for cell, text in zip(cells, rule_cells(rule, fired, tz)):
        cell.markdown(text)
    switch = f"rule_on_{rule.rule_id}"
    st.session_state[switch] = rule.enabled  # what is stored, also after a change made elsewhere (the API)
    locked = write_access.locked()
    cells[-2].toggle("Enabled", key=switch, label_visibility="collapsed", on_change=switch_rule,
                     args=(db.path, rule.rule_id), help=f"Rule #{rule.rule_id} on or off", disabled=locked)
    with cells[-1].container(horizontal=True, gap="xxsmall"):
        st.button("", key=f"rule_edit_{rule.rule_id}", icon=":material/edit:", type="tertiary",
                  help=f"Edit rule #{rule.rule_id} in the form below", on_click=edit_rule, args=(rule,),
                  disabled=locked)
        st.button("", key=f"rule_delete_{rule.rule_id}", icon=":material/delete:", type="tertiary",
                  help=f"Delete rule #{rule.rule_id} (asks first)", on_click=ask_delete, args=(rule.rule_id,),
                  disabled=locked)


def notify_cell(rule: alerts.AlertRule) -> str:
    """A rule's destinations, masked, one per line (markdown)."""
    if not rule.notify:
        return MISSING
    return "  \n".join(f"`{breakable(url)}`" for url in notify.masked(rule.notify))


def last_fired_cell(fired: tuple[int, int] | None, tz: str) -> str:
    """When a rule last fired (the bar's start in ``tz``) and how many alerts it raised (markdown)."""
    if fired is None:
        return "never"
    last_ms, count = fired
    return f"{format_time(last_ms, tz)}  \n{format_count(count)} alert{'s' * (count != 1)}"


def rule_cells(rule: alerts.AlertRule, fired: tuple[int, int] | None, tz: str) -> list[str]:
    """The text cells of one rule's row (markdown), in the order of RULE_COLUMNS."""
    named = [*alerts.KIND_PARAMS[rule.kind], *sorted(set(rule.params) - set(alerts.KIND_PARAMS[rule.kind]))]
    params = " · ".join(f"{name} {param_text(rule.params[name])}" for name in named if name in rule.params)
    return [f"**#{rule.rule_id}** {breakable(md_escape(rule.name))}", f"`{breakable(rule.kind)}`",
            breakable(rule.label), rule.timeframe, format_count(rule.window),
            data.HEDGE_LABELS[rule.hedge] if rule.kind in alerts.PAIR_KINDS else MISSING, md_escape(params),
            f"{format_level(rule.cooldown_s)} s", notify_cell(rule), last_fired_cell(fired, tz)]


def confirm_delete(db: Database, rule: alerts.AlertRule) -> None:
    """Delete asks first: a deleted rule is gone for good (the alerts it raised stay in the history)."""
    with st.container(border=True):
        st.warning(f"Delete rule #{rule.rule_id} “{rule.name}”? This cannot be undone; the alerts it raised stay "
                   f"in the history.", icon=":material/delete:")
        with st.container(horizontal=True):
            st.button("Delete rule", key="rule_delete_confirm", type="primary", on_click=delete_rule,
                      args=(db.path, rule.rule_id))
            st.button("Keep it", key="rule_delete_cancel", on_click=st.session_state.pop, args=("rule_deleting", None))


def switch_rule(path: str, rule_id: int) -> None:
    """Toggle callback: switch a rule on or off."""
    enabled = bool(st.session_state[f"rule_on_{rule_id}"])

    def write() -> str:
        alerts_data.set_rule_enabled(path, rule_id, enabled)
        return f"Rule #{rule_id} switched {'on: it starts at the newest bar' if enabled else 'off'}."

    attempt("rules_outcome", write)


def ask_delete(rule_id: int) -> None:
    """Delete callback: show the confirmation under the rule's row."""
    st.session_state["rule_deleting"] = rule_id


def delete_rule(path: str, rule_id: int) -> None:
    """Confirmed-delete callback."""
    st.session_state.pop("rule_deleting", None)
    if st.session_state.get("rule_editing") == rule_id:
        st.session_state.pop("rule_editing")

    def write() -> str:
        alerts_data.delete_rule(path, rule_id)
        return f"Rule #{rule_id} deleted; its alerts stay in the history."

    attempt("rules_outcome", write)

