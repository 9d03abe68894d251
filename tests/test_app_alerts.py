"""The dashboard's alerts section and watchlist control under AppTest, on recorded BTC/ETH trades and real events."""
from __future__ import annotations

import dataclasses
import io
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pairdesk import alerts
from pairdesk import store
from pairdesk import watchlist
from pairdesk.alerts import repository
from pairdesk import analytics
from pairdesk.dashboard import alerts_data, alert_history_view, charts, formatting, live, markers, sidebar
from pairdesk.dashboard import data as dashboard_data
from conftest import read_db
from test_app import (_widget, build_real_db, fresh_caches, run_page, synthetic_pair_trades,  # noqa: F401
                      texts)  # (fresh_caches: autouse)

PAIR = ("BTCUSDT", "ETHUSDT")


BUSY_WINDOW, BUSY_LOOKBACK = 30, 40  # z over 30 bars, hedge on the 40 before: events of both kinds in 2 minutes


def busier(rule: alerts.AlertRule) -> alerts.AlertRule:
    """A default z-score rule made to fire on the 121 aligned bars of the trimmed recordings."""
    return dataclasses.replace(rule, window=BUSY_WINDOW, cooldown_s=10.0,
                               params={**rule.params, "lookback": BUSY_LOOKBACK, "hysteresis": 0.5})


def seed_rules_and_events(path: Path, rules: list[alerts.AlertRule]) -> None:
    """Store ``rules`` and the events they raise on every stored bar, as the ingestor's monitor would."""
    conn = store.open_writer(path, "spot", "trade")
    try:
        with store.transaction(conn):
            repository.seed_rules(conn, rules)
        bars = {symbol: store.read_bars_1s(conn, symbol) for symbol in PAIR}
        first = min(int(frame["ts_ms"].iloc[0]) for frame in bars.values())
        last = max(int(frame["ts_ms"].iloc[-1]) for frame in bars.values())
        events = []
        for rule in repository.list_rules(conn):
            fired, _state = alerts.evaluate(rule, bars, first, last, alerts.RuleState())
            events += [event.to_dict() for event in fired]
        with store.transaction(conn):
            store.save_alert_progress(conn, events, {})
    finally:
        conn.close()


@pytest.fixture(scope="module")
def alerts_template(tmp_path_factory) -> Path:
    """The recorded trades, the two default rules made busier, and the events they raise on them (built once)."""
    path = build_real_db(tmp_path_factory.mktemp("alerts") / "ticks.db")
    seed_rules_and_events(path, [busier(rule) for rule in alerts.default_rules(list(PAIR))])
    return path


@pytest.fixture
def db(alerts_template, tmp_path) -> Path:
    """A fresh copy of the alerts database for one test (tests write to it)."""
    return Path(shutil.copy(alerts_template, tmp_path / "ticks.db"))



def rules_in(path: Path) -> dict[int, alerts.AlertRule]:
    return {rule.rule_id: rule for rule in read_db(path, repository.list_rules)}


def events_in(path: Path, **filters) -> pd.DataFrame:
    return read_db(path, lambda conn: store.read_alert_events(conn, **filters))


def act(page: AppTest, **widgets) -> AppTest:
    """Set widgets by key (a value, or "click" for a button), then run the page; fails on an exception."""
    for key, value in widgets.items():
        if isinstance(value, str) and value == "click":
            page.button(key=key).click()
        else:
            _widget(page, key).set_value(value)
    page.run()
    assert not page.exception, [e.value for e in page.exception]
    return page


def history_rows(page: AppTest) -> pd.DataFrame:
    """The alert history table as shown."""
    return next(frame.value for frame in page.dataframe if "acknowledged" in frame.value.columns)


def store_event(path: Path, message: str, direction: str = "UP") -> None:
    """One more alert event, stored the way the ingestor's monitor stores it."""
    conn = store.open_writer(path, "spot", "trade")
    try:
        with store.transaction(conn):
            store.save_alert_progress(conn, [{
                "ts_ms": 1_723_161_900_000, "rule_id": 1, "rule_name": "z-score ±2 BTCUSDT/ETHUSDT", "kind": "zscore",
                "symbols": "BTCUSDT/ETHUSDT", "timeframe": "1s", "value": 2.4, "threshold": 2.0,
                "direction": direction, "message": message}], {})
    finally:
        conn.close()


