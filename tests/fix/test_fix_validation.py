"""Dictionary loading (with fixgw's overlay) and validation outcomes in QuickFIX's order."""
from __future__ import annotations

import pathlib

import pytest

from fixgw.fix.dictionary import load_dictionary
from fixgw.fix.validation import ValidationSettings, Validator

DICT = pathlib.Path(__file__).resolve().parents[2] / "dictionaries"


@pytest.fixture(scope="module")
def dictionary():
    return load_dictionary([DICT / "FIX44.xml", DICT / "FIX44-fixgw.xml"])


def fields(text: str):
    out = []
    for part in text.split("|"):
        if not part:
            continue
        tag, _, value = part.partition("=")
        out.append((int(tag), value))
    return tuple(out)


HDR = "8=FIX.4.4|9=1|35={t}|34=2|49=TW44|52=20240101-00:00:00|56=ISLD|"
NOS = "11=ID|21=1|38=100|40=1|54=1|55=INTC|60=20240101-00:00:00"


def check(dictionary, msg_type, body, **settings):
    v = Validator(dictionary, ValidationSettings(**settings))
    r = v.validate(fields(HDR.format(t=msg_type) + body + "|10=000"))
    return None if r is None else (r.reason, r.tag)


def test_overlay_declares_fixgw_extensions(dictionary):
    nos, er = dictionary.messages["D"], dictionary.messages["8"]
    assert {847, 848, 849, 957}.issubset(nos.members)
    assert nos.groups[957].order == (958, 959, 960)
    assert {850, 797, 957}.issubset(er.members)
    assert 797 in dictionary.messages["9"].members
    assert {"1001", "1002", "1003"}.issubset(dictionary.fields[847].enums)


def test_valid_new_order_with_algo_tags_and_strategy_group(dictionary):
    body = NOS + "|847=1001|849=0.1|957=2|958=venues|959=14|960=a b|958=minclip|959=7|960=5"
    assert check(dictionary, "D", body) is None


def test_required_tag_missing_reports_lowest_missing_tag(dictionary):
    assert check(dictionary, "D", "40=1|60=20240101-00:00:00|54=1|21=3") == (1, 11)


def test_each_reject_reason(dictionary):
    assert check(dictionary, "0", "999=HI") == (0, 999)
    assert check(dictionary, "0", "55=MSFT") == (2, 55)
    assert check(dictionary, "1", "112=") == (4, 112)
    assert check(dictionary, "1", "112=", fields_have_values=False) is None
    assert check(dictionary, "D", NOS.replace("21=1", "21=4")) == (5, 21)
    assert check(dictionary, "D", NOS.replace("38=100", "38=+200.00")) == (6, 38)
    assert check(dictionary, "D", NOS + "|40=2") == (13, 40)
    assert check(dictionary, "D", NOS + "|386=3|336=A|336=B") == (16, 386)
    assert check(dictionary, "D", NOS + "|957=1|958=a|959=1|960=1|958=b") == (16, 957)
    assert check(dictionary, "*", "") == (11, None)
    parties = "|453=1|448=P1|447=D|452=1|802={n}|523=a|803=1"
    assert check(dictionary, "D", NOS + parties.format(n=1)) is None
    assert check(dictionary, "D", NOS + parties.format(n=2)) == (16, 802)   # nested group
    assert check(dictionary, "d", "320=a|322=b|323=6|454=0") is None


def test_header_field_after_body_is_out_of_order(dictionary):
    v = Validator(dictionary, ValidationSettings())
    r = v.validate(fields("8=FIX.4.4|9=1|35=D|11=id|21=3|34=2|49=TW44|52=20240101-00:00:00|"
                          "56=ISLD|10=000"))
    assert (r.reason, r.tag) == (14, 34)
