"""A local exchange that speaks Binance's market-data wire format, on loopback, for tests and demos.

One process serves ONE market (spot or USD-M futures) on ONE port: the WebSocket streams
(`@trade`, `@aggTrade`, `@bookTicker`, futures `@markPrice@1s`; raw and combined, live SUBSCRIBE,
each futures stream on its route only) and the REST endpoints a gap-filling ingestor uses (and
futures `fundingRate`, with its own limit, and `premiumIndex`), in Binance's exact shapes (key order, string prices with Binance's trailing zeros,
error codes, weight headers). It is written from ../shared/BINANCE.md and the recorded real frames
in tests/data (trimmed copies of ../shared/data/binance), independently of the product's own
parser (`pairdesk.binance`, which this package never imports), so that it catches that parser's mistakes. The product must never
import this package.

Trades come from a model (a cointegrated BTC/ETH pair with calm and busy spells), from replayed
sources at any speed (recordings of frames, Binance dumps read by `pairdesk.history`, or a tick
database of this product read through `pairdesk.history.replay_source`), or are pre-generated and
blasted for throughput benchmarks. The sim keeps every trade and aggregate trade it ever made (the
ground truth) and can misbehave on demand: abrupt drops, silence, junk, duplicates, unseen gaps,
REST 429/418, `serverShutdown`, short connection lifetimes. Quotes come from the model's book (a
1-tick spread widening in bursts; trades at its bid or ask) or from the recordings' bookTicker
frames (dumps and databases have none: then none are sent); every bookTicker update sent is logged
(`ExchangeSim.sent_quotes`, ``GET /sim/quotes``) as the ground truth of quote bars.

Run it::

    python exchange_sim.py --port 0                      # spot, BTCUSDT+ETHUSDT, model prices
    python exchange_sim.py --market futures --drop-every 500
    python exchange_sim.py --replay tests/data/hftbacktest/spot/btcusdt_20240808.gz --speed 10

The first stdout line is ``exchange_sim listening on 127.0.0.1:<port>``; logs go to stderr.

Not Binance (clearly marked, same port): ``GET /sim/history``, ``GET /sim/quotes``, ``GET /sim/stats``,
``GET|POST /sim/control``; see `ExchangeSim.control` for the switches.

In-process use::

    async with ExchangeSim(market="futures", rate_per_s=200, drop_every=50) as sim:
        ...  # ws://127.0.0.1:{sim.port}/public/ws/btcusdt@trade

    with run_in_thread(ExchangeSim(seed=1)) as sim:   # for synchronous tests
        sim.control(paused=True)

Modules, by concern: `fixed` (decimal text), `listings` (symbols' filters and first ids),
`tape_history` (the ground truth), `wire` (Binance's JSON), `ws_routes` (URLs, stream names),
`faults`, `config`, `model` and `book` (its quoted book), `quotes` (book and mark records, the sent-quote
log), `funding` and `marks`, `replay_sources`, `replay_quotes` and `replay`, `control_messages` and `sessions`
(one WebSocket client), `rest` and `rest_routes`, `exchange_info`, `sim_api` (/sim/), `blast`,
`server` (`ExchangeSim`), `thread_runner`, `cli`.
"""
from __future__ import annotations

from pairdesk.sim.cli import build_arg_parser, config_from_args, main
from pairdesk.sim.config import SimConfig, SimConfigError
from pairdesk.sim.faults import JUNK_KINDS, RESEND_DEPTH, FaultSwitches
from pairdesk.sim.fixed import format_fixed, parse_fixed
from pairdesk.sim.listings import make_spec
from pairdesk.sim.model import MarketModel
from pairdesk.sim.server import ExchangeSim
from pairdesk.sim.thread_runner import run_in_thread

__all__ = [
    "JUNK_KINDS", "RESEND_DEPTH", "ExchangeSim", "FaultSwitches", "MarketModel", "SimConfig", "SimConfigError",
    "build_arg_parser", "config_from_args", "format_fixed", "main", "make_spec", "parse_fixed", "run_in_thread",
]