# --------------------------------------------------------------------------- rules


def test_rules_table_lists_every_stored_rule_with_its_switch(monkeypatch, db):
    """The default rules are listed with name, kind, symbols, bars, threshold and params, and an on switch each."""
    page = run_page(monkeypatch, db)
    markdown = texts(page, "markdown")
    assert formatting.breakable("**#1** z-score ±2 BTCUSDT/ETHUSDT") in markdown
    assert formatting.breakable("`zscore_extreme`") in markdown
    assert formatting.breakable("BTCUSDT/ETHUSDT") in markdown
    assert f"threshold 2 · hysteresis 0.5 · side both · lookback {BUSY_LOOKBACK}" in markdown
    assert page.toggle(key="rule_on_1").value and page.toggle(key="rule_on_2").value
    assert "Alerts" in texts(page, "subheader")


def test_new_rule_through_the_form_is_stored(monkeypatch, db):
    """Kind, symbols, window, parameters, cooldown and notify URLs typed into the form become one alert_rules row."""
    page = act(run_page(monkeypatch, db), rf_kind="correlation_breakdown")
    assert page.text_input(key="rf_param_threshold").value == "0.5"  # the kind's suggested level
    page = act(page, rf_name="BTC/ETH decouple", rf_symbol_a="ETHUSDT", rf_symbol_b="BTCUSDT", rf_timeframe="5s",
               rf_window=30, rf_param_threshold="0.3", rf_param_returns=False, rf_cooldown=120.0,
               rf_notify="http://127.0.0.1:9/hook\njson://127.0.0.1:9/hook", rf_save="click")
    rule = rules_in(db)[3]
    assert (rule.name, rule.kind, rule.symbols, rule.timeframe, rule.window) == (
        "BTC/ETH decouple", "correlation_breakdown", ("ETHUSDT", "BTCUSDT"), "5s", 30)
    assert rule.params == {"threshold": 0.3, "hysteresis": 0.1, "returns": False}
    assert (rule.cooldown_s, rule.webhook_url, rule.enabled) == (120.0, "http://127.0.0.1:9/hook", True)
    assert rule.notify == ("http://127.0.0.1:9/hook", "json://127.0.0.1:9/hook")
    assert any(toast.startswith("Rule #3 saved") for toast in texts(page, "toast"))
    assert formatting.breakable("**#3** BTC/ETH decouple") in texts(page, "markdown")
    assert page.text_input(key="rf_name").value == "" and not page.error  # a fresh form


@pytest.mark.parametrize(("widgets", "message"), [
    ({"rf_param_threshold": "nan"}, "threshold must be a finite number, got nan"),
    ({"rf_window": 1}, "window must be at least 2 bars, got 1"),
    ({"rf_param_hysteresis": "abc"}, "hysteresis must be a number, got 'abc'"),
    ({"rf_symbol_b": "BTCUSDT"}, "zscore needs two different symbols, got BTCUSDT/BTCUSDT"),
    ({"rf_notify": "ftp://example.com/x"}, "notify URL 'ftp://example.com/x' is not one apprise can send to"),
])
def test_bad_rule_is_an_error_and_nothing_is_saved(monkeypatch, db, widgets, message):
    """alerts.validate_rule's one-line message is shown as an error; alert_rules is unchanged."""
    before = rules_in(db)
    page = act(run_page(monkeypatch, db), **widgets, rf_save="click")
    (error,) = texts(page, "error")
    assert error.startswith("Not saved: ") and message in error
    assert rules_in(db) == before
    assert page.text_input(key="rf_param_threshold").value != ""  # what was typed stays, to be corrected


def test_rules_are_switched_off_and_on(monkeypatch, db):
    """The toggle writes enabled to alert_rules, and a change made elsewhere (the API) shows at the next run."""
    page = act(run_page(monkeypatch, db), rule_on_2=False)
    assert not rules_in(db)[2].enabled and rules_in(db)[1].enabled
    assert "Rule #2 switched off." in texts(page, "toast")
    page = act(page, rule_on_2=True)
    assert rules_in(db)[2].enabled
    conn = store.open_writer(db, "spot", "trade")
    with store.transaction(conn):
        store.set_alert_rule_enabled(conn, 1, False)
    conn.close()
    page = act(page)
    assert page.toggle(key="rule_on_1").value is False


