"""Per-session message log: one human-readable file per session, both directions, timestamped.

Entries are buffered in memory, formatted once per event-loop turn *after* that turn's socket
writes (:meth:`MessageLog.format`), and handed every 50 ms to one writer thread that does the
file writes (:meth:`MessageLog.flush`): nothing on a reply's latency path, no disk stall on the
event loop, and the writer thread barely needs the GIL. Password(554) and NewPassword(925) are masked.
"""
from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import IO

from fixgw.fix.codec import printable, utc_timestamp
from fixgw.fix.tags import SECRET_TAGS

_SECRET_MARKERS = tuple(f"\x01{t}=".encode() for t in SECRET_TAGS)


class LogWriter:
    """One background thread that writes every session's already formatted log text.

    A ``write()`` that blocks on a busy disk (kernel dirty-page throttling) then stalls only
    this thread, never the event loop that answers the counterparties."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="fixgw-msglog", daemon=True)
        self._thread.start()

    def submit(self, log: "MessageLog", text: str) -> None:
        self._queue.put((log, text))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            log, text = item
            try:
                log.write_text(text)   # the GIL is released during the write itself
            except OSError:
                pass  # a full disk must not take the gateway down; the store is what counts

    def close(self, timeout: float = 10.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)


class MessageLog:
    """The log of one session. ``None``-safe use: sessions without a log get :class:`NullLog`."""

    __slots__ = ("path", "_entries", "_chunks", "_file", "_writer")

    def __init__(self, path: Path, writer: LogWriter | None = None) -> None:
        self.path = path
        self._writer = writer
        # (time, direction, raw message or event text, note): formatted by format(), which the
        # transport calls after each turn's socket writes, so never on a reply's latency path.
        self._entries: list[tuple[float, str, bytes | str, str]] = []
        self._chunks: list[str] = []
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
            # find(), not ``in``: bytes.__contains__ first tries the operand as an integer and
            # formats a TypeError for every bytes operand (~3,700 instructions a test).
            if raw.find(marker) >= 0:
                return printable(raw, SECRET_TAGS)
        return raw.decode("latin-1").replace("\x01", "|")

    def format(self) -> None:
        """Turn buffered entries into text (cheap; done on the event loop after the writes)."""
        if not self._entries:
            return
        text = self._text
        self._chunks.append("".join([f"{utc_timestamp(t)} {d} {text(m)}{note}\n"
                                     for t, d, m, note in self._entries]))
        self._entries = []

    def flush(self) -> None:
        """Hand the formatted text to the writer thread (or write it now without one)."""
        self.format()
        if not self._chunks:
            return
        text = "".join(self._chunks)
        self._chunks = []
        if self._writer is not None:
            self._writer.submit(self, text)
        else:
            self.write_text(text)

    def write_text(self, text: str) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="latin-1")
        self._file.write(text)
        self._file.flush()

    def close(self) -> None:
        """Write what is buffered and close (call after the writer thread was closed)."""
        self.format()
        if self._chunks:
            self.write_text("".join(self._chunks))
            self._chunks = []
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

    def format(self) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass
