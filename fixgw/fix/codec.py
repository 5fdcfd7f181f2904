"""FIX wire codec: stream framing, parsing and encoding, written for the hot path.

Why not simplefix: its parser manages ~22k messages/s per core, which alone would cap the
gateway below QuickFIX. Here a message is framed with ``bytes.find``, its CheckSum computed
by zlib in C (:func:`byte_sum`), decoded once as latin-1 and, when it is simple, split in a few
C-level calls (:func:`_split_simple`); tag numbers go through a table instead of ``int()``.
Encoding builds one string and one bytes object.

Framing follows QuickFIX's ``Parser::readFixMessage`` exactly (find ``8=``, read the
BodyLength, then scan for ``SOH 10=`` from the declared end), because the acceptance suite
feeds deliberately wrong BodyLengths and expects the same message boundaries QuickFIX sees:
a too-long BodyLength swallows the following message, and both are dropped as garbled.
"""
from __future__ import annotations

import time
from typing import Iterable, Sequence
from zlib import adler32

from fixgw.fix.message import FixMessage

SOH = "\x01"
_SOH_B = b"\x01"


class FramingError(Exception):
    """The byte stream cannot be framed within the limits; the connection must be dropped."""


class GarbledMessage(Exception):
    """A framed message that is not valid FIX (bad BodyLength, CheckSum, tag, or 8/9/35 order).

    The session ignores it without advancing its sequence number (FIX spec, QuickFIX)."""