def test_edit_loads_the_rule_and_saves_its_new_definition(monkeypatch, db):
    """Edit fills the form with the rule; saving replaces that rule (same id, no new row)."""
    page = act(run_page(monkeypatch, db), rule_edit_1="click")
    assert "**Edit rule #1**" in texts(page, "markdown")
    assert page.text_input(key="rf_name").value == "z-score ±2 BTCUSDT/ETHUSDT"
    assert page.text_input(key="rf_param_threshold").value == "2"
    assert page.text_input(key="rf_param_lookback").value == str(BUSY_LOOKBACK)
    page = act(page, rf_param_threshold="2.5", rf_param_side="up", rf_save="click")
    rules = rules_in(db)
    assert sorted(rules) == [1, 2]
    assert (rules[1].params["threshold"], rules[1].params["side"], rules[1].window) == (2.5, "up", BUSY_WINDOW)
    assert "**New rule**" in texts(page, "markdown")


def test_delete_asks_first_and_keeps_the_rules_alerts(monkeypatch, db):
    """Delete shows a confirmation; Keep it keeps the rule; confirming deletes it while its events stay."""
    events_before = len(events_in(db, rule_id=2))
    page = act(run_page(monkeypatch, db), rule_delete_2="click")
    assert any("Delete rule #2" in text for text in texts(page, "warning"))
    page = act(page, rule_delete_cancel="click")
    assert 2 in rules_in(db) and not any("Delete rule #2" in text for text in texts(page, "warning"))
    page = act(page, rule_delete_2="click")
    page = act(page, rule_delete_confirm="click")
    assert sorted(rules_in(db)) == [1]
    assert len(events_in(db, rule_id=2)) == events_before > 0
    assert [toggle.key for toggle in page.toggle if toggle.key.startswith("rule_on_")] == ["rule_on_1"]


# --------------------------------------------------------------------------- history


