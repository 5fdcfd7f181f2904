"""Per-session message log: one human-readable file per session, both directions, timestamped.

Entries are buffered in memory and formatted and written by :meth:`MessageLog.flush`, which
the transport calls once per event-loop turn after the turn's socket writes, so logging costs
one ``write`` per turn and nothing on a reply's latency path. Password(554) and NewPassword(925) are masked.
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
    """One background thread that formats and writes every session's log entries.

    A ``write()`` that blocks on a busy disk (kernel dirty-page throttling) then stalls only
    this thread, never the event loop that answers the counterparties."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="fixgw-msglog", daemon=True)
        self._thread.start()

    def submit(self, log: "MessageLog", entries: list) -> None:
        self._queue.put((log, entries))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            log, entries = item
            try:
                log.write_entries(entries)
            except OSError:
                pass  # a full disk must not take the gateway down; the store is what counts

    def close(self, timeout: float = 10.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)


class MessageLog:
    """The log of one session. ``None``-safe use: sessions without a log get :class:`NullLog`."""

    __slots__ = ("path", "_entries", "_file", "_writer")

    def __init__(self, path: Path, writer: LogWriter | None = None) -> None:
        self.path = path
        self._writer = writer
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
        """Hand the buffered entries to the writer thread (or write them now without one)."""
        if not self._entries:
            return
        entries = self._entries
        self._entries = []
        if self._writer is not None:
            self._writer.submit(self, entries)
        else:
            self.write_entries(entries)

    def write_entries(self, entries: list) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="latin-1")
        text = self._text
        self._file.write("".join([f"{utc_timestamp(t)} {d} {text(m)}{note}\n"
                                  for t, d, m, note in entries]))
        self._file.flush()

    def close(self) -> None:
        """Write what is buffered and close (call after the writer thread was closed)."""
        if self._entries:
            self.write_entries(self._entries)
            self._entries = []
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
