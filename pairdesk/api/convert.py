"""Values on their way into JSON: DataFrame rows as plain dicts, NaN and infinity as null."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as dicts of plain Python values (NaN stays NaN: the JSON encoder writes null)."""
    return frame.to_dict("records")


def finite(value: float | None) -> float | None:
    """``value`` as a float, or None when it is None, NaN or infinite."""
    return None if value is None or not math.isfinite(value) else float(value)


def json_safe(value: Any) -> Any:
    """``value`` with NaN / infinity replaced by None, recursively (for JSON stored in the database)."""
    if isinstance(value, float):
        return finite(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
