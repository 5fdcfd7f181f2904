"""USD-M account endpoints: account / balance / positionRisk (v2 and v3 shapes), leverage
brackets, symbol config, leverage, margin type, commission, listenKey."""
from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from .engine import Exchange
from .futures import BRACKETS, ISOLATED, max_notional_for_leverage
from .params import Params
from .rest_market import ApiBase
from .spec import SymbolSpec, VenueSpec
from .wire import fmt8 as fmt

ZERO = Decimal(0)


class FuturesAccountApi(ApiBase):
    def __init__(self, exchange: Exchange, spec: VenueSpec) -> None:
        super().__init__(exchange, spec)
        self.listen_keys: dict[str, str] = {}     # listenKey -> account

    def _totals(self, account: str) -> dict:
        ex = self.exchange
        return ex.futures.totals(account, ex.mark_price, ex.open_order_margin)

    def futures_account(self, account: str) -> dict:
        ex, fut = self.exchange, self.exchange.futures
        t = self._totals(account)
        upd = fut.update_times.get(account, self.now_ms()) or 1
        asset = {"asset": "USDT", "walletBalance": fmt(t["wallet"]), "unrealizedProfit": fmt(t["unrealized"]),
                 "marginBalance": fmt(t["margin_balance"]), "maintMargin": fmt(t["maint_margin"]),
                 "initialMargin": fmt(t["initial_margin"]), "positionInitialMargin": fmt(t["position_initial_margin"]),
                 "openOrderInitialMargin": fmt(t["open_order_initial_margin"]), "crossWalletBalance": fmt(t["wallet"]),
                 "crossUnPnl": fmt(t["unrealized"]), "availableBalance": fmt(t["available"]),
                 "maxWithdrawAmount": fmt(t["available"]), "marginAvailable": True, "updateTime": upd}
        positions = []
        for m in self._markets(True):
            pos = fut.position(account, m.market_id)
            mark = ex.mark_price(m.market_id)
            cfg = fut.config(account, m.market_id)
            positions.append({
                "symbol": m.symbol, "positionSide": "BOTH", "positionAmt": fmt(pos.amount),
                "unrealizedProfit": fmt(fut.unrealized(pos, mark)),
                "isolatedMargin": fmt(self._isolated_margin(account, m)), "notional": fmt(pos.amount * mark),
                "isolatedWallet": fmt(pos.isolated_wallet), "initialMargin": fmt(abs(pos.amount) * mark / cfg.leverage),
                "maintMargin": fmt(fut.maintenance_margin(pos, mark)), "updateTime": pos.update_time,
                "leverage": str(cfg.leverage), "isolated": cfg.margin_type == ISOLATED,
                "entryPrice": fmt(pos.entry_price), "maxNotional": fmt(max_notional_for_leverage(cfg.leverage)),
                "positionInitialMargin": fmt(abs(pos.amount) * mark / cfg.leverage), "openOrderInitialMargin": "0"})
        return {"feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": False, "updateTime": 0,
                "multiAssetsMargin": False, "tradeGroupId": -1,
                "totalInitialMargin": fmt(t["initial_margin"]), "totalMaintMargin": fmt(t["maint_margin"]),
                "totalWalletBalance": fmt(t["wallet"]), "totalUnrealizedProfit": fmt(t["unrealized"]),
                "totalMarginBalance": fmt(t["margin_balance"]),
                "totalPositionInitialMargin": fmt(t["position_initial_margin"]),
                "totalOpenOrderInitialMargin": fmt(t["open_order_initial_margin"]),
                "totalCrossWalletBalance": fmt(t["wallet"]), "totalCrossUnPnl": fmt(t["unrealized"]),
                "availableBalance": fmt(t["available"]), "maxWithdrawAmount": fmt(t["available"]),
                "assets": [asset], "positions": positions}

    def _isolated_margin(self, account: str, m: SymbolSpec) -> Decimal:
        fut = self.exchange.futures
        if fut.config(account, m.market_id).margin_type != ISOLATED:
            return ZERO
        pos = fut.position(account, m.market_id)
        return pos.isolated_wallet + fut.unrealized(pos, self.exchange.mark_price(m.market_id))

    def position_risk(self, p: Params, account: str, v2: bool) -> list:
        ex, fut = self.exchange, self.exchange.futures
        markets = [self._market(p, True)] if p.get("symbol") else self._markets(True)
        out = []
        for m in markets:
            pos = fut.position(account, m.market_id)
            if not v2 and pos.amount == ZERO:
                continue
            mark = ex.mark_price(m.market_id)
            cfg = fut.config(account, m.market_id)
            im = abs(pos.amount) * mark / cfg.leverage
            d = {"symbol": m.symbol, "positionSide": "BOTH", "positionAmt": fmt(pos.amount),
                 "entryPrice": fmt(pos.entry_price), "breakEvenPrice": fmt(pos.entry_price), "markPrice": fmt(mark),
                 "unRealizedProfit": fmt(fut.unrealized(pos, mark)),
                 "liquidationPrice": fmt(fut.liquidation_price(account, m.market_id, ex.mark_price).quantize(m.tick_size)),
                 "isolatedMargin": fmt(self._isolated_margin(account, m)), "notional": fmt(pos.amount * mark),
                 "marginAsset": m.quote, "isolatedWallet": fmt(pos.isolated_wallet), "initialMargin": fmt(im),
                 "maintMargin": fmt(fut.maintenance_margin(pos, mark)), "positionInitialMargin": fmt(im),
                 "openOrderInitialMargin": "0", "adl": 0, "bidNotional": "0", "askNotional": "0",
                 "updateTime": pos.update_time}
            if v2:
                d.update({"leverage": str(cfg.leverage), "marginType": "isolated" if cfg.margin_type == ISOLATED else "cross",
                          "maxNotionalValue": fmt(max_notional_for_leverage(cfg.leverage)), "isAutoAddMargin": "false"})
            out.append(d)
        return out

    def leverage_bracket(self, p: Params) -> Any:
        brackets = [{"bracket": b.bracket, "initialLeverage": b.initial_leverage, "notionalCap": fmt(b.notional_cap),
                     "notionalFloor": fmt(b.notional_floor), "maintMarginRatio": fmt(b.maint_margin_ratio),
                     "cum": fmt(b.cum)} for b in BRACKETS]
        if p.get("symbol"):
            m = self._market(p, True)
            return {"symbol": m.symbol, "notionalCoef": "1.0", "brackets": brackets}
        return [{"symbol": m.symbol, "notionalCoef": "1.0", "brackets": brackets} for m in self._markets(True)]

    def symbol_config(self, p: Params, account: str) -> list:
        markets = [self._market(p, True)] if p.get("symbol") else self._markets(True)
        out = []
        for m in markets:
            cfg = self.exchange.futures.config(account, m.market_id)
            out.append({"symbol": m.symbol, "marginType": cfg.margin_type, "isAutoAddMargin": "false",
                        "leverage": cfg.leverage, "maxNotionalValue": fmt(max_notional_for_leverage(cfg.leverage))})
        return out

    def set_leverage(self, p: Params, account: str) -> dict:
        m = self._market(p, True)
        lev = self.exchange.set_leverage(account, m, p.int("leverage") or 0)
        return {"leverage": lev, "maxNotionalValue": fmt(max_notional_for_leverage(lev)), "symbol": m.symbol}

    def set_margin_type(self, p: Params, account: str) -> dict:
        m = self._market(p, True)
        self.exchange.set_margin_type(account, m, p.req("marginType"))
        return {"code": 200, "msg": "success"}

    def commission(self, p: Params) -> dict:
        m = self._market(p, True)
        return {"symbol": m.symbol, "makerCommissionRate": fmt(self.spec.futures_maker_fee),
                "takerCommissionRate": fmt(self.spec.futures_taker_fee)}

    def new_listen_key(self, account: str) -> dict:
        for key, acct in self.listen_keys.items():
            if acct == account:
                return {"listenKey": key}
        key = secrets.token_urlsafe(48)[:64]
        self.listen_keys[key] = account
        return {"listenKey": key}

    # --- engine events -> user streams ---------------------------------------------------
