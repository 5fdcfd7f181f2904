"""The session store's append-only journal: what makes a store commit cost one memory copy.

Why it exists: the transport must make every turn's sequence numbers and outgoing messages
durable *before* it writes the bytes to the sockets. An SQLite transaction does that in ~25 us
of CPU (BEGIN, two statements, COMMIT, WAL and shm bookkeeping), which was a third of the
gateway's time on a lone message. Appending one framed record to a memory-mapped file costs
~1 us (encoding included) and gives the same guarantee SQLite's ``synchronous=normal`` gives:
once the copy is done, the bytes are in the kernel's page cache and survive the process being
killed (add ``msync`` for power loss, as ``synchronous=full`` does). A separate process
(:mod:`fixgw.session.store_applier`) then applies the records to the SQLite tables in
batches; SQLite stays the store everything reads.

Records are framed and checksummed, so a record torn by a crash (only the last one can be,
records are written in order by one writer) is recognised and dropped; the bytes of a torn
record never reached a socket, because the socket write comes after the append.

Replaying the journal onto the tables is idempotent (messages and sequence numbers are
last-writer-wins, a reset deletes by session key), so a crash between an apply and the removal
of the applied journal file only means the same records are applied twice.

File layout: ``<database>.seqjournal.<generation>``, each starting with :data:`FILE_MAGIC`,
then records ``<u32 payload length><u32 crc32(payload)><payload>``. The payload is a sequence
of entries, each a one-byte kind and fixed-size struct followed by the session key (UTF-8) and,
for messages, the raw FIX bytes:

* ``M`` a stored outgoing message: key, seq, raw
* ``S`` the sequence numbers of a session: key, next sender, next target, creation time
* ``R`` a reset: every stored message of the key is dropped (comes before the batch's ``M``s)

Files are preallocated (see :class:`JournalFile`), so the records are followed by zeros up to
the file's capacity; a record header of length 0 marks the end.
"""
from __future__ import annotations

import logging
import mmap
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from fixgw.fix.accel import speedups

log = logging.getLogger("fixgw.store")

FILE_MAGIC = b"FIXGW-SEQJOURNAL-1\n"
_RECORD_HEAD = struct.Struct("<II")           # payload length, crc32
_MESSAGE = struct.Struct("<cHQI")             # b"M", key length, seq, raw length
_SEQNUMS = struct.Struct("<cHQQd")            # b"S", key length, next sender, next target, created
_RESET = struct.Struct("<cH")                 # b"R", key length


@dataclass(frozen=True, slots=True)
class SeqnumEntry:
    key: str
    next_sender: int
    next_target: int
    created: float


@dataclass(slots=True)
class Batch:
    """One committed turn (or several merged): applied to the tables in this order."""
    resets: list[str] = field(default_factory=list)
    messages: list[tuple[str, int, bytes]] = field(default_factory=list)
    seqnums: dict[str, SeqnumEntry] = field(default_factory=dict)   # the last per key wins

    def extend(self, other: "Batch") -> None:
        """Append a later batch. Resets must stay ordered with the messages around them, so
        a reset in ``other`` drops the messages of that key already collected here."""
        if other.resets:
            dropped = set(other.resets)
            self.messages = [m for m in self.messages if m[0] not in dropped]
            self.resets.extend(other.resets)
        self.messages.extend(other.messages)
        self.seqnums.update(other.seqnums)

    def as_turn(self) -> tuple[list[str], list[tuple[str, int, bytes]], list["SeqnumTuple"]]:
        """The batch in the shape the store's commit and the SQLite apply use."""
        return (self.resets, self.messages,
                [(e.key, e.next_sender, e.next_target, e.created) for e in self.seqnums.values()])


SeqnumTuple = tuple[str, int, int, float]   # key, next sender, next target, created

_KEY_BYTES: dict[str, bytes] = {}


def _key_bytes(key: str) -> bytes:
    """UTF-8 of a session key, cached: a commit encodes the same one or two keys every time."""
    encoded = _KEY_BYTES.get(key)
    if encoded is None:
        if len(_KEY_BYTES) >= 1024:
            _KEY_BYTES.clear()
        encoded = _KEY_BYTES[key] = key.encode()
    return encoded


def encode_turn(resets: list[str], messages: list[tuple[str, int, bytes]],
                seqnums: list[SeqnumTuple]) -> bytes:
    """One journal record for one commit, built from the store's pending lists as they are.

    This runs on the event loop before every reply, so it makes no objects beyond the parts
    it joins."""
    parts: list[bytes] = []
    append = parts.append
    for key in resets:
        k = _key_bytes(key)
        append(_RESET.pack(b"R", len(k)))
        append(k)
    message_head = _MESSAGE.pack
    for key, seq, raw in messages:
        k = _key_bytes(key)
        append(message_head(b"M", len(k), seq, len(raw)))
        append(k)
        append(raw)
    for key, sender, target, created in seqnums:
        k = _key_bytes(key)
        append(_SEQNUMS.pack(b"S", len(k), sender, target, created))
        append(k)
    payload = b"".join(parts)
    return _RECORD_HEAD.pack(len(payload), zlib.crc32(payload)) + payload


# The same record built in C when the optional extension was built (fixgw/fix/accel.py). It
# answers None when it would not pack an entry exactly as encode_turn does (the store then
# calls encode_turn, which raises what it always raised); tests/session/test_session_store_journal.py
# compares the two.
encode_turn_c = speedups.encode_turn if speedups is not None else None


def encode_record(resets: list[str], messages: list[tuple[str, int, bytes]],
                  seqnums: Iterable[SeqnumEntry]) -> bytes:
    return encode_turn(resets, messages,
                       [(s.key, s.next_sender, s.next_target, s.created) for s in seqnums])


class CorruptRecord(ValueError):
    pass


def decode_payload(payload: bytes) -> Batch:
    batch = Batch()
    pos = 0
    n = len(payload)
    try:
        while pos < n:
            kind = payload[pos:pos + 1]
            if kind == b"M":
                _, klen, seq, rlen = _MESSAGE.unpack_from(payload, pos)
                pos += _MESSAGE.size
                key = payload[pos:pos + klen].decode()
                pos += klen
                raw = payload[pos:pos + rlen]
                if len(raw) != rlen:
                    raise CorruptRecord("message shorter than its length")
                pos += rlen
                batch.messages.append((key, seq, raw))
            elif kind == b"S":
                _, klen, sender, target, created = _SEQNUMS.unpack_from(payload, pos)
                pos += _SEQNUMS.size
                key = payload[pos:pos + klen].decode()
                pos += klen
                batch.seqnums[key] = SeqnumEntry(key, sender, target, created)
            elif kind == b"R":
                _, klen = _RESET.unpack_from(payload, pos)
                pos += _RESET.size
                batch.resets.append(payload[pos:pos + klen].decode())
                pos += klen
            else:
                raise CorruptRecord(f"unknown entry kind {kind!r}")
    except (struct.error, UnicodeDecodeError) as exc:
        raise CorruptRecord(str(exc)) from None
    if pos != n:
        raise CorruptRecord("entry runs past the record")
    return batch


def decode_records(data: bytes, start: int) -> tuple[list[Batch], int, bool]:
    """The intact records of ``data`` from ``start`` on, the offset after the last of them,
    and whether what follows is a clean end (the end of ``data``, or the zero-filled unused
    tail of a preallocated file) rather than a torn or corrupt record."""
    batches: list[Batch] = []
    pos = start
    n = len(data)
    while pos < n:
        if n - pos < _RECORD_HEAD.size:
            return batches, pos, _all_zero(data, pos)
        length, crc = _RECORD_HEAD.unpack_from(data, pos)
        if length == 0:
            # The never-written tail of a preallocated file (no record is empty). Anything
            # but zeros after it is damage: say so.
            return batches, pos, _all_zero(data, pos)
        payload_start = pos + _RECORD_HEAD.size
        payload = data[payload_start:payload_start + length]
        if len(payload) != length or zlib.crc32(payload) != crc:
            return batches, pos, False
        try:
            batches.append(decode_payload(payload))
        except CorruptRecord:
            return batches, pos, False
        pos = payload_start + length
    return batches, pos, True


