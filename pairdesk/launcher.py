"""One command starts the whole product; Ctrl+C stops all of it.

    python run_all.py                 # live Binance: ingestor + dashboard on ticks.db
    python run_all.py --demo          # no internet needed: local exchange + ingestor + dashboard on demo.db
    python run_all.py --replay ticks.db --speed 10   # stored history through the live pipeline, into replay.db
    python run_all.py --host 192.168.1.20 --token S3CRET   # reachable from the network: writes need the token

It spawns the ingestor and ``streamlit run app.py`` (and, with --demo, ``exchange_sim.py``), prints
the dashboard's URL, restarts a crashed ingestor with backoff, and on Ctrl+C or SIGTERM stops every
child it started (ingestor last but one, so its last batch is flushed; the exchange last), leaving
no process behind. It computes and stores nothing itself.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pairdesk import access, binance, exit_codes, scanner, store
from pairdesk.history import HistoryImportError, replay_source
from pairdesk.ingest.claims import shards_problem

REPO_ROOT = Path(__file__).resolve().parents[1]  # the entry-point scripts live there
PYTHON = sys.executable
STOP_GRACE_S = 4.0  # after SIGTERM, before SIGKILL: every child is gone within 5 s
RESTART_BASE_DELAY_S = 1.0
RESTART_MAX_DELAY_S = 30.0
STABLE_RUN_S = 60.0  # an ingestor that ran this long starts its backoff afresh after a crash
SIM_START_TIMEOUT_S = 15.0
DASHBOARD_START_TIMEOUT_S = 60.0
DATABASE_WAIT_S = 15.0  # for the ingestor to create the database before the API starts
DEMO_HISTORY_S = 3600  # the local exchange's trading behind its live tape: every panel has data at once
PR_SET_PDEATHSIG = 1
# One BLAS thread per process: on 2 cores a multithreaded OpenBLAS made the 2,000-row ADF take
# up to 2.3 s instead of 40 ms while the ingestor was busy.
CHILD_ENV = {"OPENBLAS_NUM_THREADS": "1", **os.environ}


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if run_all itself dies (even by kill -9), so no orphan."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: the normal stop path still cleans up


@dataclass
class Child:
    """One supervised process."""

    name: str
    argv: list[str]
    restart: bool = False
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    crashes: int = 0
    next_start_at: float = 0.0
    stdout_pipe: bool = False

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv, cwd=REPO_ROOT, start_new_session=True, preexec_fn=_die_with_parent, env=CHILD_ENV,
            stdout=subprocess.PIPE if self.stdout_pipe else None, text=True)
        self.started_at = time.monotonic()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self) -> None:
        """SIGTERM the child's process group (it has its own session)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def wait_or_kill(self, deadline: float) -> None:
        """Wait for the child until ``deadline`` (monotonic), then SIGKILL its group."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"run_all: {self.name} did not stop in time; killing it", file=sys.stderr)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()


def port_is_free(port: int, host: str = "0.0.0.0") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def reachable_host(host: str) -> str:
    """Where to connect to a server listening on ``host``: every interface is reached on loopback."""
    return access.LOOPBACK_HOST if host in ("", "0.0.0.0", "::") else host


def wait_for_port(port: int, timeout_s: float, alive, host: str = access.LOOPBACK_HOST) -> bool:
    """True once something accepts connections on host:port; False on timeout or if ``alive()`` fails."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        try:
            with socket.create_connection((reachable_host(host), port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="run_all.py", description="Start the ingestor and the dashboard "
                                     "(and with --demo a local exchange); Ctrl+C stops everything.")
    parser.add_argument("--demo", action="store_true",
                        help="run against a local simulated exchange (no internet needed), on demo.db by default")
    parser.add_argument("--db", help="SQLite database file, or postgresql://user@host/dbname (default: ticks.db, "
                                     "or demo.db with --demo)")
    parser.add_argument("--shards", type=int, default=1, metavar="N",
                        help="split the watchlist across N ingestor processes writing one PostgreSQL database "
                             "(default: %(default)s)")
    parser.add_argument("--symbols", default="btcusdt,ethusdt", help="comma-separated symbols (default: %(default)s)")
    parser.add_argument("--market", choices=("spot", "futures"), default="spot", help="default: %(default)s")
    parser.add_argument("--stream", choices=("trade", "aggTrade"),
                        help="default: trade for spot, aggTrade for futures")
    parser.add_argument("--port", type=int, default=8501, help="dashboard port (default: %(default)s)")
    parser.add_argument("--host", default=access.LOOPBACK_HOST,
                        help="address the dashboard (and with --api the API) listens on (default: %(default)s, "
                             "this machine only); beyond loopback every write on the page and the API needs --token")
    parser.add_argument("--token", "--api-token", dest="token",
                        help=f"the desk's token (default: ${access.TOKEN_ENV}): the API's admin, watchlist and "
                             "collection endpoints, and every write when --host is beyond loopback; given to the "
                             "children through the environment")
    parser.add_argument("--sim-rate", type=float, default=25.0,
                        help="with --demo: simulated trades per second (default: %(default)s)")
    parser.add_argument("--api", action="store_true", help="also start the REST API (api.py) on --host")
    parser.add_argument("--api-port", type=int, default=8000, help="with --api: its port (default: %(default)s)")
    parser.add_argument("--scan-every", default="15m", metavar="DURATION",
                        help="rescan every pair of the watchlist this often, at 1 m bars over 7 days, in a "
                             "low-priority process beside the ingestor (default: %(default)s)")
    parser.add_argument("--no-scan", action="store_true", help="do not start the scheduled pair scanner")
    parser.add_argument("--replay", nargs="+", metavar="SOURCE",
                        help="play a stored database or Binance dump files through the local exchange and the real "
                             "ingestor into a separate database (replay.db by default), with the dashboard on it")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="with --replay: 1 = real time, 10 = ten times faster, 0 = as fast as possible")
    return parser.parse_args(argv)


