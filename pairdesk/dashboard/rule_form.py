"""The alert rule form: New rule, or Edit rule #N, and the callbacks that save, edit and cancel.

The kind is chosen first (it decides the symbols and the parameters); the rule is checked by
``alerts.validate_rule`` when saved, and a bad rule is a one-line error with nothing saved. The
widgets live in ``st.session_state`` under ``rf_*`` keys: ``load_form`` puts a rule spec there,
``form_spec`` reads one back. Saved notify URLs are shown masked (``alerts.notify``): left as
shown, they stay as saved. "Send test" sends a test message to the URLs typed (or saved).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import streamlit as st

from pairdesk import alerts
from pairdesk.alerts import notify
from pairdesk.dashboard import alerts_data, data, write_access
from pairdesk.dashboard.data import Database, Settings
from pairdesk.dashboard.elements import attempt, keep_choice, show_outcome

KINDS_HELP = "  \n".join(f"**{kind}**: {text}" for kind, text in alerts.KIND_DESCRIPTIONS.items())
PARAM_CHOICES = {"side": ("both", "up", "down"), "returns": (True, False), "recovery": (True, False)}  # few values
PARAM_CHOICE_LABELS = {"returns": {True: "log returns", False: "prices"}, "recovery": {True: "yes", False: "no"}}
NOTIFY_HELP = ("Where each alert is sent, one URL per line: apprise URLs such as `tgram://bot_token/chat_id`, "
               "`discord://webhook_id/token`, `slack://…`, `mailto://user:password@host`, `ntfy://topic`, "
               "`json://host:port/path` (see the apprise wiki), or an `https://` webhook (the alert as JSON). "
               "Saved URLs are shown masked; leave them as they are to keep them.")


def param_text(value: object) -> str:
    """A rule parameter as the form and the rules table show it: '' for None, true/false, numbers in full
    (the text ``parse_param`` reads back to the same value)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return np.format_float_positional(value, trim="-")
    return str(value)


def parse_param(text: str | None) -> bool | int | float | str | None:
    """A parameter typed into the form: '' is None (the default); true/false; a number (nan included: the rule
    check refuses it with a message); anything else stays text (the rule check says what it expected)."""
    text = (text or "").strip()
    if not text:
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def rule_form(db: Database, s: Settings) -> None:
    """New rule, or Edit rule #N: the kind first (it decides the symbols and the parameters), then the rest,
    checked by ``alerts.validate_rule`` when saved (a bad rule is an error and nothing is saved)."""
    editing = st.session_state.get("rule_editing")
    st.markdown(f"**Edit rule #{editing}**" if editing else "**New rule**")
    symbols = list(db.symbols)
    if not symbols:
        st.info("Rules watch symbols of the database, and it holds none yet.")
        return
    defaults = tuple(s.pair or symbols)
    if "rf_kind" not in st.session_state:
        load_form(alerts.default_spec(alerts.RULE_KINDS[0], defaults))
    keep_choice("rf_symbol_a", symbols, defaults[0])
    keep_choice("rf_symbol_b", symbols, defaults[-1])
    chooser, described = st.columns([1, 2], vertical_alignment="bottom")
    kind = chooser.selectbox("Kind", alerts.RULE_KINDS, key="rf_kind", on_change=change_kind, args=(defaults,),
                             help=KINDS_HELP)
    described.caption(alerts.KIND_DESCRIPTIONS[kind])
    pair = kind in alerts.PAIR_KINDS
    with st.form("rule_form", enter_to_submit=False):
        top = st.columns([3, 2, 2, 1.2, 1.2, 1.5])
        top[0].text_input("Rule name", key="rf_name", placeholder="optional: made from the kind, symbols and threshold")
        top[1].selectbox("Symbol A (dependent leg)" if pair else "Symbol", symbols, key="rf_symbol_a")
        if pair:
            top[2].selectbox("Symbol B (hedge leg)", symbols, key="rf_symbol_b")
        top[3].selectbox("Timeframe", data.TIMEFRAMES, key="rf_timeframe")
        top[4].number_input("Window", min_value=1, step=1, key="rf_window",
                            help="Bars (of the timeframe) the rule's statistic is computed over; see the kind.")
        top[5].selectbox("Hedge", list(alerts.ALERT_HEDGES), format_func=data.HEDGE_LABELS.get, key="rf_hedge",
                         disabled=not pair, help="How the spread of a pair is hedged.")
        params = alerts.KIND_PARAMS[kind]
        for column, (name, meaning) in zip(st.columns(len(params)), params.items()):
            param_input(column, name, meaning)
        bottom = st.columns([1.2, 3, 1, 2.5], vertical_alignment="bottom")
        bottom[0].number_input("Cooldown (s)", min_value=0.0, step=10.0, format="%g", key="rf_cooldown",
                               help="After an alert, the rule stays quiet this long (data time).")
        bottom[1].text_area("Notify (optional)", key="rf_notify", height=68, help=NOTIFY_HELP,
                            placeholder="tgram://bot_token/chat_id\nhttps://example.com/hook")
        bottom[2].checkbox("Enabled", key="rf_enabled")
        with bottom[3].container(horizontal=True):
            locked = write_access.locked()
            st.form_submit_button("Save changes" if editing else "Save rule", key="rf_save", type="primary",
                                  icon=":material/save:", on_click=submit_rule, args=(db.path, editing, defaults),
                                  disabled=locked)
            st.form_submit_button("Send test", key="rf_test", icon=":material/send:", on_click=send_test,
                                  args=(db.path, editing), help="Send a test message to the notify URLs now",
                                  disabled=locked)
            if editing:
                st.form_submit_button("Cancel", key="rf_cancel", on_click=cancel_edit, args=(defaults,))
    show_outcome("rule_form_outcome")
    show_test_results()


