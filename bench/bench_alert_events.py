"""How many events the default alert rules fire: on the recorded BTC/ETH spot session and on the local
exchange's demo tape, with the previous defaults and with today's (``alerts.default_rules``).

Run from the repository root:  .venv/bin/python bench/bench_alert_events.py [--demo-minutes 21]
The recordings are read from tests/data (2 minutes, trimmed) or $BINANCE_DATA_DIR (the full 11 minutes:
BINANCE_DATA_DIR=/path/to/binance, holding hftbacktest/spot/...). Each session is stored with
``store.write_trades`` into a temporary database, then every rule is evaluated by ``alerts.evaluate`` from
the first bar both symbols have to the last complete one, as the monitor does for a new database's
default rules. The demo tape is the local exchange's model (``pairdesk.sim.model``) at its default rate,
for three seeds. Nothing here asserts: it prints the counts.
"""
from __future__ import annotations

import argparse
import dataclasses
import gzip
import os
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pairdesk import alerts, binance, store
from pairdesk.sim.config import DEFAULT_RATE_PER_S
from pairdesk.sim.listings import make_spec
from pairdesk.sim.model import MarketModel

PAIR = ("BTCUSDT", "ETHUSDT")
RECORDINGS = tuple(f"hftbacktest/spot/{s}usdt_2024080{d}.gz" for s in ("btc", "eth") for d in (8, 9))
# The defaults before issue 12: both z rules re-armed 0.5 inside the level and kept quiet 60 s.
PREVIOUS = {"zscore": (0.5, 60.0), "zscore_extreme": (0.5, 60.0)}  # kind: (hysteresis, cooldown_s)
DEMO_SEEDS = (1, 2, 3)
DEMO_START_US = 1_723_161_600_000_000


def recorded_trades(data_dir: Path) -> list[binance.Trade]:
    trades = []
    for relative in RECORDINGS:
        with gzip.open(data_dir / relative, "rt") as lines:
            for line in lines:
                frame = line.rstrip("\n").partition(" ")[2]
                try:
                    message = binance.parse_message(frame, "trade")
                except binance.BadFrame:
                    continue
                if isinstance(message, binance.Trade):
                    trades.append(message)
    return trades


def demo_trades(seed: int, minutes: float) -> list[binance.Trade]:
    specs = [make_spec("spot", symbol) for symbol in PAIR]
    model = MarketModel(specs, DEFAULT_RATE_PER_S, random.Random(seed), DEMO_START_US)
    decimals = {spec.symbol: (spec.price_decimals, spec.qty_decimals) for spec in specs}
    next_id = dict.fromkeys(PAIR, 1)
    trades = []
    for fill in model.take(DEMO_START_US + int(minutes * 60e6)):
        price_decimals, qty_decimals = decimals[fill.symbol]
        trades.append(binance.Trade(fill.symbol, next_id[fill.symbol], fill.time_us // 1000,
                                    fill.price_units / 10 ** price_decimals, fill.qty_units / 10 ** qty_decimals,
                                    fill.is_buyer_maker))
        next_id[fill.symbol] += 1
    return trades


def previous_defaults() -> list[alerts.AlertRule]:
    rules = alerts.default_rules(list(PAIR))
    return [dataclasses.replace(rule, cooldown_s=PREVIOUS[rule.kind][1],
                                params={**rule.params, "hysteresis": PREVIOUS[rule.kind][0]}) for rule in rules]


def count_events(trades: list[binance.Trade], rules: list[alerts.AlertRule]) -> tuple[float, list[int]]:
    """(minutes of bars, events per rule) of ``rules`` evaluated on ``trades``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        store.write_trades(path, trades, market="spot", stream="trade")
        conn = store.open_reader(path)
        try:
            bars = {symbol: store.read_bars_1s(conn, symbol) for symbol in PAIR}
        finally:
            conn.close()
    first = max(int(frame["ts_ms"].iloc[0]) for frame in bars.values())
    last = min(int(frame["ts_ms"].iloc[-1]) for frame in bars.values()) - 1000  # the last complete bar
    counts = [len(alerts.evaluate(rule, bars, first, last, alerts.RuleState())[0]) for rule in rules]
    return (last - first) / 60_000, counts


def line(label: str, minutes: float, before: list[int], after: list[int]) -> str:
    kinds = [rule.kind for rule in alerts.default_rules(list(PAIR))]
    per_rule = ", ".join(f"{kind} {b} -> {a}" for kind, b, a in zip(kinds, before, after))
    return f"{label:<34} {minutes:5.1f} min: {per_rule}; total {sum(before)} -> {sum(after)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-minutes", type=float, default=21.0, help="demo tape length (default: 21)")
    args = parser.parse_args()
    data_dir = Path(os.environ.get("BINANCE_DATA_DIR") or Path(__file__).resolve().parents[1] / "tests" / "data")
    before, after = previous_defaults(), alerts.default_rules(list(PAIR))
    settings = ", ".join(f"{r.kind}: hysteresis {r.params['hysteresis']:g}, cooldown {r.cooldown_s:g} s" for r in after)
    print(f"events per default rule, previous defaults -> today's ({settings})")
    trades = recorded_trades(data_dir)
    minutes, old = count_events(trades, before)
    print(line(f"recorded spot session ({data_dir.name})", minutes, old, count_events(trades, after)[1]))
    for seed in DEMO_SEEDS:
        trades = demo_trades(seed, args.demo_minutes)
        minutes, old = count_events(trades, before)
        print(line(f"demo tape, seed {seed}", minutes, old, count_events(trades, after)[1]))


if __name__ == "__main__":
    main()
