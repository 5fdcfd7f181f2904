"""The FIX session state machine, sans I/O.

A :class:`SessionCore` is fed parsed messages and the current time, and answers with bytes in
its :attr:`outbox`, a ``close_requested`` flag and :meth:`next_deadline`. It never touches a
socket, a timer or the clock: the asyncio transport pumps bytes and arms ``loop.call_at``.

The logic follows QuickFIX's ``Session`` (``next``/``verify``/``nextXxx``) because the QuickFIX
acceptance suite compares replies byte for byte; where it matters the QuickFIX rule is named:

* validation (dictionary) happens before any sequence check; a rejected message advances the
  inbound sequence only if its MsgSeqNum is the one expected (and it is not a Logon or a
  SequenceReset);
* ``verify``: SendingTime accuracy (Reject 10 + Logout), CompIDs (Reject 9 + Logout), too high
  (queue + one ResendRequest), too low (Logout unless PossDup; PossDup needs 122 <= 52);
* ResendRequest and Logout are processed without a sequence check;
* resends: stored application messages with 43=Y/122, every gap (admin messages are not
  stored) as one SequenceReset-GapFill.

Application messages are handed to :attr:`listener` synchronously, exactly where QuickFIX calls
``fromApp`` (so replies the application sends are ordered the same way).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from operator import itemgetter
from typing import Callable, Iterable, NamedTuple, Protocol, Sequence

from fixgw.fix.codec import (MAX_SHAPE_TEXT, GarbledMessage, encode, fields_text, frame,
                             frame_tail, parse, parse_shaped, parse_utc_timestamp, utc_timestamp)
from fixgw.fix.dictionary import DataDictionary, MessageDef
from fixgw.fix.message import FixMessage
from fixgw.fix.tags import (ADMIN_MSG_TYPES, REJECT_TEXT, REVERSE_ROUTE, MsgType,
                            SessionRejectReason as R)
from fixgw.fix.validation import Validator
from fixgw.session.application import SessionID
from fixgw.session.msglog import NullLog
from fixgw.session.schedule import AlwaysOpen, Schedule
from fixgw.session.store import SessionStore


class State(enum.Enum):
    DISCONNECTED = "disconnected"    # no counterparty connection
    LOGGED_ON = "logged-on"
    LOGOUT_SENT = "logout-sent"      # we sent Logout; waiting for theirs or the timeout


# The states under plain module names for the per-message checks: on Python 3.11 every
# ``State.X`` goes through the Enum metaclass's ``__getattr__`` hook (~850 instructions,
# several per message).
_DISCONNECTED, _LOGGED_ON, _LOGOUT_SENT = State.DISCONNECTED, State.LOGGED_ON, State.LOGOUT_SENT


class Event(enum.Enum):
    LOGON = "logon"
    SEND_LOGOUT = "send-logout"
    DISCONNECT = "disconnect"


# The session state table: (state, event) -> next state. Anything else is a bug in the core.
TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.DISCONNECTED, Event.LOGON): State.LOGGED_ON,
    (State.LOGGED_ON, Event.LOGON): State.LOGGED_ON,          # Logon 141=Y mid-session
    (State.LOGGED_ON, Event.SEND_LOGOUT): State.LOGOUT_SENT,
    (State.LOGOUT_SENT, Event.SEND_LOGOUT): State.LOGOUT_SENT,
    (State.LOGGED_ON, Event.DISCONNECT): State.DISCONNECTED,
    (State.LOGOUT_SENT, Event.DISCONNECT): State.DISCONNECTED,
    (State.DISCONNECTED, Event.DISCONNECT): State.DISCONNECTED,
}


class IllegalTransition(RuntimeError):
    pass


class SessionListener(Protocol):
    def on_logon(self) -> None: ...

    def on_logout(self) -> None: ...

    def on_app_message(self, message: FixMessage) -> None: ...


class _NoListener:
    def on_logon(self) -> None:
        pass

    def on_logout(self) -> None:
        pass

    def on_app_message(self, message: FixMessage) -> None:
        pass


@dataclass(frozen=True, slots=True)
class SessionRules:
    """The per-session behaviour switches the core needs (from :class:`SessionConfig`)."""
    reset_on_logon: bool = False
    reset_on_logout: bool = False
    reset_on_disconnect: bool = False
    heartbeat_check: bool = True
    max_latency_s: float = 120.0
    logout_timeout_s: float = 2.0
    max_queued_messages: int = 10000


_NEVER = float("inf")  # "no deadline" inside next_deadline (compared by identity)
_RESEND_HEADER_DROP = frozenset({8, 9, 10, 34, 35, 43, 49, 52, 56, 122})


class SessionCore:
    def __init__(self, session_id: SessionID, dictionary: DataDictionary, validator: Validator,
                 store: SessionStore, rules: SessionRules = SessionRules(),
                 schedule: Schedule | None = None, log=None) -> None:
        self.session_id = session_id
        self.key = f"{session_id.begin_string}:{session_id.sender_comp_id}->" \
                   f"{session_id.target_comp_id}"
        self.dictionary = dictionary
        self.validator = validator
        self.store = store
        self.rules = rules
        self.schedule = schedule or AlwaysOpen()
        self.log = log or NullLog()
        self.listener: SessionListener = _NoListener()
        self.begin_string = session_id.begin_string
        self._our = session_id.sender_comp_id
        self._their = session_id.target_comp_id
        self._header_tags = dictionary.header.members
        # The standard header of every message we send, around MsgSeqNum and SendingTime
        # (34, 49, 52, 56 in tag order): see _build.
        self._after_seq = f"\x0149={self._our}\x0152="
        self._after_time = f"\x0156={self._their}\x01"
        self._group_tags: dict[str, frozenset[int]] = {}
        # Per message shape (the parser's shape string): the _Lane of an application message
        # the fast lane may take, or () for the general path. See receive_raw.
        self._lanes: dict[str, _Lane | tuple] = {}
        self._source: tuple[FixMessage, _Lane] | None = None   # being delivered (fast lane)
        seq = store.load(self.key)
        self.next_sender = seq.next_sender
        self.next_target = seq.next_target
        self._created = seq.created
        self._persisted = (self.next_sender, self.next_target)
        self.state = _DISCONNECTED
        self.connected = False
        self.close_requested = False
        self.outbox: list[bytes] = []
        self._queue: dict[int, FixMessage] = {}
        self._resend_range: tuple[int, int] | None = None
        self.heartbeat_interval = 0
        self._last_sent = 0.0
        self._last_received = 0.0
        self._test_requests = 0
        self._logout_deadline: float | None = None
        self._window_end: float | None = None
        self._always_open = isinstance(self.schedule, AlwaysOpen)
        self._next_window_check = float("-inf")

    # ---------------------------------------------------------------- state table
    def _transition(self, event: Event) -> None:
        nxt = TRANSITIONS.get((self.state, event))
        if nxt is None:
            raise IllegalTransition(f"session {self.session_id}: {event.value} in state "
                                    f"{self.state.value}")
        self.state = nxt

    @property
    def logged_on(self) -> bool:
        return self.state is not _DISCONNECTED and self.connected

    # ---------------------------------------------------------------- entry points
    def can_accept_logon(self, now: float) -> bool:
        """Whether a new connection may log on now (not connected, inside the schedule)."""
        return not self.connected and self.schedule.window(now) is not None

    def accept_logon(self, msg: FixMessage, now: float) -> None:
        """A validated, authenticated first Logon from a new connection (QuickFIX nextLogon)."""
        fields = dict(msg.fields)
        self.connected = True
        self.close_requested = False
        self.outbox.clear()
        self.log.incoming(msg.raw, now)
        window = self.schedule.window(now)
        self._window_end = window[1] if window and window[1] != float("inf") else None
        if window is not None and self._created < window[0]:
            self.log.event("new schedule window: resetting sequence numbers", now)
            self._reset(now)
        reset_flag = fields.get(141) == "Y"
        if reset_flag or self.rules.reset_on_logon:
            self._reset(now)
        seq = int(fields[34])
        self._last_received = now
        self._test_requests = 0
        if seq < self.next_target and not reset_flag:
            text = f"MsgSeqNum too low, expecting {self.next_target} but received {seq}"
            self._transition(Event.LOGON)
            self._send_logout(text, now)
            self._disconnect(text, now, notify=False)
            self._persist()
            return
        self.heartbeat_interval = int(fields.get(108, "0"))
        self._transition(Event.LOGON)
        self._send_logon_reply(reset_flag, now)
        if seq > self.next_target and not reset_flag:
            self._target_too_high(msg, seq, now)
        else:
            self.next_target += 1
            self._next_queued(now)
        self._persist()
        self._notify("on_logon")

    # Lanes remembered per session; a peer cycling through more shapes only costs rebuilding
    # them (the cache is cleared when full). Shapes longer than the codec remembers are not.
    MAX_LANES = 512
    FAST_LANE = True   # False: every message takes the general path (the tests compare both)

    def receive_raw(self, raw: bytes, now: float, checksum_at: int = -1) -> None:
        """A framed message from the bound connection (``checksum_at``: see
        ``Framer.feed_framed``).

        The fast lane: an application message whose shape was seen before with a valid
        plan, whose values pass it, with our BeginString and CompIDs, a SendingTime in
        range and exactly the expected MsgSeqNum, outside any resend, is delivered here
        with the same effects as :meth:`_next` (whose checks it all passed) without
        building a dict of its fields. Anything else, or any doubt, takes :meth:`_next`
        from the start: nothing is changed before the lane is sure."""
        try:
            msg, shape = parse_shaped(raw, checksum_at)
        except GarbledMessage as exc:
            self.log.incoming(raw, now)
            self.log.event(f"ignored garbled message: {exc}", now)
            return
        self.log.incoming(raw, now)
        if not self.connected or self.close_requested:
            return
        lane = None
        if shape is not None and self.FAST_LANE:
            lane = self._lanes.get(shape)
            if lane is None:
                lane = self._new_lane(msg.fields, shape)
        if lane:
            fields = msg.fields
            plan, i_seq, i_sender, i_time, i_target, _, _ = lane
            seq_text = fields[i_seq][1]
            if fields[0][1] == self.begin_string and self.validator.values_pass(fields, plan) \
                    and self._resend_range is None and seq_text == str(self.next_target) \
                    and fields[i_sender][1] == self._their and fields[i_target][1] == self._our:
                max_latency = self.rules.max_latency_s
                if max_latency > 0:
                    sent = parse_utc_timestamp(fields[i_time][1])
                    if sent is None or abs(now - sent) > max_latency:
                        lane = None
            else:
                lane = None
        if lane:
            # _verify passed with MsgSeqNum == next_target: what it and _next then do
            self._last_received = now
            self._test_requests = 0
            self.next_target += 1
            self._source = (msg, lane)
            try:
                self.listener.on_app_message(msg)
            except Exception as exc:  # the application's bug must not kill the session
                self.log.event(f"application error on message {seq_text}: {exc!r}", now)
            finally:
                self._source = None     # send_app persists again once this returns
        else:
            self._next(msg, now, queued=False)
        if self._queue and self.connected and not self.close_requested:
            self._next_queued(now)
        self._persist()

    def _new_lane(self, fields: Sequence[tuple[int, str]], shape: str) -> "_Lane | tuple":
        """The fast lane's per-shape decisions, or () when this shape takes the general path
        (an admin message, or a shape the validator does not pass on its own)."""
        lane: _Lane | tuple = ()
        msg_type = fields[2][1]
        plan = self.validator.plan_of(fields) if msg_type not in ADMIN_MSG_TYPES else None
        if plan is not None:
            tags = [f[0] for f in fields]
            # the plan guarantees each header tag once, before the body (and 34/49/52/56,
            # required by the dictionary's header); the run of body fields up to CheckSum is
            # what an echo may send back (see send_app)
            header_tags = self._header_tags
            start = 3
            while start < len(tags) - 1 and tags[start] in header_tags:
                start += 1
            body_tags = tags[start:-1]
            echo = None
            mdef = self.dictionary.messages.get(msg_type)
            # what _build_echo relies on: sent back as they are, these fields need no
            # ordering (strictly ascending, no header tag, no group of this MsgType) and the
            # first one's "SOH tag=" occurs first where it starts (its tag not seen before)
            if body_tags and all(a < b for a, b in zip(body_tags, body_tags[1:])) \
                    and header_tags.isdisjoint(body_tags) and mdef is not None \
                    and mdef.groups.keys().isdisjoint(body_tags) \
                    and body_tags[0] not in tags[:start]:
                echo = (start, len(tags) - 1, f"\x01{body_tags[0]}=".encode())
            if all(t in tags for t in (34, 49, 52, 56)):
                i_seq, i_sender, i_target = tags.index(34), tags.index(49), tags.index(56)
                # checks the lane's own tests imply are left out of its plan: MsgSeqNum equal
                # to str(next_target) is an int; CompIDs equal to ours are not empty
                implied = {i_sender, i_target} if self._their and self._our else set()
                plan = plan._replace(
                    non_empty=tuple(i for i in plan.non_empty if i not in implied),
                    ints=tuple(i for i in plan.ints if i != i_seq))
                lane = _Lane(plan, i_seq, i_sender, tags.index(52), i_target, msg_type, echo)
        if len(shape) <= MAX_SHAPE_TEXT:
            if len(self._lanes) >= self.MAX_LANES:
                self._lanes.clear()
            self._lanes[shape] = lane
        return lane

    def receive(self, msg: FixMessage, now: float) -> None:
        self.log.incoming(msg.raw, now)
        if not self.connected or self.close_requested:
            return
        self._next(msg, now, queued=False)
        if self._queue and self.connected and not self.close_requested:
            self._next_queued(now)
        self._persist()

    def send_app(self, msg_type: str, body: Sequence[tuple[int, str]], now: float) -> int:
        """Number, store and (if logged on) send an application message; return its MsgSeqNum."""
        if not self._always_open and now >= self._next_window_check:
            self._roll_window(now)
        seq = self.next_sender
        source = self._source
        raw = None
        if source is not None and body.__class__ is tuple:
            raw = self._build_echo(source, msg_type, seq, now, body)
        if raw is None:
            header_tags = self._header_tags
            if header_tags.isdisjoint(map(_tag_of, body)):
                extra: Sequence[tuple[int, str]] = ()
            else:
                extra = [f for f in body if f[0] in header_tags]
                body = [f for f in body if f[0] not in header_tags]
            raw = self._build(msg_type, seq, now, self._order_body(msg_type, body), extra)
        self.next_sender = seq + 1
        self.store.save_message(self.key, seq, raw)
        if self.state is not _DISCONNECTED and self.connected and not self.close_requested:
            self.outbox.append(raw)      # _write, inline
            self._last_sent = now
            self.log.outgoing(raw, now)
        else:
            self.log.outgoing(raw, now, "  (stored; not logged on)")
        if source is None:
            self._persist()   # else receive_raw persists once, after the delivery
        return seq

    def _build_echo(self, source: "tuple[FixMessage, _Lane]", msg_type: str, seq: int,
                    now: float, body: tuple) -> bytes | None:
        """The reply's bytes when ``body`` is, field for field, the run of body fields of the
        message being delivered (an echo), else None.

        Then the body needs no ordering (that run is in strictly ascending tag order with no
        header or group tag, checked once per shape) and its wire text is a slice of the
        received bytes: the parser's simple split only accepts canonical tag text, so
        encoding the same (tag, value) pairs gives exactly those bytes."""
        msg, lane = source
        echo = lane[6]
        if echo is None or msg_type != lane[5]:
            return None
        start, end, marker = echo
        fields = msg.fields
        if body != fields[start:end]:
            return None
        received = msg.raw
        tail = received[received.find(marker) + 1:len(received) - 4 - len(fields[end][1])]
        # an f-string is safe here: msg_type equals the parsed MsgType, so it is a str
        return frame_tail(self.begin_string, f"35={msg_type}\x0134={seq}{self._after_seq}"
                                             f"{utc_timestamp(now)}{self._after_time}", tail)

    def on_timer(self, now: float) -> None:
        if not self.connected or self.close_requested:
            return
        if self._logout_deadline is not None and now >= self._logout_deadline:
            self._disconnect("no Logout reply within the logout timeout", now)
        elif self._window_end is not None and now >= self._window_end:
            if self.state is _LOGGED_ON:
                self._send_logout("Session end", now)
            self._window_end = None
        elif self.heartbeat_interval > 0:
            hb = self.heartbeat_interval
            silent = now - self._last_received
            if self.rules.heartbeat_check and silent >= 2.4 * hb:
                self._disconnect("Timed out waiting for heartbeat", now)
            elif self.rules.heartbeat_check and silent >= 1.2 * (self._test_requests + 1) * hb:
                self._send_admin(MsgType.TEST_REQUEST, [(112, "TEST")], now)
                self._test_requests += 1
            elif self._test_requests == 0 and now - self._last_sent >= hb:
                self._send_admin(MsgType.HEARTBEAT, [], now)
        self._persist()

    def next_deadline(self) -> float | None:
        """The earliest of the logout timeout, the schedule end and the heartbeat deadlines.

        The transport asks after every reply (to re-arm its timer), so no list is built."""
        if not self.connected or self.close_requested:
            return None
        hb = self.heartbeat_interval
        if hb > 0 and self._test_requests == 0 and self._logout_deadline is None \
                and self._window_end is None and self.rules.heartbeat_check:
            # the usual case, below without the branches that cannot win: the heartbeat
            # due, or the TestRequest due (the timeout, 2.4 hb after, is always later)
            deadline = self._last_sent + hb
            test_request_due = self._last_received + 1.2 * hb
            return test_request_due if test_request_due < deadline else deadline
        deadline = _NEVER
        if self._logout_deadline is not None:
            deadline = self._logout_deadline
        if self._window_end is not None and self._window_end < deadline:
            deadline = self._window_end
        hb = self.heartbeat_interval
        if hb > 0:
            if self._test_requests == 0 and self._last_sent + hb < deadline:
                deadline = self._last_sent + hb
            if self.rules.heartbeat_check:
                test_request_due = self._last_received + 1.2 * (self._test_requests + 1) * hb
                if test_request_due < deadline:
                    deadline = test_request_due
                timeout = self._last_received + 2.4 * hb
                if timeout < deadline:
                    deadline = timeout
        return None if deadline is _NEVER else deadline

    def logout(self, text: str, now: float) -> None:
        """Start a graceful logout (gateway shutdown): send Logout, wait for the reply."""
        if self.connected and self.state is _LOGGED_ON and not self.close_requested:
            self._send_logout(text, now)
            self._persist()

    def connection_lost(self, now: float) -> None:
        """The transport closed (either side)."""
        if self.connected and not self.close_requested:
            self._disconnect("connection closed", now)
        self.connected = False
        self.close_requested = False
        self.outbox.clear()
        self._persist()

    def take_output(self) -> list[bytes]:
        out = self.outbox
        self.outbox = []
        return out

    # ---------------------------------------------------------------- QuickFIX Session::next
    def _next(self, msg: FixMessage, now: float, queued: bool) -> None:
        fields = msg.fields
        msg_type = fields[2][1]
        d = dict(fields)
        if fields[0][1] != self.begin_string:
            if msg_type == MsgType.LOGOUT:
                self._on_logout(msg, d, now)
            else:
                self._send_logout("Incorrect BeginString", now)
                self.next_target += 1
            return
        rejection = self.validator.validate(fields)
        if rejection is not None:
            self._reject(d, rejection.reason, rejection.tag, now)
            return
        if msg_type in ADMIN_MSG_TYPES:
            handler = self._ADMIN_HANDLERS[msg_type]
            handler(self, msg, d, now)
        else:
            if not self._verify(msg, d, now, True, True):
                return
            self.next_target += 1
            try:
                self.listener.on_app_message(msg)
            except Exception as exc:  # the application's bug must not kill the session
                self.log.event(f"application error on message {d.get(34)}: {exc!r}", now)

    def _next_queued(self, now: float) -> None:
        queue = self._queue
        while queue and self.connected and not self.close_requested:
            msg = queue.pop(self.next_target, None)
            if msg is None:
                break
            self.log.event(f"processing queued message {self.next_target}", now)
            if msg.msg_type in (MsgType.LOGON, MsgType.RESEND_REQUEST):
                self.next_target += 1
            else:
                self._next(msg, now, queued=True)
        if queue:
            for stale in [s for s in queue if s < self.next_target]:
                del queue[stale]

    def _verify(self, msg: FixMessage, d: dict, now: float, check_high: bool,
                check_low: bool) -> bool:
        if self.rules.max_latency_s > 0:
            sent = parse_utc_timestamp(d.get(52, ""))
            if sent is None or abs(now - sent) > self.rules.max_latency_s:
                self._reject(d, R.SENDING_TIME_ACCURACY_PROBLEM, None, now)
                self._send_logout(None, now)
                return False
        if d.get(49) != self._their or d.get(56) != self._our:
            self._reject(d, R.COMPID_PROBLEM, None, now)
            self._send_logout(None, now)
            return False
        if check_high or check_low:
            seq = int(d[34])
            if check_high and seq > self.next_target:
                self._target_too_high(msg, seq, now)
                return False
            if check_low and seq < self.next_target:
                self._target_too_low(d, seq, now)
                return False
            if self._resend_range is not None and seq >= self._resend_range[1]:
                self.log.event(f"ResendRequest for {self._resend_range[0]}.."
                               f"{self._resend_range[1]} satisfied", now)
                self._resend_range = None
        self._last_received = now
        self._test_requests = 0
        return True

    def _target_too_high(self, msg: FixMessage, seq: int, now: float) -> None:
        if len(self._queue) >= self.rules.max_queued_messages:
            text = "Too many messages queued across a sequence gap"
            self._send_logout(text, now)
            self._disconnect(text, now)
            return
        self._queue[seq] = msg
        if self._resend_range is not None and seq >= self._resend_range[0]:
            return  # already asked; QuickFIX sends no redundant ResendRequest
        self._send_admin(MsgType.RESEND_REQUEST, [(7, str(self.next_target)), (16, "0")], now)
        self._resend_range = (self.next_target, seq - 1)

    def _target_too_low(self, d: dict, seq: int, now: float) -> None:
        if d.get(43) != "Y":
            text = f"MsgSeqNum too low, expecting {self.next_target} but received {seq}"
            self._send_logout(text, now)
            self._disconnect(text, now)
            return
        if d.get(35) != MsgType.SEQUENCE_RESET:
            orig = d.get(122)
            if orig is None:
                self._reject(d, R.REQUIRED_TAG_MISSING, 122, now)
                return
            orig_t = parse_utc_timestamp(orig)
            sent_t = parse_utc_timestamp(d.get(52, ""))
            if orig_t is not None and sent_t is not None and orig_t > sent_t:
                self._reject(d, R.SENDING_TIME_ACCURACY_PROBLEM, None, now)
                self._send_logout(None, now)
        # a possible duplicate of something already processed: ignored

    # ---------------------------------------------------------------- admin handlers
    def _on_heartbeat(self, msg: FixMessage, d: dict, now: float) -> None:
        if self._verify(msg, d, now, True, True):
            self.next_target += 1

    def _on_test_request(self, msg: FixMessage, d: dict, now: float) -> None:
        if self._verify(msg, d, now, True, True):
            self._send_admin(MsgType.HEARTBEAT, [(112, d.get(112, ""))], now)
            self.next_target += 1

    def _on_resend_request(self, msg: FixMessage, d: dict, now: float) -> None:
        if not self._verify(msg, d, now, False, False):
            return
        begin = max(1, int(d[7]))
        end = int(d[16])
        if end == 0 or end >= self.next_sender:
            end = self.next_sender - 1
        self.log.event(f"ResendRequest {d[7]}..{d[16]} -> resending {begin}..{end}", now)
        if begin <= end:
            self._resend(begin, end, now)
        if int(d[34]) == self.next_target:
            self.next_target += 1

    def _on_reject(self, msg: FixMessage, d: dict, now: float) -> None:
        if self._verify(msg, d, now, False, True):
            self.next_target += 1

    def _on_sequence_reset(self, msg: FixMessage, d: dict, now: float) -> None:
        gap_fill = d.get(123) == "Y"
        if not self._verify(msg, d, now, gap_fill, gap_fill):
            return
        new_seq = int(d[36])
        if new_seq > self.next_target:
            self.next_target = new_seq
        elif new_seq < self.next_target:
            self._reject(d, R.VALUE_IS_INCORRECT, None, now)

    def _on_logout(self, msg: FixMessage, d: dict, now: float) -> None:
        if not self._verify(msg, d, now, False, False):
            return
        if self.state is not _LOGOUT_SENT:
            self._send_admin(MsgType.LOGOUT, [], now)
            reason = "logout requested by the counterparty"
        else:
            reason = "logout completed"
        self.next_target += 1
        if self.rules.reset_on_logout:
            self._reset(now)
        self._disconnect(reason, now)

    def _on_logon(self, msg: FixMessage, d: dict, now: float) -> None:
        """A Logon on a live connection: only ResetSeqNumFlag=Y (a sequence reset) is valid."""
        if d.get(141) != "Y" or self.state is not _LOGGED_ON:
            self._disconnect("Logon received on a logged-on session", now)
            return
        self._reset(now)
        if not self._verify(msg, d, now, False, True):
            return
        self._transition(Event.LOGON)
        self.heartbeat_interval = int(d.get(108, self.heartbeat_interval))
        self._send_logon_reply(True, now)
        self.next_target += 1

    _ADMIN_HANDLERS: dict[str, Callable] = {
        MsgType.HEARTBEAT: _on_heartbeat,
        MsgType.TEST_REQUEST: _on_test_request,
        MsgType.RESEND_REQUEST: _on_resend_request,
        MsgType.REJECT: _on_reject,
        MsgType.SEQUENCE_RESET: _on_sequence_reset,
        MsgType.LOGOUT: _on_logout,
        MsgType.LOGON: _on_logon,
    }

    # ---------------------------------------------------------------- outgoing
    def _reject(self, d: dict, reason: int, tag: int | None, now: float) -> None:
        """Session-level Reject (QuickFIX generateReject), routing reversed."""
        msg_type = d.get(35, "")
        seq_text = d.get(34)
        body = []
        if seq_text:
            body.append((45, seq_text))
        body.append((58, REJECT_TEXT.get(reason, "Other")))
        if tag is not None:
            body.append((371, str(tag)))
        if msg_type:
            body.append((372, msg_type))
        body.append((373, str(reason)))
        if msg_type not in (MsgType.LOGON, MsgType.SEQUENCE_RESET) and seq_text \
                and seq_text.isdigit() and int(seq_text) == self.next_target:
            self.next_target += 1
        self.log.event(f"rejecting message {seq_text}: {REJECT_TEXT.get(reason)} "
                       f"(tag {tag})", now)
        self._send_admin(MsgType.REJECT, body, now, self._reverse_route(d))

    @staticmethod
    def _reverse_route(d: dict) -> list[tuple[int, str]]:
        routed = []
        for src, dst in REVERSE_ROUTE:
            value = d.get(src)
            if value:
                routed.append((dst, value))
        return routed

    def _send_logon_reply(self, reset_flag: bool, now: float) -> None:
        body = [(98, "0"), (108, str(self.heartbeat_interval))]
        if reset_flag:
            body.append((141, "Y"))
        self._send_admin(MsgType.LOGON, body, now)

    def _send_logout(self, text: str | None, now: float) -> None:
        self._send_admin(MsgType.LOGOUT, [(58, text)] if text else [], now)
        if self.state is not _DISCONNECTED:
            self._transition(Event.SEND_LOGOUT)
        self._logout_deadline = now + self.rules.logout_timeout_s

    def _send_admin(self, msg_type: str, body: list[tuple[int, str]], now: float,
                    extra_header: Sequence[tuple[int, str]] = ()) -> None:
        seq = self.next_sender
        self.next_sender = seq + 1
        self._write(self._build(msg_type, seq, now, body, extra_header), now)

    def _build(self, msg_type: str, seq: int, now: float, body: Iterable[tuple[int, str]],
               extra_header: Sequence[tuple[int, str]] = ()) -> bytes:
        """Header 34, 49, 52, 56 (plus ``extra_header``, merged in tag order), then ``body``.

        Without extra header fields (nearly every message) the header is two cached strings
        around MsgSeqNum and SendingTime; the bytes are the same as the general path's."""
        if not extra_header:
            return frame(self.begin_string,
                         "35=" + msg_type + "\x0134=" + str(seq) + self._after_seq
                         + utc_timestamp(now) + self._after_time + fields_text(body))
        header = [(34, str(seq)), (49, self._our), (52, utc_timestamp(now)), (56, self._their)]
        header.extend(extra_header)
        header.sort(key=_tag_of)
        return encode(self.begin_string, msg_type, header, body)

    def _write(self, raw: bytes, now: float) -> None:
        self.outbox.append(raw)
        self._last_sent = now
        self.log.outgoing(raw, now)

    def _order_body(self, msg_type: str, body: Sequence[tuple[int, str]]) -> list[tuple[int, str]]:
        """Ascending tag order, repeating-group entries kept after their NumInGroup field."""
        group_tags = self._group_tags.get(msg_type)
        if group_tags is None:
            mdef = self.dictionary.messages.get(msg_type)
            group_tags = frozenset(mdef.groups) if mdef is not None else frozenset()
            if len(self._group_tags) < 1024:  # MsgTypes come from applications, not peers
                self._group_tags[msg_type] = group_tags
        if not group_tags or group_tags.isdisjoint(map(_tag_of, body)):
            return sorted(body, key=_tag_of)
        return _order_with_groups(body, self.dictionary.messages[msg_type])

    def _resend(self, begin: int, end: int, now: float) -> None:
        cursor = begin
        for seq, raw in self.store.messages(self.key, begin, end):
            try:
                original = parse(raw)
            except GarbledMessage:
                continue  # unreadable stored message: covered by the gap fill
            if seq > cursor:
                self._gap_fill(cursor, seq, now)
            header = [(43, "Y"), (122, original.get(52) or utc_timestamp(now))]
            body = []
            header_tags = self._header_tags
            for tag, value in original.fields[3:-1]:
                if tag in _RESEND_HEADER_DROP:
                    continue
                (header if tag in header_tags else body).append((tag, value))
            self._write(self._build(original.msg_type, seq, now, body, header), now)
            cursor = seq + 1
        if cursor <= end:
            self._gap_fill(cursor, end + 1, now)

    def _gap_fill(self, seq: int, new_seq: int, now: float) -> None:
        ts = utc_timestamp(now)
        raw = self._build(MsgType.SEQUENCE_RESET, seq, now, [(36, str(new_seq)), (123, "Y")],
                          [(43, "Y"), (122, ts)])
        self._write(raw, now)

    # ---------------------------------------------------------------- housekeeping
    def _roll_window(self, now: float) -> None:
        """Reset at the start of a new schedule window, also while logged out, so that messages
        an application sends before the counterparty logs on belong to the new window."""
        window = self.schedule.window(now)
        if window is None:
            self._next_window_check = now + 1.0
            return
        if self._created < window[0] and not self.connected:
            self.log.event("new schedule window: resetting sequence numbers", now)
            self._reset(now)
        self._next_window_check = window[1]

    def _reset(self, now: float) -> None:
        state = self.store.reset(self.key, now)
        self.next_sender = state.next_sender
        self.next_target = state.next_target
        self._created = state.created
        self._persisted = (self.next_sender, self.next_target)
        self._queue.clear()
        self._resend_range = None
        self.log.event("sequence numbers reset to 1", now)

    def _disconnect(self, reason: str, now: float, notify: bool = True) -> None:
        was_logged_on = self.state is not _DISCONNECTED
        self.log.event(f"disconnecting: {reason}", now)
        self._transition(Event.DISCONNECT)
        self.close_requested = True
        self._logout_deadline = None
        self._window_end = None
        self._queue.clear()
        self._resend_range = None
        self.heartbeat_interval = 0
        if self.rules.reset_on_disconnect:
            self._reset(now)
        if was_logged_on and notify:
            self._notify("on_logout")

    def _notify(self, name: str) -> None:
        try:
            getattr(self.listener, name)()
        except Exception as exc:
            self.log.event(f"application error in {name}: {exc!r}", 0.0)

    def _persist(self) -> None:
        persisted = self._persisted
        if self.next_target != persisted[1] or self.next_sender != persisted[0]:
            current = (self.next_sender, self.next_target)
            self.store.set_seqnums(self.key, *current)
            self._persisted = current


_tag_of = itemgetter(0)  # a field's tag, as a C-level sort key


class _Lane(NamedTuple):
    """What the fast lane needs to know about one shape of application message."""
    plan: object            # the validator's value checks for this shape
    seq: int                # field indices of MsgSeqNum, SenderCompID, SendingTime,
    sender: int             # TargetCompID
    sending_time: int
    target: int
    msg_type: str
    echo: tuple[int, int, bytes] | None   # (start, end, b"SOH<first tag>="): see _build_echo


def _order_with_groups(body: Sequence[tuple[int, str]], mdef: MessageDef) -> list[tuple[int, str]]:
    blocks: list[tuple[int, list[tuple[int, str]]]] = []
    i = 0
    n = len(body)
    while i < n:
        field = body[i]
        block = [field]
        i += 1
        gdef = mdef.groups.get(field[0])
        if gdef is not None:
            members = gdef.members | _nested_members(gdef)
            while i < n and body[i][0] in members:
                block.append(body[i])
                i += 1
        blocks.append((field[0], block))
    blocks.sort(key=lambda b: b[0])
    return [f for _, block in blocks for f in block]


def _nested_members(gdef) -> frozenset[int]:
    out: set[int] = set()
    for nested in gdef.groups.values():
        out |= nested.members | _nested_members(nested)
    return frozenset(out)
