"""``python api.py``: check the database and the port, then serve the API with uvicorn.

    python api.py --db ticks.db                              # http://127.0.0.1:8000, docs at /docs
    python api.py --db ticks.db --port 8001 --token S3CRET   # admin and watchlist endpoints enabled
"""
from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
from collections.abc import Sequence
from contextlib import closing

from pairdesk import access, exit_codes, store
from pairdesk.api.deps import TOKEN_ENV
from pairdesk.api.main import create_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


class _ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2 (configuration refused: do not restart)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(exit_codes.CONFIG_ERROR, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> _ArgumentParser:
    parser = _ArgumentParser(prog="api.py", description="Serve the REST API over a tick database "
                                                        "(OpenAPI docs at /docs).")
    parser.add_argument("--db", default="ticks.db", help="tick database written by the ingestor: a SQLite file or "
                        "postgresql://user@host/dbname (default: ticks.db)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default: {DEFAULT_HOST}, this machine only; beyond it every "
                             "write needs the token)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port to listen on, 0 for any free one (default: {DEFAULT_PORT})")
    parser.add_argument("--token", default=None,
                        help=f"token for the admin and watchlist endpoints, and for every write when --host is "
                             f"beyond loopback (default: ${TOKEN_ENV}, else ${access.LEGACY_TOKEN_ENV}; without one "
                             "they answer 403)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                        help="log level (default: info)")
    return parser


def listen_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (OSError when the port is taken or the address is not ours)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def _exit_after_shutdown(_signum: int, _frame: object) -> None:
    raise SystemExit(exit_codes.OK)


def main(argv: Sequence[str] | None = None) -> int:
    """Check the database and the port, then serve until Ctrl+C / SIGTERM; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be 0..65535, got {args.port}")
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    token = access.configured_token(args.token)
    try:
        with closing(store.open_reader(args.db)):
            pass
    except store.StoreError as exc:
        parser.exit(exit_codes.CONFIG_ERROR, f"{parser.prog}: error: {exc}\n")
    try:
        sock = listen_socket(args.host, args.port)
    except OSError as exc:
        parser.exit(exit_codes.CONFIG_ERROR, f"{parser.prog}: error: cannot listen on {args.host}:{args.port}: "
                                             f"{exc.strerror or exc} (is another server using it? pass --port)\n")
    import uvicorn  # only a serving process pays for it

    # uvicorn shuts down gracefully on SIGINT / SIGTERM, then restores the handlers it found and
    # raises the signal again: with these, that ends the process with status 0, not a signal death.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, _exit_after_shutdown)
    port = sock.getsockname()[1]
    # proxy_headers off: no X-Forwarded-For rewrites the client; writes are judged by args.host anyway
    config = uvicorn.Config(create_app(args.db, token, args.host), host=args.host, port=port,
                            log_level=args.log_level, proxy_headers=False)
    endpoints = "on" if token else f"off (no --token / ${TOKEN_ENV})"
    exposed = ("; listening beyond loopback: every write needs the token" if token else
               "; listening beyond loopback without a token: every write is refused") \
        if access.listens_beyond_loopback(args.host) else ""
    print(f"REST API for {store.display_name(args.db)} on http://{args.host}:{port} (docs: http://{args.host}:{port}/docs); "
          f"admin and watchlist endpoints {endpoints}{exposed}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])
    return exit_codes.OK


if __name__ == "__main__":
    sys.exit(main())
