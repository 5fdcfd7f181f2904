"""The process that moves the store journal into the SQLite tables.

Why a process and not a thread: applying the journal means Python work (decoding records,
binding hundreds of parameters per INSERT) between SQLite calls, and every such stretch, and
every hand-over back after SQLite released the GIL, is time the gateway's event loop may spend
waiting for the GIL with a message to answer. Measured at 5,000 msg/s, the replies that
overlapped the writer thread's apply made up most of the slowest 1%. In its own process the
applier shares no GIL with the event loop, and it runs at a lower CPU priority, so any
gateway or counterparty thread that wakes takes the CPU from it at once.

What the gateway tells it, one line each on its stdin (positions are ``<generation> <offset>``
in the journal, and everything before a position is complete, since the gateway announces a
position only after the append):

* ``apply G O``: apply everything up to G/O when convenient (the gateway sends it right after
  a turn's socket writes, at most every ``apply_interval_s``);
* ``sync G O``: apply up to G/O now and answer ``ok`` (a resend waits for this);
* ``stop G O``: apply up to G/O, checkpoint the WAL, delete the applied journal files, answer
  ``ok`` and exit (a clean shutdown).

End of file on stdin (the gateway died) makes it exit at once without deleting anything: the
next gateway replays the journal files. Applying is idempotent, so a record applied twice
(after a crash between an apply and the deletion of its file) changes nothing.

It inherits the gateway's lock on the store (``fixgw.db.lock``), so a new gateway cannot take
over the state directory while a previous applier is still writing to it.
"""
from __future__ import annotations

import argparse
import gc
import logging
import os
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from fixgw.session.store_journal import FILE_MAGIC, decode_records, journal_files, journal_path
from fixgw.session.store_sql import apply_turns, open_connection

log = logging.getLogger("fixgw.store")

APPLIER_NICE = 10

Position = tuple[int, int]   # journal generation, byte offset in that generation's file


def read_records(path: Path, start: int, end: int | None) -> tuple[list, int]:
    """The records of ``path`` in ``[start, end)`` (to the zero-filled end when ``end`` is
    None) as turns, and the offset reached. Stops early at a record that is not complete
    and intact (only possible past an announced position, i.e. never within one)."""
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read() if end is None else f.read(end - start)
    batches, reached, clean = decode_records(data, 0)
    if not clean:
        log.error("store applier: record at %s:%d is damaged; stopping there", path,
                  start + reached)
    return [b.as_turn() for b in batches], start + reached


class JournalApplier:
    """Applies the journal files of ``database`` in order, up to announced positions, and
    deletes each file once it is wholly in the tables. Used by the applier process, and by
    the gateway itself when the process cannot be used."""

    def __init__(self, database: Path, synchronous: str = "NORMAL",
                 connection: sqlite3.Connection | None = None) -> None:
        self.database = database
        self.db = connection or open_connection(database, synchronous)
        self.position: Position | None = None   # applied through (None: nothing yet)

    def apply_through(self, target: Position) -> int:
        """Apply every record before ``target``; return how many turns were applied."""
        if self.position is not None and target <= self.position:
            return 0
        generation, offset = target
        current = journal_path(self.database, generation)
        if self.position is not None and self.position[0] == generation and current.exists():
            # The usual case, every few milliseconds: more of the file already being read.
            # No directory listing (it was a tenth of the applier's system time).
            files = [(generation, current)]
        else:
            files = journal_files(self.database)
        turns = []
        finished: list[Path] = []
        reached = self.position
        for g, path in files:
            if g > generation:
                break
            if self.position is not None and g < self.position[0]:
                finished.append(path)             # applied before; its deletion failed
                continue
            start = self.position[1] if self.position is not None and g == self.position[0] \
                else len(FILE_MAGIC)
            file_turns, end = read_records(path, start, offset if g == generation else None)
            turns += file_turns
            reached = (g, end)
            if g < generation:
                finished.append(path)
        if turns:
            apply_turns(self.db, turns)
        for path in finished:
            try:
                path.unlink()
            except FileNotFoundError:
                pass
        # Short of the target only if a record before it was damaged (logged): retried.
        self.position = reached if reached is not None and reached[0] == generation else target
        return len(turns)

    def checkpoint(self, mode: str = "PASSIVE") -> None:
        self.db.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()

    def close(self) -> None:
        self.db.close()


class ApplierUnavailable(RuntimeError):
    """The applier process died, or did not answer in time."""