def param_input(column: Any, name: str, meaning: str) -> None:
    """One of the kind's parameters: a choice where it has few values, else text (empty: the default)."""
    label = name.replace("_", " ").capitalize()
    if name in PARAM_CHOICES:
        labels = PARAM_CHOICE_LABELS.get(name, {})
        column.selectbox(label, PARAM_CHOICES[name], key=f"rf_param_{name}", help=meaning,
                         format_func=lambda value: labels.get(value, value))
    else:
        column.text_input(label, key=f"rf_param_{name}", help=meaning,
                          placeholder="required" if name == "threshold" else "default")


def load_form(spec: Mapping[str, Any]) -> None:
    """Put a rule spec into the form's widgets (in a callback, or before they are drawn)."""
    symbols = [*spec["symbols"], None, None]
    state = st.session_state
    state.update({"rf_kind": spec["kind"], "rf_name": spec.get("name") or "", "rf_symbol_a": symbols[0],
                  "rf_symbol_b": symbols[1], "rf_timeframe": spec["timeframe"], "rf_window": int(spec["window"]),
                  "rf_hedge": spec["hedge"], "rf_cooldown": float(spec["cooldown_s"]),
                  "rf_notify": "\n".join(notify.masked(spec.get("notify") or [])),
                  "rf_enabled": bool(spec.get("enabled", True))})
    for name in alerts.KIND_PARAMS[spec["kind"]]:
        value = spec["params"].get(name)
        if name in PARAM_CHOICES:
            state[f"rf_param_{name}"] = PARAM_CHOICES[name][0] if value is None else value
        else:
            state[f"rf_param_{name}"] = param_text(value)


def form_spec() -> dict[str, Any]:
    """The rule the form describes, as a spec for ``alerts.validate_rule`` (an empty parameter: its default)."""
    state = st.session_state
    kind = state["rf_kind"]
    params = {}
    for name in alerts.KIND_PARAMS[kind]:
        value = state.get(f"rf_param_{name}")
        value = value if name in PARAM_CHOICES else parse_param(value)
        if value is not None:
            params[name] = value
    symbols = (state.get("rf_symbol_a"), state.get("rf_symbol_b"))[:2 if kind in alerts.PAIR_KINDS else 1]
    return {"name": (state.get("rf_name") or "").strip() or None, "kind": kind, "symbols": [s for s in symbols if s],
            "timeframe": state.get("rf_timeframe"), "window": state.get("rf_window"), "hedge": state.get("rf_hedge"),
            "params": params, "cooldown_s": state.get("rf_cooldown"), "notify": (state.get("rf_notify") or "").split(),
            "enabled": bool(state.get("rf_enabled", True))}


def change_kind(defaults: Sequence[str]) -> None:
    """Kind callback: the new kind's window and parameters; symbols, timeframe and the rest stay."""
    state = st.session_state
    chosen = [s for s in (state.get("rf_symbol_a"), state.get("rf_symbol_b")) if s]
    spec = alerts.default_spec(state["rf_kind"], [*chosen, *[s for s in defaults if s not in chosen]])
    current = form_spec()
    kept = ("name", "timeframe", "hedge", "cooldown_s", "notify", "enabled")
    load_form({**spec, **{field: current[field] for field in kept if current[field] is not None}})


def submit_rule(path: str, editing: int | None, defaults: Sequence[str]) -> None:
    """Save callback: check and store the rule (a new one, or rule ``editing``'s new definition)."""
    spec = form_spec()

    def write() -> str:
        write_access.guard()
        rule_id = alerts_data.save_rule(path, spec, editing)
        return f"Rule #{rule_id} saved: the ingestor evaluates it from the newest bar on."

    if attempt("rule_form_outcome", write):
        cancel_edit(defaults)


def send_test(path: str, editing: int | None) -> None:
    """Send-test callback: a test message to the form's notify URLs (masked ones: the edited rule's saved
    URLs), linking to the form's symbols; the outcome per URL is shown under the form."""
    spec = form_spec()
    try:
        results = alerts_data.send_test(path, spec["notify"], spec["symbols"], spec["timeframe"], editing,
                                        spec["name"] or "")
    except alerts.RuleError as exc:
        st.session_state["rule_test_results"] = [("error", f"Not sent: {exc}.")]
        return
    st.session_state["rule_test_results"] = [
        ("success" if result["outcome"] == "sent" else "error", f"Test to `{result['url']}`: {result['outcome']}")
        for result in results]


def show_test_results() -> None:
    """The last send-test's outcome per URL, until the next test."""
    for kind, text in st.session_state.get("rule_test_results", []):
        (st.success if kind == "success" else st.error)(text, icon=":material/send:")


def cancel_edit(defaults: Sequence[str]) -> None:
    """Leave editing: an empty form for a new rule of the same kind."""
    st.session_state.pop("rule_editing", None)
    load_form(alerts.default_spec(st.session_state["rf_kind"], defaults))


def edit_rule(rule: alerts.AlertRule) -> None:
    """Edit callback: the rule's definition into the form."""
    st.session_state["rule_editing"] = rule.rule_id
    st.session_state.pop("rule_form_outcome", None)
    load_form(rule.to_spec())

