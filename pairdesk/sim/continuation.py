"""A demo that goes on where it stopped: the model's tape continues a tick database's stored tape
(ids after each symbol's last stored id, prices from its last stored price), and trading behind
the live tape (the history REST serves) covers the time since, up to the history asked for."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from pairdesk.history import HistoryImportError, replay_source
from pairdesk.markets import AGG_TRADE
from pairdesk.sim.config import SimConfigError
from pairdesk.sim.listings import SymbolSpec


def continue_tape(specs: Sequence[SymbolSpec], path: Path, market: str, history_start_us: int,
                  now_us: int) -> tuple[list[SymbolSpec], int]:
    """The specs continuing the tape stored at ``path``, and when the model's history starts: at
    ``history_start_us``, or just after the last stored trade when that is later (never after now).
    SimConfigError (one line) when ``path`` is no tick database or holds another market."""
    try:
        end = replay_source.tape_end(path)
    except HistoryImportError as exc:
        raise SimConfigError(f"cannot continue the tape of {path}: {exc}") from None
    if end.market != market:
        raise SimConfigError(f"{path} holds {end.market} trades; this exchange runs {market}: "
                             "continue a database of the same market, or start a new one")
    continued, last_ms = [], None
    for spec in specs:
        last = end.last.get(spec.symbol)
        if last is None:
            continued.append(spec)
            continue
        last_id, ts_ms, price = last
        if end.stream == AGG_TRADE:  # stored ids are aggregate ids; trade ids only need to stay above them
            spec = dataclasses.replace(spec, first_agg_id=last_id + 1,
                                       first_trade_id=max(spec.first_trade_id, last_id + 1), start_price=price)
        else:
            spec = dataclasses.replace(spec, first_trade_id=last_id + 1, start_price=price)
        continued.append(spec)
        last_ms = ts_ms if last_ms is None else max(last_ms, ts_ms)
    start_us = history_start_us if last_ms is None else max(history_start_us, (last_ms + 1) * 1000)
    return continued, min(start_us, now_us)
