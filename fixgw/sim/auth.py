"""Request authentication as Binance does it: HMAC-SHA256 (hex) of the exact signed payload.

REST signs the raw query string and/or form body minus the trailing ``signature`` parameter
(query and body concatenated when both carry parameters). The websocket API signs its params
sorted by key as ``k=v&...`` with booleans written ``true``/``false``. Timestamps more than
1 s ahead of the venue's wall clock, or older than ``recvWindow``, are refused with -1021.
Time here is wall time on purpose: ccxt stamps requests with its own wall clock even when the
market runs in compressed time.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any, Callable, Mapping

from . import errors as E

AHEAD_LIMIT_MS = 1000


def split_signature(raw: str) -> tuple[str, str | None]:
    """(payload without the signature parameter, signature or None)."""
    if not raw:
        return "", None
    signature = None
    kept = []
    for part in raw.split("&"):
        if part.startswith("signature="):
            signature = part[len("signature="):]
        else:
            kept.append(part)
    return "&".join(kept), signature


def sign(payload: str, secret: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def verify_signature(payload: str, signature: str | None, secret: str) -> None:
    if not signature:
        raise E.mandatory_param("signature")
    if not hmac.compare_digest(sign(payload, secret), signature.lower()):
        raise E.bad_signature()


def ws_payload(params: Mapping[str, Any]) -> str:
    def text(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)
    return "&".join(f"{k}={text(params[k])}" for k in sorted(params) if k != "signature")


def check_timestamp(params: Mapping[str, Any], max_recv_window: int,
                    wall_ms: Callable[[], float] = lambda: time.time() * 1000) -> None:
    raw_ts = params.get("timestamp")
    if raw_ts in (None, ""):
        raise E.mandatory_param("timestamp")
    try:
        ts = int(str(raw_ts))
        recv = int(str(params.get("recvWindow", 5000)))
    except ValueError:
        raise E.illegal_param("timestamp") from None
    if recv > max_recv_window or recv <= 0:
        raise E.BinanceError(-1131, f"recvWindow must be less than {max_recv_window}.")
    now = wall_ms()
    if ts > now + AHEAD_LIMIT_MS:
        raise E.timestamp_ahead(AHEAD_LIMIT_MS)
    if now - ts > recv:
        raise E.timestamp_outside_recv_window()
