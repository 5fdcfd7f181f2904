"""ccxt exceptions -> :class:`VenueError` kinds, with secrets scrubbed from the text.

The order matters: ccxt's hierarchy nests (RateLimitExceeded < DDoSProtection <
NetworkError; OrderImmediatelyFillable < InvalidOrder; InsufficientFunds < ExchangeError), so
the most specific class is tested first.
"""
from __future__ import annotations

import re

import ccxt

from fixgw.venues.base import VenueError, VenueErrorKind

_TABLE: tuple[tuple[type[BaseException], VenueErrorKind], ...] = (
    (ccxt.OrderImmediatelyFillable, VenueErrorKind.WOULD_TAKE),
    (ccxt.OrderNotFillable, VenueErrorKind.WOULD_TAKE),   # binanceusdm -5022 post-only (GTX)
    (ccxt.InsufficientFunds, VenueErrorKind.INSUFFICIENT_FUNDS),
    (ccxt.OrderNotFound, VenueErrorKind.ORDER_NOT_FOUND),
    (ccxt.RateLimitExceeded, VenueErrorKind.RATE_LIMITED),
    (ccxt.DDoSProtection, VenueErrorKind.RATE_LIMITED),
    (ccxt.AuthenticationError, VenueErrorKind.AUTH),       # includes PermissionDenied...
    (ccxt.PermissionDenied, VenueErrorKind.AUTH),
    (ccxt.InvalidNonce, VenueErrorKind.AUTH),               # -1021 timestamp / recvWindow
    (ccxt.InvalidOrder, VenueErrorKind.INVALID_ORDER),
    (ccxt.BadSymbol, VenueErrorKind.INVALID_ORDER),
    (ccxt.BadRequest, VenueErrorKind.INVALID_ORDER),
    (ccxt.ArgumentsRequired, VenueErrorKind.INVALID_ORDER),
    (ccxt.NetworkError, VenueErrorKind.UNAVAILABLE),        # timeouts, 5xx, maintenance
    (ccxt.ExchangeNotAvailable, VenueErrorKind.UNAVAILABLE),
    (ccxt.ExchangeError, VenueErrorKind.INVALID_ORDER),
)

_SIGNATURE = re.compile(r"(signature|apiKey|listenKey)=[^&\s\"']+", re.IGNORECASE)


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove signatures and any credential value from a message bound for a log or a client."""
    text = _SIGNATURE.sub(r"\1=***", text)
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    if len(text) > 500:
        text = text[:500] + "..."
    return text


def is_duplicate_order(exc: BaseException) -> bool:
    """Binance answers a reused newClientOrderId with -2010 "Duplicate order sent."."""
    return isinstance(exc, ccxt.ExchangeError) and "duplicate order" in str(exc).lower()


def venue_error(venue: str, exc: BaseException, secrets: tuple[str, ...] = ()) -> VenueError:
    kind = VenueErrorKind.UNAVAILABLE
    for cls, k in _TABLE:
        if isinstance(exc, cls):
            kind = k
            break
    message = scrub(_venue_message(exc), secrets)
    err = VenueError(venue, kind, message)
    err.__cause__ = None
    return err


def _venue_message(exc: BaseException) -> str:
    """The venue's own ``msg`` when the body is Binance JSON, else ccxt's text."""
    text = str(exc) or type(exc).__name__
    m = re.search(r'"msg"\s*:\s*"([^"]*)"', text)
    if m:
        code = re.search(r'"code"\s*:\s*(-?\d+)', text)
        return f"{m.group(1)} (code {code.group(1)})" if code else m.group(1)
    return f"{type(exc).__name__}: {text}"
