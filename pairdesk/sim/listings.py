"""What the sim knows about each symbol before it trades: filters, wire decimals, first ids."""
from __future__ import annotations

import zlib
from dataclasses import dataclass

from pairdesk.markets import SPOT
from pairdesk.sim.fixed import format_fixed, parse_fixed, rescale_units

QUOTE_ASSETS = ("USDT", "USDC", "FDUSD", "BUSD", "TUSD", "BTC", "ETH", "BNB", "EUR", "TRY")
SPOT_WIRE_DECIMALS = 8  # spot writes every price and quantity with 8 decimals: "61837.63000000"

@dataclass(frozen=True)
class MarketListing:
    """How one symbol trades on one market: filter sizes as Binance writes them, id ranges."""

    tick_size: str  # futures: also fixes the price's decimals on the wire ("0.10" -> "61800.30")
    step_size: str
    median_qty: float  # model's typical trade size, base asset
    first_trade_id: int
    first_agg_id: int


@dataclass(frozen=True)
class Listing:
    """What the sim knows about a symbol before it trades."""

    base_asset: str
    start_price: float
    activity_weight: float  # share of the market's trades
    spot: MarketListing
    futures: MarketListing


# Trade ids start where the 2024-08-08 recordings start; aggregate ids are deliberately far from
# trade ids so that a client mixing the two is caught.
LISTINGS: dict[str, Listing] = {
    "BTCUSDT": Listing(
        "BTC", 61800.0, 3.0,
        spot=MarketListing("0.01", "0.00001", 0.0006, 3_735_683_259, 3_101_846_210),
        futures=MarketListing("0.10", "0.001", 0.016, 5_266_583_935, 2_271_938_417),
    ),
    "ETHUSDT": Listing(
        "ETH", 2680.0, 2.0,
        spot=MarketListing("0.01", "0.0001", 0.0088, 1_520_538_925, 1_120_412_377),
        futures=MarketListing("0.01", "0.001", 0.071, 4_308_068_523, 1_905_117_062),
    ),
    "SOLUSDT": Listing(
        "SOL", 150.0, 1.0,
        spot=MarketListing("0.01", "0.001", 0.35, 767_410_115, 601_834_997),
        futures=MarketListing("0.0100", "1", 4.0, 1_984_301_221, 1_050_377_512),
    ),
    "BNBUSDT": Listing(
        "BNB", 520.0, 1.0,
        spot=MarketListing("0.01", "0.001", 0.08, 921_554_780, 735_904_118),
        futures=MarketListing("0.010", "0.01", 0.5, 1_203_377_004, 801_226_450),
    ),
    "XRPUSDT": Listing(
        "XRP", 0.55, 1.0,
        spot=MarketListing("0.0001", "1", 120.0, 688_100_442, 512_009_731),
        futures=MarketListing("0.0001", "0.1", 300.0, 1_702_884_310, 955_612_004),
    ),
    "DOGEUSDT": Listing(
        "DOGE", 0.11, 1.0,
        spot=MarketListing("0.00001", "1", 900.0, 801_339_107, 601_442_893),
        futures=MarketListing("0.000010", "1", 2500.0, 1_630_024_775, 890_114_206),
    ),
}


def default_listing(symbol: str) -> Listing:
    """A plausible listing for a symbol the table does not know; ids differ per symbol."""
    base = next((symbol[: -len(q)] for q in QUOTE_ASSETS if symbol.endswith(q) and len(symbol) > len(q)), symbol)
    salt = zlib.crc32(symbol.encode())
    first_trade_id = 100_000_000 + salt % 900_000_000
    first_agg_id = 50_000_000 + (salt // 7) % 400_000_000
    return Listing(
        base, 10.0, 1.0,
        spot=MarketListing("0.001", "0.01", 5.0, first_trade_id, first_agg_id),
        futures=MarketListing("0.001", "0.1", 20.0, first_trade_id + 13_579, first_agg_id + 2_468),
    )


@dataclass(frozen=True)
class SymbolSpec:
    """One symbol as traded by this sim: wire decimals, filters, model hints, first ids."""

    symbol: str
    base_asset: str
    quote_asset: str
    price_decimals: int  # digits after the point on the wire
    tick_units: int  # tick size in units of 10**-price_decimals
    qty_decimals: int
    step_units: int  # lot step in units of 10**-qty_decimals
    start_price: float
    median_qty: float
    activity_weight: float
    first_trade_id: int
    first_agg_id: int

    def price_text(self, units: int) -> str:
        """Price units as Binance writes them."""
        return format_fixed(units, self.price_decimals)

    def qty_text(self, units: int) -> str:
        """Quantity units as Binance writes them."""
        return format_fixed(units, self.qty_decimals)

    @property
    def tick_size(self) -> float:
        """Tick size in quote currency."""
        return self.tick_units / 10**self.price_decimals



def make_spec(market: str, symbol: str) -> SymbolSpec:
    """The spec of `symbol` on `market` from the listing table (or a plausible default)."""
    listing = LISTINGS.get(symbol) or default_listing(symbol)
    on_market = listing.spot if market == SPOT else listing.futures
    tick_units, tick_decimals = parse_fixed(on_market.tick_size)
    step_units, step_decimals = parse_fixed(on_market.step_size)
    price_decimals = SPOT_WIRE_DECIMALS if market == SPOT else tick_decimals
    qty_decimals = SPOT_WIRE_DECIMALS if market == SPOT else step_decimals
    return SymbolSpec(
        symbol=symbol,
        base_asset=listing.base_asset,
        quote_asset=symbol[len(listing.base_asset):] or "USDT",
        price_decimals=price_decimals,
        tick_units=rescale_units(tick_units, tick_decimals, price_decimals),
        qty_decimals=qty_decimals,
        step_units=rescale_units(step_units, step_decimals, qty_decimals),
        start_price=listing.start_price,
        median_qty=on_market.median_qty,
        activity_weight=listing.activity_weight,
        first_trade_id=on_market.first_trade_id,
        first_agg_id=on_market.first_agg_id,
    )

