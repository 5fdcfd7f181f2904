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

from fixgw.fix.accel import speedups
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

    __slots__ = ("_buf", "_max", "_head")

    def __init__(self, max_message_bytes: int = 65536) -> None:
        self._buf = b""
        self._max = max_message_bytes
        # "8=<BeginString> SOH 9=" of the last message (None before one): a message starting
        # with the same bytes has its first "SOH 9=" at the same place (none fits inside them)
        self._head: bytes | None = None

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return every complete message now available (raw bytes).

        Raises :class:`FramingError` when the peer declares or sends more than the size limit
        without completing a message (the caller disconnects)."""
        return [raw for raw, _ in self.feed_framed(data)]

    def feed_framed(self, data: bytes) -> list[tuple[bytes, int]]:
        """:meth:`feed`, each message with the offset of the SOH before its CheckSum field
        when framing proved its BodyLength right (else -1): :func:`parse_shaped` then skips
        measuring it again. Framing found that SOH as the first ``SOH 10=`` at or after the
        declared end, and nothing but the CheckSum value and one SOH follows it, so it is
        also the last one, the one :func:`parse` measures from."""
        head = self._head
        if head is not None and not self._buf and data.__class__ is bytes \
                and data[:len(head)] == head:
            # The usual read: exactly one whole message, in the last one's BeginString. The
            # loop below would find the same boundaries (8= at 0, the first SOH 9= where
            # the head says, SOH 10= at the declared end, a 3-digit CheckSum ending the data)
            # and keep nothing back.
            j = data.find(_SOH_B, len(head))
            length = _LENGTHS.get(data[len(head):j]) if j > 0 else None
            if length is not None and length <= self._max:
                k = j + length
                if data[k:k + 4] == b"\x0110=" and data[k + 4:] in _CHECKSUM_ENDS:
                    return [(data, k)]
        buf = self._buf + data if self._buf else bytes(data)
        out: list[tuple[bytes, int]] = []
        find = buf.find
        pos = 0
        n = len(buf)
        limit = self._max
        while True:
            # Each "x if <slice test> else find(...)" below gives find's answer: the slice
            # test checks the usual spot, which is then the first occurrence.
            start = pos if buf[pos:pos + 2] == b"8=" else find(b"8=", pos)
            if start < 0:
                # keep a trailing '8' that may start the next message
                pos = n - 1 if n > pos and buf[n - 1:] == b"8" else n
                break
            if head is not None and buf[start:start + len(head)] == head:
                i = start + len(head) - 3
            else:
                i = find(b"\x019=", start)
                if i < 0:
                    if n - start > limit:
                        raise FramingError("no BodyLength within the message size limit")
                    pos = start
                    break
                if i - start <= 32:
                    head = self._head = buf[start:i + 3]
            j = find(_SOH_B, i + 3)
            if j < 0:
                if n - start > limit:
                    raise FramingError("BodyLength not terminated")
                pos = start
                break
            length_txt = buf[i + 3:j]
            length = _LENGTHS.get(length_txt)
            if length is None:
                if not length_txt.isdigit():
                    # QuickFIX throws away what it cannot measure and resynchronises on the
                    # next 8=
                    pos = j + 1
                    out.append((buf[start:j + 1], -1))  # delivered so the caller can log it
                    continue
                length = int(length_txt)
                if len(_LENGTHS) < 4096:
                    _LENGTHS[length_txt] = length
            if length > limit:
                raise FramingError(f"BodyLength {length} exceeds the limit of {limit} bytes")
            end_of_body = j + 1 + length
            if n < end_of_body:
                pos = start
                break
            k = end_of_body - 1 if buf[end_of_body - 1:end_of_body + 3] == b"\x0110=" \
                else find(b"\x0110=", end_of_body - 1)
            if k < 0:
                if n - start > limit + 64:
                    raise FramingError("no CheckSum within the message size limit")
                pos = start
                break
            e = k + 7 if buf[k + 4:k + 8] in _CHECKSUM_ENDS else find(_SOH_B, k + 4)
            if e < 0:
                if n - k > 64:
                    raise FramingError("CheckSum not terminated")
                pos = start
                break
            out.append((buf[start:e + 1], k - start if k == end_of_body - 1 else -1))
            pos = e + 1
            if pos == n:    # the usual read: whole messages, nothing left to search
                break
        self._buf = buf[pos:] if pos < n else b""
        return out


# "nnn SOH": a three-digit CheckSum value and its SOH
_CHECKSUM_ENDS = frozenset(b"%03d\x01" % n for n in range(1000))

# BodyLength text -> its value, for the few lengths a peer's messages have (int() of bytes
# is slow); only digit strings are ever added, at most 4096 of them.
_LENGTHS: dict[bytes, int] = {}

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
    return parse_shaped(raw)[0]


def parse_shaped(raw: bytes, checksum_at: int = -1) -> tuple[FixMessage, str | None]:
    """:func:`parse`, plus the message's *shape* when it is simple (else None).

    The shape is a string naming the MsgType and the tag sequence (the sixth piece, which
    is the MsgType when the third tag is 35, then SOH and the tags' text joined by SOH; a
    simple message has no SOH in a value): equal strings, equal shapes, so the session can keep
    per-shape decisions under it. ``checksum_at`` is :meth:`Framer.feed_framed`'s proof of
    the BodyLength (the offset of the SOH before ``10=``), or -1 to measure it here."""
    if checksum_at > 0:
        if _split_canonical is not None:
            found = _split_canonical(raw, checksum_at, _SHAPE_TAGS)
            if found is not None:     # exactly the simple split below, done in C
                msg = _new_object(FixMessage)
                _set_fields(msg, found[0])
                _set_raw(msg, raw)
                return msg, found[1]
        k = checksum_at
    else:
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
    summed = raw[:k + 1]
    if len(summed) <= _ADLER_CHUNK:     # byte_sum, inline for the usual short message
        expected = ((adler32(summed) & 0xFFFF) - 1) & 255
    else:
        expected = byte_sum(summed) & 255
    if checksum_txt != _CHECKSUM_DIGITS[expected] and (
            not checksum_txt.isdigit() or int(checksum_txt) != expected):
        raise GarbledMessage("CheckSum does not match")
    text = raw.decode("latin-1")
    # The simple split (see _simple_tags): the separators alternate = SOH = SOH ..., so
    # replacing SOH by '=' and splitting gives tag, value, tag, value ... exactly as the
    # field-by-field walk would; the tag texts joined are the shape, whose tag numbers are
    # looked up once per shape.
    shape = None
    separators = raw.translate(None, _NOT_SEPARATORS)
    if separators == _ALTERNATING[:len(separators)]:
        pieces = text.replace(SOH, "=").split("=")
        tag_texts = pieces[0:-1:2]
        # the MsgType (no SOH in a simple message), SOH, then the tags' text
        shape = f"{pieces[5] if len(pieces) > 5 else ''}\x01{SOH.join(tag_texts)}"
        tags = _SHAPE_TAGS.get(shape)
        if tags is None:
            tags = _simple_tags(tag_texts, shape)
        if tags:
            msg = _new_object(FixMessage)       # _new_message, inline
            _set_fields(msg, tuple(zip(tags, pieces[1::2])))
            _set_raw(msg, raw)
            return msg, shape
        shape = None
    fields = tuple(_parse_sequential(text))
    if len(fields) < 4 or fields[0][0] != 8 or fields[1][0] != 9 or fields[2][0] != 35:
        raise GarbledMessage("BeginString, BodyLength, MsgType are not the first three fields")
    return _new_message(fields, raw), shape


# The simple split of a framed message with a canonical CheckSum, in C when the optional
# extension was built (fixgw/fix/accel.py): (fields, shape) exactly as the Python code gives
# them, or None to let the Python code decide (any doubt, a wrong CheckSum, a shape not yet
# cached).
_split_canonical = speedups.split_canonical if speedups is not None else None
_frame_tail_c = speedups.frame_tail if speedups is not None else None


# FixMessage(fields, raw) without its frozen dataclass __init__ (two object.__setattr__
# calls through Python): the same two slots set from C. Only for the parser, which knows
# both values are right; tests check the result equals FixMessage(fields, raw).
_new_object = object.__new__
_set_fields = FixMessage.fields.__set__
_set_raw = FixMessage.raw.__set__


def _new_message(fields: tuple[tuple[int, str], ...], raw: bytes) -> FixMessage:
    msg = _new_object(FixMessage)
    _set_fields(msg, fields)
    _set_raw(msg, raw)
    return msg


# "nnn" (zero-padded) for each CheckSum value: the usual spelling compares without int().
_CHECKSUM_DIGITS = [b"%03d" % n for n in range(256)]


# Every byte except '=' and SOH: deleting them leaves a message's separators in order.
_NOT_SEPARATORS = bytes(b for b in range(256) if b not in b"=\x01")
_ALTERNATING = b"=\x01" * 4096
# Tag text -> int for the tags the simple split may meet: a data-length tag is missing, so
# its lookup fails and the message takes the exact path.
_SIMPLE_TAG_OF = {text: tag for text, tag in _TAG_CACHE.items()
                  if tag not in _DATA_LENGTH_TAGS}.__getitem__


# shape -> its tag numbers, or () when the shape is not simple (see _simple_tags). Shapes of
# messages over MAX_SHAPE_TEXT characters of tags are not remembered (memory stays bounded).
_SHAPE_TAGS: dict[str, tuple[int, ...]] = {}
MAX_SHAPES = 2048
MAX_SHAPE_TEXT = 640


def _simple_tags(tag_texts: list[str], shape: str) -> tuple[int, ...]:
    """The tag numbers of a message whose separators alternate, or () when it is not simple.

    "Simple" means: the separators alternate ``= SOH = SOH ...`` (no value contains '=' or
    SOH, no piece lacks '='; the caller checked), every tag is a known small positive number,
    no tag is a length field announcing a data value (which may contain SOH), and the first
    three are 8, 9, 35. Then replacing SOH by '=' and splitting yields tag, value, tag,
    value... exactly as a field-by-field walk would."""
    try:
        tags = tuple(map(_SIMPLE_TAG_OF, tag_texts))
    except KeyError:
        tags = ()
    if len(tags) < 4 or tags[0] != 8 or tags[1] != 9 or tags[2] != 35:
        tags = ()   # the walk decides (and raises the same GarbledMessage)
    if len(shape) <= MAX_SHAPE_TEXT:
        if len(_SHAPE_TAGS) >= MAX_SHAPES:
            _SHAPE_TAGS.clear()
        _SHAPE_TAGS[shape] = tags
    return tags


def _split_simple(raw: bytes, text: str) -> tuple[tuple[int, str], ...] | None:
    """The simple split alone (what :func:`parse_shaped` does inline), or None for the exact
    path; kept for the tests that compare it with the walk."""
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


def frame_tail(begin_string: str, head: str, tail: bytes) -> bytes:
    """:func:`frame` of ``head`` followed by ``tail``, fields already on the wire as bytes
    (a run of fields copied from a received message, see ``SessionCore.send_app``): the
    same bytes as ``frame(begin_string, head + tail.decode("latin-1"))``."""
    if _frame_tail_c is not None:
        framed = _frame_tail_c(begin_string, head, tail)
        if framed is not None:      # the same bytes, from the optional C extension
            return framed
    if begin_string.__class__ is not str or head.__class__ is not str:
        raise TypeError("frame_tail needs str BeginString and head")
    msg = f"8={begin_string}\x019={len(head) + len(tail)}\x01{head}".encode("latin-1") + tail
    if len(msg) <= _ADLER_CHUNK:
        return msg + _CHECKSUM_FIELDS[((adler32(msg) & 0xFFFF) - 1) & 255]
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
    if text[17] != ".":
        return None
    seconds = _FRACTIONS.get(frac)    # milliseconds: the same float, from a table
    if seconds is not None:
        return value + seconds
    if not frac.isdigit():
        return None
    return value + int(frac) / (10 ** len(frac))


# "000".."999" -> int(frac) / 10 ** 3 (the very expression parse_utc_timestamp uses)
_FRACTIONS = {f"{n:03d}": int(f"{n:03d}") / (10 ** 3) for n in range(1000)}


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
