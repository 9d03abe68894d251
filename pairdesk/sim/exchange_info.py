"""`exchangeInfo` of spot and USD-M futures for the sim's symbols, trimmed to what clients read."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pairdesk.markets import SPOT
from pairdesk.sim.listings import SymbolSpec


def exchange_info(market: str, specs: Sequence[SymbolSpec], server_time_ms: int, weight_limit: int) -> dict[str, Any]:
    """`/api/v3/exchangeInfo` or `/fapi/v1/exchangeInfo` for `specs` (trimmed to what matters)."""
    rate_limits = [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": weight_limit},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100 if market == SPOT else 300},
        {"rateLimitType": "ORDERS", "interval": "DAY" if market == SPOT else "MINUTE", "intervalNum": 1,
         "limit": 200000 if market == SPOT else 1200},
    ]
    if market == SPOT:
        rate_limits.append({"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000})
        return {"timezone": "UTC", "serverTime": server_time_ms, "rateLimits": rate_limits, "exchangeFilters": [],
                "symbols": [_spot_symbol_info(spec) for spec in specs]}
    return {"timezone": "UTC", "serverTime": server_time_ms, "futuresType": "U_MARGINED", "rateLimits": rate_limits,
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [_futures_symbol_info(spec) for spec in specs]}


def _spot_symbol_info(spec: SymbolSpec) -> dict[str, Any]:
    price, qty = spec.price_text, spec.qty_text
    return {
        "symbol": spec.symbol, "status": "TRADING", "baseAsset": spec.base_asset, "baseAssetPrecision": 8,
        "quoteAsset": spec.quote_asset, "quotePrecision": 8, "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
                       "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True, "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True, "cancelReplaceAllowed": True, "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": True,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": price(spec.tick_units),
             "maxPrice": price(spec.tick_units * 10**8), "tickSize": price(spec.tick_units)},
            {"filterType": "LOT_SIZE", "minQty": qty(spec.step_units), "maxQty": qty(spec.step_units * 9 * 10**8),
             "stepSize": qty(spec.step_units)},
            {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
        ],
        "permissions": [], "permissionSets": [["SPOT", "MARGIN"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def _futures_symbol_info(spec: SymbolSpec) -> dict[str, Any]:
    price, qty = spec.price_text, spec.qty_text
    return {
        "symbol": spec.symbol, "pair": spec.symbol, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000, "status": "TRADING", "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000", "baseAsset": spec.base_asset, "quoteAsset": spec.quote_asset,
        "marginAsset": spec.quote_asset, "pricePrecision": spec.price_decimals,
        "quantityPrecision": spec.qty_decimals, "baseAssetPrecision": 8, "quotePrecision": 8,
        "underlyingType": "COIN", "underlyingSubType": [], "triggerProtect": "0.0500", "liquidationFee": "0.012500",
        "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": price(spec.tick_units),
             "maxPrice": price(spec.tick_units * 10**8), "tickSize": price(spec.tick_units)},
            {"filterType": "LOT_SIZE", "minQty": qty(spec.step_units), "maxQty": qty(spec.step_units * 10**6),
             "stepSize": qty(spec.step_units)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": qty(spec.step_units),
             "maxQty": qty(spec.step_units * 10**5), "stepSize": qty(spec.step_units)},
            {"filterType": "MIN_NOTIONAL", "notional": "5"},
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                       "TRAILING_STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }
