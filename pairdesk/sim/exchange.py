"""The local exchange's public names under their old address (``from pairdesk.sim.exchange import ExchangeSim``).

The code lives in the modules of `pairdesk.sim`, split by concern; this module only re-exports.
"""
from __future__ import annotations

from pairdesk.sim import (
    JUNK_KINDS,
    RESEND_DEPTH,
    ExchangeSim,
    FaultSwitches,
    MarketModel,
    SimConfig,
    SimConfigError,
    build_arg_parser,
    config_from_args,
    format_fixed,
    main,
    make_spec,
    parse_fixed,
    run_in_thread,
)

__all__ = [
    "JUNK_KINDS", "RESEND_DEPTH", "ExchangeSim", "FaultSwitches", "MarketModel", "SimConfig", "SimConfigError",
    "build_arg_parser", "config_from_args", "format_fixed", "main", "make_spec", "parse_fixed", "run_in_thread",
]
