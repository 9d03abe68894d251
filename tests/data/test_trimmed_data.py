"""The trimmed recordings in tests/data/: small enough for the repo, documented, and where binance_file looks."""
from __future__ import annotations

import subprocess
import sys

import pytest

import conftest
from conftest import REPO_ROOT, TRIMMED_DATA

MAX_BYTES = 1_000_000  # the whole folder, as `du -sb tests/data` counts it (files and directories)
SOURCES = TRIMMED_DATA / "SOURCES.txt"


def folder_bytes() -> int:
    """What `du -sb` reports for tests/data/ (apparent sizes of files and directories), caches left out."""
    entries = [TRIMMED_DATA, *TRIMMED_DATA.rglob("*")]
    entries = [entry for entry in entries if "__pycache__" not in entry.parts]
    return sum(entry.stat().st_size for entry in entries)


def recordings() -> list[str]:
    """The data files of the folder, as relative paths (the script, its notes and caches left out)."""
    return sorted(str(path.relative_to(TRIMMED_DATA)) for path in TRIMMED_DATA.rglob("*")
                  if path.is_file() and path.suffix not in (".py", ".pyc", ".txt"))


def test_the_trimmed_copies_stay_under_one_megabyte():
    """The recordings kept in the repository, script and notes included, weigh less than 1 MB."""
    assert folder_bytes() < MAX_BYTES


@pytest.mark.parametrize("relative", recordings())
def test_every_trimmed_file_is_documented(relative):
    """SOURCES.txt names each trimmed file (its repository, commit and licence are listed beside it)."""
    assert relative.split("/", 1)[-1] in SOURCES.read_text()


@pytest.mark.parametrize(("environment", "expected"), [
    ({}, str(TRIMMED_DATA / "cryptofeed" / "BINANCE_FUTURES.ws.1.0")),
    ({"BINANCE_DATA_DIR": "/srv/full-copy"}, "/srv/full-copy/cryptofeed/BINANCE_FUTURES.ws.1.0"),
])
def test_binance_data_dir_chooses_the_copy_the_tests_read(tmp_path, environment, expected):
    """binance_file reads tests/data/ by default and $BINANCE_DATA_DIR when it is set (a fresh interpreter each)."""
    probe = ("import sys; sys.path.insert(0, 'tests'); import conftest; "
             "print(conftest.BINANCE_DATA / 'cryptofeed' / 'BINANCE_FUTURES.ws.1.0')")
    env = {"PATH": "/usr/bin:/bin", **environment}
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_a_missing_recording_fails_the_test_and_says_where_it_looked(monkeypatch, tmp_path):
    """A recording absent from the data folder fails the test with its path (it never skips)."""
    monkeypatch.setattr(conftest, "BINANCE_DATA", tmp_path)
    with pytest.raises(pytest.fail.Exception, match="recorded sample missing: .*BINANCE_FUTURES.ws.1.0"):
        conftest.binance_file("cryptofeed/BINANCE_FUTURES.ws.1.0")
