"""Models of the pair scanner's answers: a scan's record and its rows (``scanner.scan_rows``)."""
from __future__ import annotations

from typing import Any

from pydantic import Field, create_model

from pairdesk import store
from pairdesk.api.schemas.base import Model

_TYPES: dict[str, Any] = {"rank": int, "symbol_a": str, "symbol_b": str, "significant": bool, "stable": bool,
                          "half_life_ok": bool, "covers_cost": bool | None, "fdr_level": float, "score": int,
                          "rows": int, "johansen_rank": int | None, "last_ms": int | None, "reason": str}
_HELP = {"p_value": "the larger Engle-Granger p-value of A on B and B on A", "q_value": "Benjamini-Hochberg q-value",
         "significant": "q_value <= fdr_level", "half_life": "bars; empty without significant mean reversion",
         "zscore": "the causal z-score of the pair's last bar", "round_trip_bps": "empty without quote bars"}

ScanRow = create_model(
    "ScanRow", __base__=Model,
    **{column: (_TYPES.get(column, float | None), Field(description=_HELP.get(column, column.replace("_", " "))))
       for column in store.SCAN_RESULT_COLUMNS})


class ScanRecord(Model):
    scan_id: int
    status: str = Field(description="running, done or failed")
    requested_ms: int
    finished_ms: int | None
    timeframe: str
    lookback_ms: int
    params: dict[str, Any] = Field(description="every parameter the scan was run with")
    symbols: list[str]
    data_from_ms: int | None = Field(description="start of the bars scanned, UTC ms")
    data_to_ms: int | None = Field(description="end of the bars scanned (exclusive), UTC ms")
    pairs: int
    error: str


class ScannerResponse(Model):
    scan: ScanRecord | None = Field(description="the newest finished scan (null: none yet)")
    newest: ScanRecord | None = Field(description="the newest scan recorded (it may be running or have failed)")
    count: int
    rows: list[ScanRow]  # type: ignore[valid-type]


class ScanStarted(Model):
    scan_id: int
    status: str