class ApplierProcess:
    """The gateway's handle on its applier process: start, announce, sync, stop, kill.

    ``announce`` never blocks the event loop (a full pipe just drops the announcement; a later
    one carries a later position). A dead process found by ``announce`` is restarted at once;
    ``sync`` and ``stop`` raise :class:`ApplierUnavailable` and leave the fallback (applying
    in the gateway) to the store."""

    def __init__(self, database: Path, lock_fd: int, synchronous: str,
                 apply_interval_s: float, checkpoint_interval_s: float) -> None:
        self._argv = [sys.executable, "-m", "fixgw.session.store_applier", str(database),
                      "--synchronous", synchronous,
                      "--apply-interval", repr(max(0.01, apply_interval_s)),
                      "--checkpoint-interval", repr(checkpoint_interval_s)]
        self._lock_fd = lock_fd
        self._proc: subprocess.Popen | None = None
        self._replies = b""
        # The event loop and the store's spare thread both announce; start/stop/kill must
        # not interleave with an announcement.
        self._lock = threading.Lock()
        self.restart()

    def restart(self) -> None:
        with self._lock:
            self._kill_locked()
            # The lock fd is inherited on purpose: the store stays locked while this process
            # lives, so no new gateway replays under an applier that is still writing. Its own
            # session: a Ctrl-C meant for the gateway (sent to the terminal's process group)
            # must not kill it, even while it is still starting; the gateway stops it.
            self._proc = subprocess.Popen(self._argv, stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, pass_fds=(self._lock_fd,),
                                          close_fds=True, start_new_session=True)
            os.set_blocking(self._proc.stdin.fileno(), False)
            self._replies = b""

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def announce(self, position: Position) -> None:
        with self._lock:
            if self._proc is None:
                return
            try:
                os.write(self._proc.stdin.fileno(), b"apply %d %d\n" % position)
                return
            except BlockingIOError:
                return
            except OSError as exc:
                log.error("store applier (pid %s) is gone (%s); starting a new one",
                          self.pid, exc)
        self.restart()

    def sync(self, position: Position, timeout_s: float = 30.0) -> None:
        self._request(b"sync %d %d\n" % position, timeout_s)

    def stop(self, position: Position, timeout_s: float = 60.0) -> None:
        self._request(b"stop %d %d\n" % position, timeout_s)
        with self._lock:
            try:
                self._proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                pass
            self._kill_locked()

    def kill(self) -> None:
        with self._lock:
            self._kill_locked()

    def _kill_locked(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass

    def _request(self, line: bytes, timeout_s: float) -> None:
        """Send ``line`` and wait for ``ok`` (blocking: resends and shutdown only)."""
        proc = self._proc
        if proc is None:
            raise ApplierUnavailable("no applier process")
        deadline = time.monotonic() + timeout_s
        out, inp = proc.stdin.fileno(), proc.stdout.fileno()
        view = memoryview(line)
        try:
            while view:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([], [out], [], remaining)[1]:
                    raise ApplierUnavailable("its command pipe stayed full")
                view = view[os.write(out, view):]
            while b"\n" not in self._replies:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([inp], [], [], remaining)[0]:
                    raise ApplierUnavailable(f"no answer within {timeout_s:g} s")
                chunk = os.read(inp, 4096)
                if not chunk:
                    raise ApplierUnavailable(f"it exited (status {proc.poll()})")
                self._replies += chunk
        except OSError as exc:
            raise ApplierUnavailable(str(exc)) from None
        reply, self._replies = self._replies.split(b"\n", 1)
        if reply != b"ok":
            raise ApplierUnavailable(f"unexpected answer {reply!r}")


def _parse_position(parts: list[str]) -> Position:
    return int(parts[0]), int(parts[1])


def serve(database: Path, synchronous: str, apply_interval_s: float,
          checkpoint_interval_s: float, commands: int = 0, replies: int = 1) -> int:
    """The applier process's loop (see the module docstring for the protocol)."""
    applier = JournalApplier(database, synchronous)
    pending: Position | None = None
    last_checkpoint = time.monotonic()
    buffer = b""
    failing = False
    while True:
        ready, _, _ = select.select([commands], [], [], apply_interval_s)
        if ready:
            chunk = os.read(commands, 65536)
            if not chunk:
                return 0                       # the gateway is gone: leave the files as they are
            buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            parts = line.decode().split()
            if not parts:
                continue
            verb, position = parts[0], _parse_position(parts[1:3])
            if verb == "apply":
                pending = max(pending, position) if pending else position
            elif verb in ("sync", "stop"):
                applier.apply_through(max(pending, position) if pending else position)
                pending = None
                if verb == "stop":
                    applier.checkpoint("TRUNCATE")
                    for g, path in journal_files(database):
                        if g <= position[0]:           # later ones: the gateway's spare
                            path.unlink()
                    applier.close()
                    os.write(replies, b"ok\n")
                    return 0
                os.write(replies, b"ok\n")
        try:
            if pending is not None:
                applier.apply_through(pending)
                pending = None
            if time.monotonic() - last_checkpoint >= checkpoint_interval_s:
                last_checkpoint = time.monotonic()
                applier.checkpoint()
            if failing:
                log.warning("store applier: applying the journal works again")
                failing = False
        except sqlite3.Error as exc:
            # The records stay in the journal files: retried at the next round.
            if not failing:
                log.error("store applier: cannot apply the journal to %s yet: %s", database, exc)
                failing = True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="fixgw store journal applier (internal)")
    parser.add_argument("database", type=Path)
    parser.add_argument("--synchronous", default="NORMAL")
    parser.add_argument("--apply-interval", type=float, default=0.5)
    parser.add_argument("--checkpoint-interval", type=float, default=1.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Started in its own session (see ApplierProcess); when run by hand too, Ctrl-C is for
    # the gateway, which then sends ``stop``: this process must still be there to apply.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        os.nice(APPLIER_NICE)
    except OSError:
        pass
    # Decoded records and parameter lists form no reference cycles: without the cyclic
    # collector's passes over them an apply costs ~6 % less CPU (perf profile).
    gc.disable()
    return serve(args.database, args.synchronous, args.apply_interval,
                 args.checkpoint_interval, sys.stdin.fileno(), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
