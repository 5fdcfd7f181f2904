"""Codec: QuickFIX-compatible framing, strict parsing, exact encoding."""
from __future__ import annotations

import pytest

from fixgw.fix.codec import (Framer, FramingError, GarbledMessage, encode, parse,
                             parse_utc_timestamp, printable, utc_timestamp)

HDR = [(34, "2"), (49, "TW44"), (52, "20240101-00:00:00.000"), (56, "ISLD")]


def msg(body=((112, "HELLO"),), msg_type="1") -> bytes:
    return encode("FIX.4.4", msg_type, HDR, list(body))


def test_encode_body_length_and_checksum_are_exact():
    raw = encode("FIX.4.4", "A", [(34, "1"), (49, "ISLD"), (52, "20261125-18:00:00.000"),
                                   (56, "TW44")], [(98, "0"), (108, "30")])
    assert raw.startswith(b"8=FIX.4.4\x019=63\x0135=A\x01")
    body = raw[raw.index(b"35="):raw.rindex(b"10=")]
    assert len(body) == 63
    assert raw.endswith(b"10=%03d\x01" % (sum(raw[:raw.rindex(b"10=")]) % 256))


def test_parse_round_trip_keeps_wire_values():
    raw = encode("FIX.4.4", "D", HDR, [(38, "002000.00"), (112, "")])
    m = parse(raw)
    assert m.msg_type == "D" and m.get(38) == "002000.00" and m.get(112) == ""
    assert m.raw == raw and m.fields[0] == (8, "FIX.4.4")


@pytest.mark.parametrize("mutate, why", [
    (lambda r: r.replace(b"10=", b"10=9")[:-1] + b"\x01", "checksum"),
    (lambda r: r.replace(b"9=", b"9=1", 1), "body length"),
    (lambda r: r.replace(b"49=", b"4x9="), "tag"),
    (lambda r: r.replace(b"\x0135=1", b"\x0199=1", 1), "order"),
])
def test_parse_rejects_garbled(mutate, why):
    with pytest.raises(GarbledMessage):
        parse(mutate(msg()))


def test_framer_reassembles_split_input_and_skips_leading_garbage():
    a, b = msg(), msg(((112, "X"),))
    f = Framer()
    stream = b"junk" + a + b
    out = []
    for i in range(0, len(stream), 7):
        out += f.feed(stream[i:i + 7])
    assert out == [a, b]


def test_framer_too_long_body_length_swallows_the_next_message_like_quickfix():
    good = msg()
    length = int(good.split(b"\x01")[1][2:])
    bad = good.replace(b"9=%d" % length, b"9=%d" % (length + 20), 1)  # runs into the next one
    head = bad[:bad.index(b"\x0110=") + 1]
    frames = Framer().feed(bad + good + good)
    # the bad message absorbs the next one; the one after is intact
    assert frames[-1] == good and len(frames) == 2
    with pytest.raises(GarbledMessage):
        parse(frames[0])
    assert frames[0].startswith(head)


def test_framer_limits_huge_body_length_and_endless_lines():
    with pytest.raises(FramingError):
        Framer(1024).feed(b"8=FIX.4.4\x019=99999999\x0135=0\x01")
    f = Framer(1024)
    with pytest.raises(FramingError):
        for _ in range(20):
            f.feed(b"8=FIX.4.4\x01" + b"A" * 200)
    g = Framer(1024)   # bytes without any 8= are dropped, never accumulated
    for _ in range(100):
        assert g.feed(b"x" * 100_000) == []
    assert g.buffered <= 1


def test_timestamps_have_exactly_milliseconds():
    ts = utc_timestamp(1_700_000_000.1234)
    assert ts == "20231114-22:13:20.123"
    assert parse_utc_timestamp(ts) == pytest.approx(1_700_000_000.123)
    assert parse_utc_timestamp("20231114-22:13:20") == 1_700_000_000
    assert parse_utc_timestamp("2023111-22:13:20") is None
    assert parse_utc_timestamp("20231314-22:13:20") is None


def test_printable_masks_passwords():
    raw = encode("FIX.4.4", "A", HDR, [(98, "0"), (108, "30"), (553, "u"), (554, "s3cret")])
    text = printable(raw, (554,))
    assert "s3cret" not in text and "554=***" in text and "553=u" in text


def test_length_prefixed_data_may_contain_soh():
    raw = encode("FIX.4.4", "A", HDR, [(95, "6"), (96, "ab\x01c=d"), (98, "0"), (108, "30")])
    m = parse(raw)
    assert m.get(96) == "ab\x01c=d" and m.get(98) == "0" and m.get(108) == "30"
    bad = encode("FIX.4.4", "A", HDR, [(95, "3"), (96, "ab\x01c=d"), (98, "0"), (108, "30")])
    with pytest.raises(GarbledMessage):
        parse(bad)
