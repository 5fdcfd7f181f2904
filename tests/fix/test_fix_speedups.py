"""The optional C speedups (fixgw/fix/_speedups.c) give exactly what the Python code gives.

* ``parse_shaped(raw, checksum_at)`` with the C split on and off, over hand-picked and a few
  thousand randomly mutated messages (bad CheckSums and BodyLengths, '=' in values, latin-1
  bytes, empty values, odd tags, long messages): the same fields, raw, shape, or the same
  error. The C split itself answers None (never raises, never crashes) whenever it is not
  sure.
* ``Validator.values_pass`` in C against the Python method, for every plan the validator
  makes of those messages under each validation setting, and for hand-picked values of each
  inline check (Unicode digits, signs, dots, timestamps).
"""
from __future__ import annotations

import os
import random
import shutil
import sysconfig
from pathlib import Path

import pytest

from fixgw.fix import accel, codec, validation
from fixgw.fix.dictionary import load_dictionary
from fixgw.fix.validation import ValidationSettings, Validator
from test_fix_fast_paths import (DICT, HEADER, NOS, SETTINGS, SOH, TRICKY_BODIES,
                                 random_messages, wrap)

try:
    from fixgw.fix import _speedups as speedups
except ImportError:         # built without a C compiler: only the last test applies
    speedups = None

needs_c = pytest.mark.skipif(speedups is None, reason="the optional C extension was not built")


def checksum_at(raw: bytes) -> int:
    """What the framer proves for a message whose BodyLength is right, else -1."""
    k = raw.rfind(b"\x0110=")
    return k if k > 0 and len(raw) - k == 8 else -1


def python_parse(raw: bytes, proof: int):
    """parse_shaped with the C split turned off: (fields, raw, shape) or the error text."""
    saved = codec._split_canonical
    codec._split_canonical = None
    try:
        msg, shape = codec.parse_shaped(raw, proof)
        return msg.fields, msg.raw, shape
    except codec.GarbledMessage as exc:
        return f"garbled: {exc}"
    finally:
        codec._split_canonical = saved


def c_parse(raw: bytes, proof: int):
    try:
        msg, shape = codec.parse_shaped(raw, proof)
        return msg.fields, msg.raw, shape
    except codec.GarbledMessage as exc:
        return f"garbled: {exc}"


def damaged(rng: random.Random, raw: bytes) -> bytes:
    """The framed message with one of: a wrong CheckSum digit, a latin-1 byte in a value,
    a byte flipped anywhere, or nothing changed."""
    choice = rng.randrange(4)
    if choice == 0:
        k = raw.rfind(b"\x0110=")
        digit = rng.randrange(3)
        old = raw[k + 4 + digit]
        new = b"0123456789".replace(bytes([old]), b"")[rng.randrange(9)]
        return raw[:k + 4 + digit] + bytes([new]) + raw[k + 5 + digit:]
    if choice == 1:
        inner = raw[raw.find(b"\x0135="):raw.rfind(b"\x0110=") + 1].decode("latin-1")
        return wrap(inner[1:].replace("55=BTCUSDT", "55=BT\xe9\xffUSD"))
    if choice == 2:
        i = rng.randrange(len(raw))
        return raw[:i] + bytes([rng.randrange(256)]) + raw[i + 1:]
    return raw


@needs_c
def test_the_extension_is_the_one_in_use():
    """Built and picked up by the codec and the validator (unless FIXGW_PURE_PYTHON)."""
    if os.environ.get("FIXGW_PURE_PYTHON"):
        assert accel.speedups is None and codec._split_canonical is None
        assert codec._frame_tail_c is None
        assert Validator.values_pass is Validator.values_pass_python
    else:
        assert codec._split_canonical is speedups.split_canonical
        assert codec._frame_tail_c is speedups.frame_tail
        assert Validator.values_pass is speedups.values_pass


@needs_c
@pytest.mark.parametrize("body", TRICKY_BODIES)
def test_tricky_messages_parse_the_same_with_and_without_c(body):
    raw = wrap((HEADER + body).replace("|", SOH))
    proof = checksum_at(raw)
    assert c_parse(raw, proof) == python_parse(raw, proof)


