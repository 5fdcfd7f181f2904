"""The hot path's shortcuts give exactly the answers of the slow, obviously-correct paths.

parse's C-level split against the field-by-field walk, the validator's cached per-shape plan
against the exact QuickFIX-order validation, and the encoder against a reference built the
plain way, over hand-picked tricky messages and a few thousand random mutations.
"""
from __future__ import annotations

import itertools
import pathlib
import random

import pytest

from fixgw.fix import codec
from fixgw.fix.dictionary import load_dictionary
from fixgw.fix.validation import ValidationSettings, Validator

DICT = pathlib.Path(__file__).resolve().parents[2] / "dictionaries"
SOH = "\x01"


@pytest.fixture(scope="module")
def dictionary():
    return load_dictionary([DICT / "FIX44.xml", DICT / "FIX44-fixgw.xml"])


def wrap(inner: str, begin: str = "FIX.4.4") -> bytes:
    """A correctly framed message around ``inner`` (``35=...`` up to its last SOH)."""
    head = f"8={begin}{SOH}9={len(inner.encode('latin-1'))}{SOH}{inner}".encode("latin-1")
    return head + f"10={sum(head) % 256:03d}{SOH}".encode()


HEADER = "35=D|34=2|49=TW44|52=20240101-10:00:00.123|56=ISLD|"
NOS = "11=ID1|21=1|38=100|40=2|44=10.5|54=1|55=BTCUSDT|60=20240101-10:00:00.123|"

TRICKY_BODIES = [
    NOS,
    NOS + "58=a=b|",                        # value containing '='
    NOS + "58=|",                           # empty value
    NOS + "58=x|55|",                       # piece without '='
    "11=ID1|55|58=1=2|",                    # missing '=' compensated by an extra one
    NOS + "95=5|96=a|58=|",                 # data field whose value contains SOH and '='
    NOS + "95=3|96=a=b|",                   # data field with '='
    NOS + "0=zero|",                        # tag 0 (outside the tag table)
    NOS + "010=x|",                         # leading zero
    NOS + "12345=big|",                     # tag outside the table
    NOS + "=novalue|",                      # empty tag
    NOS + "-5=neg|",                        # negative tag
    NOS + "58=caf\xe9|",                    # latin-1 byte
]


def sequential(raw: bytes):
    return tuple(codec._parse_sequential(raw.decode("latin-1")))


@pytest.mark.parametrize("body", TRICKY_BODIES)
def test_parse_matches_the_field_by_field_walk(body):
    raw = wrap((HEADER + body).replace("|", SOH))
    try:
        expected = sequential(raw)
    except codec.GarbledMessage:
        with pytest.raises(codec.GarbledMessage):
            codec.parse(raw)
        return
    assert codec.parse(raw).fields == expected


def mutate(rng: random.Random, pieces: list[str]) -> list[str]:
    pieces = list(pieces)
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(pieces))
        tag, _, value = pieces[i].partition("=")
        choice = rng.randrange(9)
        if choice == 0:
            pieces[i] = f"{tag}="                                   # empty value
        elif choice == 1:
            pieces[i] = f"{tag}={value}=x"                          # '=' inside a value
        elif choice == 2:
            del pieces[i]                                           # missing field
        elif choice == 3:
            pieces.insert(rng.randrange(len(pieces) + 1), pieces[i])  # repeated field
        elif choice == 4:
            pieces.insert(rng.randrange(len(pieces) + 1), pieces.pop(i))  # reordered
        elif choice == 5:
            pieces[i] = f"{tag}={rng.choice(['Z', '1.5', '-3', '20241301-00:00:00', 'abc', '9'])}"
        elif choice == 6:
            pieces.insert(i, rng.choice(["9999=x", "58=txt", "97=Y", "78=1", "79=acct",
                                         "453=1", "448=P", "5000=u", "95=2", "96=ab"]))
        elif choice == 7:
            pieces[i] = tag                                         # no '=' at all
        else:
            pieces[i] = f"{tag}={value}{rng.choice(['', ' ', '.', '0'])}"
    return pieces


