"""``python data_ingestor.py``: the ingestor's command line, start-up checks and shutdown."""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

import httpx

from pairdesk import binance, exit_codes, store
from pairdesk.binance import BinanceRest, RestError
from pairdesk.ingest.claims import SymbolClaims, shards_problem
from pairdesk.ingest.config import (
    DEFAULT_BACKFILL_DEPTH,
    DEFAULT_MAX_CONNECTION_AGE_S,
    DEFAULT_SILENCE_TIMEOUT_S,
    IngestorConfig,
)
from pairdesk.ingest.daemon import Ingestor
from pairdesk.markets import DEFAULT_STREAM, MARKETS, STREAM_KINDS
from pairdesk.symbols import SymbolError, parse_symbol_list

log = logging.getLogger("data_ingestor")


def parse_args(argv: list[str] | None = None) -> IngestorConfig:
    parser = argparse.ArgumentParser(
        prog="data_ingestor.py",
        description="Stream Binance trades into a SQLite tick store, every trade exactly once.")
    parser.add_argument("--db", default="ticks.db",
                        help="SQLite database file, or postgresql://user@host/dbname (default: ticks.db)")
    parser.add_argument("--shards", type=int, default=1, metavar="N",
                        help="this ingestor is one of N sharing a PostgreSQL database: it adds --symbols to the "
                             "watchlist and follows its share of it (default: 1, alone: it follows --symbols)")
    parser.add_argument("--symbols", default="btcusdt,ethusdt",
                        help="comma-separated symbols, any case (default: btcusdt,ethusdt)")
    parser.add_argument("--market", choices=MARKETS, default="spot",
                        help="spot or USD-M futures (default: spot)")
    parser.add_argument("--stream", choices=STREAM_KINDS,
                        help="trade or aggTrade (default: trade for spot, aggTrade for futures)")
    parser.add_argument("--ws-url", help="WebSocket base URL (default: the real Binance host of the market)")
    parser.add_argument("--rest-url", help="REST base URL (default: the real Binance host of the market)")
    parser.add_argument("--transport", choices=("ws", "rest"), default="ws",
                        help="ws: WebSocket, falling back to REST polling while it fails; rest: poll REST "
                             "about every second (default: ws)")
    parser.add_argument("--silence-timeout", type=float, default=DEFAULT_SILENCE_TIMEOUT_S, metavar="SECONDS",
                        help="replace a connection that sends no trade for this long (default: %(default)s)")
    parser.add_argument("--backfill-depth", type=int, default=DEFAULT_BACKFILL_DEPTH, metavar="TRADES",
                        help="most trades one backfill fetches; the rest stays an open gap (default: %(default)s)")
    parser.add_argument("--max-connection-age", type=float, default=DEFAULT_MAX_CONNECTION_AGE_S,
                        metavar="SECONDS", help="reconnect before Binance's 24-hour cut-off (default: %(default)s)")
    parser.add_argument("--no-quotes", action="store_true",
                        help="trades only: do not follow top of book (bookTicker), mark price or funding")
    parser.add_argument("--no-alerts", action="store_true",
                        help="do not evaluate alert rules in this process (default: evaluate them on every bar)")
    parser.add_argument("--dashboard-url", default=None, metavar="URL",
                        help="the dashboard address alert notifications link to (default: $PAIRDESK_DASHBOARD_URL, "
                             "else http://127.0.0.1:8501)")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        help="logging level (default: INFO)")
    args = parser.parse_args(argv)
    try:
        symbols = parse_symbol_list(args.symbols)
    except SymbolError as exc:
        parser.error(f"--symbols: {exc}")
    if not symbols:
        parser.error("--symbols needs at least one symbol")
    if args.ws_url and not args.ws_url.startswith(("ws://", "wss://")):
        parser.error(f"--ws-url must start with ws:// or wss://, not {args.ws_url!r}")
    if args.rest_url and not args.rest_url.startswith(("http://", "https://")):
        parser.error(f"--rest-url must start with http:// or https://, not {args.rest_url!r}")
    if args.dashboard_url and not args.dashboard_url.startswith(("http://", "https://")):
        parser.error(f"--dashboard-url must start with http:// or https://, not {args.dashboard_url!r}")
    problem = shards_problem(args.shards, args.db)
    if problem:
        parser.error(problem)
    if args.silence_timeout <= 0 or args.backfill_depth < 0 or args.max_connection_age <= 0:
        parser.error("--silence-timeout and --max-connection-age must be positive, --backfill-depth not negative")
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLevelName(args.log_level)))
    return IngestorConfig(
        db=args.db, symbols=symbols, market=args.market,
        stream=args.stream or DEFAULT_STREAM[args.market],
        ws_url=args.ws_url or binance.DEFAULT_WS_URL[args.market],
        rest_url=args.rest_url or binance.DEFAULT_REST_URL[args.market], transport=args.transport,
        silence_timeout_s=args.silence_timeout, backfill_depth=args.backfill_depth,
        max_connection_age_s=args.max_connection_age, alerts=not args.no_alerts,
        quotes=not args.no_quotes, dashboard_url=args.dashboard_url, shards=args.shards)