@needs_c
def test_random_messages_parse_the_same_with_and_without_c():
    rng = random.Random(7)
    hits = 0
    compared = 0
    for raw in random_messages(4000, seed=3):
        raw = damaged(rng, raw)
        proof = checksum_at(raw)
        if proof < 0:
            continue
        expected = python_parse(raw, proof)
        # twice: the first time may fill the shape cache, the second must hit it in C
        for _ in range(2):
            assert c_parse(raw, proof) == expected, raw
        found = speedups.split_canonical(raw, proof, codec._SHAPE_TAGS)
        if found is not None:
            hits += 1
            assert not isinstance(expected, str)
            assert (found[0], found[1]) == (expected[0], expected[2])
        compared += 1
    assert compared > 3000
    assert hits > 1000      # the C path really ran, not only its refusals


@needs_c
def test_the_c_split_refuses_what_it_cannot_be_sure_of():
    raw = wrap((HEADER + NOS).replace("|", SOH))
    proof = checksum_at(raw)
    codec.parse_shaped(raw, proof)                       # the shape is now cached
    assert speedups.split_canonical(raw, proof, codec._SHAPE_TAGS) is not None
    assert speedups.split_canonical(raw, proof, {}) is None            # shape not cached
    assert speedups.split_canonical(raw, proof - 1, codec._SHAPE_TAGS) is None
    assert speedups.split_canonical(raw, 0, codec._SHAPE_TAGS) is None
    assert speedups.split_canonical(raw, 10 ** 6, codec._SHAPE_TAGS) is None
    assert speedups.split_canonical(raw, -5, codec._SHAPE_TAGS) is None
    assert speedups.split_canonical(bytearray(raw), proof, codec._SHAPE_TAGS) is None
    k = proof
    bad = raw[:k + 4] + b"%03d" % ((int(raw[k + 4:k + 7]) + 1) % 256) + b"\x01"
    assert speedups.split_canonical(bad, proof, codec._SHAPE_TAGS) is None
    assert speedups.split_canonical(raw[:k + 4] + b"07\x01", proof, codec._SHAPE_TAGS) is None
    assert speedups.split_canonical(b"", 0, codec._SHAPE_TAGS) is None
    assert speedups.split_canonical(raw, 2 ** 70, codec._SHAPE_TAGS) is None
    assert speedups.split_canonical(raw, 2 ** 63 - 4, codec._SHAPE_TAGS) is None
    assert speedups.split_canonical(raw, "x", codec._SHAPE_TAGS) is None
    with pytest.raises(TypeError):
        speedups.split_canonical(raw, proof, [])


@needs_c
def test_the_c_split_owns_the_cached_tags_while_it_builds_the_fields():
    """A GC pass inside its allocations may run code that clears the shape cache (found in
    review: the tags were borrowed and then read after being freed)."""
    import gc
    body = b"35=D\x01" + b"".join(b"%d=v%d\x01" % (1000 + i, i) for i in range(30))
    head = b"8=FIX.4.4\x019=%d\x01" % len(body) + body
    raw = head + b"10=%03d\x01" % (sum(head) % 256)
    k = len(head) - 1
    texts = [p.split(b"=")[0].decode() for p in raw[:k].split(b"\x01")] + ["10"]
    shape = "D\x01" + "\x01".join(texts)
    shapes: dict = {}
    callback = lambda phase, info: shapes.clear()            # noqa: E731
    threshold = gc.get_threshold()
    gc.callbacks.append(callback)
    gc.set_threshold(1)
    try:
        for _ in range(200):
            shapes[shape] = tuple(int(t) + 10 ** 6 for t in texts)   # freed with the tuple
            found = speedups.split_canonical(raw, k, shapes)
            assert found is None or found[0][0] == (8 + 10 ** 6, "FIX.4.4")
    finally:
        gc.callbacks.remove(callback)
        gc.set_threshold(*threshold)


@needs_c
def test_messages_with_more_fields_than_it_handles_fall_back_to_python():
    """The C split takes up to 512 fields; the Python split up to 4,096 (codec._ALTERNATING)."""
    for count in (510, 511, 512, 513, 4094, 4095, 4096, 4097):
        inner = HEADER.replace("|", SOH) + "".join(f"58=v{i}{SOH}" for i in range(count - 9))
        raw = wrap(inner)
        proof = checksum_at(raw)
        assert c_parse(raw, proof) == python_parse(raw, proof)


@pytest.fixture(scope="module")
def dictionary():
    if speedups is not None:    # as fixgw.fix.validation does (not when FIXGW_PURE_PYTHON)
        speedups.configure_values(validation._is_int, validation._is_float,
                                  validation._is_timestamp, validation._TS_SECONDS_OK)
    return load_dictionary([DICT / "FIX44.xml", DICT / "FIX44-fixgw.xml"])