def random_messages(count: int, seed: int):
    rng = random.Random(seed)
    base = (HEADER + NOS).rstrip("|").split("|")
    for _ in range(count):
        pieces = mutate(rng, base[1:])  # MsgType stays first
        if rng.random() < 0.1:
            pieces[0:0] = [f"35={rng.choice(['D', '0', '1', 'C', 'ZZ'])}"]
        else:
            pieces[0:0] = [base[0]]
        yield wrap(SOH.join(pieces) + SOH)


def test_parse_matches_the_walk_on_random_messages():
    for raw in random_messages(3000, seed=1):
        try:
            expected = sequential(raw)
        except codec.GarbledMessage:
            with pytest.raises(codec.GarbledMessage):
                codec.parse(raw)
            continue
        assert codec.parse(raw).fields == expected, raw


# One of each validation setting off (or on), for the tests that run every shape's plan.
SETTINGS = [ValidationSettings(),
            ValidationSettings(fields_have_values=False),
            ValidationSettings(user_defined_fields=False),
            ValidationSettings(allow_unknown_message_fields=True)]


@pytest.mark.parametrize("settings", SETTINGS)
def test_validation_plan_agrees_with_the_exact_path(dictionary, settings):
    validator = Validator(dictionary, settings)
    reference = Validator(dictionary, settings)
    fast_accepts = 0
    for raw in random_messages(3000, seed=2):
        try:
            msg = codec.parse(raw)
        except codec.GarbledMessage:
            continue
        expected = reference._validate_exact(msg.fields)
        assert validator.validate(msg.fields) == expected, raw
        if validator._valid_fast(msg.fields):
            fast_accepts += 1
            assert expected is None, raw
    assert fast_accepts > 100  # the shortcut is actually exercised


def test_validation_plan_is_rebuilt_when_the_cache_is_full(dictionary):
    validator = Validator(dictionary, ValidationSettings())
    validator.MAX_PLANS = 4
    for raw in random_messages(200, seed=3):
        try:
            fields = codec.parse(raw).fields
        except codec.GarbledMessage:
            continue
        assert validator.validate(fields) == validator._validate_exact(fields)
        assert len(validator._plans) <= 4


def reference_encode(begin: str, msg_type: str, header, body) -> bytes:
    inner = f"35={msg_type}{SOH}" + "".join(f"{t}={v}{SOH}" for t, v in [*header, *body])
    return wrap(inner, begin)


def test_encode_matches_the_plain_construction():
    header = [(34, "7"), (49, "ISLD"), (52, "20240101-10:00:00.123"), (56, "TW44")]
    body = [(11, "A"), (58, "caf\xe9 = ok"), (12345, "big"), (38, "100")]
    assert codec.encode("FIX.4.4", "D", header, body) == \
        reference_encode("FIX.4.4", "D", header, body)
    assert codec.encode("FIX.4.4", "0", header, iter(body)) == \
        reference_encode("FIX.4.4", "0", header, body)  # a one-shot iterable, unknown tag
    for n in range(300):  # every checksum value, zero-padded
        body = [(58, "x" * n)]
        assert codec.encode("FIX.4.4", "j", header, body) == \
            reference_encode("FIX.4.4", "j", header, body)


@pytest.mark.parametrize("size", [0, 1, 255, 256, 257, 511, 512, 513, 5000, 65536])
def test_byte_sum_equals_sum_at_chunk_boundaries(size):
    worst = b"\xff" * size
    assert codec.byte_sum(worst) == sum(worst)
    mixed = bytes(random.Random(size).randrange(256) for _ in range(size))
    assert codec.byte_sum(mixed) == sum(mixed)


def reference_is_float(v: str) -> bool:
    """The FIX float rule spelt out: optional '-', digits, at most one '.', one digit at least."""
    d = v[1:] if v.startswith("-") else v
    whole, _, frac = d.partition(".")
    digits = set("0123456789")
    return bool(whole or frac) and set(whole) <= digits and set(frac) <= digits


def test_float_format_check_on_every_short_string():
    from fixgw.fix.validation import _is_float
    alphabet = ["0", "7", ".", "-", "a", "\u0663", " ", "+", "e"]
    for length in range(6):
        for chars in itertools.product(alphabet, repeat=length):
            value = "".join(chars)
            assert _is_float(value) == reference_is_float(value), value


@pytest.mark.parametrize("value,ok", [
    ("20240101-10:00:00", True), ("20240101-10:00:00.1", True),
    ("20240101-10:00:00.123456789", True), ("20240101-10:00:00.", False),
    ("20240101-10:00:00.1234567890", False), ("20240101-10:00:00x123", False),
    ("20240101-10:00:00.12a", False), ("20240101-10:00:00.\u0663", False),
    ("20240101-10:00:00.-1", False), ("20241301-10:00:00.1", False), ("", False)])
def test_timestamp_format_check(value, ok):
    from fixgw.fix.validation import _is_timestamp
    assert _is_timestamp(value) is ok


@pytest.mark.parametrize("text", ["20240101-10:00:00", "20240101-10:00:00.5", "20240101-10:00:00.",
                                  "20240101-10:00:00x5", "20240101-10:00:0", "20240101 10:00:00",
                                  "20241301-10:00:00", "20240101-10:00:00.5a", ""])
def test_sending_time_parse_is_the_same_with_the_seconds_part_cached(text):
    first = codec.parse_utc_timestamp(text)  # may fill the cache
    assert codec.parse_utc_timestamp(text) == first
    codec._PARSED_TS.clear()
    assert codec.parse_utc_timestamp(text) == first
    if text[:17] == "20240101-10:00:00":
        assert first == (None if text[17:] not in ("", ".5") else
                         1704103200.0 + (0.5 if text.endswith(".5") else 0))


def test_utc_timestamp_millisecond_table_matches_formatting():
    import time as _time
    for now in [1_700_000_000.0, 1_700_000_000.0005, 1_700_000_000.999, 1_700_000_000.9999999,
                1_700_000_001.5, 0.25, -0.5] + [1_700_000_000 + n / 997 for n in range(2000)]:
        second = int(now)
        millis = min(999, int((now - second) * 1000))
        expected = _time.strftime("%Y%m%d-%H:%M:%S", _time.gmtime(second)) + f".{millis:03d}"
        assert codec.utc_timestamp(now) == expected, now


def test_validator_memory_stays_bounded_whatever_the_peer_sends(dictionary):
    validator = Validator(dictionary, ValidationSettings())
    for n in range(3000):                        # endless unknown MsgTypes
        fields = ((8, "FIX.4.4"), (9, "1"), (35, f"X{n}"), (34, "2"), (10, "000"))
        assert validator.validate(fields) is not None
    huge = ((8, "FIX.4.4"), (9, "1"), (35, "D"), (34, "2"),
            *[(58, "x")] * 500, (10, "000"))     # a shape too big to remember
    assert validator.validate(huge) == validator._validate_exact(huge)
    assert len(validator._fast) <= len(dictionary.messages)
    assert len(validator._plans) <= validator.MAX_PLANS
    assert all(len(tags) <= validator.MAX_PLAN_FIELDS for _, tags in validator._plans)


@pytest.mark.parametrize("bad", [(38, 100), (44, __import__("decimal").Decimal("1E+2")), (58, None)])
def test_encode_refuses_values_that_are_not_text(bad):
    with pytest.raises(TypeError):
        codec.encode("FIX.4.4", "D", [(34, "1")], [(11, "A"), bad])
    with pytest.raises(TypeError):
        codec.encode("FIX.4.4", None, [(34, "1")], [(11, "A")])
