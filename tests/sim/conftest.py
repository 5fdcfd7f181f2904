"""Helpers for simulator tests: unmodified ccxt pointed at a venue started on port 0."""
from __future__ import annotations

import pytest

from fixgw.sim.server import ccxt_options, ccxt_urls


def point_ccxt(cls, venue, kind: str = "spot", api_key: str | None = None, secret: str | None = None):
    """Only URLs and options are overridden, as ../shared/VENUES.md prescribes."""
    ex = cls({"apiKey": api_key or venue.spec.api_key, "secret": secret or venue.spec.api_secret,
              "enableRateLimit": False, "options": ccxt_options(kind)})
    ex.urls["api"] = ccxt_urls(venue.base_url)
    table = "spot" if kind == "spot" else "linear"
    ex.exceptions["exact"] = {**ex.exceptions["exact"], **ex.exceptions[table]["exact"]}
    return ex


@pytest.fixture
def ccxt_for():
    return point_ccxt
