"""USD-M perpetual accounting: wallet, one-way positions, leverage, margin mode, margin checks.

Positions are one-way (positionSide BOTH). Margin follows Binance's arithmetic in simplified
form: initial margin = notional / leverage; maintenance margin from a notional bracket table;
available balance = wallet + unrealised PnL (cross) - position initial margin - open-order
initial margin. An order that would need more than what is available is rejected with -2019
before the position limit of the leverage bracket (-2027) is looked at, as on Binance.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Iterable, Mapping

from .errors import margin_insufficient, max_position_exceeded

ZERO = Decimal(0)
CROSSED = "CROSSED"
ISOLATED = "ISOLATED"


@dataclass(frozen=True, slots=True)
class Bracket:
    bracket: int
    initial_leverage: int
    notional_cap: Decimal
    notional_floor: Decimal
    maint_margin_ratio: Decimal
    cum: Decimal


def _brackets() -> tuple[Bracket, ...]:
    rows = [(125, 50_000, "0.004"), (100, 600_000, "0.005"), (75, 3_000_000, "0.0065"),
            (50, 12_000_000, "0.01"), (25, 70_000_000, "0.02"), (20, 100_000_000, "0.025"),
            (10, 230_000_000, "0.05"), (5, 480_000_000, "0.1"), (4, 600_000_000, "0.125"),
            (3, 800_000_000, "0.15"), (2, 1_200_000_000, "0.25"), (1, 1_800_000_000, "0.5")]
    out, floor, cum, prev_mmr = [], Decimal(0), Decimal(0), Decimal(0)
    for i, (lev, cap, mmr) in enumerate(rows, start=1):
        mmr_d = Decimal(mmr)
        cum += floor * (mmr_d - prev_mmr)
        out.append(Bracket(i, lev, Decimal(cap), floor, mmr_d, cum))
        floor, prev_mmr = Decimal(cap), mmr_d
    return tuple(out)


BRACKETS = _brackets()


def bracket_for(notional: Decimal) -> Bracket:
    for b in BRACKETS:
        if notional < b.notional_cap:
            return b
    return BRACKETS[-1]


def max_notional_for_leverage(leverage: int) -> Decimal:
    cap = ZERO
    for b in BRACKETS:
        if b.initial_leverage >= leverage:
            cap = b.notional_cap
    return cap


@dataclass(slots=True)
class Position:
    amount: Decimal = ZERO          # signed: long > 0
    entry_price: Decimal = ZERO
    isolated_wallet: Decimal = ZERO
    update_time: int = 0


@dataclass(slots=True)
class SymbolConfig:
    leverage: int
    margin_type: str = CROSSED


@dataclass
class FuturesLedger:
    default_leverage: int = 20
    wallets: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    positions: dict[tuple[str, str], Position] = field(default_factory=dict)
    configs: dict[tuple[str, str], SymbolConfig] = field(default_factory=dict)
    update_times: dict[str, int] = field(default_factory=dict)

    def open(self, account: str, funds: Mapping[str, Decimal], now_ms: int) -> None:
        self.wallets[account] = {a: Decimal(v) for a, v in funds.items()}
        self.update_times[account] = now_ms

    def has(self, account: str) -> bool:
        return account in self.wallets

    def wallet(self, account: str, asset: str = "USDT") -> Decimal:
        return self.wallets[account].get(asset, ZERO)

    def add_wallet(self, account: str, amount: Decimal, now_ms: int, asset: str = "USDT") -> None:
        w = self.wallets[account]
        w[asset] = w.get(asset, ZERO) + amount
        self.update_times[account] = now_ms

    def config(self, account: str, market_id: str) -> SymbolConfig:
        cfg = self.configs.get((account, market_id))
        if cfg is None:
            cfg = self.configs[(account, market_id)] = SymbolConfig(self.default_leverage)
        return cfg

    def position(self, account: str, market_id: str) -> Position:
        pos = self.positions.get((account, market_id))
        if pos is None:
            pos = self.positions[(account, market_id)] = Position()
        return pos

    def account_positions(self, account: str) -> Iterable[tuple[str, Position]]:
        return ((m, p) for (a, m), p in self.positions.items() if a == account)

    # --- margin arithmetic -----------------------------------------------------------------
    @staticmethod
    def unrealized(pos: Position, mark: Decimal) -> Decimal:
        return (mark - pos.entry_price) * pos.amount if pos.amount else ZERO

    def position_initial_margin(self, account: str, market_id: str, pos: Position, mark: Decimal) -> Decimal:
        return abs(pos.amount) * mark / self.config(account, market_id).leverage

    @staticmethod
    def maintenance_margin(pos: Position, mark: Decimal) -> Decimal:
        notional = abs(pos.amount) * mark
        b = bracket_for(notional)
        return notional * b.maint_margin_ratio - b.cum

    def totals(self, account: str, mark: Callable[[str], Decimal],
               open_order_margin: Callable[[str], Decimal]) -> dict[str, Decimal]:
        wallet = self.wallet(account)
        upnl = pos_im = maint = ZERO
        for m, pos in self.account_positions(account):
            if not pos.amount:
                continue
            px = mark(m)
            upnl += self.unrealized(pos, px)
            pos_im += self.position_initial_margin(account, m, pos, px)
            maint += self.maintenance_margin(pos, px)
        order_im = open_order_margin(account)
        margin_balance = wallet + upnl
        available = margin_balance - pos_im - order_im
        return {"wallet": wallet, "unrealized": upnl, "margin_balance": margin_balance,
                "position_initial_margin": pos_im, "open_order_initial_margin": order_im,
                "initial_margin": pos_im + order_im, "maint_margin": maint,
                "available": available if available > ZERO else ZERO, "raw_available": available}

    def check_new_order(self, account: str, market_id: str, side: str, qty: Decimal, price: Decimal,
                        mark: Callable[[str], Decimal], open_order_margin: Callable[[str], Decimal],
                        taker_fee: Decimal) -> None:
        """-2019 first, then -2027, as Binance orders its checks."""
        pos = self.position(account, market_id)
        signed = qty if side == "BUY" else -qty
        new_amount = pos.amount + signed
        increase = max(ZERO, abs(new_amount) - abs(pos.amount))
        if increase == ZERO:
            return
        lev = self.config(account, market_id).leverage
        required = increase * price / lev + increase * price * taker_fee
        if required > self.totals(account, mark, open_order_margin)["raw_available"]:
            raise margin_insufficient()
        if abs(new_amount) * price > max_notional_for_leverage(lev):
            raise max_position_exceeded()

    def liquidation_price(self, account: str, market_id: str, mark: Callable[[str], Decimal]) -> Decimal:
        """Single-position approximation: the price where margin balance meets maintenance."""
        pos = self.position(account, market_id)
        if not pos.amount:
            return ZERO
        mmr = bracket_for(abs(pos.amount) * mark(market_id)).maint_margin_ratio
        cfg = self.config(account, market_id)
        collateral = pos.isolated_wallet if cfg.margin_type == ISOLATED else self.wallet(account)
        q = abs(pos.amount)
        if pos.amount > 0:
            liq = (pos.entry_price * q - collateral) / (q * (1 - mmr))
        else:
            liq = (pos.entry_price * q + collateral) / (q * (1 + mmr))
        return liq if liq > ZERO else ZERO

    # --- fills and funding -----------------------------------------------------------------
    def apply_fill(self, account: str, market_id: str, side: str, qty: Decimal, price: Decimal,
                   fee: Decimal, now_ms: int) -> Decimal:
        """Update the position and wallet; returns the realised PnL of the fill."""
        pos = self.position(account, market_id)
        signed = qty if side == "BUY" else -qty
        realized = ZERO
        if pos.amount == ZERO or (pos.amount > 0) == (signed > 0):
            new_amount = pos.amount + signed
            pos.entry_price = (pos.entry_price * abs(pos.amount) + price * qty) / abs(new_amount)
            pos.amount = new_amount
        else:
            closing = min(qty, abs(pos.amount))
            direction = Decimal(1) if pos.amount > 0 else Decimal(-1)
            realized = (price - pos.entry_price) * closing * direction
            pos.amount += signed
            if pos.amount == ZERO:
                pos.entry_price = ZERO
            elif (pos.amount > 0) != (direction > 0):      # flipped through zero
                pos.entry_price = price
        cfg = self.config(account, market_id)
        if cfg.margin_type == ISOLATED:
            pos.isolated_wallet = abs(pos.amount) * pos.entry_price / cfg.leverage
        pos.update_time = now_ms
        self.add_wallet(account, realized - fee, now_ms)
        return realized

    def settle_funding(self, market_id: str, mark: Decimal, rate: Decimal, now_ms: int) -> list[tuple[str, Decimal]]:
        """Longs pay shorts when the rate is positive. Returns (account, payment) pairs."""
        paid = []
        for (account, m), pos in self.positions.items():
            if m != market_id or not pos.amount:
                continue
            payment = -pos.amount * mark * rate
            self.add_wallet(account, payment, now_ms)
            paid.append((account, payment))
        return paid
