"""Alert destinations: apprise URLs checked and masked, a rule's ``notify`` list, the notification text,
and delivery to a real local HTTP server through apprise's ``json://`` target and a plain webhook."""
from __future__ import annotations

import dataclasses
import json

import pytest

from pairdesk import alerts, store
from pairdesk.alerts import channels, delivery, links, notify
from test_alert_monitor import Recorder
from test_ingestor import wait_until

KNOWN = ["BTCUSDT", "ETHUSDT"]
BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
CHAT_ID = "987654321"


# --------------------------------------------------------------------------- masking


@pytest.mark.parametrize(("url", "shown"), [
    (f"tgram://{BOT_TOKEN}/{CHAT_ID}", "tgram://12…aw/98…21"),
    ("discord://1234567890/abcdefghijklmnopqrstuvwxyz", "discord://12…90/ab…yz"),
    ("mailto://desk:s3cret-pass@gmail.com", "mailto://desk:****@gmail.com"),
    ("ntfy://my-private-topic", "ntfy://my…ic"),
    ("json://127.0.0.1:9000/hook", "json://127.0.0.1:9000/hook"),
    ("https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX?x=1", "https://hooks.slack.com/se…es/T000/B000/XX…XX?…"),
])
def test_a_url_is_shown_with_its_secrets_hidden(url, shown):
    """Tokens, passwords, private topics and queries are masked; host names and short parts stay readable."""
    assert notify.mask_url(url) == shown
    assert notify.mask_url(shown) == shown  # masking a masked URL changes nothing
    for secret in (BOT_TOKEN, "s3cret-pass", "my-private-topic", "XXXXXXXXXXXXXXXX", "abcdefghijklmnop"):
        assert secret not in shown


def test_a_masked_url_sent_back_keeps_the_saved_one():
    """What the page or the API showed, sent back unchanged, is the saved URL again; a new URL stays as given."""
    saved = [f"tgram://{BOT_TOKEN}/{CHAT_ID}", "json://127.0.0.1:9000/hook"]
    given = [*notify.masked(saved), "ntfy://another-topic"]
    assert notify.restore_masked(given, saved) == [*saved, "ntfy://another-topic"]
    with pytest.raises(alerts.RuleError, match="is masked: type the full URL again"):
        notify.check_notify(notify.restore_masked(["tgram://12…zz/98…21"], saved))


# --------------------------------------------------------------------------- checking


def test_apprise_urls_and_webhooks_are_accepted_in_order_without_duplicates():
    """A list (or one text of lines) of apprise URLs and http(s) webhooks; the older webhook_url joins the list."""
    urls = [f"tgram://{BOT_TOKEN}/{CHAT_ID}", "json://127.0.0.1:9000/hook", "https://example.com/hook",
            "mailto://desk:pass@gmail.com", "ntfy://topic"]
    assert notify.check_notify(urls) == tuple(urls)
    assert notify.check_notify("\n".join(urls) + "\n" + urls[0]) == tuple(urls)
    assert notify.check_notify(None, "https://example.com/old") == ("https://example.com/old",)
    assert notify.check_notify([], "") == () and notify.check_notify("  ") == ()


@pytest.mark.parametrize(("value", "message"), [
    (["foo://bar"], "notify URL 'foo://bar' is not one apprise can send to (unknown service 'foo'"),
    (["tgram://"], "notify URL 'tgram://' is not one apprise can send to"),
    (["not a url"], "must be one URL of at most 2000 characters, without spaces"),
    ("not-a-url", "notify URL 'no…rl' is not one apprise can send to (unknown service 'none'"),
    (["https:///path"], "has no host"),
    ([42], "each notify URL must be a URL"),
    ({"url": "x"}, "notify must be a list of URLs"),
    ([f"json://127.0.0.1:{port}/hook" for port in range(9000, 9011)], "notify takes at most 10 URLs, got 11"),
])
def test_a_url_apprise_cannot_parse_is_a_one_line_refusal_naming_it(value, message):
    """Each bad destination is a RuleError whose one line names the URL (masked) and says what to do."""
    with pytest.raises(alerts.RuleError) as refused:
        notify.check_notify(value)
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_a_rule_keeps_its_urls_and_the_older_webhook_field_still_works():
    """notify round-trips through to_spec; a spec with only webhook_url (older clients) gets it as its one URL."""
    rule = alerts.validate_rule({"kind": "zscore", "symbols": KNOWN, "params": {"threshold": 2},
                                 "notify": ["json://127.0.0.1:9000/hook", f"tgram://{BOT_TOKEN}/{CHAT_ID}"]}, KNOWN)
    assert alerts.validate_rule(rule.to_spec(), KNOWN) == rule and rule.webhook_url is None
    old = alerts.validate_rule({"kind": "zscore", "symbols": KNOWN, "params": {"threshold": 2},
                                "webhook_url": "https://example.com/hook"}, KNOWN)
    assert old.notify == ("https://example.com/hook",) and old.webhook_url == "https://example.com/hook"
    assert "webhook_url" not in old.to_spec()


# --------------------------------------------------------------------------- the message and the link


def event(**fields) -> alerts.AlertEvent:
    values = {"ts_ms": 1_723_161_900_000, "rule_id": 3, "rule_name": "z-score ±2 BTCUSDT/ETHUSDT", "kind": "zscore",
              "symbols": "BTCUSDT/ETHUSDT", "timeframe": "1m", "value": 2.3456, "threshold": 2.0, "direction": "UP",
              "message": "BTCUSDT/ETHUSDT z-score 2.35 crossed +2.00 UP (1m, window 60, OLS)"}
    return alerts.AlertEvent(**{**values, **fields})


def test_the_link_opens_the_pair_on_the_dashboard(monkeypatch):
    """The dashboard's address comes from the setting; the link names the pair, timeframe and tab."""
    monkeypatch.delenv(links.DASHBOARD_URL_ENV, raising=False)
    assert links.dashboard_url() == "http://127.0.0.1:8501"
    monkeypatch.setenv(links.DASHBOARD_URL_ENV, "https://desk.example.com/")
    assert links.dashboard_url() == "https://desk.example.com"
    assert links.dashboard_url("http://10.0.0.5:8600") == "http://10.0.0.5:8600"
    assert links.pair_link("http://h:1", "BTCUSDT/ETHUSDT", "1m") == "http://h:1/?a=BTCUSDT&b=ETHUSDT&tf=1m&tab=spread"
    assert links.pair_link("http://h:1", ("SOLUSDT",), "5s") == "http://h:1/?a=SOLUSDT&tf=5s&tab=prices"
    with pytest.raises(alerts.RuleError, match="dashboard URL must be an http"):
        links.dashboard_url("desk:8501")


def test_the_notification_text_carries_pair_value_threshold_direction_time_and_link():
    """The title names the pair and direction; the text has the event's line, then one fact per line."""
    payload = channels.event_payload(7, event(), "http://h:1/?a=BTCUSDT&b=ETHUSDT&tf=1m&tab=spread")
    title, body = channels.notification_text(payload)
    assert title == "pairdesk: BTCUSDT/ETHUSDT UP"
    assert body.splitlines() == [
        "BTCUSDT/ETHUSDT z-score 2.35 crossed +2.00 UP (1m, window 60, OLS)", "pair: BTCUSDT/ETHUSDT",
        "value: 2.3456", "threshold: 2", "direction: UP", "bar: 2024-08-09 00:05:00 UTC",
        "rule: #3 z-score ±2 BTCUSDT/ETHUSDT", "open: http://h:1/?a=BTCUSDT&b=ETHUSDT&tf=1m&tab=spread"]
    assert channels.event_payload(7, event(value=float("nan")))["value"] is None


# --------------------------------------------------------------------------- delivery to a local receiver


@pytest.fixture
def writer(db_path):
    writer = store.TradeWriter(db_path, "spot", "trade", flush_interval_ms=50).start()
    yield writer
    writer.close()


def stored_delivery(writer: store.TradeWriter, event_id: int) -> str:
    events = writer.call(lambda conn: store.read_alert_events(conn)).result(5)
    return events.set_index("event_id").loc[event_id, "delivery"]


