"""What an `ExchangeSim` can be told at start, and the one-line refusals of what it cannot run."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pairdesk.history import replay_source
from pairdesk.markets import MARKETS, SPOT
from pairdesk.sim.faults import FaultSwitches
from pairdesk.symbols import is_symbol

DEFAULT_SYMBOLS = ("BTCUSDT", "ETHUSDT")
DEFAULT_RATE_PER_S = 25.0  # trades per second across all symbols; the 2024 recordings run ~46/s
DEFAULT_HOST = "127.0.0.1"
DEFAULT_QUOTE_RATE_PER_S = 5.0  # model requotes per symbol per second (each taker order adds its own updates)
DEFAULT_FUNDING_LIMIT_PER_5M = 500  # /fapi/v1/fundingRate's own limit per client, as Binance's


class SimConfigError(ValueError):
    """A configuration the sim cannot run with; the message says what to change."""


def _is_stored_symbol(text: str) -> bool:
    """A symbol as stored and sent: the shared symbol rule, already upper case and trimmed."""
    return is_symbol(text) and text == text.strip().upper()


@dataclass
class SimConfig:
    """Everything `ExchangeSim` can be told at start; the CLI options map onto these fields."""

    host: str = DEFAULT_HOST
    port: int = 0
    market: str = SPOT
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    rate_per_s: float = DEFAULT_RATE_PER_S
    quote_rate_per_s: float = DEFAULT_QUOTE_RATE_PER_S
    seed: int | None = None
    replay_files: tuple[Path, ...] = ()
    speed: float = 1.0  # replay: 1 = real time, 0 = as fast as possible
    blast: int = 0  # pre-generate N trades per symbol and blast them to the first subscriber
    blast_quotes: int = 0  # ... and N bookTicker updates per symbol among them
    history_s: float = 0.0  # model trading behind the live tape at start (served by REST), seconds
    continue_from: Path | str | None = None  # a tick database (a file or a URL) whose stored tape the model continues
    wait_for_subscriber: bool = False  # start trading when the first stream is subscribed
    paused: bool = False
    ping_interval_s: float | None = None  # None: the market's default
    ping_timeout_s: float | None = None
    extra_fields: bool = False  # futures: add "nq"/"st" as newer frames do
    api_key: str | None = None  # accepted X-MBX-APIKEY for /fapi/v1/historicalTrades
    weight_limit_1m: int | None = None  # None: the market's default
    funding_limit_per_5m: int = DEFAULT_FUNDING_LIMIT_PER_5M
    faults: FaultSwitches = field(default_factory=FaultSwitches)

    def validate(self) -> None:
        """Raise SimConfigError with a one-line fix for anything the sim cannot run with."""
        if self.market not in MARKETS:
            raise SimConfigError(f"unknown market {self.market!r}; use one of {', '.join(MARKETS)}")
        bad = [s for s in self.symbols if not _is_stored_symbol(s)]
        if bad or not self.symbols:
            raise SimConfigError(f"bad symbols {bad or '(none)'}; give e.g. --symbols BTCUSDT,ETHUSDT")
        if self.rate_per_s < 0 or self.speed < 0 or self.blast < 0 or self.blast_quotes < 0 or self.quote_rate_per_s < 0:
            raise SimConfigError("--rate, --quote-rate, --speed and --blast must not be negative")
        if self.funding_limit_per_5m < 1:
            raise SimConfigError("--funding-limit must be at least 1 request per 5 minutes")
        if self.history_s < 0:
            raise SimConfigError("--history must not be negative")
        if self.continue_from is not None and (self.replay_files or self.blast):
            raise SimConfigError("--continue-from continues the model's tape: not with --replay or --blast")
        for path in self.replay_files:
            if not isinstance(replay_source.source_path(path), str) and not Path(path).is_file():
                raise SimConfigError(f"replay file not found: {path}")
