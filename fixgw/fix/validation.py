"""Message validation against a data dictionary, in QuickFIX's order and with its outcomes.

The order of checks decides *which* error a message with several problems is rejected for,
and the acceptance suite compares the RefTagID, so it follows ``DataDictionary::validate``:

1. structure: a header field after the body started -> "out of required order" (14);
2. MsgType known (11);
3. required fields: header (ascending), then body (ascending), then inside group entries (1);
4. every field, header then body in ascending tag order, each: repeated (13), empty (4),
   data format (6), enum value (5), tag known (0), tag allowed in this message (2),
   NumInGroup equal to the entries present (16). Group entries are checked the same way.

Validation returns a :class:`Rejection` instead of raising: it is the peer's fault, a value.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple, Sequence

from fixgw.fix.accel import speedups
from fixgw.fix.dictionary import DataDictionary, GroupDef, MessageDef
from fixgw.fix.tags import USER_MIN, SessionRejectReason as R


@dataclass(frozen=True, slots=True)
class ValidationSettings:
    fields_out_of_order: bool = True
    fields_have_values: bool = True
    user_defined_fields: bool = True
    allow_unknown_message_fields: bool = False


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: int          # SessionRejectReason (373)
    tag: int | None      # RefTagID (371), None when QuickFIX sends none


# ---- data formats (QuickFIX's convertors) -------------------------------------------------

def _is_int(v: str) -> bool:
    d = v[1:] if v[:1] == "-" else v
    return d.isdigit() and d.isascii()


def _is_float(v: str) -> bool:
    """Optional '-', then digits with at most one '.' somewhere and at least one digit
    ("5", "5.", ".5", "-1.25"): removing the first '.' must leave only ASCII digits."""
    d = v[1:] if v[:1] == "-" else v
    return d.replace(".", "", 1).isdigit() and d.isascii()


def _is_char(v: str) -> bool:
    return len(v) == 1


def _is_bool(v: str) -> bool:
    return v == "Y" or v == "N"


def _digits(s: str) -> bool:
    return s.isdigit() and s.isascii()


def _is_date(v: str) -> bool:
    return len(v) == 8 and _digits(v) and 1 <= int(v[4:6]) <= 12 and 1 <= int(v[6:8]) <= 31


def _is_time(v: str) -> bool:
    if len(v) < 8 or v[2] != ":" or v[5] != ":":
        return False
    hh, mm, ss = v[0:2], v[3:5], v[6:8]
    if not (_digits(hh) and _digits(mm) and _digits(ss)):
        return False
    if int(hh) > 23 or int(mm) > 59 or int(ss) > 60:
        return False
    rest = v[8:]
    return not rest or (rest[0] == "." and 1 <= len(rest) - 1 <= 9 and _digits(rest[1:]))


_TS_SECONDS_OK: dict[str, bool] = {}


def _is_timestamp(v: str) -> bool:
    base = v[:17]
    ok = _TS_SECONDS_OK.get(base)
    if ok is None:
        ok = len(base) == 17 and base[8] == "-" and _is_date(base[:8]) and _is_time(base[9:])
        if len(_TS_SECONDS_OK) > 8192:
            _TS_SECONDS_OK.clear()
        _TS_SECONDS_OK[base] = ok
    if not ok:
        return False
    if len(v) == 17:
        return True
    frac = v[18:]
    return v[17] == "." and 1 <= len(frac) <= 9 and frac.isdigit() and frac.isascii()


# ".000" .. ".999": a timestamp's millisecond part, ASCII digits
_DOT_MILLIS = frozenset(f".{n:03d}" for n in range(1000))

FORMAT_CHECKS: dict[str, Callable[[str], bool]] = {
    "INT": _is_int, "LENGTH": _is_int, "NUMINGROUP": _is_int, "SEQNUM": _is_int,
    "TAGNUM": _is_int, "DAYOFMONTH": _is_int,
    "FLOAT": _is_float, "QTY": _is_float, "PRICE": _is_float, "PRICEOFFSET": _is_float,
    "AMT": _is_float, "PERCENTAGE": _is_float,
    "CHAR": _is_char, "BOOLEAN": _is_bool,
    "UTCTIMESTAMP": _is_timestamp, "UTCTIMEONLY": _is_time,
    "UTCDATEONLY": _is_date, "UTCDATE": _is_date,
}
_MULTI = frozenset({"MULTIPLEVALUESTRING", "MULTIPLESTRINGVALUE", "MULTIPLECHARVALUE"})


@dataclass(frozen=True, slots=True)
class _FieldCheck:
    fmt: Callable[[str], bool] | None
    enums: frozenset[str] | None
    multi: bool


class _Plan(NamedTuple):
    """What remains to check per message once its shape passed: field indices whose value
    must be non-empty, (index, enum set) memberships, (index, format check) calls. A field
    with enums whose every value passes its format is only checked for membership; a field
    with neither is listed as non-empty only when the session refuses empty values.

    The format checks of the commonest types are listed apart, by index, so that
    :meth:`Validator.values_pass` tries their usual spelling inline (no call) and calls the
    format check only when that fails: ``ints`` (``_is_int``), ``floats`` (``_is_float``),
    ``stamps`` (``_is_timestamp``); ``formatted`` holds every other one."""
    non_empty: tuple[int, ...]
    in_enums: tuple[tuple[int, frozenset[str]], ...]
    formatted: tuple[tuple[int, Callable[[str], bool]], ...]
    ints: tuple[int, ...] = ()
    floats: tuple[int, ...] = ()
    stamps: tuple[int, ...] = ()


class _Group:
    """A parsed group: its count field value and entries (lists of (tag, value))."""
    __slots__ = ("tag", "count", "entries", "nested", "gdef")

    def __init__(self, tag: int, count: str, gdef: GroupDef) -> None:
        self.tag = tag
        self.count = count
        self.entries: list[list[tuple[int, str]]] = []
        self.nested: list[dict[int, _Group]] = []   # per entry: nested count tag -> group
        self.gdef = gdef


class Validator:
    """Validates parsed messages for one session (dictionary + that session's settings)."""

    def __init__(self, dictionary: DataDictionary, settings: ValidationSettings) -> None:
        self.dictionary = dictionary
        self.settings = settings
        self._header_tags = dictionary.header.members | {8, 9, 35}
        self._trailer_tags = dictionary.trailer.members | {10}
        self._checks: dict[int, _FieldCheck] = {
            tag: _FieldCheck(FORMAT_CHECKS.get(f.type), f.enums, f.type in _MULTI)
            for tag, f in dictionary.fields.items()
        }
        self._fast: dict[str, tuple | None] = {}
        self._plans: dict[tuple, tuple | None] = {}

    def validate(self, fields: Sequence[tuple[int, str]]) -> Rejection | None:
        """None when valid, else the Rejection QuickFIX would send.

        Most messages are valid: a single pass without sorting proves it (:meth:`_valid_fast`).
        Only a message that fails it takes the exact, order-preserving path below."""
        if self._valid_fast(fields):
            return None
        return self._validate_exact(fields)

    def _fast_spec(self, msg_type: str) -> tuple[dict, frozenset[int], frozenset[int]] | None:
        """Per MsgType: tag -> (is_header, format check, enums, multi) for every tag allowed
        without a group, plus the required tags and the group count tags."""
        spec = self._fast.get(msg_type)
        if spec is None and msg_type not in self._fast:
            mdef = self.dictionary.messages.get(msg_type)
            if mdef is None:
                return None  # not remembered: a peer could send endless unknown MsgTypes
            allowed = {}
            for tag in self.dictionary.header.members | mdef.members:
                check = self._checks.get(tag)
                if check is None:
                    continue
                allowed[tag] = (tag in self._header_tags, check.fmt, check.enums, check.multi)
            for tag in self.dictionary.header.groups:
                allowed.pop(tag, None)
            required = frozenset(self.dictionary.header.required) - {8, 9, 35, 10} \
                | frozenset(mdef.required)
            spec = self._fast[msg_type] = (allowed, required, frozenset(mdef.groups))
        return spec

    # Distinct message shapes remembered per validator; a peer cycling through more only
    # costs the plan being rebuilt (the cache is cleared when full), never a wrong answer.
    # Shapes of more than MAX_PLAN_FIELDS fields (or with a MsgType over 8 characters) are
    # planned every time, never remembered: the cache stays under a megabyte whatever a
    # peer sends.
    MAX_PLANS = 512
    MAX_PLAN_FIELDS = 128

    def _valid_fast(self, fields: Sequence[tuple[int, str]]) -> bool:
        """True only when the message is certainly valid (False: ask the exact path).

        Everything except the values is decided by the message's *shape*, its MsgType and
        its tag sequence: header fields before body fields, no repeated tag, no group, every
        tag allowed, the required ones present, CheckSum last. A client sends the same few
        shapes over and over, so the shape's verdict is computed once (:meth:`_plan`) and
        what remains per message is the value checks the plan lists."""
        key = (fields[2][1], tuple([f[0] for f in fields]))
        plan = self._plans.get(key)
        if plan is None:
            if key in self._plans:
                return False
            plan = self._plan(key[0], key[1])
            if len(key[1]) <= self.MAX_PLAN_FIELDS and len(key[0]) <= 8:
                if len(self._plans) >= self.MAX_PLANS:
                    self._plans.clear()
                self._plans[key] = plan
            if plan is None:
                return False
        return self.values_pass(fields, plan)

    def plan_of(self, fields: Sequence[tuple[int, str]]) -> _Plan | None:
        """The value checks that decide this message's shape (None: the shape alone sends
        it to the exact path). For callers that keep per-shape decisions themselves (the
        session does, under the parser's shape) and then call :meth:`values_pass`."""
        return self._plan(fields[2][1], tuple([f[0] for f in fields]))

    @staticmethod
    def values_pass(fields: Sequence[tuple[int, str]], plan: _Plan) -> bool:
        """The per-message part of :meth:`_valid_fast` for a shape's plan: True when the
        message is certainly valid, False when the exact path must decide."""
        non_empty, in_enums, formatted, ints, floats, stamps = plan
        for i in non_empty:
            if not fields[i][1]:
                return False
        for i, enums in in_enums:
            if fields[i][1] not in enums:
                return False
        # Each inline test below is one the format check itself passes (so a True is the
        # check's own answer); when it fails, the check decides.
        for i in ints:
            v = fields[i][1]
            if not (v.isdigit() and v.isascii()) and not _is_int(v):
                return False
        for i in floats:
            v = fields[i][1]
            if not (v.replace(".", "", 1).isdigit() and v.isascii()) and not _is_float(v):
                return False
        for i in stamps:
            v = fields[i][1]
            if not (v[17:] in _DOT_MILLIS and _TS_SECONDS_OK.get(v[:17])) \
                    and not _is_timestamp(v):
                return False
        for i, fmt in formatted:
            if not fmt(fields[i][1]):
                return False
        return True

    def _plan(self, msg_type: str, tags: tuple[int, ...]) -> _Plan | None:
        """The value checks a message of this shape needs, or None when the shape alone sends
        it to the exact path (see :class:`_Plan`)."""
        spec = self._fast_spec(msg_type)
        if spec is None or len(tags) < 4 or tags[-1] != 10:
            return None
        allowed, required, group_tags = spec
        body_tags = tags[3:-1]
        seen = set(body_tags)
        if len(seen) != len(body_tags) or not required.issubset(seen) \
                or not group_tags.isdisjoint(seen):
            return None
        check_values = self.settings.fields_have_values
        in_body = False
        non_empty: list[int] = []
        in_enums: list[tuple[int, frozenset[str]]] = []
        formatted: list[tuple[int, Callable[[str], bool]]] = []
        ints: list[int] = []
        floats: list[int] = []
        stamps: list[int] = []
        for i, tag in enumerate(body_tags, 3):
            entry = allowed.get(tag)
            if entry is None:
                return None
            is_header, fmt, enums, multi = entry
            if is_header:
                if in_body:
                    return None
            else:
                in_body = True
            if enums is not None:
                if multi:
                    return None
                in_enums.append((i, enums))
                if fmt is not None and all(fmt(e) for e in enums):
                    fmt = None  # membership implies the format
            if fmt is _is_int:
                ints.append(i)
            elif fmt is _is_float:
                floats.append(i)
            elif fmt is _is_timestamp:
                stamps.append(i)
            elif fmt is not None:
                formatted.append((i, fmt))
            # Empty values never pass the fast path (the exact path decides), whatever the
            # setting: fields with a format or enums are listed here unless those refuse "".
            if (fmt is None or fmt("")) and (enums is None or "" in enums) \
                    and (check_values or enums is not None or fmt is not None):
                non_empty.append(i)
        return _Plan(tuple(non_empty), tuple(in_enums), tuple(formatted), tuple(ints),
                     tuple(floats), tuple(stamps))

    def _validate_exact(self, fields: Sequence[tuple[int, str]]) -> Rejection | None:
        d = self.dictionary
        s = self.settings
        header_tags = self._header_tags
        trailer_tags = self._trailer_tags
        msg_type = fields[2][1]
        mdef = d.messages.get(msg_type)
        header: list[tuple[int, str]] = [fields[0], fields[1], fields[2]]
        body: list[tuple[int, str]] = []
        groups: list[_Group] = []
        out_of_order = 0
        in_body = False
        in_trailer = False
        n = len(fields)
        i = 3
        group_defs = mdef.groups if mdef is not None else {}
        while i < n:
            f = fields[i]
            tag = f[0]
            i += 1
            if tag in header_tags:
                if (in_body or in_trailer) and not out_of_order:
                    out_of_order = tag
                header.append(f)
                if tag in d.header.groups:
                    i = self._parse_group(fields, i, f, d.header.groups[tag], groups)
            elif tag in trailer_tags:
                in_trailer = True
            else:
                if in_trailer and not out_of_order:
                    out_of_order = tag
                in_body = True
                body.append(f)
                gdef = group_defs.get(tag)
                if gdef is not None:
                    i = self._parse_group(fields, i, f, gdef, groups)
        if out_of_order and s.fields_out_of_order:
            return Rejection(R.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER, out_of_order)
        if mdef is None:
            return Rejection(R.INVALID_MSGTYPE, None)

        # required fields
        present_header = {t for t, _ in header}
        for tag in d.header.required:
            if tag not in present_header:
                return Rejection(R.REQUIRED_TAG_MISSING, tag)
        if mdef.required:
            present_body = {t for t, _ in body}
            for tag in mdef.required:
                if tag not in present_body:
                    return Rejection(R.REQUIRED_TAG_MISSING, tag)
        for g in groups:
            for entry in g.entries:
                present = {t for t, _ in entry}
                for tag in g.gdef.required:
                    if tag not in present:
                        return Rejection(R.REQUIRED_TAG_MISSING, tag)

        # every field, in ascending tag order
        header.sort(key=_tag_of)
        rejection = self._iterate(header, None, ())
        if rejection is None:
            body.sort(key=_tag_of)
            rejection = self._iterate(body, mdef, groups)
        if rejection is None:
            for g in groups:
                for entry, nested in zip(g.entries, g.nested):
                    rejection = self._iterate(sorted(entry, key=_tag_of), None, ())
                    if rejection is not None:
                        return rejection
                    for tag, inner in nested.items():
                        if not _is_int(inner.count) or int(inner.count) != len(inner.entries):
                            return Rejection(R.INCORRECT_NUMINGROUP_COUNT, tag)
        return rejection

    def _parse_group(self, fields: Sequence[tuple[int, str]], i: int, count_field: tuple[int, str],
                     gdef: GroupDef, out: list[_Group]) -> int:
        """Collect the entries following a NumInGroup field (QuickFIX ``Message::setGroup``)."""
        group = _Group(count_field[0], count_field[1], gdef)
        out.append(group)
        members = gdef.members
        entry: list[tuple[int, str]] | None = None
        seen: set[int] = set()
        n = len(fields)
        while i < n:
            f = fields[i]
            tag = f[0]
            if tag not in members:
                break
            if tag == gdef.delimiter or entry is None or tag in seen:
                entry = []
                seen = set()
                group.entries.append(entry)
                group.nested.append({})
            entry.append(f)
            seen.add(tag)
            i += 1
            nested = gdef.groups.get(tag)
            if nested is not None:
                before = len(out)
                i = self._parse_group(fields, i, f, nested, out)
                group.nested[-1][tag] = out[before]
        return i

    def _iterate(self, fields: list[tuple[int, str]], mdef: MessageDef | None,
                 groups: Sequence[_Group]) -> Rejection | None:
        s = self.settings
        checks = self._checks
        check_values = s.fields_have_values
        last = None
        for tag, value in fields:
            if tag == last:
                return Rejection(R.TAG_APPEARS_MORE_THAN_ONCE, tag)
            last = tag
            if not value and check_values:
                return Rejection(R.TAG_SPECIFIED_WITHOUT_A_VALUE, tag)
            check = checks.get(tag)
            if check is not None:
                if check.fmt is not None and not check.fmt(value):
                    return Rejection(R.INCORRECT_DATA_FORMAT, tag)
                if check.enums is not None:
                    if check.multi:
                        if any(v not in check.enums for v in value.split(" ")):
                            return Rejection(R.VALUE_IS_INCORRECT, tag)
                    elif value not in check.enums:
                        return Rejection(R.VALUE_IS_INCORRECT, tag)
            if tag >= USER_MIN and not s.user_defined_fields:
                continue
            if check is None:
                return Rejection(R.INVALID_TAG_NUMBER, tag)
            if mdef is not None:
                if tag not in mdef.members and not s.allow_unknown_message_fields:
                    return Rejection(R.TAG_NOT_DEFINED_FOR_MESSAGE_TYPE, tag)
                if tag in mdef.groups:
                    for g in groups:
                        if g.tag == tag and g.gdef is mdef.groups[tag]:
                            if not _is_int(value) or int(value) != len(g.entries):
                                return Rejection(R.INCORRECT_NUMINGROUP_COUNT, tag)
                            break
        return None


# The per-message value checks in C when the optional extension was built (fixgw/fix/accel.py),
# with the same answers: its inline tests are these, and its fallbacks are these functions.
# The Python method stays as values_pass_python (tests/fix/test_fix_speedups.py compares them).
Validator.values_pass_python = Validator.__dict__["values_pass"]
if speedups is not None:
    speedups.configure_values(_is_int, _is_float, _is_timestamp, _TS_SECONDS_OK)
    Validator.values_pass = staticmethod(speedups.values_pass)


def _tag_of(field: tuple[int, str]) -> int:
    return field[0]