def test_an_alert_is_delivered_through_apprise_json_and_a_webhook_to_a_local_receiver(writer, unused_port):
    """apprise's json:// target and a plain webhook each POST to a real local HTTP server: the apprise body
    carries pair, value, threshold, direction and the link; the webhook gets the event; delivery per URL."""
    link = "http://127.0.0.1:8501/?a=BTCUSDT&b=ETHUSDT&tf=1m&tab=spread"
    with Recorder() as server:
        port = server.server_address[1]
        urls = [f"json://127.0.0.1:{port}/apprise", server.url, f"json://127.0.0.1:{unused_port}/nobody"]
        [event_id] = writer.call(lambda conn: store.save_alert_progress(
            conn, [{**event().to_dict(), "delivery": "pending"}], {})).result(5)
        sender = delivery.WebhookSender(writer, timeout_s=2.0, retries=1, backoff_s=0.01).start()
        assert sender.submit_all(urls, channels.event_payload(event_id, event(), link), event_id) == 3
        wait_until(lambda: sender.counts["sent"] + sender.counts["failed"] == 3, 10)
        sender.stop()
    apprise_body, webhook_body = server.bodies
    assert set(apprise_body) >= {"title", "message"} and apprise_body["title"] == "pairdesk: BTCUSDT/ETHUSDT UP"
    lines = apprise_body["message"].splitlines()
    for expected in ("pair: BTCUSDT/ETHUSDT", "value: 2.3456", "threshold: 2", "direction: UP", f"open: {link}"):
        assert expected in lines
    assert webhook_body == json.loads(json.dumps(channels.event_payload(event_id, event(), link)))
    assert dict(sender.counts) == {"sent": 2, "failed": 1, "retried": 1}
    outcome = stored_delivery(writer, event_id)
    assert outcome.startswith(f"json://127.0.0.1:{port}/ap…se: sent; http://127.0.0.1:{port}/hook: sent; "
                              f"json://127.0.0.1:{unused_port}/no…dy: failed: ")
    assert "Connection error" in outcome


def test_send_test_reports_per_url_and_sends_what_an_alert_would(unused_port):
    """The send-test (the API's and the page's) posts a TEST message with the link, one attempt per URL."""
    with Recorder() as server:
        port = server.server_address[1]
        payload = channels.sample_payload("http://h:1", ["BTCUSDT", "ETHUSDT"], "1m", 4, "desk z")
        results = channels.send_test([f"json://127.0.0.1:{port}/t", f"http://127.0.0.1:{unused_port}/x"], payload)
    assert results[0] == {"url": f"json://127.0.0.1:{port}/t", "outcome": "sent"}
    assert results[1]["url"] == f"http://127.0.0.1:{unused_port}/x" and results[1]["outcome"].startswith(
        "failed: ConnectError")
    (body,) = server.bodies
    assert "direction: TEST" in body["message"] and "open: http://h:1/?a=BTCUSDT&b=ETHUSDT&tf=1m&tab=spread" in \
        body["message"] and "alerts of rule #4 (desk z)" in body["message"]


def test_a_refusing_webhook_is_not_retried(writer):
    """A 4xx (not 429) from a webhook is final: one attempt, failed: HTTP 404."""
    with Recorder(statuses=[404]) as server:
        error, retryable = channels.send(server.url, {"n": 1})
    assert (error, retryable) == ("HTTP 404", False) and server.bodies == []


def test_identical_rules_share_a_signature_whatever_their_name_cooldown_and_urls():
    """AlertRule.signature is what fires (kind, symbols, timeframe, window, hedge, params), not where it goes."""
    rule = alerts.validate_rule({"kind": "zscore", "symbols": KNOWN, "params": {"threshold": 2}}, KNOWN)
    other = dataclasses.replace(rule, name="other", cooldown_s=5.0, notify=("json://127.0.0.1:9/x",))
    assert other.signature == rule.signature
    assert dataclasses.replace(rule, window=61).signature != rule.signature
