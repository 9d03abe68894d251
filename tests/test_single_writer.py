"""One writer per database: a second ingestor is refused, a killed one's restart is not."""
from __future__ import annotations

import signal
import subprocess
import sys

from pairdesk import store
from conftest import REPO_ROOT
from test_ingestor import IngestorProcess, exchange, no_ingestor_left_behind, stored_rows, wait_until  # noqa: F401


def test_second_ingestor_on_a_live_database_is_refused_and_a_killed_one_restarts(exchange, db_path):
    """B exits 2 with one line naming A (pid, since); A keeps storing; after kill -9 of A, C starts."""
    first = IngestorProcess(db_path, exchange.port).start()
    first.wait_connected()
    wait_until(lambda: len(stored_rows(db_path, "BTCUSDT")) > 0, 15, first.log)
    second = subprocess.run([*first.argv], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
    assert second.returncode == 2
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and f"ingestor pid {first.proc.pid} since" in lines[0], second.stderr
    before = len(stored_rows(db_path, "BTCUSDT"))
    wait_until(lambda: len(stored_rows(db_path, "BTCUSDT")) > before, 15, first.log)  # A is unharmed
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(10)
    third = IngestorProcess(db_path, exchange.port).start()
    wait_until(lambda: getattr(store.read_owner(db_path), "pid", None) == third.proc.pid, 15, third.log)
    restarted = len(stored_rows(db_path, "BTCUSDT"))
    wait_until(lambda: len(stored_rows(db_path, "BTCUSDT")) > restarted, 15, third.log)
    code, _ = third.stop()
    assert code == 0


def test_an_import_beside_a_live_ingestor_still_works(exchange, db_path, tmp_path):
    """Imports do not take ownership: they share the file through SQLite's write lock as before."""
    first = IngestorProcess(db_path, exchange.port).start()
    first.wait_connected()
    dump = tmp_path / "XRPUSDT-trades-2024-08-08.csv"
    dump.write_text("".join(f"{i},0.5,10.0,5.0,{1723161600000 + i},True,True\n" for i in range(1, 101)))
    result = subprocess.run([sys.executable, str(REPO_ROOT / "data_ingestor.py"), "import", "--db", str(db_path),
                             str(dump)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(stored_rows(db_path, "XRPUSDT")) == 100
    assert first.proc.poll() is None
