"""Per-session message log: one human-readable file per session, both directions, timestamped.

Lines are buffered in memory and written by :meth:`MessageLogs.flush`, which the transport
calls once per event-loop turn (after the store commit), so logging costs one ``write`` per
turn rather than one per message. Password(554) and NewPassword(925) are masked.
"""
from __future__ import annotations

from pathlib import Path
from typing import IO

from fixgw.fix.codec import printable, utc_timestamp
from fixgw.fix.tags import SECRET_TAGS

_SECRET_MARKERS = tuple(f"\x01{t}=".encode() for t in SECRET_TAGS)


class MessageLog:
    """The log of one session. ``None``-safe use: sessions without a log get :class:`NullLog`."""

    __slots__ = ("path", "_lines", "_file")

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lines: list[str] = []
        self._file: IO[str] | None = None

    def incoming(self, raw: bytes, now: float) -> None:
        self._lines.append(f"{utc_timestamp(now)} IN  {self._text(raw)}\n")

    def outgoing(self, raw: bytes, now: float, note: str = "") -> None:
        self._lines.append(f"{utc_timestamp(now)} OUT {self._text(raw)}{note}\n")

    def event(self, text: str, now: float) -> None:
        self._lines.append(f"{utc_timestamp(now)} --- {text}\n")

    @staticmethod
    def _text(raw: bytes) -> str:
        for marker in _SECRET_MARKERS:
            if marker in raw:
                return printable(raw, SECRET_TAGS)
        return raw.decode("latin-1").replace("\x01", "|")

    def flush(self) -> None:
        if not self._lines:
            return
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="latin-1")
        self._file.write("".join(self._lines))
        self._lines.clear()
        self._file.flush()

    def close(self) -> None:
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None


class NullLog:
    __slots__ = ()

    def incoming(self, raw: bytes, now: float) -> None:
        pass

    def outgoing(self, raw: bytes, now: float, note: str = "") -> None:
        pass

    def event(self, text: str, now: float) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass
