"""The session's fast lane and the echo's reused bytes give exactly what the general code gives.

Two sessions on the same dictionary, one with ``FAST_LANE`` off, are fed the same byte
stream (the echo application behind both) of well-formed NewOrderSingles and a few thousand
mutated messages: sequence gaps and duplicates, PossDup, wrong CompIDs and BeginString,
stale or malformed SendingTime, extra and reordered header fields, bad values, admin and
unknown MsgTypes. After every message both must have written the same bytes, logged the same
entries, and hold the same sequence numbers and state. The parser's shape and the framer's
BodyLength proof are compared with the plain parse the same way.
"""
from __future__ import annotations

import pathlib
import random

import pytest

from fixgw.clock import FakeClock
from fixgw.fix import codec
from fixgw.fix.dictionary import load_dictionary
from fixgw.fix.message import FixMessage
from fixgw.fix.validation import ValidationSettings, Validator
from fixgw.session.application import SessionID
from fixgw.session.core import SessionCore, SessionRules
from fixgw.session.echo import EchoApplication, _echoed, _NOT_ECHOED_TAGS
from fixgw.session.runtime import SessionRuntime
from fixgw.session.store import MemoryStore

DICT = pathlib.Path(__file__).resolve().parents[2] / "dictionaries"
SID = SessionID("FIX.4.4", "ISLD", "TW44")
SOH = "\x01"
T0 = 1_790_000_000.0


@pytest.fixture(scope="module")
def dictionary():
    return load_dictionary([DICT / "FIX44.xml", DICT / "FIX44-fixgw.xml"])


class RecordingLog:
    def __init__(self) -> None:
        self.entries: list[tuple] = []

    def incoming(self, raw, now):
        self.entries.append(("IN", raw, now))

    def outgoing(self, raw, now, note=""):
        self.entries.append(("OUT", raw, now, note))

    def event(self, text, now):
        self.entries.append(("EV", text, now))


def wrap(inner: str, begin: str = "FIX.4.4") -> bytes:
    head = f"8={begin}{SOH}9={len(inner.encode('latin-1'))}{SOH}{inner}".encode("latin-1")
    return head + f"10={sum(head) % 256:03d}{SOH}".encode()


def ts(t: float) -> str:
    return codec.utc_timestamp(t)


class CountingCore(SessionCore):
    echoes = 0

    def _build_echo(self, *args):
        raw = super()._build_echo(*args)
        self.echoes += raw is not None
        return raw


def make_session(dictionary, clock: FakeClock, fast: bool, settings=ValidationSettings()):
    core = CountingCore(SID, dictionary, Validator(dictionary, settings), MemoryStore(),
                       SessionRules(), log=RecordingLog())
    core.FAST_LANE = fast
    runtime = SessionRuntime(core, "acceptor", {}, clock)
    app = EchoApplication()
    runtime.bind(app)
    app.on_create(runtime)
    core.connected = True
    logon = codec.parse(wrap(f"35=A{SOH}34=1{SOH}49=TW44{SOH}52={ts(clock.now())}{SOH}56=ISLD{SOH}"
                             f"98=0{SOH}108=30{SOH}"))
    core.accept_logon(logon, clock.now())
    core.take_output()
    return core


def random_stream(seed: int, count: int, core: SessionCore):
    """(raw, time) pairs: mostly in-sequence NewOrderSingles, many of them mutated."""
    rng = random.Random(seed)
    t = T0
    for n in range(count):
        t += 0.001
        expected = core.next_target
        seq = expected
        r = rng.random()
        if r < 0.04:
            seq = expected + rng.randint(1, 3)          # gap: queued, ResendRequest
        elif r < 0.08:
            seq = max(1, expected - rng.randint(1, 3))  # too low
        seq_text = str(seq) if rng.random() > 0.02 else f"0{seq}"
        sending = ts(t)
        r = rng.random()
        if r < 0.03:
            sending = ts(t - 500)
        elif r < 0.05:
            sending = sending[:17] + rng.choice(["", ".5", ".1234", "x12", ".", ".12a"])
        msg_type = rng.choices(["D", "d", "C", "0", "1", "ZZ", "8"], [80, 3, 3, 3, 3, 2, 2])[0]
        header = [f"34={seq_text}", f"49={rng.choice(['TW44'] * 30 + ['XX'])}",
                  f"52={sending}", f"56={rng.choice(['ISLD'] * 30 + ['YY'])}"]
        if rng.random() < 0.05:
            header.insert(1, "43=Y")
            header.append(f"122={rng.choice([ts(t - 1), ts(t + 10), 'bad'])}")
        if rng.random() < 0.05:
            header.append(rng.choice(["97=Y", "50=DESK", "115=ON", "97=N"]))
        if rng.random() < 0.03:
            rng.shuffle(header)
        clordid = str(100000 + rng.randint(0, 40))
        body = [f"11={clordid}", "21=1", "38=100", "40=2", "44=10.5", "54=1", "55=BTCUSDT",
                f"60={ts(t)}"]
        if msg_type == "1":
            body = ["112=TEST"]
        elif msg_type == "0":
            body = []
        for _ in range(rng.choice([0] * 6 + [1, 2])):
            i = rng.randrange(len(body) + 1)
            choice = rng.randrange(6)
            if choice == 0 and body:
                body[i % len(body)] = body[i % len(body)].split("=")[0] + "="
            elif choice == 1 and body:
                del body[i % len(body)]
            elif choice == 2:
                body.insert(i, rng.choice(["58=hello", "58=a=b", "9999=x", "54=Z", "44=1.2.3",
                                           "1=acct", "100=X", "453=1", "448=P", "95=2",
                                           "96=ab"]))
            elif choice == 3 and len(body) > 1:
                body.insert(i % len(body), body.pop(rng.randrange(len(body))))
            elif choice == 4 and body:
                body.append(body[i % len(body)])
            elif body:
                body[i % len(body)] = body[i % len(body)] + rng.choice(["", "0", " "])
        inner = SOH.join([f"35={msg_type}", *header, *body]) + SOH
        begin = "FIX.4.4" if rng.random() > 0.01 else "FIX.4.2"
        yield wrap(inner, begin), t


def state_of(core: SessionCore):
    return (core.next_target, core.next_sender, core.close_requested, core.connected,
            core.state, dict(core._queue), core._resend_range, core._last_received,
            core._test_requests)


@pytest.mark.parametrize("seed,settings", [
    (1, ValidationSettings()), (2, ValidationSettings()), (3, ValidationSettings()),
    (4, ValidationSettings(fields_have_values=False)),
    (5, ValidationSettings(user_defined_fields=False)),
    (6, ValidationSettings(allow_unknown_message_fields=True)),
    (7, ValidationSettings(fields_out_of_order=False))])
def test_fast_lane_equals_the_general_path_on_random_streams(dictionary, seed, settings):
    clock = FakeClock(t=T0)
    fast = make_session(dictionary, clock, True, settings)
    slow = make_session(dictionary, clock, False, settings)
    framer = codec.Framer()
    for raw, t in random_stream(seed, 2500, slow):
        clock.t = t
        if not fast.connected or fast.close_requested:   # a Logout: log on again, both
            fast.connection_lost(t)
            slow.connection_lost(t)
            for core in (fast, slow):
                core.connected = True
                logon = wrap(f"35=A{SOH}34=1{SOH}49=TW44{SOH}52={ts(t)}{SOH}56=ISLD{SOH}"
                             f"98=0{SOH}108=30{SOH}141=Y{SOH}")
                core.accept_logon(codec.parse(logon), t)
            assert fast.take_output() == slow.take_output()
        (framed, checksum_at), = framer.feed_framed(raw)
        assert framed == raw
        fast.receive_raw(raw, t, checksum_at)
        slow.receive_raw(raw, t)
        out = fast.take_output()
        assert out == slow.take_output(), raw
        assert fast.log.entries == slow.log.entries, raw
        assert state_of(fast) == state_of(slow), raw
    assert fast.echoes > 500 and slow.echoes == 0   # the fast lane is actually exercised
    assert fast.store._msgs == slow.store._msgs
    assert fast.store._seq == slow.store._seq


def test_echo_reuses_the_received_bytes_only_for_the_same_fields(dictionary):
    clock = FakeClock(t=T0)
    core = make_session(dictionary, clock, True)
    raw = wrap(f"35=D{SOH}34=2{SOH}49=TW44{SOH}52={ts(T0)}{SOH}56=ISLD{SOH}11=A{SOH}21=1{SOH}"
               f"38=100{SOH}40=2{SOH}44=10.5{SOH}54=1{SOH}55=X{SOH}60={ts(T0)}{SOH}")
    sent = []

    class Probe:
        def on_app_message(self, message):
            fields = message.fields
            body = fields[7:-1]
            sent.append(core.send_app("D", body, T0))                    # reused
            sent.append(core.send_app("D", body[:-1] + ((60, "x"),), T0))  # other values
            sent.append(core.send_app("8", body, T0))                     # other MsgType
            sent.append(core.send_app("D", list(body), T0))               # a list
    core.listener = Probe()
    core.receive_raw(raw, T0)
    out = core.take_output()
    assert len(out) == 4
    assert core.echoes == 1
    reference = make_session(dictionary, clock, False)
    body = codec.parse(raw).fields[7:-1]
    for i, (mt, b) in enumerate([("D", body), ("D", body[:-1] + ((60, "x"),)), ("8", body),
                                 ("D", list(body))]):
        reference.next_sender = sent[i]
        reference.send_app(mt, b, T0)
        assert out[i] == reference.take_output()[0]


def test_frame_tail_equals_frame():
    for tail in [b"", b"11=A\x01", b"58=caf\xe9\x01" * 40]:
        head = "35=D\x0134=7\x0149=ISLD\x01"
        assert codec.frame_tail("FIX.4.4", head, tail) == \
            codec.frame("FIX.4.4", head + tail.decode("latin-1"))


def test_echoed_fields_equal_the_filter():
    rng = random.Random(5)
    tags = [8, 9, 35, 34, 49, 52, 56, 43, 122, 97, 50, 11, 21, 38, 55, 10]
    for _ in range(3000):
        fields = tuple((rng.choice(tags), str(rng.randint(0, 9)))
                       for _ in range(rng.randint(0, 14)))
        if rng.random() < 0.5:
            fields = ((8, "FIX.4.4"), (9, "5"), (35, "D"), (34, "2"), (49, "A"), (52, "t"),
                      (56, "B")) + fields + ((10, "000"),)
        expected = [f for f in fields if f[0] not in _NOT_ECHOED_TAGS]
        body = _echoed(fields)
        assert list(body) == expected, fields
        if body.__class__ is tuple:     # the echo then reads the MsgType as fields[2][1]
            assert fields[2][1] == FixMessage(fields).msg_type and body == fields[7:-1]


def test_parse_shaped_and_the_framers_proof_agree_with_parse():
    from test_fix_fast_paths import random_messages   # noqa: E402 (same directory)
    shapes: dict[str, tuple] = {}
    framer = codec.Framer()
    proofs = 0
    for raw in random_messages(3000, seed=11):
        for variant in (raw, raw.replace(b"\x019=", b"\x019=0", 1)):   # "9=0123": unproven
            frames = framer.feed_framed(variant)
            for framed, checksum_at in frames:
                try:
                    expected = codec._parse_sequential(framed.decode("latin-1"))
                    plain = codec.parse(framed)
                except codec.GarbledMessage:
                    with pytest.raises(codec.GarbledMessage):
                        codec.parse_shaped(framed, checksum_at)
                    continue
                assert plain.fields == tuple(expected)
                msg, shape = codec.parse_shaped(framed, checksum_at)
                assert msg == plain and msg.raw == plain.raw and hash(msg) == hash(plain)
                assert type(msg) is FixMessage and repr(msg) == repr(plain)
                proofs += checksum_at > 0
                if shape is not None:
                    key = (msg.fields[2][1], tuple(t for t, _ in msg.fields))
                    assert shapes.setdefault(shape, key) == key, framed
    assert proofs > 1000
    assert len(set(shapes.values())) == len(shapes)


def test_shape_cache_stays_bounded():
    codec._SHAPE_TAGS.clear()
    for n in range(codec.MAX_SHAPES * 2):
        raw = wrap(f"35=D{SOH}34=2{SOH}{1000 + n % 8000}=x{SOH}")
        codec.parse_shaped(raw)
    assert len(codec._SHAPE_TAGS) <= codec.MAX_SHAPES
    long = wrap(f"35=D{SOH}" + "".join(f"{t}=x{SOH}" for t in range(1000, 1300)))
    msg, shape = codec.parse_shaped(long)
    assert shape is not None and shape not in codec._SHAPE_TAGS
    assert msg == codec.FixMessage(tuple(codec._parse_sequential(long.decode("latin-1"))), long)


def reference_values_pass(fields, plan) -> bool:
    """The plan's checks spelt out: every listed format check called, nothing inline."""
    from fixgw.fix.validation import _is_float, _is_int, _is_timestamp
    checks = [*plan.formatted, *[(i, _is_int) for i in plan.ints],
              *[(i, _is_float) for i in plan.floats], *[(i, _is_timestamp) for i in plan.stamps]]
    return all(fields[i][1] for i in plan.non_empty) \
        and all(fields[i][1] in enums for i, enums in plan.in_enums) \
        and all(fmt(fields[i][1]) for i, fmt in checks)


def test_inline_format_checks_equal_the_format_functions(dictionary):
    validator = Validator(dictionary, ValidationSettings())
    base = codec.parse(wrap(f"35=D{SOH}34=2{SOH}49=TW44{SOH}52={ts(T0)}{SOH}56=ISLD{SOH}11=A{SOH}"
                            f"21=1{SOH}38=100{SOH}40=2{SOH}44=10.5{SOH}54=1{SOH}55=X{SOH}"
                            f"60={ts(T0)}{SOH}")).fields
    plan = validator.plan_of(base)
    assert plan.ints and plan.floats and len(plan.stamps) == 2
    rng = random.Random(9)
    pool = ["", "0", "7", "-3", "--3", "1.5", ".5", "5.", "-1.25", "1.2.3", "\u0663", "1e5", " 1",
            "20240101-10:00:00", "20240101-10:00:00.123", "20240101-10:00:00.12",
            "20240101-10:00:00.1234", "20240101-10:00:00.\u0663\u0663\u0663", "20241301-10:00:00.123",
            "20240101-10:00:00x123", "20240101-10:00:00.12a", "20240101-24:00:00.000", ts(T0 + 5)]
    seen_true = 0
    for _ in range(4000):
        fields = list(base)
        for i in rng.sample([*plan.ints, *plan.floats, *plan.stamps], rng.randint(1, 3)):
            fields[i] = (fields[i][0], rng.choice(pool))
        expected = reference_values_pass(fields, plan)
        assert validator.values_pass(fields, plan) == expected, fields
        seen_true += expected
    assert seen_true > 50


def test_framer_length_cache_gives_the_same_frames():
    raw = wrap(f"35=0{SOH}34=2{SOH}49=TW44{SOH}52={ts(T0)}{SOH}56=ISLD{SOH}")
    head = raw[:raw.rfind(b"\x0110=") + 1].replace(b"\x019=", b"\x019=00", 1)
    padded = head + b"10=%03d\x01" % (sum(head) % 256)     # same BodyLength, other text
    bad = raw.replace(b"\x019=", b"\x019=x", 1)
    for _ in range(2):                                     # second time from the cache
        for stream in (raw, padded, bad + raw, raw * 3):
            plain = [raw_ for raw_, _ in codec.Framer().feed_framed(stream)]
            assert plain == codec.Framer().feed(stream)
            assert b"".join(plain) == stream or stream.startswith(bad)
        (_, proof), = codec.Framer().feed_framed(padded)
        assert proof > 0 and codec.parse_shaped(padded, proof)[0] == codec.parse(padded)


class ReferenceFramer:
    """The framer as it was before its shortcuts: every boundary found with find()."""

    def __init__(self, limit: int = 65536) -> None:
        self.buf, self.limit = b"", limit

    def feed(self, data: bytes) -> list[tuple[bytes, int]]:
        buf, out, pos = self.buf + data, [], 0
        n = len(buf)
        while True:
            start = buf.find(b"8=", pos)
            if start < 0:
                pos = n - 1 if n > pos and buf[n - 1:] == b"8" else n
                break
            i = buf.find(b"\x019=", start)
            j = buf.find(b"\x01", i + 3) if i >= 0 else -1
            if j < 0:
                pos = start
                break
            length_txt = buf[i + 3:j]
            if not length_txt.isdigit():
                pos = j + 1
                out.append((buf[start:j + 1], -1))
                continue
            end_of_body = j + 1 + int(length_txt)
            if n < end_of_body:
                pos = start
                break
            k = buf.find(b"\x0110=", end_of_body - 1)
            e = buf.find(b"\x01", k + 4) if k >= 0 else -1
            if e < 0:
                pos = start
                break
            out.append((buf[start:e + 1], k - start if k == end_of_body - 1 else -1))
            pos = e + 1
        self.buf = buf[pos:]
        return out


def test_framer_shortcuts_frame_exactly_as_find_does():
    rng = random.Random(21)
    good = [wrap(f"35=0{SOH}34={n}{SOH}49=TW44{SOH}52={ts(T0)}{SOH}56=ISLD{SOH}" + "58=x" * n
                 + SOH) for n in range(1, 12)]
    other = wrap(f"35=0{SOH}34=9{SOH}", "FIXT.1.1")
    for _ in range(400):
        pieces = []
        for _ in range(rng.randint(1, 8)):
            raw = rng.choice(good + [other])
            r = rng.random()
            if r < 0.1:
                raw = raw.replace(b"\x019=", b"\x019=1", 1)              # too long
            elif r < 0.2:
                raw = raw[:raw.rfind(b"10=")] + b"10=5\x01"             # short CheckSum
            elif r < 0.25:
                raw = raw.replace(b"\x019=", b"\x019=x", 1)              # not a number
            elif r < 0.3:
                raw = b"junk8" + raw
            elif r < 0.35:
                raw = raw.replace(b"8=FIX.4.4", b"8=FIX.4.4\x019=7", 1)  # a second "9="
            pieces.append(raw)
        stream = b"".join(pieces)
        framer, reference = codec.Framer(), ReferenceFramer()
        got, expected = [], []
        i = 0
        while i < len(stream):
            step = rng.choice([1, 7, 50, 400, len(stream)])
            got += framer.feed_framed(stream[i:i + step])
            expected += reference.feed(stream[i:i + step])
            i += step
        assert got == expected, stream
        assert framer.buffered == len(reference.buf)
        # one read per message (the framer's single-message shortcut), then random cuts
        for piece in pieces:
            assert framer.feed_framed(piece) == reference.feed(piece), piece
            assert framer.buffered == len(reference.buf)
        for piece in pieces:
            cut = rng.randrange(len(piece) + 1)
            for part in (piece[:cut], piece[cut:], bytearray(piece), b"\x00" + piece):
                assert framer.feed_framed(bytes(part) if rng.random() < 0.5 else part) \
                    == reference.feed(bytes(part)), piece


def test_millisecond_fractions_table_equals_the_division():
    for n in range(1000):
        text = f"20240101-10:00:00.{n:03d}"
        assert codec.parse_utc_timestamp(text) == 1704103200.0 + int(f"{n:03d}") / (10 ** 3)


def test_a_failing_application_leaves_no_delivery_behind(dictionary):
    """After the listener raised, send_app from outside a delivery persists at once again."""
    clock = FakeClock(t=T0)
    core = make_session(dictionary, clock, True)

    class Failing:
        def on_app_message(self, message):
            core.send_app("D", message.fields[7:-1], T0)
            raise KeyboardInterrupt   # not an Exception: goes through the session

    core.listener = Failing()
    raw = wrap(f"35=D{SOH}34=2{SOH}49=TW44{SOH}52={ts(T0)}{SOH}56=ISLD{SOH}11=A{SOH}21=1{SOH}"
               f"38=100{SOH}40=2{SOH}44=10.5{SOH}54=1{SOH}55=X{SOH}60={ts(T0)}{SOH}")
    with pytest.raises(KeyboardInterrupt):
        core.receive_raw(raw, T0)
    assert core._source is None and core.echoes == 1
    core.send_app("8", [(37, "O1"), (17, "E1")], T0)
    assert core.store._seq[core.key].next_sender == core.next_sender == 4
