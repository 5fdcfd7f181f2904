"""Per-session message log: one human-readable file per session, both directions, timestamped.

Entries are buffered in memory and formatted and written by :meth:`MessageLog.flush`, which
the transport calls once per event-loop turn after the turn's socket writes, so logging costs
one ``write`` per turn and nothing on a reply's latency path. Password(554) and NewPassword(925) are masked.
"""
from __future__ import annotations

from pathlib import Path
from typing import IO

from fixgw.fix.codec import printable, utc_timestamp
from fixgw.fix.tags import SECRET_TAGS

_SECRET_MARKERS = tuple(f"\x01{t}=".encode() for t in SECRET_TAGS)


class MessageLog:
    """The log of one session. ``None``-safe use: sessions without a log get :class:`NullLog`."""

    __slots__ = ("path", "_entries", "_file")

    def __init__(self, path: Path) -> None:
        self.path = path
        # (time, direction, raw message or event text, note); formatted at flush time, which
        # the transport runs after the turn's socket writes: no formatting on the reply path.
        self._entries: list[tuple[float, str, bytes | str, str]] = []
        self._file: IO[str] | None = None

    def incoming(self, raw: bytes, now: float) -> None:
        self._entries.append((now, "IN ", raw, ""))

    def outgoing(self, raw: bytes, now: float, note: str = "") -> None:
        self._entries.append((now, "OUT", raw, note))

    def event(self, text: str, now: float) -> None:
        self._entries.append((now, "---", text, ""))

    @staticmethod
    def _text(raw: bytes | str) -> str:
        if isinstance(raw, str):
            return raw
        for marker in _SECRET_MARKERS:
            if marker in raw:
                return printable(raw, SECRET_TAGS)
        return raw.decode("latin-1").replace("\x01", "|")

    def flush(self) -> None:
        if not self._entries:
            return
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="latin-1")
        text = self._text
        self._file.write("".join([f"{utc_timestamp(t)} {d} {text(m)}{note}\n"
                                  for t, d, m, note in self._entries]))
        self._entries.clear()
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