def read_journal(path: Path) -> tuple[Batch, bool]:
    """Every intact record of one journal file, merged in order, and whether the file ended
    cleanly (False: a torn or corrupt tail was dropped)."""
    data = path.read_bytes()
    batch = Batch()
    if not data.startswith(FILE_MAGIC):
        return batch, len(data) == 0
    batches, _, clean = decode_records(data, len(FILE_MAGIC))
    for b in batches:
        batch.extend(b)
    return batch, clean


def _all_zero(data: bytes, start: int) -> bool:
    return data.count(b"\x00", start) == len(data) - start


def journal_path(database: Path, generation: int) -> Path:
    """The file of one journal generation of ``database``."""
    return database.with_name(f"{database.name}.seqjournal.{generation}")


def journal_files(database: Path) -> list[tuple[int, Path]]:
    """Existing journal files of ``database``, oldest generation first."""
    prefix = database.name + ".seqjournal."
    found = []
    for candidate in database.parent.glob(prefix + "*"):
        suffix = candidate.name[len(prefix):]
        if suffix.isdigit():
            found.append((int(suffix), candidate))
    return sorted(found)


_PAGE = mmap.PAGESIZE
_ZEROS = memoryview(bytes(1 << 20))    # backed by the kernel's zero page until written from


class JournalFile:
    """One generation: a file of fixed capacity, reserved on disk and mapped into memory, so
    an append is a copy into the mapping rather than a ``write()`` system call.

    Why mapped: the append is on every reply's path. A copy into a page that is already
    mapped writable costs ~0.2 us against ~0.8-3 us for ``write()``, with the same guarantee:
    the bytes are in the kernel's page cache the moment the copy ends, so they survive the
    process being killed (``sync_each_write`` adds an ``msync`` for power loss).

    Why written and mapped up front (:meth:`create` does it, on the store's spare thread for
    the next generation): writing the file first makes a full disk an ``OSError`` here rather
    than a SIGBUS on some later copy, and leaves only minor page faults for the reply path
    (a sparse file's first write to a page took up to ~1 ms on ext4). The unused tail of a
    file is zeros, which :func:`read_journal` reads as its end."""

    def __init__(self, path: Path, generation: int, capacity: int, fd: int, mapping: mmap.mmap,
                 sync_each_write: bool) -> None:
        self.path = path
        self.generation = generation
        self.capacity = capacity
        self._fd = fd
        self._map: mmap.mmap | None = mapping
        self._sync = sync_each_write
        self.size = 0
        self.append(FILE_MAGIC)

    @classmethod
    def create(cls, database: Path, generation: int, sync_each_write: bool,
               capacity: int = 4 << 20) -> "JournalFile":
        path = journal_path(database, generation)
        capacity = max(_PAGE, -(-capacity // _PAGE) * _PAGE)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            # Writing the zeros allocates the blocks (a full disk fails here) and puts every
            # page in the page cache, so a first copy into a page is only a minor fault. Both
            # release the GIL; mmap() does not, which is why it must not populate (MAP_POPULATE
            # held the GIL for 1-2.5 ms, and the event loop with it).
            offset = 0
            while offset < capacity:
                offset += os.pwrite(fd, _ZEROS[:capacity - offset], offset)
            mapping = mmap.mmap(fd, capacity, flags=mmap.MAP_SHARED)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        return cls(path, generation, capacity, fd, mapping, sync_each_write)

    def fits(self, size: int) -> bool:
        return self.size + size <= self.capacity

    def append(self, data: bytes) -> None:
        start = self.size
        end = start + len(data)
        self._map[start:end] = data        # IndexError past the capacity: callers check fits()
        self.size = end
        if self._sync:
            first_page = start - start % _PAGE
            self._map.flush(first_page, end - first_page)

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
            os.close(self._fd)
            self._fd = -1

    def remove(self) -> None:
        self.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