async def check_symbols(rest: BinanceRest, symbols: list[str]) -> str | None:
    """An error message when a symbol is not traded; None when all are (or REST cannot tell)."""
    try:
        listed = await rest.trading_symbols()
    except (httpx.HTTPError, RestError) as exc:
        log.warning("could not check the symbols against exchangeInfo at %s (%s); is Binance reachable? "
                    "Without internet, try: python run_all.py --demo", rest.base_url, exc)
        return None
    if not listed:  # an answer that lists nothing cannot tell us anything
        log.warning("exchangeInfo at %s lists no trading symbols; not checking %s", rest.base_url, ",".join(symbols))
        return None
    unknown = [s for s in symbols if s not in listed]
    if unknown:
        return f"unknown symbol(s) for {rest.market}: {', '.join(unknown)} (not TRADING in exchangeInfo)"
    return None


async def run(config: IngestorConfig) -> int:
    """Own the database (or, alone on PostgreSQL, its symbols), check the symbols, ingest until
    SIGINT / SIGTERM; the exit status."""
    with store.claim_ownership(config.db, "ingestor") as ownership:  # WriterBusy: a live ingestor writes the file
        if config.shards == 1:
            refused = ownership.claim_symbols(config.symbols)
            if refused:
                symbol, holder = next(iter(refused.items()))
                raise store.WriterBusy(f"{symbol} in {store.display_name(config.db)} is already written by {holder}; "
                                       "stop that ingestor first, or run several with --shards N")
        return await _ingest(config, ownership)


async def _ingest(config: IngestorConfig, ownership) -> int:
    rest = BinanceRest(config.rest_url, config.market, config.stream)
    try:
        error = await check_symbols(rest, config.symbols)
        if error:
            print(f"data_ingestor: error: {error}", file=sys.stderr)
            return exit_codes.CONFIG_ERROR
        writer = store.TradeWriter(config.db, config.market, config.stream, config.source).start()
        # the API and the dashboard check a new watchlist against this exchange's listing
        writer.call(lambda conn: store.record_rest_url(conn, config.rest_url))
        monitor = None
        if config.alerts:
            # pandas loads pyarrow (34 MB) whenever it is installed (the dashboard needs it); the
            # ingestor's statistics never do, and it must stay under 150 MB at full speed.
            sys.modules.setdefault("pyarrow", None)
            from pairdesk.alerts.monitor import AlertMonitor  # here: pandas and statistics load only with alerts

            monitor = AlertMonitor(config.db, writer, config.symbols, dashboard_url=config.dashboard_url,
                                   owns_rule=ownership.owns_rule).start()
        ingestor = Ingestor(config, writer, rest, SymbolClaims(ownership, config.shards))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, ingestor.stop)
        log.info("ingesting %s %s %s into %s%s", config.market, config.stream, ",".join(config.symbols),
                 store.display_name(config.db), f" (one of {config.shards} shards)" if config.shards > 1 else "")
        try:
            await ingestor.run()
        finally:
            if monitor is not None:
                monitor.stop()
            writer.close()
        log.info("stopped: %d trades offered, %d stored", writer.totals.offered, writer.totals.stored)
        if config.quotes:
            log.info("quotes: %s", ingestor.quotes.summary())
        return exit_codes.FAILURE if ingestor.fatal else exit_codes.OK
    finally:
        await rest.close()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["import"]:  # python data_ingestor.py import FILE...
        from pairdesk.history import importer

        return importer.main(argv[1:])
    if argv[:1] == ["copy"]:  # python data_ingestor.py copy --from DB --to DB
        from pairdesk.ingest import copy_cli

        return copy_cli.main(argv[1:])
    config = parse_args(argv)
    try:
        return asyncio.run(run(config))
    except store.StoreError as exc:
        print(f"data_ingestor: error: {exc}", file=sys.stderr)
        return exit_codes.CONFIG_ERROR
