"""Point a Binance-style ccxt exchange at another host (a simulated or self-hosted venue).

The one place where ccxt's URLs are rewritten (VENUES.md): ``hostname`` does not help for
Binance, so every key of the class's ``urls['api']`` is rebased onto ``base_url`` keeping its
path (``https://api.binance.com/api/v3`` -> ``http://HOST:PORT/api/v3``), so nothing can leak
to the real host; the websocket URLs get the layout the embedded venue serves. The spot
stream URL must contain ``/stream`` (ccxt tells spot from linear books by it).
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def _rebase(url: str, base: str) -> str:
    parts = urlsplit(url)
    path = parts.path or ""
    query = f"?{parts.query}" if parts.query else ""
    return f"{base}{path}{query}"


def ws_base_from_http(base_url: str) -> str:
    if base_url.startswith("https://"):
        return "wss://" + base_url[len("https://"):]
    if base_url.startswith("http://"):
        return "ws://" + base_url[len("http://"):]
    raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")


def rebased_api_urls(class_api_urls: dict[str, Any], base_url: str, ws_url: str | None = None
                     ) -> dict[str, Any]:
    """A new ``urls['api']`` for an exchange whose class URLs are ``class_api_urls``."""
    base = base_url.rstrip("/")
    ws = (ws_url or ws_base_from_http(base)).rstrip("/")
    api: dict[str, Any] = {}
    for key, value in class_api_urls.items():
        if key == "ws":
            continue
        api[key] = _rebase(value, base) if isinstance(value, str) else value
    ws_urls: dict[str, Any] = {}
    for key, value in (class_api_urls.get("ws") or {}).items():
        if isinstance(value, str):
            ws_urls[key] = _rebase(value, ws)
        elif isinstance(value, dict):
            ws_urls[key] = {k: _rebase(v, ws) for k, v in value.items()}
    ws_urls.update({
        "spot": f"{ws}/stream/ws",
        "margin": f"{ws}/stream/ws",
        "linear": f"{ws}/fstream/ws",
        "inverse": f"{ws}/dstream/ws",
    })
    ws_api = dict(ws_urls.get("ws-api") or {})
    ws_api["spot"] = f"{ws}/ws-api/v3"
    ws_api["linear"] = f"{ws}/ws-fapi/v1"
    ws_urls["ws-api"] = ws_api
    api["ws"] = ws_urls
    return api
