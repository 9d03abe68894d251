"""Alert rules, pure: validation with one-line messages, edge triggering, and every kind on constructed series."""
from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pairdesk import alerts, analytics
from pairdesk.alerts import Observation, RuleState

PAIR = ["BTCUSDT", "ETHUSDT"]
KNOWN = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
T0_MS = 1_723_161_300_000


def rule(kind: str = "zscore", symbols=None, **fields) -> alerts.AlertRule:
    """A valid rule of ``kind``; ``fields`` override the spec, ``threshold=`` etc. go to params."""
    spec = alerts.default_spec(kind, symbols or PAIR)
    spec["cooldown_s"] = 0.0
    for key in list(fields):
        if key not in alerts.SPEC_FIELDS:
            spec["params"][key] = fields.pop(key)
    spec.update(fields)
    return alerts.validate_rule(spec, KNOWN)


def observations(values, step_ms: int = 1000) -> list[Observation]:
    return [Observation(T0_MS + i * step_ms, v) for i, v in enumerate(values)]


def fired(rule_: alerts.AlertRule, values, state: RuleState | None = None, step_ms: int = 1000) -> list[tuple[int, str]]:
    """(index of the bar, direction) of each event ``values`` fire."""
    events, _ = alerts.trigger(rule_, observations(values, step_ms), state or RuleState())
    return [((e.ts_ms - T0_MS) // step_ms, e.direction) for e in events]


def bars(close, volume=None, start_ms: int = T0_MS, keep=None) -> pd.DataFrame:
    """One-second bars with these closes (and volumes); ``keep``: a mask of the seconds that traded."""
    close = np.asarray(close, dtype=float)
    n = len(close)
    volume = np.ones(n) if volume is None else np.asarray(volume, dtype=float)
    frame = pd.DataFrame({"ts_ms": start_ms + 1000 * np.arange(n, dtype=np.int64), "open": close, "high": close,
                          "low": close, "close": close, "volume": volume, "quote_volume": close * volume,
                          "trades": np.ones(n, dtype=np.int64)})
    return frame if keep is None else frame[np.asarray(keep)].reset_index(drop=True)


def evaluate_all(rule_: alerts.AlertRule, bars_by_symbol) -> tuple[list[alerts.AlertEvent], RuleState]:
    last = max(int(frame["ts_ms"].iloc[-1]) for frame in bars_by_symbol.values())
    return alerts.evaluate(rule_, bars_by_symbol, T0_MS, last, RuleState())


def cointegrated_pair(n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    b = 2600 * np.exp(np.cumsum(rng.normal(0, 2e-4, n)))
    a = 23 * b + rng.normal(0, 3, n)
    return a, b


# --------------------------------------------------------------------------- validation


def test_defaults_are_filled_in_and_to_spec_round_trips():
    """A minimal spec gets every default, and to_spec() is JSON that validates back to the same rule."""
    r = alerts.validate_rule({"kind": "zscore", "symbols": "btcusdt/ethusdt", "params": {"threshold": 2}}, KNOWN)
    assert r.symbols == ("BTCUSDT", "ETHUSDT") and (r.timeframe, r.window, r.hedge) == ("1s", 60, "rolling")
    assert r.params == {"threshold": 2.0, "hysteresis": 0.5, "side": "both", "lookback": 300}
    assert r.cooldown_s == 60.0 and r.enabled and r.webhook_url is None and r.rule_id is None
    spec = json.loads(json.dumps(r.to_spec()))
    assert set(spec) == set(alerts.SPEC_FIELDS)
    assert alerts.validate_rule(spec, KNOWN) == r
    for kind in alerts.RULE_KINDS:
        assert kind in alerts.KIND_DESCRIPTIONS and "threshold" in alerts.KIND_PARAMS[kind]
        spec = alerts.default_spec(kind, KNOWN)
        spec["params"]["threshold"] = spec["params"]["threshold"] or 60_000.0
        checked = alerts.validate_rule(spec, KNOWN)
        assert alerts.validate_rule(checked.to_spec(), KNOWN) == checked


def test_default_rules_are_two_zscore_rules_on_the_first_pair():
    """New databases start with |z| >= 2 and |z| >= 3 (EXTREME) on the first two symbols, on the chart's
    default signal: 1s, window 60, the rolling hedge on the 300 bars before each bar; re-armed once |z|
    is back below 1 (and 1.5), quiet 180 s (and 300 s) after an alert."""
    rules = alerts.default_rules(["btcusdt", "ethusdt", "solusdt"])
    assert [(r.kind, r.params["threshold"]) for r in rules] == [("zscore", 2.0), ("zscore_extreme", 3.0)]
    for r in rules:
        assert r.symbols == ("BTCUSDT", "ETHUSDT") and (r.timeframe, r.window, r.hedge) == ("1s", 60, "rolling")
        assert r.params["lookback"] == 300
    assert [(r.params["hysteresis"], r.cooldown_s) for r in rules] == [(1.0, 180.0), (1.5, 300.0)]
    assert alerts.default_rules(["BTCUSDT"]) == []


@pytest.mark.parametrize(("change", "message"), [
    ({"kind": "zscor"}, "unknown alert kind 'zscor'; use one of zscore,"),
    ({"symbols": ["BTCUSDT", "DOGEUSDT"]}, "unknown symbol 'DOGEUSDT'; known symbols: BTCUSDT, ETHUSDT, SOLUSDT"),
    ({"symbols": ["BTCUSDT"]}, "zscore needs 2 symbols (a pair A/B), got 1"),
    ({"symbols": ["BTCUSDT", "BTCUSDT"]}, "zscore needs two different symbols"),
    ({"window": 0}, "window must be a positive whole number of bars, got 0"),
    ({"window": -5}, "window must be a positive whole number of bars, got -5"),
    ({"window": 60.5}, "window must be a whole number of bars, got 60.5"),
    ({"window": "60"}, "window must be a whole number of bars, got '60'"),
    ({"window": 1}, "window must be at least 2 bars, got 1"),
    ({"window": 10**6}, "window must be at most 20000 bars"),
    ({"timeframe": "2s"}, "unknown timeframe '2s'; use one of 1s, 5s"),
    ({"hedge": "magic"}, "hedge 'magic' cannot drive an alert; use one of rolling, huber, theilsen"),
    ({"hedge": "ols_insample"}, "hedge 'ols_insample' cannot drive an alert (it is fitted on future bars)"),
    ({"hedge": "kalman"}, "hedge 'kalman' cannot drive an alert (an alert recomputes each bar from a bounded history)"),
    ({"params": {"threshold": float("nan")}}, "threshold must be a finite number, got nan"),
    ({"params": {"threshold": float("inf")}}, "threshold must be a finite number, got inf"),
    ({"params": {}}, "threshold is required for zscore"),
    ({"params": {"threshold": "2"}}, "threshold must be a number, got '2'"),
    ({"params": {"threshold": -2}}, "threshold must be a positive z level"),
    ({"params": {"threshold": 2, "treshold": 3}}, "unknown parameter 'treshold' for zscore"),
    ({"params": {"threshold": 2, "hysteresis": -0.1}}, "hysteresis must not be negative"),
    ({"params": {"threshold": 2, "side": "sideways"}}, "side must be both, up or down"),
    ({"params": {"threshold": 2, "lookback": 2}}, "lookback must be at least 3 bars, got 2"),
    ({"webhook_url": "ftp://example.com/hook"}, "webhook_url must be an http:// or https:// URL"),
    ({"webhook_url": "localhost:8080/hook"}, "webhook_url must be an http:// or https:// URL"),
    ({"cooldown_s": -1}, "cooldown_s must not be negative, got -1"),
    ({"cooldown_s": float("nan")}, "cooldown_s must be a finite number"),
    ({"threshold": 2}, "unknown rule field 'threshold' (thresholds go in params)"),
    ({"enabled": "yes"}, "enabled must be true or false"),
])
def test_bad_rules_are_rejected_with_one_line_messages(change, message):
    """Each mistake a user can make is a RuleError (a ValueError) whose single line says what to fix."""
    spec = {"kind": "zscore", "symbols": PAIR, "window": 60, "params": {"threshold": 2.0}, **change}
    with pytest.raises(alerts.RuleError) as excinfo:
        alerts.validate_rule(spec, KNOWN)
    assert isinstance(excinfo.value, ValueError)
    assert message in str(excinfo.value) and "\n" not in str(excinfo.value)


@pytest.mark.parametrize(("kind", "symbols", "params", "message"), [
    ("price_cross", ["BTCUSDT", "ETHUSDT"], {"threshold": 60_000}, "price_cross needs 1 symbol (one symbol), got 2"),
    ("price_cross", ["BTCUSDT"], {"threshold": 0}, "threshold must be a positive price level"),
    ("correlation_breakdown", PAIR, {"threshold": 1.5}, "threshold must be a correlation between -1 and 1"),
    ("correlation_breakdown", PAIR, {"threshold": 0.9, "hysteresis": 0.2}, "hysteresis must be less than 0.1"),
    ("volume_spike", ["BTCUSDT"], {"threshold": 3, "hysteresis": 3}, "hysteresis must be less than 3"),
    ("volatility_spike", ["BTCUSDT"], {"threshold": 2, "long_window": 30}, "long_window must be at least 61 bars"),
    ("stationarity_loss", PAIR, {"threshold": 0}, "threshold must be a p-value between 0 and 1"),
    ("stationarity_loss", PAIR, {"threshold": 0.1, "every": 0}, "every must be a positive whole number of bars"),
])
def test_kind_parameters_are_checked(kind, symbols, params, message):
    """Kind-specific parameters are range-checked with a message naming the parameter."""
    spec = {**alerts.default_spec(kind, symbols), "symbols": symbols, "params": params}
    with pytest.raises(alerts.RuleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        alerts.validate_rule(spec, KNOWN)


def test_stationarity_window_needs_twenty_bars():
    """ADF needs 20 rows: a shorter stationarity window is refused."""
    with pytest.raises(alerts.RuleError, match="window must be at least 20 bars"):
        rule("stationarity_loss", window=10)


# --------------------------------------------------------------------------- edge triggering


def test_fires_once_per_crossing_and_rearms_only_past_the_hysteresis():
    """|z| >= 2 with hysteresis 0.5: one event per crossing; dipping to 1.8 and back does not fire again."""
    r = rule(threshold=2.0, hysteresis=0.5)
    values = [0.0, 1.0, 2.1, 2.6, 1.8, 2.3, 1.9, 1.4, 2.0, 0.0, -1.9, -2.0, -2.4, -1.6, -2.2, -1.4, -2.5]
    assert fired(r, values) == [(2, "UP"), (8, "UP"), (11, "DOWN"), (16, "DOWN")]


def test_side_up_or_down_watches_one_direction():
    """side=up ignores DOWN crossings and side=down ignores UP ones."""
    values = [0.0, 2.5, 0.0, -2.5]
    assert fired(rule(threshold=2.0, side="up"), values) == [(1, "UP")]
    assert fired(rule(threshold=2.0, side="down"), values) == [(3, "DOWN")]


def test_a_condition_already_true_at_start_is_not_a_crossing():
    """The first defined value only arms the rule: starting above the level fires nothing until a new crossing."""
    r = rule(threshold=2.0)
    assert fired(r, [2.5, 2.7, 3.0]) == []
    assert fired(r, [2.5, 1.0, 2.5]) == [(2, "UP")]


def test_nan_and_inf_never_fire_and_leave_the_state_alone():
    """NaN (and inf) values are skipped: they neither fire, arm, disarm nor re-arm."""
    r = rule(threshold=2.0)
    assert fired(r, [math.nan, math.inf, 2.5, math.nan]) == []
    assert fired(r, [1.0, math.nan, 2.5, math.nan, math.nan, 2.6, 1.0, -math.inf, 2.2]) == [(2, "UP"), (8, "UP")]
    _, state = alerts.trigger(r, observations([math.nan] * 5), RuleState())
    assert state.armed == {}


def test_cooldown_in_data_time_suppresses_a_crossing_without_firing_it_late():
    """A crossing within cooldown_s of the last event is swallowed (counted), not delivered when the cooldown ends."""
    r = rule(threshold=2.0, cooldown_s=10.0)
    values = [0, 2.5, 0, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 0, 2.5, 0, -2.5]
    events, state = alerts.trigger(r, observations(values), RuleState())
    assert [((e.ts_ms - T0_MS) // 1000, e.direction) for e in events] == [(1, "UP"), (14, "UP")]
    assert state.suppressed == 2 and state.last_fired_ms == T0_MS + 14_000  # bar 3 UP and bar 16 DOWN
    # the DOWN crossing at bar 16 is also within 10 s of bar 14: the cooldown is per rule
    assert fired(r, values[:14] + [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -2.5]) == [(1, "UP"), (25, "DOWN")]


def test_state_survives_json_and_resumes_without_refiring():
    """A state saved as JSON and loaded back continues exactly: no second event for the same crossing."""
    r = rule(threshold=2.0, cooldown_s=5.0)
    obs = observations([0, 2.5, 2.6, 0.5, 2.4, 0.1, 0.2, 0.3, 2.2])
    whole, _ = alerts.trigger(r, obs, RuleState())
    first, state = alerts.trigger(r, obs[:3], RuleState())
    state = RuleState.from_dict(json.loads(json.dumps(state.to_dict())))
    rest, _ = alerts.trigger(r, obs[3:], state)
    assert first + rest == whole and len(whole) == 2
    assert RuleState.from_dict({}) == RuleState() and RuleState.from_dict(None) == RuleState()


# --------------------------------------------------------------------------- kinds on constructed series


def test_zscore_fires_on_a_spread_jump_with_a_trader_message():
    """A jump in the spread fires UP with the z, the level, the timeframe, the window and the hedge in the message."""
    a, b = cointegrated_pair(400)
    a[350:] += 40.0  # the hedge needs the 300 bars before a bar: z exists from bar 300 on
    events, state = evaluate_all(rule(threshold=2.0), {"BTCUSDT": bars(a), "ETHUSDT": bars(b)})
    jump = [e for e in events if e.ts_ms == T0_MS + 350_000]
    assert len(jump) == 1 and jump[0].direction == "UP" and jump[0].value > 2.5
    assert jump[0].message == f"BTCUSDT/ETHUSDT z-score {jump[0].value:.2f} crossed +2.00 UP (1s, window 60, rolling OLS)"
    assert (jump[0].kind, jump[0].symbols, jump[0].threshold, jump[0].timeframe) == ("zscore", "BTCUSDT/ETHUSDT",
                                                                                      2.0, "1s")
    assert state.since_ms == T0_MS and state.last_bar_ms == T0_MS + 399_000


def test_extreme_zscore_fires_its_own_event_saying_extreme():
    """zscore_extreme at 3 fires DOWN with a message that starts with EXTREME."""
    a, b = cointegrated_pair(400)
    a[350:] -= 60.0
    events, _ = evaluate_all(rule("zscore_extreme", threshold=3.0), {"BTCUSDT": bars(a), "ETHUSDT": bars(b)})
    jump = [e for e in events if e.ts_ms == T0_MS + 350_000]
    assert len(jump) == 1 and jump[0].direction == "DOWN" and jump[0].value <= -3.0
    assert jump[0].message.startswith("EXTREME: BTCUSDT/ETHUSDT z-score -") and "crossed -3.00 DOWN" in jump[0].message


@pytest.mark.parametrize("hedge", ["rolling", "huber", "theilsen"])
def test_zscore_is_the_charts_z_at_each_bar_from_a_bounded_history(hedge):
    """An alert's z at each bar equals pair_panel's z on all the bars (the chart), also when only the
    bars that ``bars_needed`` names are read; quiet seconds of one leg included."""
    a, b = cointegrated_pair(400, seed=5)
    rng = np.random.default_rng(9)
    quiet_b = rng.random(400) < 0.3  # ETH does not trade in 30 % of the seconds
    quiet_b[:5] = False
    bars_by_symbol = {"BTCUSDT": bars(a), "ETHUSDT": bars(b, keep=~quiet_b)}
    r = rule(threshold=2.0, window=20, lookback=60, hedge=hedge)
    first, last = T0_MS + 300_000, T0_MS + 399_000
    chart = analytics.pair_panel(bars_by_symbol["BTCUSDT"], bars_by_symbol["ETHUSDT"], "1s", 20, hedge,
                                 hedge_window=60).set_index("ts_ms")["zscore"]
    got = alerts.observe(r, bars_by_symbol, first, last)
    assert [o.ts_ms for o in got] == [t for t in chart.index if first <= t <= last]
    np.testing.assert_allclose([o.value for o in got], chart.loc[first:last].to_numpy(), rtol=1e-9, atol=1e-12)
    assert np.isfinite([o.value for o in got]).all()
    start, end = alerts.bars_needed(r, first, last)
    bounded = {s: f[(f["ts_ms"] >= start) & (f["ts_ms"] < end)] for s, f in bars_by_symbol.items()}
    again = alerts.observe(r, bounded, first, last)
    np.testing.assert_allclose([o.value for o in again], [o.value for o in got], rtol=1e-9, atol=1e-12)


def test_price_cross_fires_either_way_once_per_crossing():
    """A level crossed up then down fires UP then DOWN; wiggling within the hysteresis around it fires nothing more."""
    close = [100.0] * 5 + [100.6, 100.4, 100.55, 100.45, 101.0] + [99.0] * 5 + [101.0] * 3
    r = rule("price_cross", ["BTCUSDT"], threshold=100.5, hysteresis=0.3)
    events, _ = evaluate_all(r, {"BTCUSDT": bars(close)})
    assert [((e.ts_ms - T0_MS) // 1000, e.direction) for e in events] == [(5, "UP"), (10, "DOWN"), (15, "UP")]
    assert events[0].message == "BTCUSDT price 100.6 crossed 100.5 UP (1s)"
    assert rule("price_cross", ["BTCUSDT"], threshold=60_000).params["hysteresis"] == pytest.approx(30.0)


def test_correlation_breakdown_fires_once_when_the_legs_decouple():
    """Return correlation falling from ~1 to ~0 fires one DOWN event, and none while it stays low."""
    rng = np.random.default_rng(2)
    common = rng.normal(0, 1e-3, 400)
    own = rng.normal(0, 1e-3, 400)
    a = 60_000 * np.exp(np.cumsum(common))
    b = 2_600 * np.exp(np.cumsum(np.where(np.arange(400) < 200, common + 1e-5 * own, own)))
    events, _ = evaluate_all(rule("correlation_breakdown", threshold=0.5, window=30, cooldown_s=0.0),
                             {"BTCUSDT": bars(a), "ETHUSDT": bars(b)})
    assert len(events) == 1 and events[0].direction == "DOWN"
    assert T0_MS + 200_000 < events[0].ts_ms < T0_MS + 230_000 and events[0].value <= 0.5
    assert "return correlation" in events[0].message and "breakdown" in events[0].message


def test_volume_spike_counts_quiet_seconds_as_zero_volume():
    """A bar with 10x the mean volume of the previous window fires once; seconds without trades weigh as zero."""
    volume = np.ones(100)
    volume[40] = 10.0
    traded = np.ones(100, dtype=bool)
    traded[70:80] = False
    volume[80] = 1.9  # the previous 20 bars: ten of volume 1, ten quiet seconds: mean 0.5, ratio 3.8
    r = rule("volume_spike", ["BTCUSDT"], threshold=3.0, window=20)
    events, _ = evaluate_all(r, {"BTCUSDT": bars(np.full(100, 60_000.0), volume, keep=traded)})
    assert [((e.ts_ms - T0_MS) // 1000, e.direction) for e in events] == [(40, "UP"), (80, "UP")]
    assert events[0].value == pytest.approx(10.0) and events[1].value == pytest.approx(3.8)


def test_volatility_spike_fires_when_short_run_volatility_jumps():
    """Returns ten times as volatile over the last window fire one UP event against the long-run level."""
    rng = np.random.default_rng(4)
    returns = rng.normal(0, 1e-4, 400)
    returns[300:] *= 10
    close = 60_000 * np.exp(np.cumsum(returns))
    r = rule("volatility_spike", ["BTCUSDT"], threshold=2.0, window=20, long_window=200, cooldown_s=0.0)
    events, _ = evaluate_all(r, {"BTCUSDT": bars(close)})
    assert len(events) == 1 and events[0].direction == "UP"
    assert T0_MS + 300_000 <= events[0].ts_ms < T0_MS + 310_000


def test_stationarity_loss_fires_when_the_spread_starts_to_wander():
    """A mean-reverting spread that turns into a random walk raises the ADF p-value through the level once."""
    rng = np.random.default_rng(6)
    b = 2600 * np.exp(np.cumsum(rng.normal(0, 2e-4, 900)))
    drift = np.r_[np.zeros(400), np.cumsum(rng.normal(0, 4.0, 500))]
    a = 23 * b + rng.normal(0, 2, 900) + drift
    r = rule("stationarity_loss", threshold=0.2, window=200, every=10, cooldown_s=1000.0)
    bars_by_symbol = {"BTCUSDT": bars(a), "ETHUSDT": bars(b)}
    values = alerts.observe(r, bars_by_symbol, T0_MS + 200_000, T0_MS + 899_000)
    assert len(values) == 70 and all((o.ts_ms - T0_MS) % 10_000 == 0 for o in values)  # one ADF per 10 bars
    assert max(o.value for o in values[:15]) < 0.05
    events, _ = alerts.evaluate(r, bars_by_symbol, T0_MS + 200_000, T0_MS + 899_000, RuleState())
    assert len(events) == 1 and events[0].direction == "UP" and events[0].ts_ms > T0_MS + 400_000
    assert "no longer stationary" in events[0].message


@pytest.mark.parametrize("kind", ["zscore", "price_cross", "correlation_breakdown", "volume_spike",
                                  "volatility_spike", "stationarity_loss"])
def test_evaluating_bar_by_bar_equals_one_pass(kind):
    """Chunks of any size give the events and state of one pass: a replay at any speed fires the same events."""
    rng = np.random.default_rng(8)
    a, b = cointegrated_pair(500, seed=8)
    a[250:] += 25
    a[350:380] += rng.normal(0, 40, 30)  # a volatile spell
    volume = rng.lognormal(0, 1, 500)
    symbols = PAIR if kind in alerts.PAIR_KINDS else ["BTCUSDT"]
    thresholds = {"zscore": 1.5, "price_cross": float(np.median(a)), "correlation_breakdown": 0.8,
                  "volume_spike": 2.5, "volatility_spike": 1.3, "stationarity_loss": 0.3}
    extra = {"window": 30, "every": 7} if kind == "stationarity_loss" else {"window": 30}
    r = rule(kind, symbols, threshold=thresholds[kind], cooldown_s=5.0, **extra)
    bars_by_symbol = {"BTCUSDT": bars(a, volume), "ETHUSDT": bars(b)}
    whole, whole_state = alerts.evaluate(r, bars_by_symbol, T0_MS, T0_MS + 499_000, RuleState())
    assert whole, "the constructed series should fire at least once"
    chunked, state = [], RuleState()
    edges = [0, 1, 2, 7, 50, 51, 120, 250, 251, 252, 333, 400, 500]
    for lo, hi in zip(edges, edges[1:]):
        start, end = alerts.bars_needed(r, T0_MS + lo * 1000, T0_MS + (hi - 1) * 1000)
        window = {s: f[(f["ts_ms"] >= start) & (f["ts_ms"] < end)] for s, f in bars_by_symbol.items()}
        events, state = alerts.evaluate(r, window, T0_MS + lo * 1000, T0_MS + (hi - 1) * 1000, state)
        chunked += events
    assert [(e.ts_ms, e.direction) for e in chunked] == [(e.ts_ms, e.direction) for e in whole]
    np.testing.assert_allclose([e.value for e in chunked], [e.value for e in whole], rtol=1e-9)
    assert state.armed == whole_state.armed and state.last_fired_ms == whole_state.last_fired_ms


# --------------------------------------------------------------------------- the registry of kinds


def test_every_table_is_read_from_the_one_record_per_kind():
    """RULE_KINDS, PAIR_KINDS, KIND_PARAMS and KIND_DESCRIPTIONS say what the KindSpec records say, threshold first."""
    assert alerts.RULE_KINDS == tuple(alerts.KINDS) == ("zscore", "zscore_extreme", "price_cross",
                                                         "correlation_breakdown", "volume_spike", "volatility_spike",
                                                         "stationarity_loss", "feed_health")
    assert alerts.PAIR_KINDS == {"zscore", "zscore_extreme", "correlation_breakdown", "stationarity_loss"}
    for name, spec in alerts.KINDS.items():
        assert spec.name == name and alerts.kind_spec(name) is spec
        assert alerts.KIND_DESCRIPTIONS[name] == spec.description
        assert list(alerts.KIND_PARAMS[name]) == [p.name for p in spec.params] and spec.params[0].name == "threshold"
        default = alerts.default_spec(name, KNOWN)
        assert len(default["symbols"]) == (2 if spec.pair else 1) and default["window"] == spec.default_window
        assert default["params"] == {"threshold": spec.threshold.suggested}
    with pytest.raises(alerts.RuleError, match="unknown alert kind 'nope'; use one of zscore, zscore_extreme"):
        alerts.default_spec("nope", KNOWN)


@pytest.mark.parametrize(("kind", "params"), [
    ("zscore", {"threshold": 2.0, "hysteresis": 0.5, "side": "both", "lookback": 300}),
    ("zscore_extreme", {"threshold": 3.0, "hysteresis": 0.5, "side": "both", "lookback": 300}),
    ("price_cross", {"threshold": 60_000.0, "hysteresis": 30.0}),
    ("correlation_breakdown", {"threshold": 0.5, "hysteresis": 0.1, "returns": True}),
    ("volume_spike", {"threshold": 3.0, "hysteresis": 0.5}),
    ("volatility_spike", {"threshold": 2.0, "hysteresis": 0.25, "long_window": 600}),
    ("stationarity_loss", {"threshold": 0.1, "hysteresis": 0.05, "every": 10, "hedge_window": 60}),
])
def test_each_kinds_default_rule_gets_its_declared_parameter_defaults(kind, params):
    """A kind's default spec validates to the defaults its record declares, in its declared order."""
    spec = alerts.default_spec(kind, KNOWN)
    spec["params"]["threshold"] = spec["params"]["threshold"] or 60_000.0
    checked = alerts.validate_rule(spec, KNOWN)
    assert checked.params == params and list(checked.params) == list(alerts.KIND_PARAMS[kind])


@pytest.mark.parametrize(("kind", "directions"), [
    ("zscore", [("UP", 2.0), ("DOWN", -2.0)]), ("zscore_extreme", [("UP", 2.0), ("DOWN", -2.0)]),
    ("price_cross", [("UP", 2.0), ("DOWN", 2.0)]), ("correlation_breakdown", [("DOWN", 0.5)]),
    ("volume_spike", [("UP", 2.0)]), ("volatility_spike", [("UP", 2.0)]), ("stationarity_loss", [("UP", 0.5)]),
])
def test_each_kind_watches_the_directions_its_crossing_declares(kind, directions):
    """The edges of a rule follow its kind's Crossing: both signs for z, either way for a price, one way otherwise."""
    threshold = directions[0][1]
    r = rule(kind, PAIR if kind in alerts.PAIR_KINDS else ["BTCUSDT"], threshold=threshold)
    assert [(e.direction, e.level) for e in alerts.edges(r)] == directions


def imported_modules(source: str) -> set[str]:
    """The pairdesk modules a source file imports (``from pairdesk.alerts import values`` counts as that module)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert not node.level, "imports are absolute"
            packages = ("pairdesk", "pairdesk.alerts")
            found |= {f"{node.module}.{a.name}" if node.module in packages else node.module for a in node.names}
    return {name for name in found if name.startswith("pairdesk.")}


def test_the_alerts_package_imports_only_downward_and_its_modules_form_no_cycle():
    """pairdesk.alerts imports only the layers below it (tests/test_layering.py's table); its modules
    import each other without a cycle."""
    from test_layering import LAYERS

    package = Path(alerts.__file__).parent
    below = tuple(f"pairdesk.{name}" for name, layer in LAYERS.items() if layer < LAYERS["alerts"])
    graph: dict[str, set[str]] = {}
    for path in sorted(package.glob("*.py")):
        imported = imported_modules(path.read_text())
        outside = {m for m in imported if not m.startswith("pairdesk.alerts.")}
        assert not {m for m in outside if not m.startswith(below)}, f"{path.name} imports upward or sideways"
        graph[path.stem] = {m.removeprefix("pairdesk.alerts.") for m in imported - outside}
    init = ast.parse((package / "__init__.py").read_text())
    assert not [n for n in init.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))], "__init__ only re-exports"
    assert all("__init__" not in imported for imported in graph.values())
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join((*path, module))}"
        if module not in done:
            for imported in graph.get(module, ()):
                visit(imported, (*path, module))
            done.add(module)

    for module in graph:
        visit(module, ())
