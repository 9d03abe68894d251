"""The command line: ``python exchange_sim.py [options]`` (every option documented; a test checks)."""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from pairdesk import exit_codes
from pairdesk.history import replay_source
from pairdesk.markets import MARKETS, SPOT
from pairdesk.sim.config import (
    DEFAULT_FUNDING_LIMIT_PER_5M,
    DEFAULT_HOST,
    DEFAULT_QUOTE_RATE_PER_S,
    DEFAULT_RATE_PER_S,
    DEFAULT_SYMBOLS,
    SimConfig,
    SimConfigError,
)
from pairdesk.sim.faults import RESEND_DEPTH, FaultSwitches
from pairdesk.sim.replay_sources import replay_market
from pairdesk.sim.server import ExchangeSim

logger = logging.getLogger(__name__)

LISTENING_LINE = "exchange_sim listening on {host}:{port}"


def build_arg_parser() -> argparse.ArgumentParser:
    """The CLI; every option is documented (a test checks)."""
    parser = argparse.ArgumentParser(
        prog="exchange_sim.py",
        description="A local exchange on loopback speaking Binance's market-data wire format "
                    "(WebSocket @trade/@aggTrade/@bookTicker, futures @markPrice@1s, the REST gap-fill "
                    "endpoints, futures fundingRate and premiumIndex) for one market. "
                    "Prints 'exchange_sim listening on HOST:PORT' as its first stdout line.",
        epilog="Runtime control (not Binance): GET /sim/history?symbol=&kind=trade|aggTrade&fromId=&limit=, "
               "GET /sim/quotes?symbol= (the bookTicker updates sent), GET /sim/stats, POST /sim/control with a JSON object of switches (fault switch names as "
               "below with _ instead of -, seconds in *_s; plus paused, rate_per_s, server_shutdown, "
               "drop_all, shock={\"symbol\":\"ETHUSDT\",\"pct\":1.5}).",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="interface to listen on (default %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default %(default)s)")
    parser.add_argument("--market", choices=MARKETS,
                        help="spot (/ws, /stream, /api/v3) or USD-M futures (/market, /public, /fapi/v1); "
                             "default spot, or the market of the --replay files")
    parser.add_argument("--symbols", default=",".join(DEFAULT_SYMBOLS),
                        help="comma-separated symbols to trade in model mode (default %(default)s)")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE_PER_S,
                        help="model trades per second across all symbols, long-run average (default %(default)s)")
    parser.add_argument("--quote-rate", type=float, default=DEFAULT_QUOTE_RATE_PER_S,
                        help="model requotes of the top of book per symbol per second, on top of the updates "
                             "each trade makes (default %(default)s)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for a reproducible model")
    parser.add_argument("--replay", nargs="+", type=replay_source.source_path, default=(), metavar="FILE",
                        help="replay instead of the model: recorded frames (hftbacktest .gz, cryptofeed futures "
                             "log), a tick database of this product, or Binance dump files (.csv/.zip)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="replay speed: 1 = real time, 10 = ten times faster, 0 = as fast as possible")
    parser.add_argument("--blast", type=int, default=0, metavar="N",
                        help="pre-generate N trades per symbol (or load the replay files) and send them as fast "
                             "as possible to the first subscriber; no live trading (throughput benchmarks)")
    parser.add_argument("--history", type=float, default=0.0, metavar="SECONDS",
                        help="model trading behind the live tape at start, served by REST (default: none)")
    parser.add_argument("--continue-from", type=replay_source.source_path, metavar="DB",
                        help="continue the tape stored in this tick database: ids after the last stored ones, "
                             "prices from the last stored prices")
    parser.add_argument("--blast-quotes", type=int, default=0, metavar="N",
                        help="with --blast: also N bookTicker updates per symbol among the trades (default: none)")
    parser.add_argument("--wait-for-subscriber", action="store_true",
                        help="start trading or replaying only when the first stream is subscribed")
    parser.add_argument("--paused", action="store_true", help="start with trading paused (resume via /sim/control)")
    parser.add_argument("--ping-interval", type=float, default=None, metavar="S",
                        help="server keep-alive ping interval (default: spot 20 s, futures 180 s)")
    parser.add_argument("--ping-timeout", type=float, default=None, metavar="S",
                        help="drop a client that has not answered a ping within S s (default: spot 60, futures 600)")
    parser.add_argument("--extra-fields", action="store_true",
                        help="futures: add the newer 'nq' (aggTrade) and 'st' keys to frames")
    parser.add_argument("--api-key", default=None,
                        help="X-MBX-APIKEY value accepted by /fapi/v1/historicalTrades (default: none accepted)")
    parser.add_argument("--weight-limit", type=int, default=None,
                        help="REST request weight per minute before HTTP 429 (default: spot 6000, futures 2400)")
    parser.add_argument("--funding-limit", type=int, default=DEFAULT_FUNDING_LIMIT_PER_5M, metavar="N",
                        help="futures: /fapi/v1/fundingRate requests per 5 minutes per client before HTTP 429 "
                             "(default %(default)s, as Binance)")
    faults = parser.add_argument_group("fault switches (per connection; 0 = off; also at runtime via /sim/control)")
    faults.add_argument("--drop-every", type=int, default=0, metavar="N",
                        help="close the TCP connection without a close frame after every N market frames")
    faults.add_argument("--silent-after", type=int, default=0, metavar="N",
                        help="after every N market frames go silent (still answering pings) for --silent-for")
    faults.add_argument("--silent-for", type=float, default=0.0, metavar="S", help="length of each silence, seconds")
    faults.add_argument("--junk-every", type=int, default=0, metavar="N",
                        help="after every N frames send a corrupted frame: non-JSON, truncated JSON, missing id, "
                             "non-numeric price, unknown event type, binary frame (in rotation)")
    faults.add_argument("--resend-every", type=int, default=0, metavar="N",
                        help=f"after every N frames send again the frame from {RESEND_DEPTH} frames back")
    faults.add_argument("--gap-every", type=int, default=0, metavar="N",
                        help="after every N frames skip --gap-size trades on the socket (they stay in REST)")
    faults.add_argument("--gap-size", type=int, default=1, metavar="K", help="trades skipped per gap (default 1)")
    faults.add_argument("--rest-429", type=int, default=0, metavar="K",
                        help="answer the next K REST requests with HTTP 429 and Retry-After")
    faults.add_argument("--rest-418", type=int, default=0, metavar="K",
                        help="answer the next K REST requests with HTTP 418 (IP ban) and Retry-After")
    faults.add_argument("--retry-after", type=int, default=2, metavar="S",
                        help="Retry-After seconds on forced 429/418 answers (default 2)")
    faults.add_argument("--max-connection-s", type=float, default=0.0, metavar="S",
                        help="close each connection S seconds after it opened (Binance's 24 h limit, shrunk)")
    faults.add_argument("--shutdown-after", type=float, default=0.0, metavar="S",
                        help="send serverShutdown S seconds after each connection opened, then close it")
    faults.add_argument("--shutdown-grace", type=float, default=1.0, metavar="S",
                        help="seconds between serverShutdown and the close (default 1)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="stderr log level (default %(default)s)")
    return parser


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """Map parsed CLI options onto a SimConfig."""
    faults = FaultSwitches(
        drop_every=args.drop_every, silent_after=args.silent_after, silent_for_s=args.silent_for,
        junk_every=args.junk_every, resend_every=args.resend_every, gap_every=args.gap_every,
        gap_size=args.gap_size, rest_429=args.rest_429, rest_418=args.rest_418, retry_after_s=args.retry_after,
        max_connection_s=args.max_connection_s, shutdown_after_s=args.shutdown_after,
        shutdown_grace_s=args.shutdown_grace,
    )
    market = args.market or (replay_market([replay_source.source_path(p) for p in args.replay]) if args.replay else SPOT)
    config = SimConfig(
        host=args.host, port=args.port, market=market,
        symbols=tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip()),
        rate_per_s=args.rate, quote_rate_per_s=args.quote_rate, seed=args.seed, replay_files=tuple(args.replay), speed=args.speed, blast=args.blast, blast_quotes=args.blast_quotes,
        history_s=args.history, continue_from=args.continue_from,
        wait_for_subscriber=args.wait_for_subscriber, paused=args.paused, ping_interval_s=args.ping_interval,
        ping_timeout_s=args.ping_timeout, extra_fields=args.extra_fields, api_key=args.api_key,
        weight_limit_1m=args.weight_limit, funding_limit_per_5m=args.funding_limit, faults=faults,
    )
    config.validate()
    return config


async def serve_until_signalled(config: SimConfig) -> int:
    """Run the sim until SIGINT or SIGTERM; returns the exit code."""
    sim = ExchangeSim(config)
    try:
        await sim.start()
    except OSError as exc:
        print(f"exchange_sim: cannot listen on {config.host}:{config.port}: {exc.strerror or exc}; "
              "pick another --port (0 = any free port)", file=sys.stderr)
        return exit_codes.CONFIG_ERROR
    except SimConfigError as exc:
        print(f"exchange_sim: {exc}", file=sys.stderr)
        return exit_codes.CONFIG_ERROR
    print(LISTENING_LINE.format(host=sim.host, port=sim.port), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    logger.info("signal received; shutting down")
    await sim.stop()
    return exit_codes.OK


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point."""
    args = build_arg_parser().parse_args(argv)
    level = getattr(logging, args.log_level)
    logging.basicConfig(stream=sys.stderr, level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # websockets logs every plain HTTP answer at INFO; keep it for --log-level DEBUG only.
    logging.getLogger("websockets").setLevel(max(level, logging.WARNING) if level > logging.DEBUG else level)
    try:
        config = config_from_args(args)
    except SimConfigError as exc:
        print(f"exchange_sim: {exc}", file=sys.stderr)
        return exit_codes.CONFIG_ERROR
    return asyncio.run(serve_until_signalled(config))

