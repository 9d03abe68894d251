"""A throwaway PostgreSQL 15 server for tests and benchmarks: ``initdb`` in a temporary folder, run as
the ``postgres`` user when this process is root (PostgreSQL refuses to run as root), on a free
loopback port, stopped and deleted afterwards. Debian's ``postgresql-15`` package provides the
binaries (``.ci/run`` installs it); where they are missing, ``missing_reason()`` says so and the
tests that need a server skip with that reason.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path(os.environ.get("PAIRDESK_PG_BIN", "/usr/lib/postgresql/15/bin"))
SERVER_USER = "postgres"


def missing_reason() -> str | None:
    """Why no throwaway server can be started here (None: it can)."""
    if not (PG_BIN / "initdb").is_file() or not (PG_BIN / "pg_ctl").is_file():
        return f"no PostgreSQL server binaries in {PG_BIN} (apt-get install postgresql-15, or set PAIRDESK_PG_BIN)"
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and there is no {SERVER_USER!r} user to run the server as"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *args] if os.geteuid() == 0 else args


@dataclass
class Server:
    """A running throwaway server; ``url(db)`` names one of its databases."""

    root: Path
    port: int
    options: str = ""

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def restart(self, down_s: float = 0.0) -> None:
        """Stop the server (fast: every session is cut) and start it again on the same port after ``down_s``."""
        import time

        subprocess.run(_as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"]),
                       capture_output=True, check=True)
        time.sleep(down_s)
        subprocess.run(_as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-l",
                                        str(self.root / "server.log"), "-w", "-t", "60", "-o", self.options, "start"]),
                       capture_output=True, check=True)

    def stop(self) -> None:
        subprocess.run(_as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate",
                                        "-w", "stop"]), capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def start_server(durable: bool = False) -> Server:
    """initdb and start a server on a free port; ``durable`` keeps fsync on (benchmarks), else off (tests)."""
    reason = missing_reason()
    if reason:
        raise RuntimeError(reason)
    root = Path(tempfile.mkdtemp(prefix="pairdesk-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, SERVER_USER, SERVER_USER)
    os.chmod(root, 0o700)
    data = root / "data"
    subprocess.run(_as_server_user([str(PG_BIN / "initdb"), "-D", str(data), "-U", SERVER_USER, "-A", "trust",
                                    "-E", "UTF8", "--no-instructions"]), capture_output=True, check=True)
    settings = ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={root}",
                "-c", "max_connections=200", "-c", "shared_buffers=256MB"]
    if not durable:
        settings += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    for attempt in range(5):  # a free port can be taken between the probe and the bind
        port = _free_port()
        options = " ".join([f"-p {port}", *settings])
        started = subprocess.run(
            _as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w",
                             "-t", "60", "-o", options, "start"]),
            capture_output=True, text=True, check=False)
        if started.returncode == 0:
            return Server(root, port, options)
    log = (root / "server.log").read_text(errors="replace")[-2000:] if (root / "server.log").exists() else ""
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"could not start a PostgreSQL server: {started.stderr.strip()} {log}")