class Framer:
    """Splits a TCP byte stream into candidate FIX messages (QuickFIX's boundaries)."""

    __slots__ = ("_buf", "_max")

    def __init__(self, max_message_bytes: int = 65536) -> None:
        self._buf = b""
        self._max = max_message_bytes

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return every complete message now available (raw bytes).

        Raises :class:`FramingError` when the peer declares or sends more than the size limit
        without completing a message (the caller disconnects)."""
        buf = self._buf + data if self._buf else bytes(data)
        out: list[bytes] = []
        find = buf.find
        pos = 0
        n = len(buf)
        limit = self._max
        while True:
            start = find(b"8=", pos)
            if start < 0:
                # keep a trailing '8' that may start the next message
                pos = n - 1 if n > pos and buf[n - 1:] == b"8" else n
                break
            i = find(b"\x019=", start)
            if i < 0:
                if n - start > limit:
                    raise FramingError("no BodyLength within the message size limit")
                pos = start
                break
            j = find(_SOH_B, i + 3)
            if j < 0:
                if n - start > limit:
                    raise FramingError("BodyLength not terminated")
                pos = start
                break
            length_txt = buf[i + 3:j]
            if not length_txt.isdigit():
                # QuickFIX throws away what it cannot measure and resynchronises on the next 8=
                pos = j + 1
                out.append(buf[start:j + 1])  # delivered so the caller can log/ignore it
                continue
            length = int(length_txt)
            if length > limit:
                raise FramingError(f"BodyLength {length} exceeds the limit of {limit} bytes")
            end_of_body = j + 1 + length
            if n < end_of_body:
                pos = start
                break
            k = find(b"\x0110=", end_of_body - 1)
            if k < 0:
                if n - start > limit + 64:
                    raise FramingError("no CheckSum within the message size limit")
                pos = start
                break
            e = find(_SOH_B, k + 4)
            if e < 0:
                if n - k > 64:
                    raise FramingError("CheckSum not terminated")
                pos = start
                break
            out.append(buf[start:e + 1])
            pos = e + 1
        self._buf = buf[pos:] if pos < n else b""
        return out


# Tag text -> int, for tags seen before (a dict lookup is several times cheaper than int()).
_TAG_CACHE: dict[str, int] = {str(t): t for t in range(1, 10000)}


def _tag_number(text: str) -> int:
    tag = _TAG_CACHE.get(text)
    if tag is not None:
        return tag
    body = text[1:] if text[:1] == "-" else text
    if not body or not body.isascii() or not body.isdigit():
        raise GarbledMessage(f"tag is not an integer: {text[:20]!r}")
    return int(text)


# Length field -> the data field whose value it measures (FIX 4.4). A data value may contain
# SOH, so it is cut by length, not by the next SOH.
DATA_FIELDS: dict[int, int] = {90: 91, 93: 89, 95: 96, 212: 213, 348: 349, 350: 351, 352: 353,
                               354: 355, 356: 357, 358: 359, 360: 361, 362: 363, 364: 365,
                               445: 446, 618: 619, 621: 622}
_DATA_LENGTH_TAGS = frozenset(DATA_FIELDS)


def _parse_sequential(text: str) -> list[tuple[int, str]]:
    """Field by field, honouring length-prefixed data fields (the slow, exact path)."""
    fields: list[tuple[int, str]] = []
    pos = 0
    n = len(text)
    data_tag = data_len = None
    while pos < n:
        eq = text.find("=", pos)
        soh = text.find(SOH, pos)
        if eq < 0 or (0 <= soh < eq):
            raise GarbledMessage(f"field without '=': {text[pos:pos + 20]!r}")
        tag = _tag_number(text[pos:eq])
        if tag == data_tag and data_len is not None:
            end = eq + 1 + data_len
            if end >= n or text[end] != SOH:
                raise GarbledMessage(f"data field {tag} does not match its length {data_len}")
        else:
            end = text.find(SOH, eq + 1)
            if end < 0:
                raise GarbledMessage("last field not terminated")
        value = text[eq + 1:end]
        fields.append((tag, value))
        data_tag = DATA_FIELDS.get(tag)
        data_len = int(value) if data_tag is not None and value.isdigit() else None
        pos = end + 1
    return fields


def parse(raw: bytes) -> FixMessage:
    """Check BodyLength, CheckSum and the 8/9/35 order, and split ``raw`` into fields.

    Raises :class:`GarbledMessage` for anything the spec says to ignore."""
    k = raw.rfind(b"\x0110=")
    if k < 0 or raw[-1:] != _SOH_B:
        raise GarbledMessage("no CheckSum")
    i = raw.find(b"\x019=")
    j = raw.find(_SOH_B, i + 3) if i >= 0 else -1
    if i < 0 or j < 0:
        raise GarbledMessage("no BodyLength")
    length_txt = raw[i + 3:j]
    if not length_txt.isdigit() or int(length_txt) != k + 1 - (j + 1):
        raise GarbledMessage("BodyLength does not match")
    checksum_txt = raw[k + 4:-1]
    if not checksum_txt.isdigit() or int(checksum_txt) != byte_sum(raw[:k + 1]) & 255:
        raise GarbledMessage("CheckSum does not match")
    text = raw.decode("latin-1")
    fields = _split_simple(raw, text)
    if fields is None:
        fields = tuple(_parse_sequential(text))
    if len(fields) < 4 or fields[0][0] != 8 or fields[1][0] != 9 or fields[2][0] != 35:
        raise GarbledMessage("BeginString, BodyLength, MsgType are not the first three fields")
    return FixMessage(fields, raw)


# Every byte except '=' and SOH: deleting them leaves a message's separators in order.
_NOT_SEPARATORS = bytes(b for b in range(256) if b not in b"=\x01")
_ALTERNATING = b"=\x01" * 4096
# Tag text -> int for the tags the simple split may meet: a data-length tag is missing, so
# its lookup fails and the message takes the exact path.
_SIMPLE_TAG_OF = {text: tag for text, tag in _TAG_CACHE.items()
                  if tag not in _DATA_LENGTH_TAGS}.__getitem__


def _split_simple(raw: bytes, text: str) -> tuple[tuple[int, str], ...] | None:
    """The common message in a few C-level calls, or None for the exact path.

    "Simple" means: the separators alternate ``= SOH = SOH ...`` (no value contains '=' or
    SOH, no piece lacks '='), every tag is a known small positive number, and no tag is a
    length field announcing a data value (which may contain SOH). Then replacing SOH by '='
    and splitting yields tag, value, tag, value... exactly as a field-by-field walk would."""
    separators = raw.translate(None, _NOT_SEPARATORS)
    if separators != _ALTERNATING[:len(separators)]:
        return None
    pieces = text.replace(SOH, "=").split("=")
    try:
        return tuple(zip(map(_SIMPLE_TAG_OF, pieces[0:-1:2]), pieces[1::2]))
    except KeyError:
        return None


# ------------------------------------------------------------------------------------------
# Encoding
# ------------------------------------------------------------------------------------------

_PREFIX: dict[int, str] = {t: f"{t}=" for t in range(1, 10000)}


def _prefix(tag: int) -> str:
    p = _PREFIX.get(tag)
    if p is None:
        p = f"{tag}="
        if len(_PREFIX) < 20000:  # tags past 9999 are rare; never let them grow it unbounded
            _PREFIX[tag] = p
    return p


def encode(begin_string: str, msg_type: str, header: Sequence[tuple[int, str]],
           body: Iterable[tuple[int, str]]) -> bytes:
    """Build a complete message: ``8, 9, 35``, ``header`` then ``body`` as given, then ``10``.

    Callers pass header and body already in the order they want on the wire."""
    return frame(begin_string, "35=" + msg_type + SOH + fields_text(header) + fields_text(body))


def fields_text(fields: Iterable[tuple[int, str]]) -> str:
    """``tag=value SOH`` for each field, in the order given.

    Values must be ``str`` (a Decimal or an int is a caller's bug, refused with TypeError
    rather than formatted some way): hence ``+`` and ``join``, never an f-string."""
    if not isinstance(fields, (list, tuple)):
        fields = list(fields)  # read twice when a tag is outside the prefix table
    prefix = _PREFIX
    try:
        pieces = [prefix[t] + v for t, v in fields]
    except KeyError:
        pieces = [_prefix(t) + v for t, v in fields]
    pieces.append("")  # the SOH after the last field
    return SOH.join(pieces)


# "10=nnn SOH" for every checksum value, so a reply's trailer costs a list index.
_CHECKSUM_FIELDS = [b"10=%03d\x01" % n for n in range(256)]


def frame(begin_string: str, inner: str) -> bytes:
    """Wrap ``inner`` (``35=...`` up to the last body field's SOH) into a complete message:
    BeginString and BodyLength before it, CheckSum after it. For callers that build the
    inner text themselves (the session's cached header, see ``SessionCore._build``)."""
    msg = ("8=" + begin_string + "\x019=" + str(len(inner)) + SOH + inner).encode("latin-1")
    return msg + _CHECKSUM_FIELDS[byte_sum(msg) & 255]


# Adler-32's first half is 1 + the byte sum modulo 65521: exact while the sum stays below
# 65521 - 1, which 256 bytes of 0xFF (65280) do.
_ADLER_CHUNK = 256


def byte_sum(data: bytes) -> int:
    """``sum(data)`` (the FIX CheckSum before ``% 256``), computed in C.

    Python's ``sum()`` over bytes costs about 3.5 ns a byte, 0.6 us for a typical message,
    twice per request-reply (check and encode); zlib's adler32 does the same arithmetic
    at memory speed. Chunks of 256 bytes keep its modulo from ever wrapping."""
    if len(data) <= _ADLER_CHUNK:
        return (adler32(data) & 0xFFFF) - 1
    view = memoryview(data)
    return sum([(adler32(view[i:i + _ADLER_CHUNK]) & 0xFFFF) - 1
                for i in range(0, len(data), _ADLER_CHUNK)])


# ------------------------------------------------------------------------------------------
# Timestamps (UTCTimestamp with milliseconds: YYYYMMDD-HH:MM:SS.sss)
# ------------------------------------------------------------------------------------------

# (second, "YYYYMMDD-HH:MM:SS") of the last call. One tuple swapped atomically, because the
# message-log thread formats timestamps too: a torn (second, text) pair would be a wrong 52.
_TS_CACHE: list[tuple[int, str]] = [(-1, "")]


def utc_timestamp(now: float) -> str:
    """``now`` (epoch seconds) as ``YYYYMMDD-HH:MM:SS.sss``; the date part is cached per second."""
    second = int(now)
    millis = int((now - second) * 1000)
    if millis > 999:
        millis = 999
    cached = _TS_CACHE[0]
    if cached[0] == second:
        text = cached[1]
    else:
        text = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(second))
        _TS_CACHE[0] = (second, text)
    if millis < 0:  # before 1970: not a real clock, formatted as it always was
        return f"{text}.{millis:03d}"
    return text + _MILLIS[millis]


_MILLIS = [f".{n:03d}" for n in range(1000)]  # ".000" .. ".999": no formatting per message


_PARSED_TS: dict[str, float] = {}


def parse_utc_timestamp(text: str) -> float | None:
    """``YYYYMMDD-HH:MM:SS[.fff...]`` to epoch seconds, or None when malformed.

    The seconds part is looked up first: only well-formed ones are ever cached, and every
    message of the same second (all of them, at any realistic rate) hits the cache."""
    value = _PARSED_TS.get(text[:17])
    if value is None:
        value = _parse_seconds(text)
        if value is None:
            return None
    if len(text) == 17:
        return value
    frac = text[18:]
    if text[17] != "." or not frac.isdigit():
        return None
    return value + int(frac) / (10 ** len(frac))


def _parse_seconds(text: str) -> float | None:
    if len(text) < 17 or text[8] != "-" or text[11] != ":" or text[14] != ":":
        return None
    base = text[:17]
    try:
        value = float(_timegm(int(base[0:4]), int(base[4:6]), int(base[6:8]),
                              int(base[9:11]), int(base[12:14]), int(base[15:17])))
    except ValueError:
        return None
    if len(_PARSED_TS) > 4096:
        _PARSED_TS.clear()
    _PARSED_TS[base] = value
    return value


def _timegm(year: int, month: int, day: int, hour: int, minute: int, second: int) -> int:
    import calendar
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 60):
        raise ValueError("timestamp out of range")
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))


def printable(raw: bytes | str, secret_tags: Sequence[int] = ()) -> str:
    """One-line, human-readable form of a message (SOH as ``|``) with secret values masked."""
    text = raw.decode("latin-1") if isinstance(raw, (bytes, bytearray)) else raw
    if secret_tags and any(f"\x01{t}=" in text for t in secret_tags):
        pieces = text.split(SOH)
        for n, piece in enumerate(pieces):
            tag, sep, _ = piece.partition("=")
            if sep and tag.isdigit() and int(tag) in secret_tags:
                pieces[n] = f"{tag}=***"
        text = SOH.join(pieces)
    return text.replace(SOH, "|")
