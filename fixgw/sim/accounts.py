"""Spot balances per account: free and locked amounts per asset.

A resting buy locks price x quantity of the quote asset, a resting sell locks the base
quantity; fills spend from the locked amount and credit the received asset net of fee.
House accounts (the market model) have no ledger entry and are never checked.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Mapping

from .errors import insufficient_balance

ZERO = Decimal(0)


@dataclass(slots=True)
class Balance:
    free: Decimal = ZERO
    locked: Decimal = ZERO


@dataclass
class SpotLedger:
    balances: dict[str, dict[str, Balance]] = field(default_factory=dict)

    def open(self, account: str, funds: Mapping[str, Decimal]) -> None:
        self.balances[account] = {asset: Balance(Decimal(v)) for asset, v in funds.items()}

    def has(self, account: str) -> bool:
        return account in self.balances

    def get(self, account: str, asset: str) -> Balance:
        assets = self.balances[account]
        bal = assets.get(asset)
        if bal is None:
            bal = assets[asset] = Balance()
        return bal

    def lock(self, account: str, asset: str, amount: Decimal) -> None:
        bal = self.get(account, asset)
        if amount > bal.free:
            raise insufficient_balance()
        bal.free -= amount
        bal.locked += amount

    def unlock(self, account: str, asset: str, amount: Decimal) -> None:
        bal = self.get(account, asset)
        bal.locked -= amount
        bal.free += amount

    def spend_locked(self, account: str, asset: str, amount: Decimal) -> None:
        self.get(account, asset).locked -= amount

    def credit(self, account: str, asset: str, amount: Decimal) -> None:
        self.get(account, asset).free += amount
