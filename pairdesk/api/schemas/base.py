"""The base of every request and response model."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """A model that refuses fields it does not declare."""

    model_config = ConfigDict(extra="forbid")