def test_history_filters_by_rule_kind_direction_time_and_acknowledgement(monkeypatch, db):
    """Each filter narrows the table to exactly the stored events that match, times in the display zone."""
    everything = events_in(db)
    page = run_page(monkeypatch, db)
    table = history_rows(page)
    assert list(table["event"]) == list(everything["event_id"])
    assert table["time"].iloc[0] == formatting.format_times(everything["ts_ms"], sidebar.DEFAULT_TZ).iloc[0]
    page = act(page, ah_direction="DOWN")
    assert list(history_rows(page)["event"]) == list(everything.loc[everything["direction"] == "DOWN", "event_id"])
    assert set(history_rows(page)["direction"]) == {"▼ DOWN"}
    page = act(page, ah_direction=alert_history_view.ANY, ah_rule=2)
    assert list(history_rows(page)["event"]) == list(everything.loc[everything["rule_id"] == 2, "event_id"])
    page = act(page, ah_rule=alert_history_view.ANY, ah_kind="zscore")
    assert set(history_rows(page)["kind"]) == {"zscore"}
    # the time range is wall-clock time of the display zone, both minutes included
    first = pd.Timestamp(int(everything["ts_ms"].min()), unit="ms", tz="UTC").tz_convert(sidebar.DEFAULT_TZ)
    start = first.floor("min").tz_localize(None).to_pydatetime()
    page = act(page, ah_kind=alert_history_view.ANY, ah_from=start, ah_to=start)
    in_minute = everything[(everything["ts_ms"] >= first.floor("min").value // 10**6)
                           & (everything["ts_ms"] < first.floor("min").value // 10**6 + 60_000)]
    assert list(history_rows(page)["event"]) == list(in_minute["event_id"])
    page = act(page, ah_from=None, ah_to=None, ah_unacknowledged=True)
    assert len(history_rows(page)) == len(everything)


def test_acknowledge_selected_then_all(monkeypatch, db):
    """Acknowledging chosen alerts stamps only those; Acknowledge all stamps the rest of the filtered view."""
    ids = list(events_in(db)["event_id"])
    page = act(run_page(monkeypatch, db), ah_ack=ids[:2])
    page = act(page, ah_ack_selected="click")
    acknowledged = events_in(db)
    assert set(acknowledged.loc[acknowledged["acknowledged_ms"].notna(), "event_id"]) == set(ids[:2])
    assert "2 alert(s) acknowledged." in texts(page, "toast")
    page = act(page, ah_unacknowledged=True)
    assert sorted(history_rows(page)["event"]) == sorted(ids[2:])
    page = act(page, ah_ack_all="click")
    assert events_in(db)["acknowledged_ms"].notna().all()
    assert texts(page, "info")[-1] == "No alerts match these filters."


def test_history_csv_is_the_filtered_history_with_local_times(db):
    """The history download: the filtered events, every stored column, plus `time` in the display zone."""
    flt = alerts_data.HistoryFilter(direction="UP")
    events = alerts_data.read_history(str(db), flt)
    csv = pd.read_csv(io.BytesIO(alerts_data.history_csv(events, "Asia/Kolkata")))
    assert len(csv) == len(events_in(db, direction="UP")) > 0 and set(csv["direction"]) == {"UP"}
    assert list(csv.columns[:3]) == ["event_id", "ts_ms", "time"]
    assert csv["time"].str.endswith("+0530").all()
    assert list(csv["message"]) == list(events["message"])
    empty = alerts_data.history_csv(alerts_data.read_history(str(db), alerts_data.HistoryFilter(rule_id=99)),
                                    "UTC")
    assert empty.decode().splitlines()[0].startswith("event_id,ts_ms,time,")


# --------------------------------------------------------------------------- toasts and markers


def test_a_toast_for_each_new_alert_but_none_for_the_past(monkeypatch, db):
    """Opening the page announces nothing; an event stored while it is open gets one toast, once."""
    page = run_page(monkeypatch, db)
    assert texts(page, "toast") == []
    store_event(db, "BTCUSDT/ETHUSDT z-score 2.40 crossed +2.00 UP (1s, window 60, rolling OLS)")
    page = act(page)
    (toast,) = texts(page, "toast")
    assert toast == ("**z-score ±2 BTCUSDT/ETHUSDT**  \n"
                     "BTCUSDT/ETHUSDT z-score 2.40 crossed +2.00 UP (1s, window 60, rolling OLS)")
    assert page.toast[0].icon == live.TOAST_ICONS["UP"]
    assert texts(act(page), "toast") == []


def test_the_live_view_carries_the_pairs_events_for_the_markers(db):
    """load_view's events: the displayed pair's alerts in the charted window, oldest first, when the page has
    the rules' settings; with other settings they are hidden and counted by the first setting that differs."""
    matching = dashboard_data.Settings("BTCUSDT", "ETHUSDT", "1s", "1 h", BUSY_WINDOW, 2.0, "rolling", "UTC", None,
                                       hedge_window=BUSY_LOOKBACK)
    database = dashboard_data.describe_database(str(db))
    view = dashboard_data.load_view(database, matching)
    stored = events_in(db)
    assert len(stored) > 0 and sorted(view.events["event_id"]) == sorted(stored["event_id"])
    assert view.events["ts_ms"].is_monotonic_increasing and view.hidden_markers == {}
    other = dataclasses.replace(matching, symbol_a="ETHUSDT", symbol_b="BTCUSDT")
    assert len(dashboard_data.load_view(database, other).events) == 0
    for change, reason in (({"timeframe": "5s"}, "another timeframe"), ({"hedge": "huber"}, "another hedge"),
                           ({"window": 60}, "another z window"), ({"hedge_window": 300}, "another hedge window")):
        view = dashboard_data.load_view(database, dataclasses.replace(matching, **change))
        assert len(view.events) == 0 and view.hidden_markers == {reason: len(stored)}, change


def test_markers_are_shown_only_with_the_rules_settings_and_a_caption_says_why(monkeypatch, db):
    """Default page settings vs the busier rules: no marker, and a caption counts the hidden ones and why."""
    page = run_page(monkeypatch, db)
    total = len(events_in(db))
    caption = markers.hidden_caption({"another z window": total})
    assert caption.startswith(f"{total} alert markers hidden ({total} of another z window)")
    assert caption in texts(page, "caption")
    page = act(page, window=BUSY_WINDOW, hedge_window=BUSY_LOOKBACK)
    assert not any("markers hidden" in text for text in texts(page, "caption"))


def test_default_rules_markers_sit_exactly_on_the_z_line(tmp_path):
    """With the page's defaults (1s, window 60, rolling, hedge window 300) every event of the default rules is
    marked at the panel's z of its bar, which is the value the rule fired on; another rule's events are hidden."""
    path = tmp_path / "ticks.db"
    store.write_trades(path, synthetic_pair_trades())
    narrow = dataclasses.replace(alerts.default_rules(list(PAIR))[0], name="narrow", window=30)
    seed_rules_and_events(path, [*alerts.default_rules(list(PAIR)), narrow])
    settings = dashboard_data.Settings("BTCUSDT", "ETHUSDT", "1s", "1 h", sidebar.DEFAULT_WINDOW_BARS, 2.0,
                                       analytics.DEFAULT_HEDGE, "UTC", None)
    assert settings.hedge_window == sidebar.DEFAULT_HEDGE_WINDOW_BARS == 300
    view = dashboard_data.load_view(dashboard_data.describe_database(str(path)), settings)
    stored = events_in(path)
    defaults = stored[stored["rule_name"] != "narrow"]
    assert len(defaults) >= 4 and set(defaults["kind"]) == {"zscore", "zscore_extreme"}
    assert sorted(view.events["event_id"]) == sorted(defaults["event_id"])
    assert view.hidden_markers == {"another z window": int((stored["rule_name"] == "narrow").sum())} != {}
    z_at = view.panel.set_index("ts_ms")["zscore"]
    np.testing.assert_array_equal(view.events["value"].to_numpy(), z_at.loc[view.events["ts_ms"]].to_numpy())
    fig = charts.spread_zscore_figure(view.panel, 2.0, "UTC", settings.hedge_label, events=view.events)
    drawn = [trace for trace in fig.data if trace.mode == "markers"]
    assert sum(len(trace.y) for trace in drawn) == len(view.events)
    for trace in drawn:
        at = [int(t.value // 10**6) for t in pd.DatetimeIndex(trace.x).tz_localize("UTC")]
        np.testing.assert_array_equal(np.asarray(trace.y, dtype="float64"), z_at.loc[at].to_numpy())


# --------------------------------------------------------------------------- the watchlist


def test_watchlist_is_saved_and_shown(monkeypatch, db):
    """Saving the sidebar's list replaces the watchlist (upper-cased, duplicates dropped); the caption shows it."""
    page = run_page(monkeypatch, db)
    assert any("No list stored yet" in caption for caption in texts(page, "caption"))
    page = act(page, watchlist_text="btcusdt, ethusdt solusdt\nBTCUSDT", watchlist_save="click")
    assert [symbol for symbol, _ in read_db(db, store.read_watchlist)] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert any(toast.startswith("Watchlist saved: 3 symbol(s)") for toast in texts(page, "toast"))
    # no ingestor has picked them up yet (no feed-status rows): pending, not followed
    assert "Pending (3): BTCUSDT, ETHUSDT, SOLUSDT" in texts(page, "caption")
    conn = store.open_writer(db, "spot", "trade")  # the ingestor drops a symbol Binance does not list
    with store.transaction(conn):
        store.replace_watchlist(conn, ["BTCUSDT", "ETHUSDT"])
    conn.close()
    page = act(page)
    assert "Pending (2): BTCUSDT, ETHUSDT" in texts(page, "caption")
    assert page.text_area(key="watchlist_text").value == "BTCUSDT, ETHUSDT"


@pytest.mark.parametrize(("text", "message"), [
    ("BTCUSDT, BTC-USDT", "'BTC-USDT' is not a symbol: use 2 to 30 letters and digits, e.g. BTCUSDT"),
    ("   ", "give at least one symbol"),
    (", ".join(f"S{i:04d}" for i in range(1025)), "at most 1024 symbols, got 1025"),
])
def test_invalid_watchlist_is_an_error_and_nothing_is_saved(monkeypatch, db, text, message):
    """A bad symbol, an empty or too long list: one-line error, the watchlist table untouched."""
    page = act(run_page(monkeypatch, db), watchlist_text=text, watchlist_save="click")
    (error,) = texts(page, "error")
    assert error.startswith("Not saved: ") and message in error
    assert read_db(db, store.read_watchlist) == []


def test_parse_watchlist_normalises_symbols():
    """Commas, spaces and new lines separate; case is folded; the first of duplicates is kept."""
    assert watchlist.parse_watchlist("ethusdt,BTCUSDT  solusdt\nethusdt") == ["ETHUSDT", "BTCUSDT", "SOLUSDT"]
    with pytest.raises(watchlist.WatchlistError, match="'x' is not a symbol"):
        watchlist.parse_watchlist("x")


# --------------------------------------------------------------------------- issue 12: saner rules, notifications


def test_an_identical_enabled_rule_is_refused_on_the_page(monkeypatch, db):
    """The form describing rule #1 again (same kind, symbols, timeframe, window, hedge, params) is refused with
    the one-line message naming #1; nothing is saved."""
    before = rules_in(db)
    page = act(run_page(monkeypatch, db), rf_name="again", rf_window=BUSY_WINDOW, rf_param_threshold="2",
               rf_param_hysteresis="0.5", rf_param_lookback=str(BUSY_LOOKBACK), rf_cooldown=5.0, rf_save="click")
    (error,) = texts(page, "error")
    assert error.startswith("Not saved: an identical enabled rule exists: #1 “z-score ±2 BTCUSDT/ETHUSDT”")
    assert rules_in(db) == before


def test_the_rules_table_shows_when_each_rule_last_fired_in_the_display_time_zone(monkeypatch, db):
    """Each rule's newest alert (its bar, in the display zone) and how many it raised; 'never' for a quiet rule."""
    page = run_page(monkeypatch, db)
    markdown = texts(page, "markdown")
    assert "**Last fired**" in markdown
    for rule_id in (1, 2):
        fired = events_in(db, rule_id=rule_id)
        assert len(fired) > 0
        count = len(fired)
        expected = f"{formatting.format_time(int(fired['ts_ms'].max()), sidebar.DEFAULT_TZ)}  \n" \
                   f"{count} alert{'s' * (count != 1)}"
        assert expected in markdown
    page = act(act(page, rf_kind="price_cross"), rf_param_threshold="70000", rf_save="click")
    assert "never" in texts(page, "markdown")


def test_send_test_delivers_to_a_local_receiver_and_says_so(monkeypatch, db, unused_port):
    """The form's Send test posts a test message to the URLs typed (apprise json:// at a real local server),
    linking to the form's pair; each URL's outcome is shown; nothing is saved."""
    from test_alert_monitor import Recorder

    before = rules_in(db)
    with Recorder() as server:
        port = server.server_address[1]
        urls = f"json://127.0.0.1:{port}/desk\njson://127.0.0.1:{unused_port}/nobody"
        page = act(run_page(monkeypatch, db), rf_notify=urls, rf_test="click")
    (body,) = server.bodies
    assert "direction: TEST" in body["message"] and "?a=BTCUSDT&b=ETHUSDT&tf=1s&tab=spread" in body["message"]
    assert f"Test to `json://127.0.0.1:{port}/desk`: sent" in texts(page, "success")
    (failed,) = [text for text in texts(page, "error") if "nobody" in text or "no…dy" in text]
    assert f"json://127.0.0.1:{unused_port}/no…dy`: failed: " in failed
    assert rules_in(db) == before


def test_saved_destinations_are_masked_in_the_form_and_kept_when_saved_unchanged(monkeypatch, db):
    """A rule's bot token never shows on the page; editing and saving the rule keeps the real URL."""
    token_url = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654321"
    conn = store.open_writer(db, "spot", "trade")
    with store.transaction(conn):
        rule = dataclasses.replace(rules_in(db)[1], notify=(token_url,))
        repository.update_rule(conn, 1, rule)
    conn.close()
    page = act(run_page(monkeypatch, db), rule_edit_1="click")
    assert page.text_area(key="rf_notify").value == "tgram://12…aw/98…21"
    assert not any("AAHdqTcv" in text for text in texts(page, "markdown"))
    page = act(page, rf_name="renamed", rf_save="click")
    assert (rules_in(db)[1].name, rules_in(db)[1].notify) == ("renamed", (token_url,))