class Supervisor:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.db = args.db or ("demo.db" if args.demo else "replay.db" if args.replay else "ticks.db")
        self.children: list[Child] = []
        self.stopping = False

    def ingestor_argv(self, ws_url: str | None, rest_url: str | None) -> list[str]:
        argv = [PYTHON, "data_ingestor.py", "--db", self.db, "--symbols", self.args.symbols,
                "--market", self.args.market]
        if self.args.shards > 1:
            argv += ["--shards", str(self.args.shards)]
        if self.args.stream:
            argv += ["--stream", self.args.stream]
        if ws_url:
            argv += ["--ws-url", ws_url, "--rest-url", rest_url]
        return argv

    def dashboard_argv(self) -> list[str]:
        """``streamlit run app.py`` on --host (loopback unless told otherwise) and --port."""
        return [PYTHON, "-m", "streamlit", "run", "app.py", "--server.address", self.args.host,
                "--server.port", str(self.args.port), "--server.headless", "true",
                "--browser.gatherUsageStats", "false", "--", "--db", self.db]

    def scanner_argv(self) -> list[str]:
        """The scheduled pair scanner (``python -m pairdesk.scanner schedule``) on the database."""
        return [PYTHON, "-m", "pairdesk.scanner", "schedule", "--db", self.db, "--every", self.args.scan_every]

    def start_exchange(self) -> int:
        if self.args.replay:
            source = ["--replay", *self.args.replay, "--speed", str(self.args.speed), "--wait-for-subscriber"]
        else:
            source = ["--market", self.args.market, "--symbols", self.args.symbols.upper(),
                      "--rate", str(self.args.sim_rate), "--history", str(DEMO_HISTORY_S),
                      *self.demo_continuation()]
        sim = Child("exchange_sim", [PYTHON, "exchange_sim.py", "--port", "0", *source], stdout_pipe=True)
        sim.start()
        self.children.append(sim)
        line = sim.proc.stdout.readline()  # "exchange_sim listening on 127.0.0.1:<port>"
        if "listening on" not in line:
            raise SystemExit(f"run_all: error: the local exchange did not start (it printed {line.strip()!r})")
        # keep draining its stdout so that it never blocks on a full pipe
        threading.Thread(target=shutil.copyfileobj, args=(sim.proc.stdout, sys.stdout), daemon=True).start()
        return int(line.rsplit(":", 1)[1])

    def demo_continuation(self) -> list[str]:
        """``--continue-from`` the demo database when it holds this market's tape (a restarted demo goes
        on with ids after the stored ones); a database of another market (or not a tick database) is
        moved aside, saying so, and the demo starts a new one (a PostgreSQL database is never moved
        aside: the one-line error of the ingestor refusing another market says to use another --db)."""
        if not store.database_exists(self.db):
            return []
        try:
            end = replay_source.tape_end(self.db)
        except HistoryImportError as exc:
            end, why = None, str(exc)
        else:
            why = f"it holds {end.market} trades and this demo runs {self.args.market}"
        if end is not None and end.market == self.args.market:
            if end.last:
                print(f"run_all: continuing the demo tape of {store.display_name(self.db)} (after trade ids "
                      f"{', '.join(f'{s} {last[0]}' for s, last in sorted(end.last.items()))})", flush=True)
                return ["--continue-from", str(self.db)]
            return []
        if store.is_url(self.db):
            return []
        path = Path(self.db)
        kept = path.with_name(f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}.old")
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{path}{suffix}").exists():
                Path(f"{path}{suffix}").rename(f"{kept}{suffix}")
        print(f"run_all: {path} cannot be continued ({why}): moved it to {kept}; starting a new demo database",
              flush=True)
        return []

    def check_shards(self) -> str | None:
        """Why ``--shards`` cannot work as given (None: it can): shards share a PostgreSQL database, and each
        shard's share of the symbols must fit one connection's streams (Binance: 1,024)."""
        shards = self.args.shards
        problem = shards_problem(shards, self.db)
        if problem:
            return problem
        per_symbol = 1 + len(binance.MARKET_SPECS[self.args.market].quote_streams)
        symbols = len([s for s in self.args.symbols.split(",") if s.strip()])
        share = -(-symbols // shards)
        if share * per_symbol > binance.MAX_STREAMS_PER_CONNECTION:
            needed = -(-symbols * per_symbol // binance.MAX_STREAMS_PER_CONNECTION)
            return (f"{symbols} symbols x {per_symbol} streams is more than {shards} connection(s) of "
                    f"{binance.MAX_STREAMS_PER_CONNECTION} streams carry: use --shards {needed} or more")
        return None

    def start_api(self, ingestor: Child) -> None:
        """The API serves an existing database: start it once the ingestor has created the file."""
        deadline = time.monotonic() + DATABASE_WAIT_S
        while not store.database_exists(self.db) and time.monotonic() < deadline and ingestor.running():
            time.sleep(0.2)
        api = Child("api", [PYTHON, "api.py", "--db", self.db, "--host", self.args.host,
                            "--port", str(self.args.api_port)], restart=True)
        api.start()
        self.children.append(api)
        print(f"run_all: REST API at http://{self.args.host}:{self.args.api_port}/docs", flush=True)

    def follow_replay(self, rest_url: str) -> None:
        """Point the ingestor at what the exchange replays: its market, symbols and stream kind."""
        with urllib.request.urlopen(f"{rest_url}/sim/stats", timeout=10) as answer:
            stats = json.load(answer)
        self.args.market = stats["market"]
        self.args.symbols = ",".join(stats["symbols"])
        self.args.stream = self.args.stream or ("aggTrade" if stats["replay_stream"] == "aggTrade" else None)

    def run(self) -> int:
        ports = [("--port", self.args.port)] + ([("--api-port", self.args.api_port)] if self.args.api else [])
        token = access.configured_token(self.args.token)
        if token:  # through the environment: a command line shows in ps
            CHILD_ENV[access.TOKEN_ENV] = token
        if access.listens_beyond_loopback(self.args.host):
            print(f"run_all: listening on {self.args.host}, beyond this machine: " +
                  ("every write needs the token" if token else
                   f"no --token / ${access.TOKEN_ENV} given, so every write is refused"), flush=True)
        try:
            scanner.parse_duration(self.args.scan_every)
        except ValueError as exc:
            print(f"run_all: error: --scan-every: {exc}", file=sys.stderr)
            return exit_codes.CONFIG_ERROR
        problem = self.check_shards()
        if problem:
            print(f"run_all: error: {problem}", file=sys.stderr)
            return exit_codes.CONFIG_ERROR
        for flag, port in ports:
            if not port_is_free(port):
                print(f"run_all: error: port {port} is in use; stop what uses it or pass {flag} N", file=sys.stderr)
                return exit_codes.CONFIG_ERROR
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        try:
            ws_url = rest_url = None
            if self.args.demo or self.args.replay:
                port = self.start_exchange()
                ws_url, rest_url = f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{port}"
                if self.args.replay:
                    self.follow_replay(rest_url)
                print(f"run_all: local exchange on 127.0.0.1:{port} "
                      f"({'replaying ' + ' '.join(self.args.replay) if self.args.replay else 'demo data'})",
                      flush=True)
            CHILD_ENV.setdefault("PAIRDESK_DASHBOARD_URL", f"http://127.0.0.1:{self.args.port}")  # alert links
            shards = self.args.shards
            ingestors = [Child("ingestor" if shards == 1 else f"ingestor {k + 1}/{shards}",
                               self.ingestor_argv(ws_url, rest_url), restart=True) for k in range(shards)]
            dashboard = Child("dashboard", self.dashboard_argv())
            for child in (*ingestors, dashboard):
                child.start()
                self.children.append(child)
            if self.args.api:
                self.start_api(ingestors[0])
            if not self.args.no_scan:
                scan = Child("scanner", self.scanner_argv(), restart=True)
                scan.start()
                self.children.append(scan)
            if wait_for_port(self.args.port, DASHBOARD_START_TIMEOUT_S,
                             lambda: dashboard.running() and not self.stopping, self.args.host):
                shown = "localhost" if not access.listens_beyond_loopback(self.args.host) else self.args.host
                print(f"run_all: dashboard at http://{shown}:{self.args.port} (database {store.display_name(self.db)}"
                      f"{f', {shards} ingestor shards' if shards > 1 else ''}); "
                      f"Ctrl+C stops everything", flush=True)
            return self.supervise(ingestors)
        finally:
            self.stop_all()

    def supervise(self, ingestors: list[Child]) -> int:
        """Restart what may be restarted (the ingestors, the API) with backoff; stop on anything else."""
        while not self.stopping:
            time.sleep(0.25)
            for child in self.children:
                if child.running() or self.stopping:
                    continue
                code = child.proc.returncode
                if not child.restart:
                    print(f"run_all: {child.name} exited with code {code}; stopping", file=sys.stderr)
                    return exit_codes.FAILURE
                if child in ingestors and code == exit_codes.CONFIG_ERROR:  # restarting cannot help
                    print(f"run_all: the {child.name} refused its configuration (see above); stopping", file=sys.stderr)
                    return exit_codes.CONFIG_ERROR
                self.schedule_restart(child, code)
        return 0

    def schedule_restart(self, child: Child, code: int) -> None:
        now = time.monotonic()
        if child.next_start_at == 0.0:  # just noticed the crash
            if now - child.started_at >= STABLE_RUN_S:
                child.crashes = 0
            delay = min(RESTART_MAX_DELAY_S, RESTART_BASE_DELAY_S * 2**child.crashes)
            child.crashes += 1
            child.next_start_at = now + delay
            print(f"run_all: {child.name} exited with code {code}; restarting in {delay:.0f} s", file=sys.stderr)
        elif now >= child.next_start_at:
            child.next_start_at = 0.0
            child.start()

    def _on_signal(self, signum, _frame) -> None:
        self.stopping = True

    def stop_all(self) -> None:
        """SIGTERM every child at once (the ingestor flushes its last batch), SIGKILL what is left after the grace."""
        for child in self.children:
            child.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for child in self.children:
            child.wait_or_kill(deadline)


def main(argv: list[str] | None = None) -> int:
    return Supervisor(parse_args(argv)).run()


if __name__ == "__main__":
    sys.exit(main())
