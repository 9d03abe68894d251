"""Exit codes shared by every command (``run_all.py`` reads them to decide whether to restart a child)."""
from __future__ import annotations

from typing import Final

OK: Final = 0
# Something crashed or failed at run time: a supervisor may restart it.
FAILURE: Final = 1
# The configuration is refused (unknown symbol, database of another market, a second writer, a port
# in use, a bad file): restarting cannot help, the user must change something.
CONFIG_ERROR: Final = 2