@needs_c
@pytest.mark.parametrize("settings", SETTINGS)
def test_values_pass_in_c_agrees_with_python_on_random_messages(dictionary, settings):
    validator = Validator(dictionary, settings)
    rng = random.Random(11)
    planned = passed = 0
    for raw in random_messages(3000, seed=5):
        raw = damaged(rng, raw)
        try:
            fields = codec.parse(raw).fields
        except codec.GarbledMessage:
            continue
        plan = validator.plan_of(fields)
        if plan is None:
            continue
        planned += 1
        answer = speedups.values_pass(fields, plan)
        assert answer is Validator.values_pass_python(fields, plan), raw
        passed += answer
        assert speedups.values_pass(list(fields), plan) is answer   # any sequence
    assert planned > 500 and passed > 100


# Values for each inline check (ints, floats, timestamps, enums, non-empty): signs, dots,
# spaces, latin-1 digits that str.isdigit() accepts (superscripts), malformed timestamps.
VALUES = ["", "0", "7", "0012", "-3", "+3", "3-", "1.5", ".5", "5.", ".", "1.2.3", "-1.25",
          "--1", "1e5", " 1", "1 ", "\u00b2", "1\u00b2", "\u00b9\u00b2", "\u00e91", "abc",
          "20240101-10:00:00.123", "20240101-10:00:00", "20240101-10:00:00.12",
          "20240101-10:00:00.1234", "20241301-10:00:00.123", "20240101 10:00:00.123",
          "20240101-10:00:60.123", "20240101-10:00:00,123",
          "20240101-10:00:00.\u00b2\u00b2\u00b2", "2024010\u00b2-10:00:00.123",
          "Z", "1", "2", "Y", "N"]


@needs_c
@pytest.mark.parametrize("tag", [38, 44, 54, 60, 21, 40, 11, 52, 34])
def test_values_pass_in_c_agrees_with_python_value_by_value(dictionary, tag):
    validator = Validator(dictionary, ValidationSettings())
    fields = codec.parse(wrap((HEADER + NOS).replace("|", SOH))).fields
    plan = validator.plan_of(fields)
    assert plan is not None
    index = [f[0] for f in fields].index(tag)
    for value in VALUES:
        changed = fields[:index] + ((tag, value),) + fields[index + 1:]
        assert speedups.values_pass(changed, plan) is \
            Validator.values_pass_python(changed, plan), (tag, value)


@needs_c
def test_frame_tail_in_c_gives_the_python_bytes_or_hands_over():
    rng = random.Random(8)
    saved = codec._frame_tail_c
    for _ in range(2000):
        head = "".join(rng.choice(["35=8\x01", "34=12\x01", "58=caf\u00e9\x01", "x", "\x01",
                                   "52=20240101-10:00:00.123\x01", ""]) for _ in range(rng.randrange(6)))
        tail = rng.randbytes(rng.choice([0, 1, 30, 255, 256, 257, 3000]))
        begin = rng.choice(["FIX.4.4", "FIXT.1.1", "", "FIX\u00e9"])
        c = speedups.frame_tail(begin, head, tail)
        codec._frame_tail_c = None
        try:
            assert c == codec.frame_tail(begin, head, tail)
        finally:
            codec._frame_tail_c = saved
    for args in [("FIX.4.4", "\u20ac", b""), ("FIX\u20ac", "", b""), (b"FIX.4.4", "", b""),
                 ("FIX.4.4", b"35=D", b"")]:
        assert speedups.frame_tail(*args) is None
        with pytest.raises((TypeError, UnicodeEncodeError)):
            codec.frame_tail(*args)     # the Python path raises as it always did
    assert speedups.frame_tail("FIX.4.4", "", bytearray(b"x")) is None    # Python frames it
    assert codec.frame_tail("FIX.4.4", "", bytearray(b"x")) == codec.frame("FIX.4.4", "x")


def test_a_c_compiler_at_install_time_means_the_extension_is_built():
    """CI and the Quick start build it; this keeps a broken build from passing unnoticed."""
    if shutil.which("cc") is None or not Path(sysconfig.get_paths()["include"], "Python.h").exists():
        pytest.skip("no C compiler or Python headers here")
    assert speedups is not None, (
        "a C compiler is here but fixgw.fix._speedups was not built: reinstall with "
        "pip install -e . and read the build output")
